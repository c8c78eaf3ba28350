"""The registry: which backends are on, voices per language, the clear Chinese
error offline, and cached synthesis (hits, misses, a corrupt entry recomputed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_tts
from streamaudio.cache import ContentStore
from streamaudio.config import Config, load_config
from streamaudio.speech.tts import CHINESE_NEEDS_COSYVOICE, TtsRegistry
from streamaudio.speech.types import SpeechUnavailable, Synthesis, VoiceSpec

VOICE = VoiceSpec("fake", "a")


class CountingBackend:
    name = "fake"

    def __init__(self, version: str = "fake 1") -> None:
        self.calls = 0
        self._version = version

    def version(self) -> str:
        return self._version

    def voices(self, language: str) -> list[str]:
        return ["a", "b"] if language == "en" else []

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        self.calls += 1
        audio = np.sin(np.arange(1600 + len(text)) * voice.speed).astype(np.float32)
        return Synthesis(audio, 16_000, voice, self._version)


class MissingBackend(CountingBackend):
    name = "missing"

    def voices(self, language: str) -> list[str]:
        raise SpeechUnavailable("missing is not installed")


def test_second_call_is_a_cache_hit(tmp_path: Path) -> None:
    fake, store = CountingBackend(), ContentStore(tmp_path, "tts")
    registry = TtsRegistry(Config(), backends={"fake": fake})
    first = registry.synthesize_cached("Hello there.", VOICE, store)
    second = registry.synthesize_cached("Hello there.", VOICE, store)
    assert fake.calls == 1 and registry.synthesized == 1 and registry.cache_hits == 1
    assert store.hits == 2  # metadata and audio
    assert second.audio.tobytes() == first.audio.tobytes() and second.audio.dtype == np.float32
    assert (second.sample_rate, second.voice, second.backend_version) == (16_000, VOICE, "fake 1")
    # a fresh registry over the same store (a re-run) synthesises nothing either
    TtsRegistry(Config(), backends={"fake": fake}).synthesize_cached("Hello there.", VOICE, store)
    assert fake.calls == 1


def test_text_speed_and_version_are_part_of_the_key(tmp_path: Path) -> None:
    fake, store = CountingBackend(), ContentStore(tmp_path, "tts")
    registry = TtsRegistry(Config(), backends={"fake": fake})
    registry.synthesize_cached("Hello.", VOICE, store)
    registry.synthesize_cached("Hello!", VOICE, store)
    registry.synthesize_cached("Hello.", VoiceSpec("fake", "a", speed=1.1), store)
    registry.synthesize_cached("Hello.", VoiceSpec("fake", "b"), store)
    assert fake.calls == 4
    upgraded = CountingBackend(version="fake 2")
    TtsRegistry(Config(), backends={"fake": upgraded}).synthesize_cached("Hello.", VOICE, store)
    assert upgraded.calls == 1


def test_a_corrupt_entry_is_recomputed(tmp_path: Path) -> None:
    fake, store = CountingBackend(), ContentStore(tmp_path, "tts")
    registry = TtsRegistry(Config(), backends={"fake": fake})
    expected = registry.synthesize_cached("Hello there.", VOICE, store).audio
    largest = max(store.directory.rglob("*.bin"), key=lambda p: p.stat().st_size)  # the audio
    data = bytearray(largest.read_bytes())
    data[-5] ^= 0xFF
    largest.write_bytes(bytes(data))
    again = registry.synthesize_cached("Hello there.", VOICE, store)
    assert fake.calls == 2 and store.corrupt == 1
    assert again.audio.tobytes() == expected.tobytes()
    registry.synthesize_cached("Hello there.", VOICE, store)
    assert fake.calls == 2  # rewritten whole


def test_chinese_offline_names_the_setting(tmp_path: Path) -> None:
    registry = TtsRegistry(Config())  # piper + flite: no Chinese voice
    assert "cosyvoice" not in registry.names
    with pytest.raises(SpeechUnavailable) as caught:
        registry.voices_for("zh")
    assert str(caught.value) == CHINESE_NEEDS_COSYVOICE
    assert "speech.cosyvoice.url" in CHINESE_NEEDS_COSYVOICE
    for backend in ("piper", "cosyvoice"):
        with pytest.raises(SpeechUnavailable, match=r"set speech\.cosyvoice\.url"):
            registry.synthesize_cached(
                "你好", VoiceSpec(backend, "中文女", language="zh"), ContentStore(tmp_path, "t")
            )


def test_a_cosyvoice_url_enables_chinese() -> None:
    cfg = load_config(overrides=["speech.cosyvoice.url=http://127.0.0.1:50000"])
    registry = TtsRegistry(cfg)
    assert registry.names == ["piper", "flite", "cosyvoice"]
    assert registry.voices_for("zh") == [("cosyvoice", "中文女"), ("cosyvoice", "中文男")]
    assert registry.backend("cosyvoice").name == "cosyvoice"


def test_unusable_backends_are_skipped_and_reported() -> None:
    registry = TtsRegistry(
        Config(), backends={"missing": MissingBackend(), "fake": CountingBackend()}
    )
    assert registry.voices_for("en") == [("fake", "a"), ("fake", "b")]
    only_missing = TtsRegistry(Config(), backends={"missing": MissingBackend()})
    with pytest.raises(SpeechUnavailable, match="missing is not installed"):
        only_missing.voices_for("en")
    with pytest.raises(SpeechUnavailable, match="not enabled"):
        only_missing.backend("piper")


@pytest.mark.skipif(shutil.which("flite") is None, reason="apt-get install flite")
def test_real_flite_through_the_cache(tmp_path: Path) -> None:
    registry = TtsRegistry(load_config(overrides=["speech.backends=[flite]"]))
    store = ContentStore(tmp_path, "tts")
    voice = VoiceSpec("flite", registry.voices_for("en")[0][1])
    first = registry.synthesize_cached("The door is open.", voice, store)
    second = registry.synthesize_cached("The door is open.", voice, store)
    assert registry.synthesized == 1 and registry.cache_hits == 1
    assert first.audio.tobytes() == second.audio.tobytes()


def test_benchmark_runs_on_a_few_sentences() -> None:
    figures = bench_tts.main(sentences=2)
    assert set(figures) >= {"piper_rtf"}
    assert all(0 < value < 5 for value in figures.values())
