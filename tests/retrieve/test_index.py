"""ClipIndex: MiniLM retrieval over the real catalogs, persistence keyed by the
catalog's content, and the installed-clips filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import load_config
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.retrieve.embed import MiniLmEmbedder
from streamaudio.retrieve.index import (
    ClipIndex,
    catalog_content_hash,
    document_text,
    index_directory,
    installed_ids,
)

REAL_CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"

# query -> classes that count as a hit (a storm bed is fine for rain, etc.)
QUERIES = {
    "glass shattering": {"glass_breaking"},
    "dog barking": {"dog_barking"},
    "rain on a roof": {"rain", "thunderstorm"},
    "keyboard typing": {"keyboard_typing"},
    "a door creaking open": {"door_open"},
    "a phone ringing": {"phone_ringing"},
    "a cat meowing": {"cat_meowing"},
    "a rooster crowing at dawn": {"rooster_crowing"},
    "footsteps on gravel": {"footsteps"},
    "a crackling fire": {"fire_crackling", "campfire"},
    "someone screaming": {"scream"},
    "an alarm clock beeping": {"alarm_clock"},
    "crowd applause": {"crowd_cheering"},
    "a door slamming shut": {"door_close"},
    "crickets at night": {"night_insects"},
    "an owl hooting at night": {"owl_hooting"},
    "someone crumpling paper": {"paper_crumpling"},
    "a running stream": {"stream_water"},
    "chopping wood with an axe": {"wood_chopping"},
    "a person crying out in pain": {"pain_cry"},
}


class Counting:
    """An embedder wrapper that counts calls (a reused index embeds nothing)."""

    def __init__(self, inner: MiniLmEmbedder, name: str = "minilm") -> None:
        self.inner, self.name, self.dim = inner, name, inner.dim
        self.calls = 0

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.embed_texts(texts)


@pytest.fixture(scope="module")
def minilm() -> MiniLmEmbedder:
    return MiniLmEmbedder()


@pytest.fixture(scope="module")
def real() -> Catalog:
    return load_catalogs(REAL_CATALOGS)


@pytest.fixture(scope="module")
def real_index(
    real: Catalog, minilm: MiniLmEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> ClipIndex:
    return ClipIndex.load_or_build(real, minilm, tmp_path_factory.mktemp("index"))


@pytest.fixture
def small(real: Catalog) -> Catalog:
    # every 20th clip: a few dozen documents, fast to embed
    return Catalog(real.entries[::20], real.classes)


def test_real_queries_hit_the_right_class_in_the_top_3(
    real: Catalog, real_index: ClipIndex
) -> None:
    assert len(QUERIES) >= 10
    results = real_index.search_many(list(QUERIES), 3)
    misses = {
        query: [real.by_id(c.clip_id).sound_class for c in found]
        for (query, wanted), found in zip(QUERIES.items(), results, strict=True)
        if not wanted & {real.by_id(c.clip_id).sound_class for c in found}
    }
    assert misses == {}


def test_search_returns_ranked_candidates(real_index: ClipIndex) -> None:
    found = real_index.search("glass shattering", 5)
    assert [c.rank for c in found] == [1, 2, 3, 4, 5]
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True) and 0.0 < scores[-1] <= scores[0] <= 1.0
    assert real_index.search_many(["glass shattering"], 5) == [found]
    assert real_index.search_many([], 3) == []


def test_allowed_restricts_results_exactly(real: Catalog, real_index: ClipIndex) -> None:
    cows = {entry.id for entry in real.by_class("cow_mooing")}
    found = real_index.search("glass shattering", 3, allowed=cows)
    assert len(found) == 3 and {c.clip_id for c in found} <= cows
    two = sorted(cows)[:2]
    assert {c.clip_id for c in real_index.search("a cow", 3, allowed=two)} == set(two)
    assert real_index.search("a cow", 3, allowed=set()) == []
    assert real_index.search("a cow", 3, allowed={"not/a-clip"}) == []


def test_installed_ids_cover_only_files_present(real: Catalog) -> None:
    present = installed_ids(real)
    assert present == {entry.id for entry in real.filter_installed()[0]}


def test_index_is_reused_until_the_catalog_changes(
    small: Catalog, minilm: MiniLmEmbedder, tmp_path: Path
) -> None:
    embedder = Counting(minilm)
    first = ClipIndex.load_or_build(small, embedder, tmp_path)
    assert embedder.calls == 1 and first.built
    files = sorted(p.name for p in tmp_path.iterdir())
    key = catalog_content_hash(small)
    assert files == [f"{key}-minilm.faiss", f"{key}-minilm.json"]

    again = ClipIndex.load_or_build(small, embedder, tmp_path)
    assert embedder.calls == 1 and not again.built  # loaded, nothing embedded
    assert again.clip_ids == first.clip_ids
    assert again.search("a cow mooing", 3) == first.search("a cow mooing", 3)

    edited = small.entries[0].model_copy(update={"caption": "A kettle whistles on the stove."})
    changed = Catalog((edited, *small.entries[1:]), small.classes)
    before = embedder.calls
    rebuilt = ClipIndex.load_or_build(changed, embedder, tmp_path)
    assert rebuilt.built and embedder.calls == before + 1
    new_key = catalog_content_hash(changed)
    assert new_key != key
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{new_key}-minilm.faiss", f"{new_key}-minilm.json"
    ]  # fmt: skip
    assert rebuilt.search("a kettle whistling", 1)[0].clip_id == edited.id


def test_stale_files_of_other_embedders_are_kept(
    small: Catalog, minilm: MiniLmEmbedder, tmp_path: Path
) -> None:
    ClipIndex.load_or_build(small, Counting(minilm, name="other"), tmp_path)
    shrunk = Catalog(small.entries[1:], small.classes)
    ClipIndex.load_or_build(shrunk, Counting(minilm), tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert f"{catalog_content_hash(small)}-other.faiss" in names
    assert f"{catalog_content_hash(shrunk)}-minilm.faiss" in names and len(names) == 4


def test_a_corrupt_index_file_is_rebuilt(
    small: Catalog, minilm: MiniLmEmbedder, tmp_path: Path
) -> None:
    embedder = Counting(minilm)
    ClipIndex.load_or_build(small, embedder, tmp_path)
    (tmp_path / f"{catalog_content_hash(small)}-minilm.faiss").write_bytes(b"not an index")
    assert ClipIndex.load_or_build(small, embedder, tmp_path).built
    assert embedder.calls == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_content_hash_ignores_order_and_sees_captions_and_labels(small: Catalog) -> None:
    key = catalog_content_hash(small)
    assert catalog_content_hash(Catalog(small.entries[::-1], small.classes)) == key
    first = small.entries[0]
    recaptioned = first.model_copy(update={"caption": first.caption + " Again."})
    assert catalog_content_hash(Catalog((recaptioned, *small.entries[1:]), small.classes)) != key
    relabelled = dict(small.classes)
    old = relabelled[first.sound_class]
    relabelled[first.sound_class] = old.model_copy(update={"label": "something"})
    assert catalog_content_hash(Catalog(small.entries, relabelled)) != key


def test_document_text_has_caption_tags_and_label(real: Catalog) -> None:
    entry = real.by_id("ovos/dog")
    text = document_text(entry, real)
    assert entry.caption in text and "bark" in text.split() and text.endswith("a dog barking")


def test_index_directory_defaults_beside_the_catalog(tmp_path: Path) -> None:
    cfg = load_config(overrides=[f"catalog.directory={tmp_path}"])
    assert index_directory(cfg) == tmp_path / ".index"
    custom = load_config(overrides=[f"retrieval.index_dir={tmp_path / 'idx'}"])
    assert index_directory(custom) == tmp_path / "idx"
