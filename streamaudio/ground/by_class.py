"""Class mode: bind a sound event to a catalog clip of its planned sound class,
trying up to three in a drawn order. A class with no installed clip (doorbells,
knocks and appliance beeps have no recording here) is made by the generator chain
from the event's fallback caption and checked like a retrieved candidate:
cleanliness, duration fit and continuity with the events before it. Identity is
not scored by class: no text embedding is loaded, and the synth refuses any
caption it has no recipe for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from streamaudio.generate.store import GeneratorChain
from streamaudio.ground.generated import generate_for, verify_generated
from streamaudio.ground.retriever import CANDIDATES_PER_EVENT, neighbour_features
from streamaudio.ground.store import CatalogClipStore
from streamaudio.ground.types import Chosen, Evidence
from streamaudio.schema import EventPlan
from streamaudio.stage import Drop


class ClassRetriever:
    """`generators` makes classes with no installed clip (None: the configured
    chain, built when first needed)."""

    def __init__(self, store: CatalogClipStore, generators: GeneratorChain | None = None
                 ) -> None:
        self.store = store
        self._generators = generators

    @cached_property
    def generators(self) -> GeneratorChain:
        return self._generators or GeneratorChain(self.store.cfg)

    def bind(self, event: EventPlan, before: Sequence[Chosen], rng: np.random.Generator,
             stats: Counter[str]) -> Chosen | Drop:
        entries = self.store.catalog.by_class(event.sound_class)
        if not entries:
            return self._generate(event, before, int(rng.integers(0, 2**31 - 1)), stats)
        order = rng.permutation(len(entries))[:CANDIDATES_PER_EVENT]
        for tried, index in enumerate(order, start=1):
            entry = entries[int(index)]
            loaded = self.store.load(entry.id, "event")
            if isinstance(loaded, Drop):
                continue
            clip, ref = loaded
            evidence: Evidence = {
                "selection": "offline_class", "candidates_tried": tried,
                "clip_lufs": round(clip.lufs, 3),
                "tfjp_snr_db": round(clip.snr_db, 3) if np.isfinite(clip.snr_db) else "n/a"}
            stats["retrieved"] += 1
            return Chosen(clip, ref, entry.loopable, None, evidence)
        return Drop("no_usable_clip", f"{event.event_id}: {len(order)} candidates of "
                    f"{event.sound_class!r} failed to load")

    def _generate(self, event: EventPlan, before: Sequence[Chosen], seed: int,
                  stats: Counter[str]) -> Chosen | Drop:
        """A clip of a class with no installed recording, kept only if it passes
        verification (identity aside: see the module doc)."""
        store = self.store
        if store.generated is None:
            return Drop("no_clip_for_class", f"{event.event_id}: class {event.sound_class!r} "
                        "(and no store for generated clips)")
        made = generate_for(event, self.generators, seed)
        if isinstance(made, Drop):
            return Drop("no_clip_for_class", f"{event.event_id}: class {event.sound_class!r}; "
                        f"{made.detail}")
        rate = store.cfg.audio.sample_rate
        admitted = verify_generated(event, made, neighbour_features(before, rate), None, store,
                                    store.cfg, stats)
        if isinstance(admitted, Drop):
            return admitted
        clip = admitted.clip
        evidence: Evidence = {
            "selection": f"generated:{made.backend}", "prompt": made.prompt,
            "generator": made.version, "generation_seed": made.seed, "identity": "by_class",
            "clip_lufs": round(clip.lufs, 3),
            "tfjp_snr_db": round(clip.snr_db, 3) if np.isfinite(clip.snr_db) else "n/a"}
        # later neighbours measure its processed audio, as for a clip of the class
        return Chosen(clip, admitted.ref, False, None, evidence)
