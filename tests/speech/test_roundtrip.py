"""The round-trip gate on real speech (Piper, flite) and real whisper-base:
pass, retry with the next voice, drop with the evidence, rewrite, cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import Config, load_config
from streamaudio.speech.asr import WhisperAsr, first_pass_asr
from streamaudio.speech.flite_tts import FliteBackend
from streamaudio.speech.piper_tts import VOICE_ID, PiperBackend
from streamaudio.speech.roundtrip import SpeechStores, Utterance, speak
from streamaudio.speech.tts import TtsRegistry
from streamaudio.speech.types import (
    BackendError,
    SpeechUnavailable,
    Synthesis,
    Transcript,
    VoiceSpec,
)
from streamaudio.stage import Drop

SENTENCE = "Please turn off the kitchen light before you go to bed."
SLT, KAL, AWB = (VoiceSpec("flite", v) for v in ("slt", "kal16", "awb"))
JOE = VoiceSpec("piper", VOICE_ID)


class Router:
    """A TtsBackend over the real backends, routing on voice.backend; `spoil`
    may corrupt or fail chosen requests. Counts synthesis calls."""

    name = "router"

    def __init__(
        self,
        cfg: Config,
        spoil: Callable[[str, VoiceSpec, Synthesis], Synthesis] | None = None,
        tag: str = "",
    ) -> None:
        self.backends = {"flite": FliteBackend(cfg), "piper": PiperBackend(cfg)}
        self.spoil, self.tag, self.calls = spoil, tag, 0

    def version(self) -> str:  # a spoiling router must not share cache entries
        return "+".join(b.version() for b in self.backends.values()) + self.tag

    def voices(self, language: str) -> list[str]:
        return [v for b in self.backends.values() for v in b.voices(language)]

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        self.calls += 1
        synthesis = self.backends[voice.backend].synthesize(text, voice)
        return synthesis if self.spoil is None else self.spoil(text, voice, synthesis)


def reversed_for(bad: set[VoiceSpec] | None = None, word: str | None = None) -> Callable:
    """Time-reverse the speech of the bad voices (or of texts holding `word`):
    the same sound, no longer intelligible."""

    def spoil(text: str, voice: VoiceSpec, s: Synthesis) -> Synthesis:
        if (bad is not None and voice in bad) or (word is not None and word in text):
            return Synthesis(s.audio[::-1].copy(), s.sample_rate, s.voice, s.backend_version)
        return s

    return spoil


class CountingAsr:
    def __init__(self, inner: WhisperAsr) -> None:
        self.inner, self.calls, self.beam_size = inner, 0, inner.beam_size

    def version(self) -> str:
        return self.inner.version()

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        self.calls += 1
        return self.inner.transcribe(audio, sample_rate, language)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    cache = tmp_path_factory.getbasetemp() / "speech-cache"  # shared whisper join
    return load_config(overrides=[f"cache.directory={cache}"])


@pytest.fixture(scope="module")
def asr(cfg: Config) -> CountingAsr:
    whisper = WhisperAsr(cfg)
    whisper.model()
    return CountingAsr(whisper)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> SpeechStores:
    # shared by the module: a clean synthesis transcribed once serves several tests
    return SpeechStores.under(tmp_path_factory.mktemp("roundtrip-cache"))


def test_clean_sentence_passes_and_timings_follow_processing(
    cfg: Config, asr: CountingAsr, stores: SpeechStores
) -> None:
    pad = 8_000

    def process(audio: np.ndarray) -> np.ndarray:  # stands in for TFJP
        return np.concatenate([np.zeros(pad, np.float32), audio])

    tts = TtsRegistry(cfg)  # the production path: the registry's own cache
    result = speak(SENTENCE, "en", [JOE, SLT], tts, asr, stores, cfg, process=process)
    assert isinstance(result, Utterance), result
    assert result.wer <= cfg.speech.max_wer and result.attempts == 1
    assert result.voice == JOE and result.rewritten_from is None
    assert result.backend_version.startswith("piper-tts")
    assert result.audio.dtype == np.float32 and not result.audio[:pad].any()
    words = result.transcript.words
    assert len(words) >= 10 and words[0].start >= pad and words[-1].end <= result.audio.size
    assert [e["voice"] for e in result.attempt_log] == [JOE.key()]


def test_corrupted_voice_is_retried_with_the_next(
    cfg: Config, asr: CountingAsr, stores: SpeechStores
) -> None:
    tts = Router(cfg, reversed_for({SLT}), tag="+reversed")
    result = speak(SENTENCE, "en", [SLT, KAL], tts, asr, stores, cfg)
    assert isinstance(result, Utterance), result
    assert result.voice == KAL and result.attempts == 2
    first, second = result.attempt_log
    assert first["voice"] == SLT.key() and first["wer"] > cfg.speech.max_wer
    assert first["hypothesis"] != "" and second["wer"] == result.wer


def test_every_voice_fails_then_drop_with_best_wer(
    cfg: Config, asr: CountingAsr, stores: SpeechStores
) -> None:
    tts = Router(cfg, reversed_for({SLT, KAL, AWB}), tag="+reversed-all")
    evidence: list[dict] = []
    result = speak(SENTENCE, "en", [SLT, KAL, AWB, JOE], tts, asr, stores, cfg, evidence=evidence)
    assert isinstance(result, Drop)
    assert [e["voice"] for e in evidence] == [SLT.key(), KAL.key(), AWB.key()]
    assert all(e["wer"] > cfg.speech.max_wer and "hypothesis" in e for e in evidence)
    assert result.reason == "asr_roundtrip_failed"
    assert "best WER" in result.detail and "3 attempts" in result.detail
    assert tts.calls == 3  # voice_attempts = 3: the fourth (clean) voice is not tried


def test_backend_error_is_a_failed_attempt(
    cfg: Config, asr: CountingAsr, stores: SpeechStores
) -> None:
    def spoil(text: str, voice: VoiceSpec, s: Synthesis) -> Synthesis:
        if voice == KAL:
            raise BackendError("HTTP 500 from the TTS server")
        return s

    result = speak(SENTENCE, "en", [KAL, SLT], Router(cfg, spoil, "+500"), asr, stores, cfg)
    assert isinstance(result, Utterance) and result.voice == SLT
    assert "HTTP 500" in result.attempt_log[0]["error"]
    assert result.attempts == 2

    def always(text: str, voice: VoiceSpec, s: Synthesis) -> Synthesis:
        raise BackendError("down")

    failed = speak(SENTENCE, "en", [KAL, SLT], Router(cfg, always, "+down"), asr, stores, cfg)
    assert isinstance(failed, Drop) and failed.reason == "tts_backend_failed"


def test_speech_unavailable_propagates(cfg: Config, asr: CountingAsr, tmp_path: Path) -> None:
    stores = SpeechStores.under(tmp_path)
    with pytest.raises(SpeechUnavailable, match="piper speaks English"):
        speak(
            "你好",
            "zh",
            [VoiceSpec("piper", VOICE_ID, language="zh")],
            Router(cfg),
            asr,
            stores,
            cfg,
        )
    with pytest.raises(SpeechUnavailable, match="no voice"):
        speak("你好", "zh", [], Router(cfg), asr, stores, cfg)


@pytest.mark.parametrize("via", ["backend", "registry"])
def test_second_round_trip_recomputes_nothing(
    cfg: Config, asr: CountingAsr, tmp_path: Path, via: str
) -> None:
    router = Router(cfg)
    tts = router if via == "backend" else TtsRegistry(cfg, backends={"flite": router})
    text = "The train to the city leaves in ten minutes."
    before = asr.calls
    first = speak(text, "en", [SLT], tts, asr, SpeechStores.under(tmp_path), cfg)
    assert (router.calls, asr.calls - before) == (1, 1)
    # new store objects over the same directory: the cache is on disk
    again = speak(text, "en", [SLT], tts, asr, SpeechStores.under(tmp_path), cfg)
    assert (router.calls, asr.calls - before) == (1, 1)
    assert isinstance(first, Utterance) and isinstance(again, Utterance)
    assert np.array_equal(first.audio, again.audio) and first.transcript == again.transcript


class EasierSentence:
    def __init__(self, answer: str | None) -> None:
        self.answer, self.asked = answer, []

    def rewrite(self, text: str, language: str, heard: str | None = None) -> str | None:
        self.asked.append((text, heard))
        return self.answer


def test_rewrite_gives_an_easier_sentence(
    cfg: Config, asr: CountingAsr, stores: SpeechStores
) -> None:
    one_voice = cfg.model_copy(
        update={"speech": cfg.speech.model_copy(update={"voice_attempts": 1})}
    )
    tts = Router(cfg, reversed_for(word="flux"), tag="+flux")
    hard = "The flux train to the city leaves in ten minutes."
    rewriter = EasierSentence("The train to the city leaves in ten minutes.")
    result = speak(hard, "en", [SLT], tts, asr, stores, one_voice, rewriter=rewriter)
    assert isinstance(result, Utterance), result
    assert result.text == rewriter.answer and result.rewritten_from == hard
    assert result.attempts == 2
    assert rewriter.asked[0][0] == hard and rewriter.asked[0][1]  # it was told what ASR heard

    same = EasierSentence(hard)  # a rewrite that changes nothing is not tried again
    dropped = speak(hard, "en", [SLT], tts, asr, stores, one_voice, rewriter=same)
    assert isinstance(dropped, Drop) and dropped.reason == "asr_roundtrip_failed"
    assert "1 attempts" in dropped.detail


class DeafAsr(CountingAsr):
    """A first pass that mishears everything: whisper-base must then decide."""

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        self.calls += 1
        return Transcript("nothing like it", language)


def test_first_pass_tiny_en_hears_first_and_whisper_base_only_on_a_miss(
    cfg: Config, asr: CountingAsr, tmp_path: Path
) -> None:
    tiny = first_pass_asr(cfg)
    assert tiny is not None and tiny.version().endswith("tiny.en int8")
    assert tiny.hears("en") and not tiny.hears("zh")
    first = CountingAsr(tiny)
    stores = SpeechStores.under(tmp_path / "cache")
    tts = TtsRegistry(cfg)
    before = asr.calls
    heard = speak(SENTENCE, "en", [JOE], tts, asr, stores, cfg, first_pass=first)
    assert isinstance(heard, Utterance), heard
    assert first.calls == 1 and asr.calls == before  # tiny.en passed: no whisper-base
    assert heard.attempt_log[0]["asr"] == tiny.version()
    assert len(heard.transcript.words) >= 10  # timings come from the pass that heard it

    deaf = DeafAsr(tiny)
    rescued = speak(SENTENCE, "en", [JOE], tts, asr, SpeechStores.under(tmp_path / "c2"),
                    cfg, first_pass=deaf)
    assert isinstance(rescued, Utterance), rescued
    assert deaf.calls == 1 and asr.calls == before + 1
    entry = rescued.attempt_log[0]
    assert entry["first_pass_wer"] > cfg.speech.max_wer and entry["asr"] == asr.version()
    assert entry["wer"] == rescued.wer <= cfg.speech.max_wer


def test_first_pass_is_off_by_config_and_missing_model_is_an_error(
    cfg: Config, tmp_path: Path
) -> None:
    off = cfg.model_copy(update={"speech": cfg.speech.model_copy(
        update={"asr_first_pass": False})})
    assert first_pass_asr(off) is None
    missing = cfg.model_copy(update={"speech": cfg.speech.model_copy(
        update={"asr_first_pass_dir": tmp_path / "nowhere"})})
    with pytest.raises(SpeechUnavailable, match="asr_first_pass_dir"):
        first_pass_asr(missing)
