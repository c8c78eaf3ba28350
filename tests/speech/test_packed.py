"""Hearing many utterances in one whisper window: the grouping, the words given back
to each utterance (real flite speech, real tiny.en), the cache, and the round trip
taking what was heard ahead instead of hearing alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamaudio.cache import ContentStore
from streamaudio.config import Config, load_config
from streamaudio.speech.asr import WhisperAsr, first_pass_asr, transcribe_cached
from streamaudio.speech.flite_tts import FliteBackend
from streamaudio.speech.normalize import word_error_rate
from streamaudio.speech.packed import PreHeard, packs, transcribe_packed
from streamaudio.speech.roundtrip import SpeechStores, Utterance, hear_ahead, speak
from streamaudio.speech.types import Synthesis, Transcript, VoiceSpec

RATE = 16_000
SENTENCES = ("Please turn off the kitchen light before you go to bed.",
             "The train to Boston leaves at half past seven.",
             "My sister is coming to visit us next weekend.")
PAD = 6_000  # silence in front of the second sentence


class CountingAsr:
    def __init__(self, inner: WhisperAsr) -> None:
        self.inner, self.beam_size = inner, inner.beam_size
        self.heard: list[float] = []  # seconds of audio per call

    def version(self) -> str:
        return self.inner.version()

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        self.heard.append(audio.size / sample_rate)
        return self.inner.transcribe(audio, sample_rate, language)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return load_config(overrides=[f"cache.directory={tmp_path_factory.mktemp('cache')}"])


@pytest.fixture(scope="module")
def tiny(cfg: Config) -> WhisperAsr:
    model = first_pass_asr(cfg)
    assert model is not None
    return model


@pytest.fixture(scope="module")
def spoken(cfg: Config) -> list[np.ndarray]:
    flite = FliteBackend(cfg)
    audios = []
    for index, (text, voice) in enumerate(zip(SENTENCES, ("slt", "kal16", "awb"), strict=True)):
        synthesis = flite.synthesize(text, VoiceSpec("flite", voice))
        assert synthesis.sample_rate == RATE
        audio = np.asarray(synthesis.audio, dtype=np.float32)
        audios.append(np.concatenate([np.zeros(PAD, np.float32), audio]) if index == 1
                      else audio)
    return audios


def test_packs_fill_windows_and_never_exceed_them() -> None:
    lengths = [5, 20, 3, 8, 30, 2, 9]
    groups = packs(lengths, limit=25, pause=1)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for group in groups:
        assert group == sorted(group)
        assert len(group) == 1 or sum(lengths[i] + 1 for i in group) <= 25
    assert [4] in groups  # longer than a window: alone
    assert len(groups) == 4  # 30 | 20+3 | 9+8+5+2 ... first fit, longest first
    assert packs(lengths, limit=25, pause=1) == groups  # the same on every call
    assert packs([], limit=25, pause=1) == []


def test_each_utterance_gets_its_own_words_in_its_own_samples(
        tiny: WhisperAsr, spoken: list[np.ndarray], tmp_path: Path) -> None:
    counting = CountingAsr(tiny)
    store = ContentStore(tmp_path, "asr")
    heard = transcribe_packed(counting, spoken, RATE, "en", store)
    assert len(counting.heard) == 1  # three sentences, one window
    assert len(heard) == len(SENTENCES)
    assert [window for _, window in heard] == [3, 3, 3]
    for text, audio, (transcript, _) in zip(SENTENCES, spoken, heard, strict=True):
        assert word_error_rate(text, transcript.text, "en") <= 0.1, transcript.text
        assert all(0 <= w.start <= w.end <= audio.size for w in transcript.words)
        assert [w.start for w in transcript.words] == sorted(w.start for w in transcript.words)
    assert heard[1][0].words[0].start >= PAD - RATE // 10  # timed against its own audio
    again = transcribe_packed(counting, spoken, RATE, "en", store)
    assert again == heard and len(counting.heard) == 1  # cached by the window's audio


def test_one_utterance_is_heard_alone_like_the_round_trip(
        tiny: WhisperAsr, spoken: list[np.ndarray], tmp_path: Path) -> None:
    counting = CountingAsr(tiny)
    store = ContentStore(tmp_path, "asr")
    [(alone, window)] = transcribe_packed(counting, spoken[:1], RATE, "en", store)
    assert counting.heard == [spoken[0].size / RATE] and window == 1  # no pause added
    assert transcribe_cached(counting, spoken[0], RATE, "en", store) == alone
    assert len(counting.heard) == 1  # the same cache entry


def test_the_round_trip_takes_what_was_heard_ahead(
        cfg: Config, tiny: WhisperAsr, spoken: list[np.ndarray], tmp_path: Path) -> None:
    counting = CountingAsr(tiny)
    stores = SpeechStores.under(tmp_path)
    heard = PreHeard()
    items = [*zip(SENTENCES, spoken, strict=True), (SENTENCES[0], spoken[0])]  # one twice
    assert hear_ahead(items, RATE, "en", [counting], stores.asr, 0.1, heard) == [True] * 4
    assert len(counting.heard) == 1 and len(heard) == 3

    class Spoken:  # a TtsBackend that says the prepared audio
        name = "prepared"

        def version(self) -> str:
            return "prepared"

        def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
            return Synthesis(spoken[SENTENCES.index(text)], RATE, voice, "prepared")

    voice = VoiceSpec("flite", "slt")
    for text in SENTENCES:
        result = speak(text, "en", [voice], Spoken(), counting, stores, cfg, heard=heard)
        assert isinstance(result, Utterance), result
        assert result.attempt_log[0]["asr_window"] == 3
    assert len(counting.heard) == 1  # nothing heard alone
    missing = speak(SENTENCES[1], "en", [voice], Spoken(), counting, stores, cfg,
                    heard=PreHeard())
    assert isinstance(missing, Utterance) and missing.attempt_log[0]["asr_window"] == 1
    assert len(counting.heard) == 2  # not heard ahead: heard alone


def test_a_miss_in_a_pack_goes_to_the_next_model(
        tiny: WhisperAsr, spoken: list[np.ndarray], tmp_path: Path) -> None:
    """As in the round trip: the first model's misses, and only those, go to the next."""
    first, second = CountingAsr(tiny), CountingAsr(tiny)
    wrong = [("Nothing like what was said here at all.", spoken[0]), (SENTENCES[1], spoken[1])]
    heard = PreHeard()
    kept = hear_ahead(wrong, RATE, "en", [first, second], ContentStore(tmp_path, "asr"), 0.1,
                      heard)
    assert kept == [False, True]
    assert len(first.heard) == 1 and second.heard == [spoken[0].size / RATE]
