"""The generated-clip cache and catalog, and the backend chain."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import Config, load_config
from streamaudio.generate.store import GeneratedClips, GeneratedRecord, GeneratorChain
from streamaudio.generate.synth import SYNTH_VERSION
from streamaudio.generate.types import GenerationError, GeneratorUnavailable
from streamaudio.schema import ClipRef
from streamaudio.stage import Drop

RATE = 16_000


class FakeGenerator:
    """A tone whose pitch comes from the prompt and seed; counts its calls."""

    def __init__(self, name: str = "fake", fail: str | None = None, silent: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.silent = silent
        self.calls = 0
        self._lock = threading.Lock()

    def version(self) -> str:
        return f"{self.name}/1"

    def generate(self, prompt: str, duration_s: float, seed: int) -> np.ndarray:
        with self._lock:
            self.calls += 1
        if self.fail:
            raise GenerationError(f"{self.name} failed", self.fail)
        t = np.arange(round(duration_s * RATE)) / RATE
        hz = 200 + int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 10**6 / 1000 + seed
        return (0.0 if self.silent else 0.4) * np.sin(2 * np.pi * hz * t).astype(np.float32)


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return load_config(overrides=[f"cache.directory={tmp_path / 'cache'}"])


def lines(cfg: Config) -> list[dict]:
    path = Path(cfg.cache.directory) / "generated" / "generated.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_second_call_is_a_cache_hit_without_calling_the_generator(cfg: Config) -> None:
    gen, clips = FakeGenerator(), GeneratedClips(cfg)
    first = clips.generate_cached(gen, "a beep", 1.0, 3, event_caption="the oven beeps")
    again = GeneratedClips(cfg).generate_cached(gen, "a beep", 1.0, 3)
    assert gen.calls == 1 and not first.cached and again.cached
    assert again.sha256 == first.sha256 == hashlib.sha256(first.audio.tobytes()).hexdigest()
    assert np.array_equal(again.audio, first.audio) and again.audio.dtype == np.float32
    for other in [("a beep", 1.0, 4), ("a beep", 1.5, 3), ("two beeps", 1.0, 3)]:
        clips.generate_cached(gen, *other)
    assert gen.calls == 4  # seed, duration and prompt are each part of the key


def test_provenance_line_is_written_once_per_clip(cfg: Config) -> None:
    clips = GeneratedClips(cfg)
    clip = clips.generate_cached(FakeGenerator(), "a beep", 0.5, 7, event_caption="oven done")
    clips.generate_cached(FakeGenerator(), "a beep", 0.5, 7, event_caption="another event")
    [line] = lines(cfg)
    assert line == {
        "id": f"generated/{clip.sha256[:16]}", "sha256": clip.sha256,
        "key": clips.key("fake", "fake/1", "a beep", 0.5, 7), "backend": "fake",
        "version": "fake/1", "prompt": "a beep", "seed": 7, "duration_s": 0.5,
        "requested_s": 0.5, "sample_rate": RATE, "license": "generated:fake",
        "event_caption": "oven done",
    }  # fmt: skip
    assert clip.ref() == ClipRef(clip_id=clip.clip_id, sha256=clip.sha256,
                                 source="fake fake/1", license="generated:fake")  # fmt: skip
    assert np.array_equal(clips.audio(clip.clip_id), clip.audio)


@pytest.mark.parametrize("path", ["generate_cached", "catalogue"])
def test_concurrent_writers_leave_one_valid_line_per_clip(cfg: Config, path: str) -> None:
    gen = FakeGenerator()
    prompts = [f"beep number {i}" for i in range(16)]
    made = [GeneratedClips(cfg).generate_cached(gen, p, 0.05, 0) for p in prompts]
    if path == "catalogue":  # the racy part alone: no cache write staggers the threads
        GeneratedClips(cfg).catalog_path.unlink()
    else:
        shutil.rmtree(Path(cfg.cache.directory))
    threads_n = 6
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker() -> None:
        clips = GeneratedClips(cfg)  # one store per thread: only the file lock is shared
        try:
            for prompt, clip in zip(prompts, made, strict=True):
                barrier.wait()  # every thread writes the same clip at the same moment
                if path == "catalogue":
                    clips.catalogue(clip)
                else:
                    clips.generate_cached(gen, prompt, 0.05, 0)
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    written = lines(cfg)  # json.loads fails on a torn line
    assert len(written) == len(prompts) == len({line["id"] for line in written})
    assert {line["prompt"] for line in written} == set(prompts)
    assert [GeneratedRecord.model_validate(line) for line in written]


def test_a_torn_last_line_is_skipped_and_not_glued_to(cfg: Config) -> None:
    clips = GeneratedClips(cfg)
    clips.catalog_path.parent.mkdir(parents=True)
    clips.catalog_path.write_text('{"id": "generated/0123')  # a writer died mid-line
    clip = clips.generate_cached(FakeGenerator(), "a beep", 0.3, 0)
    assert [record.id for record in clips.records()] == [clip.clip_id]
    assert clips.catalog_path.read_text().splitlines()[1].startswith('{"backend"')


def test_corrupt_cached_audio_is_regenerated(cfg: Config) -> None:
    gen, clips = FakeGenerator(), GeneratedClips(cfg)
    clip = clips.generate_cached(gen, "a beep", 0.3, 0)
    [path] = (Path(cfg.cache.directory) / "generated").glob("*/*.bin")
    path.write_bytes(path.read_bytes()[:-10])
    assert clips.audio(clip.clip_id) is None
    again = clips.generate_cached(gen, "a beep", 0.3, 0)
    assert gen.calls == 2 and again.sha256 == clip.sha256 and len(lines(cfg)) == 1


def test_chain_falls_through_failures_and_counts_them(cfg: Config) -> None:
    down, up = FakeGenerator("down", fail="http_429"), FakeGenerator("up")
    chain = GeneratorChain(cfg, generators=[down, up])
    clip = chain.generate("a beep", 0.5, 1, event_caption="timer")
    assert not isinstance(clip, Drop) and clip.backend == "up"
    assert chain.stats() == {"failed:down:http_429": 1, "generated:up": 1}
    down.fail = None  # the service is back, but the run before used "up": reproduce it
    again = chain.generate("a beep", 0.5, 1)
    assert not isinstance(again, Drop) and again.sha256 == clip.sha256 and down.calls == 1
    assert chain.stats()["cache_hit:up"] == 1


def test_chain_drops_when_every_backend_fails(cfg: Config) -> None:
    chain = GeneratorChain(cfg, generators=[FakeGenerator("a", fail="timeout"),
                                            FakeGenerator("b", silent=True)])  # fmt: skip
    result = chain.generate("a beep", 0.5, 1)
    assert isinstance(result, Drop) and result.reason == "generation_failed"
    assert "a: timeout" in result.detail and "b: silent" in result.detail
    assert chain.stats() == {"failed:a:timeout": 1, "failed:b:silent": 1}
    assert not GeneratedClips(cfg).records()


def test_default_chain_is_the_offline_synth(cfg: Config) -> None:
    chain = GeneratorChain(cfg)
    clip = chain.generate("a smoke alarm in the hallway", 2.0, 5)
    assert not isinstance(clip, Drop) and clip.backend == "synth"
    assert clip.audio.size == 2 * RATE and clip.version == f"synth/{SYNTH_VERSION}"
    refused = chain.generate("a dog barking", 2.0, 5)
    assert isinstance(refused, Drop) and "synth: unsupported_prompt" in refused.detail
    assert chain.stats() == {"failed:synth:unsupported_prompt": 1, "generated:synth": 1}


def test_a_configured_backend_that_cannot_run_fails_the_chain_at_setup(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    broken = load_config(overrides=[f"cache.directory={cfg.cache.directory}",
                                    "generate.backends=[elevenlabs, synth]"])  # fmt: skip
    with pytest.raises(GeneratorUnavailable, match="ELEVENLABS_API_KEY"):
        GeneratorChain(broken)
