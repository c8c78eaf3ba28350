"""Subtasks register one plan builder each. Adding a subtask means adding one
builder (and, later, one taxonomy entry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from streamaudio.plan.brief import SceneBrief
from streamaudio.plan.grammar import SceneGrammar
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import ScenePlan, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.texts import TextCatalog


@dataclass(frozen=True)
class PlanContext:
    stream_id: str
    seed: int
    rng: np.random.Generator
    grammar: SceneGrammar
    catalog: Catalog  # installed clips only
    texts: TextCatalog | None = None  # speech subtasks' text sources
    voices: dict[str, tuple[VoicePlan, ...]] = field(default_factory=dict)  # by language
    speeds: tuple[float, ...] = (1.0,)


PlanBuilder = Callable[[PlanContext], ScenePlan | Drop]


@dataclass(frozen=True)
class Subtask:
    name: str
    ability: str
    summary: str
    build: PlanBuilder
    speech: bool = False  # plans speech events: needs TTS voices
    brief: SceneBrief | None = None  # what an LLM planner is asked for (None: offline only)
    languages: tuple[str, ...] = ()  # TTS languages it cannot be built without
    negatives: bool = False  # a stream without its trigger is a valid verified-silent one
    stretches: bool = True  # benign sounds may precede the first turn, labelled silent


SUBTASKS: dict[str, Subtask] = {}


def register(
    name: str, ability: str, summary: str, speech: bool = False, brief: SceneBrief | None = None,
    languages: tuple[str, ...] = (), negatives: bool = False, stretches: bool = True,
) -> Callable[[PlanBuilder], PlanBuilder]:
    def decorate(build: PlanBuilder) -> PlanBuilder:
        if name in SUBTASKS:
            raise ValueError(f"subtask {name!r} registered twice")
        SUBTASKS[name] = Subtask(name, ability, summary, build, speech, brief,
                                 languages or (("en",) if speech else ()), negatives, stretches)
        return build

    return decorate


def get_subtask(name: str) -> Subtask:
    load_builtin_tasks()
    if name not in SUBTASKS:
        known = ", ".join(sorted(SUBTASKS))
        raise KeyError(f"unknown subtask {name!r}; known: {known}")
    return SUBTASKS[name]


def all_subtasks() -> list[Subtask]:
    load_builtin_tasks()
    return [SUBTASKS[name] for name in sorted(SUBTASKS)]


def load_builtin_tasks() -> None:
    # importing the modules runs their @register decorators
    from streamaudio.tasks import (  # noqa: F401
        environment_agent,
        instruction_following,
        proactive,
        realtime_asr,
        translation,
        understanding,
        voice_chat,
    )
