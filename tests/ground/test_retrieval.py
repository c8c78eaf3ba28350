"""Grounding by retrieval: top-3 candidates verified, else a generated clip."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import Config, load_config
from streamaudio.ground.retrieval import Retriever
from streamaudio.pipeline import CorpusBuilder
from streamaudio.schema import EventPlan
from streamaudio.stage import Drop


def _config(world: Path, tmp_path: Path, *extra: str) -> Config:
    return load_config(overrides=[f"catalog.directory={world}", f"cache.directory={tmp_path}",
                                  "retrieval.mode=embedding", *extra])


def _event(query: str, sound_class: str = "", fallback: str = "") -> EventPlan:
    return EventPlan(event_id="e", role="foreground", kind="sound", sound_class=sound_class,
                     caption=query, query=query, fallback_caption=fallback or query,
                     duration_s=1.0)


def test_top_candidates_are_verified_and_the_best_kept(world: Path, tmp_path: Path) -> None:
    builder = CorpusBuilder(_config(world, tmp_path, "verify.max_spectral_jump=1.0"))
    retriever = builder.retriever
    assert isinstance(retriever, Retriever)
    stats: Counter[str] = Counter()
    chosen = retriever.bind(_event("glass_break test recording"), [], np.random.default_rng(1),
                            stats)
    assert not isinstance(chosen, Drop), chosen
    assert chosen.ref.clip_id.startswith("tiny/glass_break")
    candidates = json.loads(str(chosen.evidence["candidates"]))
    assert len(candidates) == 3 and all("identity" in c["scores"] for c in candidates)
    assert stats["retrieved"] == 1


def test_with_no_passing_candidate_a_clip_is_generated_and_verified(
        world: Path, tmp_path: Path) -> None:
    # the class holds only glass recordings, which fail identity against this query;
    # the offline synth can make a smoke alarm
    cfg = _config(world, tmp_path, "verify.max_spectral_jump=1.0")
    builder = CorpusBuilder(cfg)
    stats: Counter[str] = Counter()
    event = _event("smoke alarm beeping", sound_class="glass_break",
                   fallback="a smoke alarm beeping in a hallway")
    chosen = builder.retriever.bind(event, [], np.random.default_rng(7), stats)
    assert not isinstance(chosen, Drop), chosen
    assert chosen.evidence["selection"] == "generated:synth"
    assert chosen.ref.clip_id.startswith("generated/")
    assert stats["generated:synth"] == 1 and stats["verify_failed:identity"] == 3
    # the processed clip is kept by content hash, so a plan with it renders
    assert builder.store.event_clip(chosen.ref).audio.size == chosen.clip.audio.size
    records = (tmp_path / "generated" / "generated.jsonl").read_text().splitlines()
    assert json.loads(records[0])["backend"] == "synth"


def test_nothing_verifiable_is_a_counted_drop(world: Path, tmp_path: Path) -> None:
    builder = CorpusBuilder(_config(world, tmp_path, "verify.min_identity=0.99"))
    stats: Counter[str] = Counter()
    chosen = builder.retriever.bind(_event("an orchestra tuning up"), [],
                                    np.random.default_rng(3), stats)
    assert isinstance(chosen, Drop) and chosen.reason == "no_verified_clip"
    assert stats["no_verified_clip"] == 1 and stats["verify_failed:identity"] >= 1


def test_a_warm_rebuild_embeds_no_query(world: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Query vectors are cached by the call's texts: the second builder binds the same clip
    with the same evidence and never calls the embedder (so never loads its model)."""
    cfg = _config(world, tmp_path, "verify.max_spectral_jump=1.0")
    event = _event("glass_break test recording")
    first = CorpusBuilder(cfg).retriever.bind(event, [], np.random.default_rng(1), Counter())
    assert not isinstance(first, Drop), first
    second = CorpusBuilder(cfg).retriever
    assert isinstance(second, Retriever)
    second.index  # noqa: B018 (the index is built or loaded apart from the queries)

    def refuse(texts: list[str]) -> None:
        raise AssertionError(f"embedded {texts} on a warm rebuild")

    monkeypatch.setattr(second.embedder, "embed_texts", refuse)
    again = second.bind(event, [], np.random.default_rng(1), Counter())
    assert not isinstance(again, Drop), again
    assert again.ref == first.ref and again.evidence == first.evidence
    # another query misses and is embedded
    monkeypatch.undo()
    assert second.query_vectors(["a different query"]).shape == (1, second.embedder.dim)


def test_a_clip_is_measured_once_by_content_hash(world: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """TFJP and the spectrum of a candidate are computed once, however many events it is
    a candidate of and whether or not it is chosen; a new process (a warm rebuild) reads
    them from the cache; and the verdicts are those of measuring afresh."""
    from streamaudio.ground import measures

    cfg = _config(world, tmp_path, "verify.max_spectral_jump=1.0")
    calls: list[int] = []
    real = measures.run_tfjp

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(measures, "run_tfjp", counted)
    retriever = CorpusBuilder(cfg).retriever
    event = _event("glass_break test recording")
    first = retriever.bind(event, [], np.random.default_rng(1), Counter())
    assert len(calls) == 3  # the top-3 candidates; the chosen one is not run again
    second = retriever.bind(event, [], np.random.default_rng(2), Counter())
    assert len(calls) == 3  # no candidate measured again
    assert not isinstance(first, Drop) and not isinstance(second, Drop)
    assert second.evidence == first.evidence
    warm = CorpusBuilder(cfg).retriever.bind(event, [], np.random.default_rng(1), Counter())
    assert len(calls) == 3  # read from the content store
    assert not isinstance(warm, Drop) and warm.evidence == first.evidence
    assert np.array_equal(warm.clip.audio, first.clip.audio)
    assert (warm.clip.core_start, warm.clip.core_end, warm.clip.lufs) == \
        (first.clip.core_start, first.clip.core_end, first.clip.lufs)
    cold = _config(world, tmp_path / "elsewhere", "verify.max_spectral_jump=1.0")
    fresh = CorpusBuilder(cold).retriever.bind(event, [], np.random.default_rng(1), Counter())
    assert len(calls) == 6  # an empty cache measures again, to the same verdicts
    assert not isinstance(fresh, Drop) and fresh.evidence == first.evidence
