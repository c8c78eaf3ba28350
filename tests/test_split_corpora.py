"""A train and a held-out corpus built from the same catalogs share no clip, room,
sentence or held-out voice (streamaudio/split.py; `streamaudio build --split`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_world

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.ground.store import GENERATED_PREFIX
from streamaudio.retrieve.catalog import load_catalogs, load_rirs
from streamaudio.shards.reader import iter_streams
from streamaudio.split import split_catalogs
from streamaudio.tasks.registry import get_subtask
from streamaudio.tasks.texts import TextCatalog, load_texts

SUBTASKS = ("sound_event_qa", "single_turn_chat", "en_zh_translation", "chat_in_noise")


def _sentences(texts: TextCatalog) -> set[str]:
    said = {s for row in texts.qa for s in (row.question, row.answer)}
    said |= {row.en for row in texts.en_zh}
    said |= {s for row in texts.asr for s in row.sentences}
    return said


def _used(corpus: Path) -> tuple[set[str], set[str], set[str], set[str]]:
    """(clip ids, room ids, spoken texts, voices) of a corpus, read from its plans."""
    clips, rooms, spoken, voices = set(), set(), set(), set()
    for record in iter_streams(corpus):
        plan = record.grounded_plan()
        for event in plan.events:
            if not event.clip.clip_id.startswith(GENERATED_PREFIX):
                clips.add(event.clip.clip_id)
            if event.rir is not None:
                rooms.add(event.rir.clip_id)
        clips |= {layer.clip.clip_id for layer in plan.bed if layer.clip is not None}
        for event in plan.scene.events:
            if event.kind == "speech" and event.text:
                spoken.add(event.text)
                assert event.voice is not None
                voices.add(f"{event.voice.backend}:{event.voice.voice}")
    return clips, rooms, spoken, voices


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("split")
    world = write_world(root / "world")
    split_catalogs(world)
    built = []
    for split in ("train", "heldout"):
        cfg = load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class",
                                     "shards.streams_per_shard=4", f"catalog.split={split}"])
        build_corpus(root / split, [get_subtask(name) for name in SUBTASKS], 4, 0, cfg)
        built.append(root / split)
    return world, built[0], built[1]


def test_no_clip_room_or_sentence_crosses_the_split(corpora: tuple[Path, Path, Path]) -> None:
    world, train, heldout = corpora
    catalog, texts = load_catalogs(world), load_texts(world)
    ids = {split: {e.id for e in catalog.in_split(split)} for split in ("train", "heldout")}
    rooms = {split: {e.id for e in load_rirs(world) if e.split == split}
             for split in ("train", "heldout")}
    said = {split: _sentences(texts.in_split(split)) for split in ("train", "heldout")}
    for corpus, split, other in ((train, "train", "heldout"), (heldout, "heldout", "train")):
        clips, used_rooms, spoken, _ = _used(corpus)
        assert clips and spoken, corpus
        assert clips <= ids[split] and not clips & ids[other]
        assert used_rooms <= rooms[split]
        assert spoken <= said[split] and not spoken & said[other]


def test_a_train_corpus_never_speaks_with_a_held_out_voice(
        corpora: tuple[Path, Path, Path]) -> None:
    _, train, heldout = corpora
    assert "flite:rms" not in _used(train)[3]
    assert all("-heldout-" in record.stream_id for record in iter_streams(heldout))
    assert not any("-heldout-" in record.stream_id for record in iter_streams(train))
