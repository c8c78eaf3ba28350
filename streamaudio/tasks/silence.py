"""Verified silence inside and instead of responses: a stream whose trigger never
comes (a negative), and benign sounds before the first turn. Both are decided
from the stream's seed with their own generator, so the builder's draws (and so
every other stream) are unchanged by the shares."""

from __future__ import annotations

import numpy as np

from streamaudio.config import SilenceConfig
from streamaudio.plan.grammar import SceneGrammar
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import MAX_EVENTS, MIN_EVENTS, EventPlan, ScenePlan
from streamaudio.tasks.environment_agent import household
from streamaudio.tasks.events import pick, sound_event

MAX_STRETCH_EVENTS = 2


def silence_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1])


def as_negative(plan: ScenePlan, grammar: SceneGrammar, catalog: Catalog,
                rng: np.random.Generator) -> ScenePlan | None:
    """The plan without its triggers, verified silent; None if it cannot be one."""
    setting = grammar.by_name(plan.setting)
    kept = [event for event in plan.events if not event.trigger]
    if setting is None or any(event.emit == "words" for event in kept):
        return None
    used = {event.sound_class for event in plan.events}
    spare = [name for name in household(setting, catalog) if name not in used]
    while (len(kept) < MIN_EVENTS or not any(e.role == "foreground" for e in kept)) and spare:
        name = spare.pop(int(rng.integers(0, len(spare))))
        role = "background" if any(e.role == "foreground" for e in kept) else "foreground"
        kept.append(sound_event(f"neg{len(kept)}", name, role, setting, catalog))
    if len(kept) < MIN_EVENTS or not any(e.role == "foreground" for e in kept):
        return None
    return plan.model_copy(update={"events": kept, "verified_silent": True})


def with_stretch(plan: ScenePlan, grammar: SceneGrammar, catalog: Catalog,
                 rng: np.random.Generator) -> ScenePlan:
    """1-2 benign foreground sounds, of no class heard as a turn, before the
    first turn and labelled verified silent; the plan unchanged if none fit."""
    setting = grammar.by_name(plan.setting)
    if setting is None:
        return plan
    # never a class heard as a turn: it could be the one a response is about
    used = {event.sound_class for event in plan.events if event.role == "foreground"}
    spare = [name for name in household(setting, catalog) if name not in used]
    room = min(MAX_STRETCH_EVENTS, MAX_EVENTS - len(plan.events), len(spare))
    if room < 1:
        return plan
    stretch: list[EventPlan] = [
        sound_event(f"quiet{i}", name, "foreground", setting, catalog).model_copy(
            update={"verified_silent": True})
        for i, name in enumerate(pick(rng, spare, int(rng.integers(1, room + 1))))]
    first = next(i for i, event in enumerate(plan.events) if event.role == "foreground")
    events = plan.events[:first] + stretch + plan.events[first:]
    return plan.model_copy(update={"events": events})


def apply_silence(plan: ScenePlan, negatives: bool, stretches: bool, cfg: SilenceConfig,
                  grammar: SceneGrammar, catalog: Catalog) -> ScenePlan:
    """The builder's plan, made a negative or given a stretch by the configured
    shares (both draws always happen, so one share never shifts the other)."""
    rng = silence_rng(plan.seed)
    negative, stretch = rng.uniform(size=2) < (cfg.negative_share, cfg.stretch_share)
    if negatives and negative and not plan.verified_silent:
        made = as_negative(plan, grammar, catalog, rng)
        if made is not None:
            return made
    if stretches and stretch and not plan.verified_silent:
        return with_stretch(plan, grammar, catalog, rng)
    return plan
