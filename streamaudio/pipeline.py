"""One stream: plan -> ground -> render -> labels. One shard: a fixed range of
stream indices of one subtask, written atomically. No Prefect here: flows/
wraps these functions."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from streamaudio import profile
from streamaudio.cache import ContentStore
from streamaudio.compose.labels import derive_labels
from streamaudio.compose.mix import render
from streamaudio.compose.noise import keep_noise_in
from streamaudio.config import Config
from streamaudio.ground.bed import bed_classes
from streamaudio.ground.offline import SpeechSource, ground_scene_labelled
from streamaudio.ground.retrieval import Retriever
from streamaudio.ground.speech import HeardAhead, SpeechGrounder, utterance_store
from streamaudio.ground.store import CatalogClipStore
from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.plan.llm import LlmPlanner, make_planner
from streamaudio.plan.random_scene import random_bed_setting, scramble_scene
from streamaudio.retrieve.catalog import is_installed, load_catalogs, load_rirs
from streamaudio.retrieve.quarantine import Quarantine
from streamaudio.schema import ChunkLabels, GroundedPlan, ScenePlan, Stream
from streamaudio.shards.progress import ShardRequest, shard_is_done, shard_streams, write_record
from streamaudio.shards.writer import shard_path, stream_to_row, write_shard
from streamaudio.speech.audible import foreground_speech, masked, with_mix_evidence
from streamaudio.split import Split
from streamaudio.stage import Drop, Retry, StageError
from streamaudio.tasks.registry import PlanContext, Subtask
from streamaudio.tasks.silence import apply_silence
from streamaudio.tasks.texts import TextCatalog, load_texts
from streamaudio.units import seconds_to_samples


def stream_seed(corpus_seed: int, subtask: str, index: int, attempt: int,
                split: Split = "train") -> int:
    """A 63-bit seed per (corpus seed, subtask, index, attempt): streams are
    independent of each other, of shard size and of build order. A held-out corpus
    draws other seeds than a train corpus of the same seed (its generated sounds and
    drawn gains then differ too)."""
    tag = "" if split == "train" else f":{split}"
    digest = hashlib.sha256(f"{corpus_seed}:{subtask}:{index}:{attempt}{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def stream_id(subtask: str, corpus_seed: int, index: int, split: Split = "train") -> str:
    """<subtask>-s<seed>-<index>, or <subtask>-s<seed>-heldout-<index>: the subtask is
    what comes before the last "-s"."""
    tag = "" if split == "train" else f"{split}-"
    return f"{subtask}-s{corpus_seed}-{tag}{index:06d}"


@dataclass
class ShardOutcome:
    path: Path | str  # a local path, or the shard's URL in a remote corpus
    streams: int
    skipped: bool  # already complete on disk
    drops: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time by stage
    # wall time by part of the work inside the stages (streamaudio.profile.PARTS)
    parts: dict[str, float] = field(default_factory=dict)


class _StageClock:
    """Adds the wall time of each `with clock(stage):` block to a counter (run
    reports only: timings never enter a shard, so shards stay byte-identical)."""

    def __init__(self, seconds: Counter[str]) -> None:
        self.seconds = seconds

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


class CorpusBuilder:
    """Loads catalogs, grammar and clip cache once per worker (`setup`), then
    builds streams and shards."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.quarantine = Quarantine()
        self._store: CatalogClipStore | None = None
        self._grammar: SceneGrammar | None = None
        self._texts: TextCatalog | None = None
        self.missing_clips = 0

    def setup(self) -> None:
        if self._store is not None:
            return
        directory, split = self.cfg.catalog.directory, self.cfg.catalog.split
        full = load_catalogs(directory)
        catalog, missing = full.in_split(split).filter_installed()
        self.missing_clips = len(missing)
        if not len(catalog):
            raise StageError(f"none of the {len(full)} catalogued clips ({split} split) is "
                             "installed; run `make setup` (it installs the recording packages)")
        rirs = [entry for entry in load_rirs(directory)
                if entry.split == split and is_installed(entry)]
        self._store = CatalogClipStore(catalog, rirs, self.cfg, self.quarantine,
                                       generated=utterance_store(self.cfg))
        keep_noise_in(ContentStore(self.cfg.cache.directory, "noise"))
        self._grammar = load_grammar(directory, set(full.classes)).usable(catalog)
        with contextlib.suppress(FileNotFoundError):  # speech subtasks then drop, counted
            self._texts = load_texts(directory).in_split(split)

    @property
    def store(self) -> CatalogClipStore:
        self.setup()
        assert self._store is not None
        return self._store

    @cached_property
    def planner(self) -> LlmPlanner | None:
        """The LLM planner when planner.mode is llm; subtasks without a brief (the
        speech ones) keep their offline builders."""
        planner = make_planner(self.cfg)
        if planner is not None and self.cfg.retrieval.mode != "embedding":
            raise StageError("planner.mode=llm plans free-text events: it needs "
                             "retrieval.mode=embedding")
        return planner

    @cached_property
    def retriever(self) -> Retriever | None:
        """Embedding retrieval + verification + generation (None: by class only)."""
        if self.cfg.retrieval.mode != "embedding":
            return None
        return Retriever(self.cfg, self.store)

    @cached_property
    def speech(self) -> SpeechGrounder:
        """TTS + ASR round trip; its models load only when a speech event needs them."""
        return SpeechGrounder(self.cfg)

    @property
    def grammar(self) -> SceneGrammar:
        self.setup()
        assert self._grammar is not None
        return self._grammar

    def plan(self, subtask: Subtask, index: int, corpus_seed: int, attempt: int
             ) -> ScenePlan | Drop | Retry:
        split = self.cfg.catalog.split
        seed = stream_seed(corpus_seed, subtask.name, index, attempt, split)
        sid = stream_id(subtask.name, corpus_seed, index, split)
        if self.planner is not None and subtask.brief is not None:
            return self.planner.plan(subtask.brief, sid, seed)
        context = PlanContext(
            stream_id=sid, seed=seed,
            rng=np.random.default_rng([seed, 0]), grammar=self.grammar,
            catalog=self.store.catalog, texts=self._texts,
            voices=self.speech.voices if subtask.speech else {},
            speeds=tuple(self.cfg.speech.speeds),
        )
        built = subtask.build(context)
        if isinstance(built, Drop | Retry):
            return built
        scene = apply_silence(built, subtask.negatives, subtask.stretches, self.cfg.silence,
                              self.grammar, self.store.catalog)
        if self.cfg.planner.mode == "random":
            return scramble_scene(scene, self.store.catalog)
        return scene

    def unavailable(self, subtask: Subtask) -> str | None:
        """Why this subtask cannot be built with this configuration (None: it can)."""
        if not subtask.speech:
            return None
        missing = [language for language in subtask.languages
                   if not self.speech.voices.get(language)]
        if missing:
            hint = " (configure speech.cosyvoice for Chinese)" if "zh" in missing else ""
            return f"no configured TTS voice speaks {', '.join(missing)}{hint}"
        return None

    def _ground(self, scene: ScenePlan, stats: Counter[str] | None,
                speech: SpeechSource | None = None
                ) -> tuple[GroundedPlan, ChunkLabels] | Drop | Retry:
        """`speech`: the source of utterances (default: this builder's grounder)."""
        if not any(e.kind == "speech" for e in scene.events):
            speech = None
        elif speech is None:
            speech = self.speech
        setting = (random_bed_setting(scene, self.grammar) if self.cfg.planner.mode == "random"
                   else scene.setting)
        beds = bed_classes(setting, self.grammar, self.store.catalog, self.retriever)
        return ground_scene_labelled(scene, beds, self.store, self.cfg, speech, stats,
                                     self.retriever)

    def ground(self, scene: ScenePlan, stats: Counter[str] | None = None
               ) -> GroundedPlan | Drop | Retry:
        grounded = self._ground(scene, stats)
        return grounded if isinstance(grounded, Drop | Retry) else grounded[0]

    def render(self, plan: GroundedPlan, labels: ChunkLabels | None = None) -> Stream:
        """`labels`: those grounding checked the plan against (None: derive them, as
        for a stored plan rendered again)."""
        audio_cfg = self.cfg.audio
        fade = seconds_to_samples(self.cfg.tfjp.fade_ms / 1000, audio_cfg.sample_rate)
        audio, scale = render(plan, self.store, fade, self.cfg.compose.peak_ceiling)
        if labels is None:
            labels = derive_labels(plan, audio_cfg.chunk_samples)
        return Stream(plan=plan, audio=audio, labels=labels,
                      chunk_ms=audio_cfg.chunk_ms, clip_guard_scale=scale,
                      config_hash=self.cfg.hash())

    def hear_mix(self, subtask: Subtask, stream: Stream, clock: _StageClock | None = None
                 ) -> Stream | Retry:
        """speech.mix_check: the stream with each foreground utterance's WER heard from the
        mix in its evidence, or (enforce) a Retry when the mix masks one (speech/audible.py)."""
        mode = self.cfg.speech.mix_check
        if mode == "skip" or not foreground_speech(stream):
            return stream
        with (clock or _StageClock(Counter()))("mix check"):
            heard = self.speech.hear_in_mix(stream, subtask.name, self.store)
        retry = masked(heard) if mode == "enforce" else None
        return retry if retry is not None else with_mix_evidence(stream, heard)

    def build_stream(self, subtask: Subtask, index: int, corpus_seed: int,
                     drops: Counter[str], grounding: Counter[str] | None = None,
                     seconds: Counter[str] | None = None,
                     first: ScenePlan | Drop | Retry | None = None,
                     speech: SpeechSource | None = None) -> Stream | Drop:
        """Try up to `attempts_per_stream` seeds; every failed attempt is counted
        by reason, so nothing is dropped silently. `first`: attempt 0's plan, when
        the caller has made it; `speech`: as for `_ground`."""
        last: Drop | Retry = Drop("no_attempt")
        clock = _StageClock(seconds if seconds is not None else Counter())
        for attempt in range(self.cfg.shards.attempts_per_stream):
            with clock("plan"):
                scene = (first if attempt == 0 and first is not None
                         else self.plan(subtask, index, corpus_seed, attempt))
            with clock("ground"):
                if attempt and isinstance(speech, HeardAhead) and isinstance(scene, ScenePlan):
                    speech.hear_ahead(scene.events)  # a retried scene's speech, packed
                grounded = scene if isinstance(scene, Drop | Retry) else self._ground(
                    scene, grounding, speech)
            if isinstance(grounded, Drop | Retry):
                drops[f"attempt:{grounded.reason}"] += 1
                last = grounded
                continue
            with clock("render"):
                stream = self.render(*grounded)
            heard = self.hear_mix(subtask, stream, clock)
            if isinstance(heard, Retry):
                drops[f"attempt:{heard.reason}"] += 1
                last = heard
                continue
            return heard
        drops[f"stream:{last.reason}"] += 1
        return Drop(last.reason, last.detail)

    def shard_request(self, subtask: Subtask, shard_index: int, total_streams: int,
                      corpus_seed: int) -> ShardRequest:
        """What the shard holds: streams [index * per_shard, ...) of `total_streams`."""
        planned = len(shard_streams(shard_index, total_streams,
                                    self.cfg.shards.streams_per_shard))
        return ShardRequest(subtask.ability, subtask.name, shard_index, corpus_seed, planned,
                            self.cfg.hash())

    def build_shard(self, root: Path, subtask: Subtask, shard_index: int, total_streams: int,
                    corpus_seed: int) -> ShardOutcome:
        path = shard_path(root, subtask.ability, subtask.name, shard_index)
        request = self.shard_request(subtask, shard_index, total_streams, corpus_seed)
        indices = shard_streams(shard_index, total_streams, self.cfg.shards.streams_per_shard)
        if shard_is_done(root, path, request):  # its completion record matches the file
            return ShardOutcome(path, 0, skipped=True)
        drops: Counter[str] = Counter()
        grounding: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        parts_before = profile.snapshot()
        rows = []
        clock = _StageClock(seconds)
        with clock("plan"):
            first = {index: self.plan(subtask, index, corpus_seed, 0) for index in indices}
        speech = None
        if subtask.speech and self.cfg.speech.hear_in_packs:
            with clock("ground"):
                speech = self.speech.ahead(self.speech.hear_ahead(
                    [e for s in first.values() if isinstance(s, ScenePlan) for e in s.events]))
        for index in indices:
            stream = self.build_stream(subtask, index, corpus_seed, drops, grounding, seconds,
                                       first[index], speech)
            if isinstance(stream, Stream):
                with _StageClock(seconds)("write"):
                    rows.append(stream_to_row(stream, subtask.ability, subtask.name,
                                              corpus_seed))
        meta = {"ability": subtask.ability, "subtask": subtask.name,
                "config_hash": self.cfg.hash(), "drops": dict(drops),
                "grounding": dict(sorted(grounding.items())),
                "planned_streams": len(indices), "corpus_seed": corpus_seed,
                "shard_index": shard_index}
        with _StageClock(seconds)("write"):
            write_shard(rows, path, meta, self.cfg.shards.row_group_streams)
            # after the rename: a kill in between leaves a shard without a record,
            # which the next run rebuilds to the same bytes
            write_record(root, path, request, len(rows))
        parts = profile.snapshot()
        parts.subtract(parts_before)
        return ShardOutcome(path, len(rows), skipped=False, drops=dict(drops),
                            seconds=dict(seconds), parts={k: v for k, v in parts.items() if v})
