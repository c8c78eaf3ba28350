"""`streamaudio regen`: rebuild one subtask's shards (all, or the named ones) in a
staging directory inside the corpus, validate them, and only then move them over the
old ones and rebuild manifest and card. A failure leaves the corpus as it was."""

from __future__ import annotations

import filecmp
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from streamaudio.atomic import fsync_directory
from streamaudio.config import Config, load_config
from streamaudio.corpus import finish_corpus, run_summary
from streamaudio.pipeline import CorpusBuilder, ShardOutcome, stream_id
from streamaudio.shards.layout import (
    CONFIG_FILE,
    STAGING_PREFIX,
    corpus_lock,
    remove_staging,
)
from streamaudio.shards.progress import ShardRequest, read_record, write_record
from streamaudio.shards.reader import read_rows, read_shard_meta
from streamaudio.shards.writer import shard_is_complete, shard_path
from streamaudio.stage import StageError
from streamaudio.tasks.registry import Subtask, get_subtask
from streamaudio.validate import validate_corpus

_SAVED_ONLY = ("config_hash", "streamaudio_version")  # added to config.yaml by the build
_SHARD_KEYS = ("ability", "subtask", "config_hash", "corpus_seed", "shard_index", "planned_streams")


@dataclass(frozen=True)
class ShardTarget:
    """One shard to rebuild: the same stream indices, with `seed` as corpus seed."""

    shard_index: int
    path: Path
    old_seed: int
    seed: int
    first_stream: int
    planned_streams: int

    @property
    def total_streams(self) -> int:  # build_shard's stream range ends here
        return self.first_stream + self.planned_streams


@dataclass(frozen=True)
class RegenShard:
    target: ShardTarget
    streams: int
    drops: dict[str, int]
    changed: bool  # False: the rebuilt bytes equal the old ones, the file was left alone
    outcome: ShardOutcome | None = None  # how it was built (timings) in this run


@dataclass
class RegenReport:
    subtask: str
    shards: list[RegenShard] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)


def _saved_config(root: Path) -> tuple[dict[str, Any], str]:
    path = root / CONFIG_FILE
    if not path.exists():
        raise StageError(f"{root} has no {CONFIG_FILE}: not a built corpus")
    saved = yaml.safe_load(path.read_text()) or {}
    return {k: v for k, v in saved.items() if k not in _SAVED_ONLY}, str(saved.get("config_hash"))


def _load(sections: dict[str, Any], overrides: list[str]) -> Config:
    # load_config refuses the build's extra keys in config.yaml, so the saved sections
    # go in as overrides (YAML values, as `--set` takes them) under the user's
    as_set = [
        f"{name}={yaml.safe_dump(value, default_flow_style=True, width=1 << 30)}"
        for name, value in sections.items()
    ]
    return load_config(None, as_set + overrides)


def load_corpus_config(root: Path, overrides: list[str] | None = None) -> Config:
    """The config the corpus was built with; `--set` may only change keys outside the
    hash (cache.directory, catalog.directory): a corpus holds one config."""
    sections, expected = _saved_config(Path(root))
    base = _load(sections, [])
    if base.hash() != expected:
        raise StageError(
            f"{root}/{CONFIG_FILE} hashes to {base.hash()}, not its saved "
            f"{expected}: this streamaudio version reads it differently; rebuild"
        )
    refused = [text for text in overrides or [] if _load(sections, [text]).hash() != expected]
    if refused:
        raise StageError(
            f"--set {', '.join(refused)} would change the config hash: a corpus "
            "holds one config; only keys outside the hash (cache.directory, "
            "catalog.directory) may be set"
        )
    cfg = _load(sections, list(overrides or []))
    if cfg.hash() != expected:  # each alone kept the hash; together they must too
        raise StageError(f"--set {', '.join(overrides or [])} changes the config hash")
    return cfg


def _shard_meta(path: Path, root: Path) -> dict[str, Any]:
    where = path.relative_to(root).as_posix()
    if not shard_is_complete(path):
        raise StageError(
            f"{where} is incomplete or unreadable: rebuild it with "
            "`streamaudio build` (same --streams and --seed) first"
        )
    meta = read_shard_meta(path)
    missing = [key for key in _SHARD_KEYS if key not in meta]
    if missing:
        raise StageError(
            f"{where} has no {missing} in its metadata (an older build): rebuild the corpus"
        )
    return meta


def regen_targets(
    root: Path, subtask: Subtask, cfg: Config, shard_indices: list[int] | None, seed: int | None
) -> list[ShardTarget]:
    """The subtask's shards on disk (or the named ones), with each shard's own stream
    range and seed read from its metadata; `seed` replaces the seed if given."""
    root = Path(root)
    folder = shard_path(root, subtask.ability, subtask.name, 0).parent
    existing = sorted(folder.glob("shard-[0-9]*.parquet"))
    if not existing:
        raise StageError(
            f"{root} holds no shards of {subtask.name!r} "
            f"(looked in {folder.relative_to(root).as_posix()}/)"
        )
    on_disk = {int(path.stem.split("-")[1]): path for path in existing}
    chosen = sorted(set(shard_indices)) if shard_indices else sorted(on_disk)
    absent = [index for index in chosen if index not in on_disk]
    if absent:
        raise StageError(
            f"{subtask.name} has no shard {absent} in {root} "
            f"(present: {', '.join(map(str, sorted(on_disk)))})"
        )
    per_shard = cfg.shards.streams_per_shard
    targets = []
    for index in chosen:
        meta = _shard_meta(on_disk[index], root)
        if meta["config_hash"] != cfg.hash() or meta["shard_index"] != index:
            raise StageError(
                f"{on_disk[index].relative_to(root).as_posix()}: metadata says "
                f"shard {meta['shard_index']} of config {meta['config_hash']}, "
                f"expected shard {index} of {cfg.hash()}"
            )
        targets.append(
            ShardTarget(
                index,
                on_disk[index],
                meta["corpus_seed"],
                meta["corpus_seed"] if seed is None else seed,
                index * per_shard,
                meta["planned_streams"],
            )
        )
    return targets


def _staged_failures(
    staging: Path, subtask: Subtask, target: ShardTarget, cfg: Config
) -> list[str]:
    path = shard_path(staging, subtask.ability, subtask.name, target.shard_index)
    if not shard_is_complete(path):
        return [f"{path.name}: staged shard is incomplete"]
    meta = read_shard_meta(path)
    expected = {
        "ability": subtask.ability,
        "subtask": subtask.name,
        "config_hash": cfg.hash(),
        "corpus_seed": target.seed,
        "shard_index": target.shard_index,
        "planned_streams": target.planned_streams,
    }
    reasons = [
        f"{path.name}: metadata {key}={meta.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if meta.get(key) != value
    ]
    allowed = {
        stream_id(subtask.name, target.seed, index, cfg.catalog.split)
        for index in range(target.first_stream, target.total_streams)
    }
    ids = read_rows(path, ["stream_id"]).column("stream_id").to_pylist()
    reasons += [f"{path.name}: unexpected stream {sid}" for sid in ids if sid not in allowed]
    return reasons


def _stage(
    root: Path,
    staging: Path,
    subtask: Subtask,
    targets: list[ShardTarget],
    builder: CorpusBuilder,
    on_shard: Callable[[int, int], None] | None,
) -> list[RegenShard]:
    """Build every target into `staging` and validate it; raise on the first problem."""
    staging.mkdir()
    shutil.copyfile(root / CONFIG_FILE, staging / CONFIG_FILE)  # validate_corpus reads it
    builder.setup()
    built = []
    for done, target in enumerate(targets, 1):
        outcome = builder.build_shard(
            staging, subtask, target.shard_index, target.total_streams, target.seed
        )
        reasons = _staged_failures(staging, subtask, target, builder.cfg)
        if reasons:
            raise StageError("regenerated shard does not validate: " + "; ".join(reasons))
        built.append(RegenShard(target, outcome.streams, outcome.drops, changed=True,
                                outcome=outcome))
        if on_shard is not None:
            on_shard(done, len(targets))
    _, failures = validate_corpus(staging)  # every row invariant, as `streamaudio validate`
    if failures:
        shown = "; ".join(map(str, failures[:5]))
        raise StageError(f"regenerated shards do not validate ({len(failures)}): {shown}")
    return built


def _commit(root: Path, staging: Path, subtask: Subtask, built: list[RegenShard],
            config_hash: str) -> list[RegenShard]:
    """Move each staged shard over its target (atomic per file: same filesystem);
    a shard whose bytes did not change is left in place. A replaced shard's
    completion record is rewritten for the build request it answers (the record's
    own seed if it had one), so relaunching that build keeps the regenerated shard."""
    done = []
    for shard in built:
        target = shard.target
        staged = shard_path(staging, subtask.ability, subtask.name, target.shard_index)
        changed = not filecmp.cmp(staged, target.path, shallow=False)
        if changed:
            previous = read_record(root, target.path) or {}
            os.replace(staged, target.path)  # staged is whole already: a move, no write
            request = ShardRequest(subtask.ability, subtask.name, target.shard_index,
                                   int(previous.get("corpus_seed", target.old_seed)),
                                   target.planned_streams, config_hash)
            write_record(root, target.path, request, shard.streams)
        done.append(RegenShard(target, shard.streams, shard.drops, changed))
    for folder in {shard.target.path.parent for shard in built}:
        fsync_directory(folder)
    return done


def regen_subtask(
    root: Path,
    subtask_name: str,
    cfg: Config,
    shard_indices: list[int] | None = None,
    seed: int | None = None,
    builder: CorpusBuilder | None = None,
    on_shard: Callable[[int, int], None] | None = None,
) -> RegenReport:
    """Rebuild a subtask's shards: all of them, or `shard_indices`; with their own
    seeds, or `seed`. Raises StageError (corpus untouched) on any failure."""
    root = Path(root)
    _, expected = _saved_config(root)
    if cfg.hash() != expected:
        raise StageError(
            f"{root} was built with config {expected}, this config is "
            f"{cfg.hash()}: regen uses the corpus's own config "
            "(load_corpus_config)"
        )
    try:
        subtask = get_subtask(subtask_name)
    except KeyError as error:
        raise StageError(str(error.args[0])) from error
    report = RegenReport(subtask.name)
    started = time.perf_counter()
    with corpus_lock(root):
        remove_staging(root)  # we hold the lock: any staging dir is a killed run's
        targets = regen_targets(root, subtask, cfg, shard_indices, seed)
        builder = builder or CorpusBuilder(cfg)
        staging = root / f"{STAGING_PREFIX}{os.getpid()}"
        try:
            try:
                built = _stage(root, staging, subtask, targets, builder, on_shard)
            except Exception as error:  # KeyboardInterrupt passes through, cleaned up below
                reason = error if isinstance(error, StageError) else repr(error)
                raise StageError(f"{reason}; the corpus is unchanged") from error
            try:
                report.shards = _commit(root, staging, subtask, built, cfg.hash())
            finally:  # even after a partial commit, the manifest follows the shards on disk
                outcomes = [shard.outcome for shard in built if shard.outcome is not None]
                run = run_summary(outcomes, time.perf_counter() - started,
                                  f"regen {subtask.name}")
                report.manifest = finish_corpus(root, cfg, builder.quarantine, run=run)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return report
