"""Speech events: TTS with the planned voice, TFJP, the ASR round trip, and word
timings for the text that was meant. Models load on first use, once per worker."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from streamaudio.cache import ContentStore
from streamaudio.compose.mix import ClipSource
from streamaudio.config import Config
from streamaudio.ground.measures import NAMESPACE as MEASURES_NAMESPACE
from streamaudio.ground.measures import ClipMeasurements
from streamaudio.ground.store import GENERATED_PREFIX
from streamaudio.ground.types import ProcessedClip, SpokenClip
from streamaudio.profile import timed
from streamaudio.schema import ClipRef, EventPlan, Stream, VoicePlan, WordSpan
from streamaudio.speech.align import align_reference
from streamaudio.speech.asr import WhisperAsr, audio_digest, first_pass_asr
from streamaudio.speech.audible import MixHearing, hear_in_mix
from streamaudio.speech.packed import PreHeard
from streamaudio.speech.rewrite import make_rewriter
from streamaudio.speech.roundtrip import (
    Rewriter,
    SpeechStores,
    at_rate,
    hear_ahead,
    hearing_models,
    speak,
    synthesize_cached,
)
from streamaudio.speech.tts import TtsRegistry
from streamaudio.speech.types import BackendError, SpeechUnavailable, VoiceSpec
from streamaudio.stage import Drop

LANGUAGES = ("en", "zh")


def utterance_store(cfg: Config) -> ContentStore:
    """Where spoken clips live, by content hash, for rendering."""
    return ContentStore(cfg.cache.directory, "utterances")


class SpeechGrounder:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stores = SpeechStores.from_config(cfg)
        self.utterances = utterance_store(cfg)
        # TFJP and loudness of each synthesis, by its hash: a warm build runs neither
        self.measures = ClipMeasurements(cfg, ContentStore(cfg.cache.directory,
                                                           MEASURES_NAMESPACE))

    @cached_property
    def registry(self) -> TtsRegistry:
        return TtsRegistry(self.cfg)

    @cached_property
    def asr(self) -> WhisperAsr:
        return WhisperAsr(self.cfg)

    @cached_property
    def first_pass(self) -> WhisperAsr | None:
        return first_pass_asr(self.cfg)

    @cached_property
    def rewriter(self) -> Rewriter | None:
        return make_rewriter(self.cfg)

    @cached_property
    def voices(self) -> dict[str, tuple[VoicePlan, ...]]:
        """Voices per language that the plan may choose from (empty where none). A train
        corpus never speaks with speech.heldout_voices; a held-out corpus uses them all."""
        held = set(self.cfg.speech.heldout_voices) if self.cfg.catalog.split == "train" else set()
        found: dict[str, tuple[VoicePlan, ...]] = {}
        for language in LANGUAGES:
            try:
                pairs = self.registry.voices_for(language)
            except SpeechUnavailable:
                pairs = []
            found[language] = tuple(VoicePlan(backend=b, voice=v) for b, v in pairs
                                    if f"{b}:{v}" not in held)
        return found

    @staticmethod
    def _planned_voice(event: EventPlan) -> VoiceSpec:
        assert event.voice is not None
        return VoiceSpec(event.voice.backend, event.voice.voice, event.voice.speed,
                         event.language)

    def _voice_order(self, event: EventPlan) -> list[VoiceSpec]:
        """The planned voice first, then other voices and speeds in an order drawn from
        the event itself (id, text, planned voice): known before grounding, so that
        hear_ahead can hear the later voices in packs too."""
        planned = self._planned_voice(event)
        seed = hashlib.sha256(f"{event.event_id}|{event.text}|{planned.key()}".encode())
        rng = np.random.default_rng(int.from_bytes(seed.digest()[:8], "little"))
        speeds = self.cfg.speech.speeds
        voices = [] if event.voice_locked else [  # locked: what is said depends on the voice
            v for v in self.voices.get(event.language, ())
            if (v.backend, v.voice) != (planned.backend, planned.voice)]
        # another voice rescues more than another speed: other voices first, each at
        # a drawn speed, then the planned voice at the other speeds
        others = [VoiceSpec(voices[int(i)].backend, voices[int(i)].voice,
                            speeds[int(rng.integers(0, len(speeds)))], event.language)
                  for i in rng.permutation(len(voices))]
        others += [VoiceSpec(planned.backend, planned.voice, speed, event.language)
                   for speed in speeds if speed != planned.speed]
        return [planned, *others]

    def hear_in_mix(self, stream: Stream, subtask: str, clips: ClipSource
                    ) -> list[MixHearing]:
        """Each foreground utterance measured, and heard again, in the rendered stream."""
        return hear_in_mix(stream, subtask, self.asr, self.first_pass, self.stores.asr, clips,
                           self.cfg)

    def _tfjp(self, audio: np.ndarray) -> np.ndarray:
        measured = self.measures.get(audio_digest(audio, self.cfg.audio.sample_rate), audio,
                                     denoise=True)
        if isinstance(measured, Drop):
            return audio  # a silent synthesis: the round trip will fail it
        return np.ascontiguousarray(measured.tfjp.audio, dtype=np.float32)

    def hear_ahead(self, events: Sequence[EventPlan], heard: PreHeard | None = None
                   ) -> PreHeard:
        """The round trip's attempts for every speech event of `events`, heard in packs
        (speech/packed.py: one whisper window for many sentences) into `heard`: all
        planned voices first, then the next voice of each one missed, as `speak` would
        try them. Run over a shard's plans in order, so the packs and hence the
        transcripts are the same on every runner."""
        heard = PreHeard() if heard is None else heard
        rate = self.cfg.audio.sample_rate
        spoken = [e for e in events if e.kind == "speech" and e.voice is not None]
        orders = [self._voice_order(event) for event in spoken]
        pending = list(range(len(spoken)))
        for attempt in range(self.cfg.speech.voice_attempts):
            by_language: dict[str, list[tuple[int, str, np.ndarray]]] = {}
            missed: set[int] = set()  # events whose next voice is tried
            for index in pending:
                event, voices = spoken[index], orders[index]
                if attempt >= len(voices):
                    continue
                try:
                    with timed("tts"):
                        synthesis = synthesize_cached(self.registry, event.text,
                                                      voices[attempt], self.stores.tts)
                except BackendError:  # a failed attempt: the round trip goes on, so do we
                    missed.add(index)
                    continue
                except SpeechUnavailable:
                    continue  # the round trip meets it again and says why
                audio = self._tfjp(at_rate(synthesis, rate))
                by_language.setdefault(event.language, []).append((index, event.text, audio))
            for language, items in by_language.items():
                models = hearing_models(self.asr, self.first_pass, language)
                kept = hear_ahead([(t, a) for _, t, a in items], rate, language, models,
                                  self.stores.asr, self.cfg.speech.max_wer, heard)
                missed |= {i for (i, _, _), ok in zip(items, kept, strict=True) if not ok}
            pending = sorted(missed)
        return heard

    def ahead(self, heard: PreHeard) -> HeardAhead:
        """This grounder as a SpeechSource that uses `heard`."""
        return HeardAhead(self, heard)

    def utterance(self, event: EventPlan, heard: PreHeard | None = None
                  ) -> SpokenClip | Drop:
        result = speak(event.text, event.language, self._voice_order(event), self.registry,
                       self.asr, self.stores, self.cfg, self.rewriter, self._tfjp,
                       first_pass=self.first_pass, heard=heard)
        if isinstance(result, Drop):
            return result
        audio = np.ascontiguousarray(result.audio, dtype=np.float32)
        timings = align_reference(result.text, result.transcript.words, event.language)
        if not timings:
            return Drop("no_words_heard", f"{event.event_id}: the ASR timed no words")
        words = tuple(WordSpan(word=t.word, start=min(t.start, audio.size - 1),
                               end=min(max(t.end, t.start + 1), audio.size)) for t in timings)
        sha = hashlib.sha256(audio.tobytes()).hexdigest()
        if self.utterances.get_bytes(sha) is None:
            self.utterances.put_array(sha, audio)
        ref = ClipRef(clip_id=f"{GENERATED_PREFIX}{sha[:24]}", sha256=sha,
                      source=result.backend_version, license=f"generated:{result.voice.backend}")
        core_start = words[0].start
        clip = ProcessedClip(audio, core_start, max(words[-1].end, core_start + 1),
                             self.measures.loudness(sha, audio), float("nan"))
        evidence: dict[str, float | int | str] = {
            "selection": "tts_roundtrip", "voice": result.voice.key(),
            "spoken_text": result.text, "hypothesis": result.transcript.text[:300],
            "wer": round(result.wer, 4), "attempts": result.attempts,
            "rewritten_from": result.rewritten_from or "", "backend": result.backend_version,
            "asr": result.attempt_log[-1].get("asr", self.asr.version()),
            "asr_window": result.attempt_log[-1].get("asr_window", 1),
            "clip_lufs": round(clip.lufs, 3),
        }
        return SpokenClip(clip, ref, words, evidence)


@dataclass(frozen=True)
class HeardAhead:
    """A SpeechSource: the grounder's round trip with a shard's packed transcripts."""

    grounder: SpeechGrounder
    heard: PreHeard

    def hear_ahead(self, events: Sequence[EventPlan]) -> None:
        """Add `events` (a retried scene's) to the packs heard ahead."""
        self.grounder.hear_ahead(events, self.heard)

    def utterance(self, event: EventPlan) -> SpokenClip | Drop:
        return self.grounder.utterance(event, self.heard)
