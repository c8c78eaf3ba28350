"""Speech heard again from the rendered stream. The round trip proves an utterance is
intelligible alone, before mixing; a bed, a loud event or a room can still mask it in
the stream, and a label the audio does not carry teaches a model to hallucinate. So each
foreground utterance is cut from the mix (its placed span, plus a short tail) and heard
by the same ASR as the round trip; its WER against what was said goes into the event's
evidence (`mix_wer`), and a stream whose speech is above the subtask's threshold is
retried (`speech_masked_in_mix`) when speech.mix_check is `enforce`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamaudio.cache import ContentStore
from streamaudio.compose.mix import ClipSource, render_event
from streamaudio.config import Config
from streamaudio.schema import EventPlan, GroundedEvent, Stream
from streamaudio.speech.roundtrip import hear, hearing_models
from streamaudio.speech.types import AsrModel
from streamaudio.stage import Retry
from streamaudio.units import db_to_gain, seconds_to_samples

TAIL_S = 0.25  # a word's end can run past the placed span's last sample after reverb


@dataclass(frozen=True)
class MixHearing:
    event_id: str
    snr_db: float  # the utterance against everything else in its span of the mix
    wer: float | None  # None: not heard again (its SNR is above speech.mix_hear_below_snr_db)
    threshold: float
    hypothesis: str = ""
    asr: str = ""

    @property
    def masked(self) -> bool:
        return self.wer is not None and self.wer > self.threshold


def speech_snr_db(stream: Stream, event: GroundedEvent, clips: ClipSource,
                  fade_samples: int) -> float:
    """The utterance's energy in the mix against the rest of the mix over its span: the
    event rendered alone, at its gain and the clipping guard's scale, is subtracted."""
    alone = render_event(event, clips, fade_samples) * np.float32(
        db_to_gain(event.gain_db) * stream.clip_guard_scale)
    span = stream.audio[event.onset:event.offset].astype(np.float64)
    rest = span - alone
    speech = float(np.sum(alone.astype(np.float64) ** 2))
    return round(10 * np.log10(max(speech, 1e-12) / max(float(np.sum(rest ** 2)), 1e-12)), 2)


def mix_threshold(cfg: Config, subtask: str) -> float:
    return cfg.speech.mix_max_wer_by_subtask.get(subtask, cfg.speech.mix_max_wer)


def foreground_speech(stream: Stream) -> list[tuple[EventPlan, GroundedEvent]]:
    planned = {event.event_id: event for event in stream.plan.scene.events}
    return [(planned[g.event_id], g) for g in stream.plan.events
            if planned[g.event_id].kind == "speech"
            and planned[g.event_id].role == "foreground"]


def hear_in_mix(stream: Stream, subtask: str, asr: AsrModel, first_pass: AsrModel | None,
                store: ContentStore, clips: ClipSource, cfg: Config) -> list[MixHearing]:
    """Every foreground utterance of the stream, measured in the mix and (unless it stands
    clear of everything else by speech.mix_hear_below_snr_db) heard from it."""
    rate = stream.plan.sample_rate
    threshold = mix_threshold(cfg, subtask)
    fade = seconds_to_samples(cfg.tfjp.fade_ms / 1000, rate)
    clear = cfg.speech.mix_hear_below_snr_db
    heard = []
    for planned, grounded in foreground_speech(stream):
        snr = speech_snr_db(stream, grounded, clips, fade)
        if clear is not None and snr >= clear:
            heard.append(MixHearing(grounded.event_id, snr, None, threshold))
            continue
        end = min(stream.audio.size, grounded.offset + int(TAIL_S * rate))
        segment = np.ascontiguousarray(stream.audio[grounded.onset:end], dtype=np.float32)
        said = str(grounded.evidence.get("spoken_text") or planned.text)
        entry: dict[str, Any] = {}
        models = hearing_models(asr, first_pass, planned.language)
        transcript, wer = hear(said, segment, rate, planned.language, models, store,
                               threshold, entry)
        heard.append(MixHearing(grounded.event_id, snr, wer, threshold, transcript.text,
                                str(entry.get("asr", models[-1].version()))))
    return heard


def with_mix_evidence(stream: Stream, heard: list[MixHearing]) -> Stream:
    """The stream with each utterance's mix WER in its evidence (audio and labels as they were)."""
    if not heard:
        return stream
    by_id = {h.event_id: h for h in heard}

    def evidence(hearing: MixHearing) -> dict[str, float | int | str]:
        if hearing.wer is None:
            return {"mix_snr_db": hearing.snr_db}
        return {"mix_snr_db": hearing.snr_db, "mix_wer": round(hearing.wer, 4),
                "mix_hypothesis": hearing.hypothesis[:300], "mix_asr": hearing.asr}

    events = [event.model_copy(update={"evidence": event.evidence | evidence(
        by_id[event.event_id])}) if event.event_id in by_id else event
        for event in stream.plan.events]
    plan = stream.plan.model_copy(update={"events": events})
    return Stream(plan=plan, audio=stream.audio, labels=stream.labels,
                  chunk_ms=stream.chunk_ms, clip_guard_scale=stream.clip_guard_scale,
                  config_hash=stream.config_hash)


def masked(heard: list[MixHearing]) -> Retry | None:
    worst = max((h for h in heard if h.masked), key=lambda h: h.wer or 0.0, default=None)
    if worst is None:
        return None
    return Retry("speech_masked_in_mix",
                 f"{worst.event_id}: WER {worst.wer:.2f} heard in the mix (> {worst.threshold}):"
                 f" {worst.hypothesis[:80]!r}")
