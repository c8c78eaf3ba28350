"""A FAISS inner-product index over one catalog, persisted beside it.

Files: `<catalog hash>-<embedder name>.faiss` and `.json` (the clip ids in index
order). The catalog hash names the content, so a changed catalog gets a new
index and the old files of that embedder are removed. With a text embedder each
clip is its document text; with an audio-text embedder (CLAP) each clip is its
audio, and text queries land in the same space.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from streamaudio.atomic import atomic_path, write_text_atomic
from streamaudio.config import Config
from streamaudio.retrieve.audio_io import load_clip
from streamaudio.retrieve.catalog import Catalog, ClipEntry, is_installed
from streamaudio.retrieve.embed import AudioTextEmbedder, TextEmbedder
from streamaudio.stage import Drop

AUDIO_BATCH = 16  # clips decoded and embedded at a time (bounds memory)


@dataclass(frozen=True)
class Candidate:
    clip_id: str
    score: float  # cosine (text-text, or CLAP audio-text)
    rank: int  # 1 = best


def document_text(entry: ClipEntry, catalog: Catalog) -> str:
    label = catalog.classes[entry.sound_class].label if entry.sound_class in catalog.classes else ""
    return " ".join(part for part in (entry.caption, " ".join(entry.tags), label) if part)


def catalog_content_hash(catalog: Catalog) -> str:
    """sha256 over the sorted entries' JSON and the labels they use (documents
    include the class label, so a relabelled class must rebuild too)."""
    digest = hashlib.sha256()
    for entry in sorted(catalog.entries, key=lambda e: e.id):
        digest.update(entry.to_json_line().encode() + b"\n")
    used = sorted({e.sound_class for e in catalog.entries if e.sound_class in catalog.classes})
    digest.update(json.dumps({c: catalog.classes[c].label for c in used}).encode())
    return digest.hexdigest()[:16]


def index_directory(cfg: Config) -> Path:
    """Where the clip index of the build's split lives: one directory per split, so
    building train and held-out corpora in turn does not rebuild each other's index."""
    base = cfg.retrieval.index_dir or cfg.catalog.directory / ".index"
    return base if cfg.catalog.split == "train" else base / cfg.catalog.split


def installed_ids(catalog: Catalog) -> frozenset[str]:
    """Clip ids whose file is on this machine (for `search(..., allowed=...)`)."""
    return frozenset(entry.id for entry in catalog if is_installed(entry))


class ClipIndex:
    def __init__(
        self, index: faiss.Index, clip_ids: Sequence[str], embedder: TextEmbedder, key: str
    ) -> None:
        if index.ntotal != len(clip_ids):
            raise ValueError(f"index holds {index.ntotal} vectors for {len(clip_ids)} ids")
        self.index = index
        self.clip_ids = list(clip_ids)
        self.embedder = embedder
        self.catalog_hash = key
        self.built = False  # True when this object embedded the catalog itself
        self._position = {clip_id: i for i, clip_id in enumerate(self.clip_ids)}

    def __len__(self) -> int:
        return len(self.clip_ids)

    @classmethod
    def build(
        cls, catalog: Catalog, embedder: TextEmbedder, cfg: Config | None = None
    ) -> ClipIndex:
        if isinstance(embedder, AudioTextEmbedder):
            ids, vectors = _embed_audio(catalog, embedder, cfg or Config())
        else:
            ids = [entry.id for entry in catalog]
            vectors = embedder.embed_texts([document_text(e, catalog) for e in catalog])
        index = faiss.IndexFlatIP(embedder.dim)
        if len(ids):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        built = cls(index, ids, embedder, catalog_content_hash(catalog))
        built.built = True
        return built

    @staticmethod
    def paths(directory: Path, key: str, embedder: TextEmbedder) -> tuple[Path, Path]:
        stem = Path(directory) / f"{key}-{embedder.name}"
        return stem.with_suffix(".faiss"), stem.with_suffix(".json")

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        index_path, ids_path = self.paths(directory, self.catalog_hash, self.embedder)
        meta = {"catalog_hash": self.catalog_hash, "embedder": self.embedder.name,
                "dim": self.embedder.dim, "clip_ids": self.clip_ids}  # fmt: skip
        # no fsync: a torn index is refused on load and rebuilt from the catalog
        with atomic_path(index_path, fsync=False) as tmp:
            faiss.write_index(self.index, str(tmp))
        write_text_atomic(ids_path, json.dumps(meta), fsync=False)

    @classmethod
    def load(cls, directory: Path, key: str, embedder: TextEmbedder) -> ClipIndex | None:
        """The stored index, or None if absent or inconsistent (then rebuild)."""
        index_path, ids_path = cls.paths(directory, key, embedder)
        try:
            meta = json.loads(ids_path.read_text())
            index = faiss.read_index(str(index_path))
        except (OSError, ValueError, RuntimeError):  # faiss raises RuntimeError on bad files
            return None
        ids = meta.get("clip_ids") if isinstance(meta, dict) else None
        if (not isinstance(ids, list) or index.ntotal != len(ids) or index.d != embedder.dim
                or meta.get("catalog_hash") != key):  # fmt: skip
            return None
        return cls(index, ids, embedder, key)

    @classmethod
    def load_or_build(
        cls, catalog: Catalog, embedder: TextEmbedder, directory: Path, cfg: Config | None = None
    ) -> ClipIndex:
        key = catalog_content_hash(catalog)
        found = cls.load(directory, key, embedder)
        if found is not None:
            return found
        built = cls.build(catalog, embedder, cfg)
        built.save(directory)
        _remove_stale(Path(directory), key, embedder)
        return built

    def search(self, query: str, k: int, allowed: Collection[str] | None = None) -> list[Candidate]:
        return self.search_many([query], k, allowed)[0]

    def search_many(
        self, queries: Sequence[str], k: int, allowed: Collection[str] | None = None
    ) -> list[list[Candidate]]:
        if not queries:
            return []
        return self.search_vectors(self.embedder.embed_texts(list(queries)), k, allowed)

    def search_vectors(
        self, vectors: np.ndarray, k: int, allowed: Collection[str] | None = None
    ) -> list[list[Candidate]]:
        """Top-k per query vector; `allowed` restricts to those clip ids (exactly:
        FAISS skips the others, so k results come back while k are allowed)."""
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in range(len(vectors))]
        params = None
        if allowed is not None:
            positions = np.array(
                sorted(self._position[c] for c in allowed if c in self._position), dtype=np.int64
            )
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(positions))
        scores, labels = self.index.search(
            np.ascontiguousarray(vectors, dtype=np.float32), k, params=params
        )
        return [
            [
                Candidate(self.clip_ids[int(i)], float(s), rank)
                for rank, (s, i) in enumerate(zip(row_s, row_i, strict=True), start=1)
                if i >= 0
            ]
            for row_s, row_i in zip(scores, labels, strict=True)
        ]


def _embed_audio(
    catalog: Catalog, embedder: AudioTextEmbedder, cfg: Config
) -> tuple[list[str], np.ndarray]:
    """Audio embeddings of the clips that load; the others are left out of the index."""
    ids: list[str] = []
    parts: list[np.ndarray] = [np.zeros((0, embedder.dim), dtype=np.float32)]
    entries = list(catalog)
    for start in range(0, len(entries), AUDIO_BATCH):
        batch_ids, audio = [], []
        for entry in entries[start : start + AUDIO_BATCH]:
            loaded = load_clip(entry, cfg)
            if not isinstance(loaded, Drop):
                batch_ids.append(entry.id)
                audio.append(loaded.audio)
        if audio:
            parts.append(embedder.embed_audio(audio, cfg.audio.sample_rate))
            ids.extend(batch_ids)
    return ids, np.concatenate(parts)


def _remove_stale(directory: Path, key: str, embedder: TextEmbedder) -> None:
    pattern = re.compile(rf"^[0-9a-f]{{16}}-{re.escape(embedder.name)}\.(faiss|json)$")
    for path in directory.iterdir():
        if pattern.match(path.name) and not path.name.startswith(key):
            path.unlink(missing_ok=True)
