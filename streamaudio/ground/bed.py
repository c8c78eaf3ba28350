"""The ambience bed under a whole stream: which sound classes a setting's bed is
drawn from, and the drawn layers (a real ambience clip when the setting has one,
then coloured noise)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from streamaudio.compose.noise import unit_noise_lufs
from streamaudio.config import Config
from streamaudio.ground.retriever import CANDIDATES_PER_EVENT
from streamaudio.ground.store import CatalogClipStore
from streamaudio.plan.grammar import SceneGrammar
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import BedLayer, Colour
from streamaudio.stage import Drop

if TYPE_CHECKING:
    from streamaudio.ground.retrieval import Retriever

COLOURS: tuple[Colour, ...] = ("white", "pink", "brown")
SETTING_HITS = 3  # clips whose captions best match a free-text setting


def bed_classes(setting_name: str, grammar: SceneGrammar, catalog: Catalog,
                retriever: Retriever | None) -> list[str]:
    """The setting's ambience; for an LLM's free-text setting, the ambience
    classes of the clips whose captions best match it (the retriever's index is
    loaded only then)."""
    known = grammar.by_name(setting_name)
    if known is not None:
        return list(known.ambience)
    ambience = [c for c in catalog.classes_where(ambience=True) if catalog.by_class(c)]
    if retriever is None or not ambience:
        return ambience
    allowed = {e.id for c in ambience for e in catalog.by_class(c)}
    hits = retriever.index.search(setting_name, SETTING_HITS, allowed)
    return sorted({catalog.by_id(hit.clip_id).sound_class for hit in hits}) or ambience


def draw_bed(
    bed_classes: list[str], store: CatalogClipStore, rng: np.random.Generator, cfg: Config,
    offset_db: float,
) -> list[BedLayer] | Drop:
    compose = cfg.compose
    layers: list[BedLayer] = []
    candidates = [entry for cls in bed_classes for entry in store.catalog.by_class(cls)]
    for index in rng.permutation(len(candidates))[:CANDIDATES_PER_EVENT]:
        loaded = store.load(candidates[int(index)].id, "bed")
        if isinstance(loaded, Drop):
            continue
        clip, ref = loaded
        level = compose.bed_lufs + offset_db + float(rng.uniform(-3.0, 3.0))
        layers.append(BedLayer(
            kind="clip", clip=ref, clip_offset=int(rng.integers(0, clip.audio.size)),
            gain_db=round(min(level - clip.lufs, compose.max_gain_db), 3),
        ))
        break
    if bed_classes and not layers:
        return Drop("no_bed_clip", f"no loadable ambience among {bed_classes}")
    colour = COLOURS[int(rng.integers(0, len(COLOURS)))]
    level = float(rng.uniform(*compose.coloured_noise_lufs)) + offset_db
    layers.append(BedLayer(
        kind="coloured", colour=colour, noise_seed=int(rng.integers(0, 2**31 - 1)),
        gain_db=round(level - unit_noise_lufs(colour, cfg.audio.sample_rate), 3),
    ))
    return layers
