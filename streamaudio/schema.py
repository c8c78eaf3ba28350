"""Plan objects. A ScenePlan says what happens; a GroundedPlan binds every event
to a content-addressed clip, a gain and an onset in samples. Everything random
is decided by the time a GroundedPlan exists: rendering one is deterministic.
Both round-trip through JSON exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamaudio.units import Decibels, Seconds

Role = Literal["foreground", "background", "ambient"]
Kind = Literal["sound", "speech", "music", "noise"]
Emotion = Literal["happy", "sad", "angry", "surprise", "normal", "urgent"]
Colour = Literal["white", "pink", "brown"]
EMOTIONS: tuple[str, ...] = ("happy", "sad", "angry", "surprise", "normal", "urgent")
MIN_EVENTS = 3
MAX_EVENTS = 15
MIN_HISTORY_TURNS = 3  # a history-review question asks about a turn at least this far back


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> _Model:
        return cls.model_validate_json(text)


class VoicePlan(_Model):
    """Who says a speech event, decided in the plan (retries may pick another)."""

    backend: str
    voice: str
    speed: float = 1.0


class EventPlan(_Model):
    event_id: str
    role: Role
    kind: Kind
    sound_class: str = ""  # catalog class for offline grounding ("" for speech)
    caption: str
    query: str  # retrieval query refined from the caption
    fallback_caption: str  # prompt for generation when retrieval fails
    text: str = ""  # what is said, for speech events
    language: str = "en"
    voice: VoicePlan | None = None  # speech events only
    trigger: bool = False  # a response follows this event's core span
    response: str = ""
    emotion: Emotion | None = None
    # "end": one response in the chunk of the core's last sample; "words": each
    # word of `text` in the chunk where it ends (real-time transcription)
    emit: Literal["end", "words"] = "end"
    continues_turn: bool = False  # same speaker goes on: a short pause, not a turn gap
    duration_s: Seconds | None = None  # planned length; None = the clip's own
    # a foreground event a listener must stay silent through (benign sound, ambience,
    # speech not addressed to it); validation checks no response chunk starts in it
    verified_silent: bool = False
    speaker: str = ""  # speech: who speaks ("A", "B", ...) when several people talk
    voice_locked: bool = False  # speech: the response depends on the voice; never swap it
    recalls: str = ""  # history review: id of the earlier turn the response draws on

    @model_validator(mode="after")
    def _speech_is_complete(self) -> EventPlan:
        if self.kind == "speech" and (not self.text.strip() or self.voice is None):
            raise ValueError(f"event {self.event_id}: speech needs text and a voice")
        if self.emit == "words" and (self.kind != "speech" or self.trigger):
            raise ValueError(f"event {self.event_id}: word emission is for untriggered speech")
        if self.kind != "speech" and (self.speaker or self.voice_locked):
            raise ValueError(f"event {self.event_id}: speaker and voice lock are for speech")
        if self.verified_silent and (self.trigger or self.emit == "words"
                                     or self.role != "foreground"):
            raise ValueError(f"event {self.event_id}: a verified-silent event is an "
                             "untriggered foreground turn")
        if self.recalls and not self.trigger:
            raise ValueError(f"event {self.event_id}: only a response can recall a turn")
        return self

    @model_validator(mode="after")
    def _trigger_has_response(self) -> EventPlan:
        if self.trigger and (not self.response.strip() or self.emotion is None):
            raise ValueError(f"event {self.event_id}: a trigger needs a response and emotion")
        if not self.trigger and (self.response or self.emotion is not None):
            raise ValueError(f"event {self.event_id}: only triggers carry a response")
        return self


class ScenePlan(_Model):
    stream_id: str
    ability: str
    subtask: str
    setting: str
    seed: int
    instruction: str = ""  # given at stream start ("" if none)
    verified_silent: bool = False  # every chunk must be silent
    bed_offset_db: Decibels = 0.0  # relative to compose.bed_lufs; clean speech uses < 0
    events: list[EventPlan] = Field(min_length=MIN_EVENTS, max_length=MAX_EVENTS)

    @model_validator(mode="after")
    def _consistent(self) -> ScenePlan:
        ids = [event.event_id for event in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError("event ids must be unique")
        if self.verified_silent and any(event.trigger or event.emit == "words"
                                        for event in self.events):
            raise ValueError("a verified-silent scene has no trigger events")
        earlier: set[str] = set()
        for event in self.events:
            if event.recalls and event.recalls not in earlier:
                raise ValueError(f"event {event.event_id} recalls {event.recalls!r}, "
                                 "which is not an earlier event")
            earlier.add(event.event_id)
        return self

    def foreground_turns(self) -> list[EventPlan]:
        """Foreground events in the order they are heard (layout keeps plan order)."""
        return [event for event in self.events if event.role == "foreground"]


class ClipRef(_Model):
    clip_id: str
    sha256: str  # content hash of the source file: a changed file is a different clip
    source: str  # package (or catalog) the recording comes from
    license: str


class WordSpan(_Model):
    """A word of a speech event, in samples relative to the event's onset."""

    word: str
    start: int = Field(ge=0)
    end: int = Field(gt=0)


class GroundedEvent(_Model):
    event_id: str
    clip: ClipRef
    clip_offset: int = Field(ge=0)  # first sample taken from the processed clip
    length: int = Field(gt=0)  # samples placed in the stream
    onset: int = Field(ge=0)  # stream sample where the event starts
    core_start: int = Field(ge=0)  # core span, relative to onset
    core_end: int = Field(gt=0)  # exclusive
    gain_db: Decibels
    loop: bool = False  # tile the processed clip to fill `length`
    rir: ClipRef | None = None
    words: list[WordSpan] = Field(default_factory=list)  # speech: timed words of the text
    evidence: dict[str, float | int | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _core_inside(self) -> GroundedEvent:
        if not self.core_start < self.core_end <= self.length:
            raise ValueError(f"event {self.event_id}: core span outside the event")
        if any(not 0 <= w.start < w.end <= self.length for w in self.words):
            raise ValueError(f"event {self.event_id}: a word lies outside the event")
        return self

    @property
    def offset(self) -> int:
        return self.onset + self.length

    @property
    def core_last_sample(self) -> int:
        return self.onset + self.core_end - 1


class BedLayer(_Model):
    """A layer under the whole stream: a real ambience clip, or coloured noise."""

    kind: Literal["clip", "coloured"]
    gain_db: Decibels
    clip: ClipRef | None = None
    clip_offset: int = 0
    colour: Colour | None = None
    noise_seed: int | None = None

    @model_validator(mode="after")
    def _complete(self) -> BedLayer:
        if self.kind == "clip" and self.clip is None:
            raise ValueError("a clip bed layer needs a clip")
        if self.kind == "coloured" and (self.colour is None or self.noise_seed is None):
            raise ValueError("a coloured bed layer needs a colour and a noise seed")
        return self


class GroundedPlan(_Model):
    scene: ScenePlan
    sample_rate: int
    num_samples: int = Field(gt=0)
    events: list[GroundedEvent]
    bed: list[BedLayer] = Field(min_length=1)

    @model_validator(mode="after")
    def _bound(self) -> GroundedPlan:
        planned = {event.event_id for event in self.scene.events}
        grounded = [event.event_id for event in self.events]
        if sorted(grounded) != sorted(planned):
            raise ValueError("every planned event is grounded exactly once")
        for event in self.events:
            if event.offset > self.num_samples:
                raise ValueError(f"event {event.event_id} ends after the stream")
        return self

    def event_plan(self, event_id: str) -> EventPlan:
        return next(event for event in self.scene.events if event.event_id == event_id)


@dataclass(frozen=True)
class ChunkLabels:
    decisions: list[int]  # 0 silent, 1 response; one per chunk
    responses: list[str]  # "" on silent chunks
    emotions: list[str]  # "" on silent chunks


@dataclass(frozen=True)
class Stream:
    """A rendered stream: audio plus labels, ready for a shard row."""

    plan: GroundedPlan
    audio: np.ndarray  # float32, mono, plan.sample_rate
    labels: ChunkLabels
    chunk_ms: int
    clip_guard_scale: float  # 1.0 when the clipping guard did nothing
    config_hash: str


@dataclass(frozen=True)
class EventRow:
    onset_s: Seconds
    offset_s: Seconds
    role: str
    kind: str
    caption: str
    clip_id: str
    source: str
    license: str
    gain_db: Decibels
