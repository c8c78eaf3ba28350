"""Turning a sound class into a planned event: caption, retrieval query and
fallback caption, written from the class label and the setting."""

from __future__ import annotations

import numpy as np

from streamaudio.plan.grammar import Setting
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import Emotion, EventPlan, Role

_DISTANCE = {"foreground": "close by", "background": "in the background",
             "ambient": "all around"}


def sound_event(
    event_id: str,
    sound_class: str,
    role: Role,
    setting: Setting,
    catalog: Catalog,
    response: str = "",
    emotion: Emotion | None = None,
) -> EventPlan:
    label = catalog.classes[sound_class].label
    return EventPlan(
        event_id=event_id,
        role=role,
        kind="sound",
        sound_class=sound_class,
        caption=f"{label.capitalize()} {_DISTANCE[role]}, in {setting.description}.",
        query=label,
        fallback_caption=f"A realistic recording of {label} {_DISTANCE[role]}, "
        f"as heard in {setting.description}.",
        trigger=bool(response),
        response=response,
        emotion=emotion,
    )


def pick(rng: np.random.Generator, names: list[str], count: int) -> list[str]:
    """`count` draws from `names`, without repeats while there are enough."""
    if count <= len(names):
        return [names[int(i)] for i in rng.permutation(len(names))[:count]]
    return [names[int(i)] for i in rng.integers(0, len(names), size=count)]

