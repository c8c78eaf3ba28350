"""Speech heard again from the rendered stream (speech/audible.py): real streams of the
tiny world, real TTS and ASR; a stream whose speech is drowned is retried, a clean one
keeps its bytes and gains its mix WER in the evidence."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import write_world

from streamaudio.config import Config, load_config
from streamaudio.pipeline import CorpusBuilder
from streamaudio.schema import Stream
from streamaudio.speech.audible import foreground_speech, masked, mix_threshold
from streamaudio.stage import Retry
from streamaudio.tasks.registry import get_subtask


def _config(world: Path, mode: str) -> Config:
    return load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class",
                                  f"speech.mix_check={mode}"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_world(tmp_path_factory.mktemp("audible") / "world")


def _stream(builder: CorpusBuilder, drops: Counter[str]) -> Stream:
    stream = builder.build_stream(get_subtask("single_turn_chat"), 0, 0, drops)
    assert isinstance(stream, Stream), stream
    return stream


def test_a_clean_stream_keeps_its_audio_and_records_what_the_mix_says(world: Path) -> None:
    plain = _stream(CorpusBuilder(_config(world, "skip")), Counter())
    drops: Counter[str] = Counter()
    heard = _stream(CorpusBuilder(_config(world, "measure")), drops)
    assert np.array_equal(plain.audio, heard.audio) and plain.labels == heard.labels
    spoken = foreground_speech(heard)
    assert spoken
    for _, event in spoken:
        assert 0.0 <= float(event.evidence["mix_wer"]) <= 0.3, event.evidence
        # a clean subtask: the question stands above everything else in its span (4.2 dB
        # in this draw, with sounds around it; the bed alone is quieter still)
        assert float(event.evidence["mix_snr_db"]) > 0.0
        assert "whisper" in str(event.evidence["mix_asr"]) or "tiny" in str(
            event.evidence["mix_asr"])
    assert all("mix_wer" not in e.evidence for _, e in foreground_speech(plain))
    assert not drops


def test_speech_drowned_in_the_mix_is_retried(world: Path) -> None:
    builder = CorpusBuilder(_config(world, "enforce"))
    stream = _stream(builder, Counter())
    noise = np.random.default_rng(0).standard_normal(stream.audio.size).astype(np.float32)
    drowned = Stream(plan=stream.plan, audio=stream.audio + 3.0 * noise, labels=stream.labels,
                     chunk_ms=stream.chunk_ms, clip_guard_scale=stream.clip_guard_scale,
                     config_hash=stream.config_hash)
    heard = builder.speech.hear_in_mix(drowned, "single_turn_chat", builder.store)
    assert heard and all(h.masked for h in heard)
    clean = builder.speech.hear_in_mix(stream, "single_turn_chat", builder.store)
    assert all(h.snr_db - d.snr_db > 10 for h, d in zip(clean, heard, strict=True))
    retry = builder.hear_mix(get_subtask("single_turn_chat"), drowned)
    assert isinstance(retry, Retry) and retry.reason == "speech_masked_in_mix"
    assert masked(builder.speech.hear_in_mix(stream, "single_turn_chat", builder.store)) is None


def test_noisy_subtasks_allow_more(world: Path) -> None:
    cfg = _config(world, "enforce")
    assert mix_threshold(cfg, "asr_noisy") > mix_threshold(cfg, "asr_clean")


def test_speech_clear_of_the_rest_of_the_mix_is_measured_not_heard(world: Path) -> None:
    cfg = load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class",
                                 "speech.mix_check=measure",
                                 "speech.mix_hear_below_snr_db=-200"])
    stream = _stream(CorpusBuilder(cfg), Counter())
    for _, event in foreground_speech(stream):
        assert "mix_snr_db" in event.evidence and "mix_wer" not in event.evidence


def test_the_mix_check_is_off_by_default(world: Path) -> None:
    cfg = load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class"])
    assert cfg.speech.mix_check == "skip"
    stream = _stream(CorpusBuilder(cfg), Counter())
    assert all("mix_wer" not in e.evidence and "mix_snr_db" not in e.evidence
               for _, e in foreground_speech(stream))
