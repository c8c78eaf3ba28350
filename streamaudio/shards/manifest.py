"""manifest.json, computed from the shards on disk (footer metadata only, no audio),
so it stays right after several builds into the same directory."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamaudio.atomic import write_text_atomic
from streamaudio.shards.card import write_dataset_card
from streamaudio.shards.layout import MANIFEST_FILE
from streamaudio.shards.reader import list_shards
from streamaudio.shards.writer import SHARD_FORMAT, shard_footer

__all__ = ["build_manifest", "write_dataset_card", "write_manifest"]

_PLACES = 6


@dataclass
class _Tally:
    shards: int = 0
    planned_streams: int = 0
    streams: int = 0
    seconds: float = 0.0
    response_chunks: int = 0
    silent_chunks: int = 0
    verified_silent_streams: int = 0
    verified_silent_chunks: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    grounding: Counter[str] = field(default_factory=Counter)

    def add(self, meta: dict[str, Any]) -> None:
        self.shards += 1
        self.planned_streams += meta.get("planned_streams", meta["streams"])
        self.streams += meta["streams"]
        self.seconds += meta["seconds"]
        self.response_chunks += meta["response_chunks"]
        self.silent_chunks += meta["silent_chunks"]
        self.verified_silent_streams += meta.get("verified_silent_streams", 0)
        self.verified_silent_chunks += meta.get("verified_silent_chunks", 0)
        self.drops.update(meta.get("drops", {}))
        self.grounding.update(meta.get("grounding", {}))

    def summary(self) -> dict[str, Any]:
        chunks = self.response_chunks + self.silent_chunks
        return {
            "shards": self.shards,
            "planned_streams": self.planned_streams,
            "streams": self.streams,
            "seconds": round(self.seconds, _PLACES),
            "hours": round(self.seconds / 3600, _PLACES),
            "response_chunks": self.response_chunks,
            "silent_chunks": self.silent_chunks,
            "response_share": round(self.response_chunks / chunks, _PLACES) if chunks else 0.0,
            "mean_stream_seconds": (
                round(self.seconds / self.streams, _PLACES) if self.streams else 0.0
            ),
            "verified_silent_streams": self.verified_silent_streams,
            "verified_silent_chunks": self.verified_silent_chunks,
            "verified_silent_share": (
                round(self.verified_silent_chunks / chunks, _PLACES) if chunks else 0.0
            ),
            "drops": dict(sorted(self.drops.items())),
            "grounding": grounding_summary(self.grounding),
        }


def grounding_summary(counts: Counter[str]) -> dict[str, Any]:
    """Counts of how sound events were grounded, and the rates a user asks for:
    retrieval hit rate, fallback rate by backend, verification failures."""
    sounds = counts.get("sound_events", 0)
    fallback = {key.split(":", 1)[1]: n for key, n in counts.items()
                if key.startswith("generated:")}
    hits = round(counts.get("retrieved", 0) / sounds, _PLACES) if sounds else 0.0
    return {
        "counts": dict(sorted(counts.items())),
        "retrieval_hit_rate": hits,
        "fallback_rate": {name: round(n / sounds, _PLACES) for name, n in sorted(fallback.items())}
        if sounds else {},
        "verification_failures": {key.split(":", 1)[1]: n for key, n in sorted(counts.items())
                                  if key.startswith("verify_failed:")},
    }


def local_shard_footers(root: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(path inside the corpus, footer metadata or None if incomplete) for every shard
    under `root`, sorted: float sums add up in the same order every time."""
    for path in list_shards(root):
        yield path.relative_to(root).as_posix(), shard_footer(path)


def build_manifest(root: Path, config_hash: str, version: str,
                   shards: Iterable[tuple[str, dict[str, Any] | None]] | None = None
                   ) -> dict[str, Any]:
    """Totals by corpus, ability and subtask from shard footers: those under `root`, or
    `shards` ((path, footer) pairs, e.g. of a remote corpus) if given."""
    total = _Tally()
    abilities: dict[str, _Tally] = {}
    subtasks: dict[str, _Tally] = {}
    owner: dict[str, str] = {}  # subtask -> ability
    licenses: Counter[str] = Counter()
    hashes: set[str] = set()
    versions: set[str] = set()
    invalid: list[str] = []
    for where, meta in local_shard_footers(Path(root)) if shards is None else shards:
        if meta is None:
            invalid.append(where)
            continue
        ability, subtask = meta["ability"], meta["subtask"]
        if owner.setdefault(subtask, ability) != ability:
            raise ValueError(
                f"subtask {subtask!r} appears under {owner[subtask]!r} and {ability!r}"
            )
        for tally in (total, abilities.setdefault(ability, _Tally())):
            tally.add(meta)
        subtasks.setdefault(subtask, _Tally()).add(meta)
        licenses.update(meta.get("licenses", {}))
        hashes.add(meta["config_hash"])
        versions.add(meta["version"])
    totals = total.summary()
    return {
        "config_hash": config_hash,
        "version": version,
        "shard_format": SHARD_FORMAT,
        "shard_config_hashes": sorted(hashes),
        "shard_versions": sorted(versions),
        "totals": totals,
        "drops": totals["drops"],
        "abilities": {name: tally.summary() for name, tally in sorted(abilities.items())},
        "subtasks": {
            name: {"ability": owner[name], **tally.summary()}
            for name, tally in sorted(subtasks.items())
        },
        "licenses": dict(sorted(licenses.items())),  # streams that use each licence
        "invalid_shards": invalid,
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _PLACES)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    path = Path(root) / MANIFEST_FILE
    text = json.dumps(_rounded(manifest), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, sync_directory=True)
    return path
