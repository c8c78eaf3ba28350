"""Real flite synthesis, and what happens when the binary is missing, fails or hangs
(fake `flite` scripts first on PATH)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import Config, load_config
from streamaudio.speech.flite_tts import FliteBackend
from streamaudio.speech.types import BackendError, SpeechUnavailable, VoiceSpec

SENTENCE = "The kettle is boiling in the kitchen."  # 7 words
SLT = VoiceSpec("flite", "slt")
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="apt-get install flite")


def fake_flite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    script = tmp_path / "bin" / "flite"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(script.parent))


@needs_flite
def test_speaks_english_at_16k_float32() -> None:
    flite = FliteBackend(Config())
    result = flite.synthesize(SENTENCE, SLT)
    assert result.sample_rate == 16_000 and result.audio.dtype == np.float32
    assert 7 * 0.18 < result.audio.size / 16_000 < 7 * 0.7
    assert 0.05 < float(np.max(np.abs(result.audio))) <= 1.0
    assert result.backend_version.startswith("flite 2.")


@needs_flite
def test_the_8k_voice_is_resampled_too() -> None:
    flite = FliteBackend(load_config(overrides=["speech.flite_voices=[kal]"]))
    result = flite.synthesize(SENTENCE, VoiceSpec("flite", "kal"))
    assert result.sample_rate == 16_000 and 7 * 0.18 < result.audio.size / 16_000 < 7 * 0.7


@needs_flite
def test_same_input_same_bytes_and_speed() -> None:
    flite = FliteBackend(Config())
    assert flite.synthesize(SENTENCE, SLT).audio.tobytes() == (
        flite.synthesize(SENTENCE, SLT).audio.tobytes()
    )
    slow = flite.synthesize(SENTENCE, VoiceSpec("flite", "kal16", speed=0.8)).audio
    fast = flite.synthesize(SENTENCE, VoiceSpec("flite", "kal16", speed=1.2)).audio
    assert slow.size / fast.size > 1.35  # measured 1.50: flite stretches every duration


@needs_flite
def test_voices_are_the_configured_ones_flite_has() -> None:
    cfg = load_config(overrides=["speech.flite_voices=[slt, nosuchvoice, awb]"])
    flite = FliteBackend(cfg)
    assert flite.voices("en") == ["slt", "awb"]
    assert flite.voices("zh") == []
    with pytest.raises(SpeechUnavailable, match="nosuchvoice"):
        flite.synthesize(SENTENCE, VoiceSpec("flite", "nosuchvoice"))


@needs_flite
def test_text_without_speech_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="no audio"):
        FliteBackend(Config()).synthesize("", SLT)


def test_missing_binary_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    flite = FliteBackend(Config())
    with pytest.raises(SpeechUnavailable, match="apt-get install flite"):
        flite.voices("en")
    with pytest.raises(SpeechUnavailable, match="apt-get install flite"):
        flite.synthesize(SENTENCE, SLT)


def test_a_failed_run_is_a_backend_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_flite(tmp_path, monkeypatch, """
case "$1" in
  -lv) echo "Voices available: slt" ;;
  *) echo "segfault in voice" >&2; exit 3 ;;
esac""")  # fmt: skip
    with pytest.raises(BackendError, match=r"exit 3.*segfault in voice"):
        FliteBackend(Config()).synthesize(SENTENCE, SLT)


def test_a_hung_run_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_flite(tmp_path, monkeypatch, """
case "$1" in
  -lv) echo "Voices available: slt" ;;
  *) exec /bin/sleep 5 ;;
esac""")  # fmt: skip
    with pytest.raises(BackendError, match="did not finish"):
        FliteBackend(Config(), timeout_s=0.3).synthesize(SENTENCE, SLT)
