"""Grounding by retrieval, as SoundFlow does: embed the event's query, take the
top-3 catalog candidates, verify each on the four checks, keep the best that
passes; if none does, generate from the fallback caption and verify that."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.generate.store import GeneratorChain
from streamaudio.ground.generated import generate_for, verify_generated
from streamaudio.ground.retriever import neighbour_features
from streamaudio.ground.store import CatalogClipStore
from streamaudio.ground.types import Chosen, Evidence
from streamaudio.profile import timed
from streamaudio.retrieve.embed import TextEmbedder, make_embedder
from streamaudio.retrieve.index import Candidate, ClipIndex, index_directory
from streamaudio.retrieve.verify import (
    ClipFeatures,
    Verification,
    choose,
    verify,
)
from streamaudio.schema import EventPlan
from streamaudio.stage import Drop


def _summary(verifications: list[Verification]) -> str:
    """All candidates' scores and verdicts, as compact JSON for the evidence; a
    criterion with no score says why under "unscored"."""
    return json.dumps([{"clip": v.clip_id, "scores": {k: round(s, 3) for k, s in v.scores.items()},
                        "failed": v.failed_criteria(), "unscored": v.unscored}
                       for v in verifications], separators=(",", ":"))


class Retriever:
    def __init__(self, cfg: Config, store: CatalogClipStore,
                 generators: GeneratorChain | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self._generators = generators

    @cached_property
    def embedder(self) -> TextEmbedder:
        with timed("model loading"):
            return make_embedder(self.cfg.retrieval.embedder, self.cfg.retrieval.clap_model_dir)

    @cached_property
    def index(self) -> ClipIndex:
        embedder = self.embedder
        with timed("model loading"):  # the clip index: read, or built once per catalog
            return ClipIndex.load_or_build(self.store.catalog, embedder,
                                           index_directory(self.cfg), self.cfg)

    @cached_property
    def _query_store(self) -> ContentStore:
        return ContentStore(self.cfg.cache.directory, "query-embeddings")

    def query_vectors(self, texts: list[str]) -> np.ndarray:
        """The embedder's vectors for `texts`, cached by the texts and the embedder's name:
        a warm rebuild neither loads the model nor embeds. The key is the whole call, so a
        hit returns exactly what the same call computed (batching can move the last bits)."""
        key = input_key({"embedder": self.embedder.name, "texts": texts})
        cached = self._query_store.get_array(key)
        if cached is not None and cached.shape == (len(texts), self.embedder.dim):
            return cached
        embedder = self.embedder
        with timed("embedding"):
            vectors = embedder.embed_texts(texts)
        self._query_store.put_array(key, vectors)
        return vectors

    @cached_property
    def generators(self) -> GeneratorChain:
        return self._generators or GeneratorChain(self.cfg)

    def _check(self, candidate: Candidate, event: EventPlan,
               neighbours: list[ClipFeatures]) -> tuple[Verification, ClipFeatures] | Drop:
        entry = self.store.entry(candidate.clip_id)
        raw = self.store.raw(candidate.clip_id)
        if isinstance(raw, Drop):
            return raw
        # a clip is a candidate of many events: TFJP and its measures are kept by hash
        measured = self.store.measurements.get(raw.ref.sha256, raw.audio,
                                               denoise=not entry.loopable)
        if isinstance(measured, Drop):
            return measured
        with timed("verification"):
            verdict = verify(candidate, raw.audio, measured.tfjp, event.duration_s,
                             entry.loopable, neighbours, self.cfg,
                             measured.measures)
        return verdict, measured.measures.features

    def bind(self, event: EventPlan, before: Sequence[Chosen], rng: np.random.Generator,
             stats: Counter[str]) -> Chosen | Drop:
        seed = int(rng.integers(0, 2**31 - 1))  # drawn first, used only if generating
        # every clip this retriever binds carries its raw features, so none is measured here
        neighbours = neighbour_features(before, self.cfg.audio.sample_rate)
        allowed = ({e.id for e in self.store.catalog.by_class(event.sound_class)}
                   if event.sound_class else None)
        vectors, index = self.query_vectors([event.query]), self.index
        with timed("retrieval"):
            candidates = index.search_vectors(vectors, self.cfg.retrieval.top_k, allowed)[0]
        verdicts: list[Verification] = []
        measured: dict[str, ClipFeatures] = {}
        for candidate in candidates:
            checked = self._check(candidate, event, neighbours)
            if isinstance(checked, Drop):
                stats["verify_failed:unloadable"] += 1
                continue
            verdict, measured[candidate.clip_id] = checked
            verdicts.append(verdict)
            for criterion in verdict.failed_criteria():
                stats[f"verify_failed:{criterion}"] += 1
        best = choose(verdicts)
        evidence: Evidence = {"query": event.query, "candidates": _summary(verdicts)}
        if best is not None:
            loaded = self.store.load(best.clip_id, "event")
            if not isinstance(loaded, Drop):
                stats["retrieved"] += 1
                clip, ref = loaded
                entry = self.store.entry(best.clip_id)
                evidence |= {"selection": "retrieved", "clip_lufs": round(clip.lufs, 3),
                             "identity": round(best.scores["identity"], 4)}
                return Chosen(clip, ref, entry.loopable, measured[best.clip_id], evidence)
        return self._generate(event, neighbours, seed, stats, evidence)

    def _generate(self, event: EventPlan, neighbours: list[ClipFeatures], seed: int,
                  stats: Counter[str], evidence: Evidence) -> Chosen | Drop:
        made = generate_for(event, self.generators, seed)
        if isinstance(made, Drop):
            stats["no_verified_clip"] += 1
            return Drop("no_verified_clip", f"{event.event_id}: no candidate passed and "
                        f"{made.detail}")
        # a generated clip has no retrieval score: its identity is how close the
        # prompt it was made from is to the event's query
        vectors = self.query_vectors([event.query, event.fallback_caption])
        identity = float(np.dot(vectors[0], vectors[1]))
        admitted = verify_generated(event, made, neighbours, identity, self.store, self.cfg,
                                    stats)
        if isinstance(admitted, Drop):
            return admitted
        evidence |= {"selection": f"generated:{made.backend}", "prompt": made.prompt,
                     "identity": round(identity, 4), "generator": made.version,
                     "generation_seed": made.seed}
        return Chosen(admitted.clip, admitted.ref, False,
                      admitted.features, evidence)
