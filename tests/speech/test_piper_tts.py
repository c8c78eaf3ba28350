"""Real Piper synthesis with the packaged voice: format, duration, speed, and
byte-identical output for the same input (the model's noise is fed, not drawn)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("piper", reason="Piper is the optional GPL extra: pip install -e '.[piper]'")

from streamaudio.config import Config
from streamaudio.speech import piper_tts
from streamaudio.speech.piper_tts import VOICE_ID, PiperBackend
from streamaudio.speech.types import BackendError, SpeechUnavailable, VoiceSpec

SENTENCE = "The kettle is boiling in the kitchen."  # 7 words
JOE = VoiceSpec("piper", VOICE_ID)


@pytest.fixture(scope="module")
def piper() -> PiperBackend:
    return PiperBackend(Config())


def test_speaks_english_at_16k_float32(piper: PiperBackend) -> None:
    result = piper.synthesize(SENTENCE, JOE)
    assert result.sample_rate == 16_000 and result.audio.dtype == np.float32
    assert result.audio.ndim == 1 and result.audio.flags["C_CONTIGUOUS"]
    seconds = result.audio.size / 16_000
    assert 7 * 0.18 < seconds < 7 * 0.7  # plausible for seven words
    assert 0.3 < float(np.max(np.abs(result.audio))) <= 1.0
    assert result.backend_version.startswith("piper-tts 1.8.0/en_US-joe-medium")


def test_same_input_gives_the_same_bytes_in_any_order(piper: PiperBackend) -> None:
    first = piper.synthesize(SENTENCE, JOE).audio
    other = piper.synthesize("A dog is barking outside.", JOE).audio
    again = piper.synthesize(SENTENCE, JOE).audio
    assert first.tobytes() == again.tobytes()
    assert other.size != first.size or other.tobytes() != first.tobytes()


def test_seed_follows_the_input(piper: PiperBackend) -> None:
    # the same words at the same speed in another sentence draw other noise
    a = piper.synthesize(SENTENCE, JOE).audio
    b = piper.synthesize(SENTENCE + " ", JOE).audio
    assert a.tobytes() != b.tobytes()


def test_faster_speed_is_shorter(piper: PiperBackend) -> None:
    slow = piper.synthesize(SENTENCE, VoiceSpec("piper", VOICE_ID, speed=0.8)).audio
    fast = piper.synthesize(SENTENCE, VoiceSpec("piper", VOICE_ID, speed=1.2)).audio
    # measured about 1.25-1.3 (durations are whole frames, so less than 1.5)
    assert slow.size / fast.size > 1.15


def test_a_short_noise_buffer_is_grown_without_changing_the_audio(
    piper: PiperBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = piper.synthesize(SENTENCE, JOE).audio
    monkeypatch.setattr(piper_tts, "_NOISE_PER_ID", 3)  # far too short: forces regrowth
    assert piper.synthesize(SENTENCE, JOE).audio.tobytes() == expected.tobytes()


def test_the_rewritten_model_takes_its_noise_as_inputs(piper: PiperBackend) -> None:
    piper.synthesize("Hi.", JOE)  # loads the session
    _, session, names = piper_tts._load(Config().speech.tts_threads)
    assert names == ["streamaudio_noise_0", "streamaudio_noise_1"]
    assert [i.name for i in session.get_inputs()][-2:] == names


def test_voices_and_languages(piper: PiperBackend) -> None:
    assert piper.voices("en") == [VOICE_ID]
    assert piper.voices("zh") == []
    with pytest.raises(SpeechUnavailable):
        piper.synthesize("你好", VoiceSpec("piper", VOICE_ID, language="zh"))
    with pytest.raises(SpeechUnavailable):
        piper.synthesize(SENTENCE, VoiceSpec("piper", "en_GB-alan-low"))


@pytest.mark.parametrize("text", ["", "   ", "..."])
def test_text_without_speech_is_a_backend_error(piper: PiperBackend, text: str) -> None:
    with pytest.raises(BackendError, match="no audio"):
        piper.synthesize(text, JOE)
