"""Ingest a user's own folder of recordings as a local clip catalog. The folder
and its metadata are user data: every bad row or file is quarantined with a
reason and the run carries on; only unusable arguments raise."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from streamaudio.atomic import write_text_atomic
from streamaudio.config import Config
from streamaudio.retrieve.audio_io import decode_audio_file
from streamaudio.retrieve.catalog import QUARANTINE_SUFFIX, ClipEntry, load_sound_classes
from streamaudio.retrieve.quarantine import Quarantine
from streamaudio.split import assign_splits
from streamaudio.stage import Drop

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".opus", ".aif", ".aiff"})
PATH_KEYS = ("path", "filename")
CLASS_KEYS = ("sound_class", "category", "label")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}


class IngestError(ValueError):
    """The arguments themselves are unusable (no folder, unreadable metadata)."""


@dataclass
class IngestReport:
    catalog: Path
    quarantine_file: Path
    ingested: int
    quarantined: dict[str, int]  # by reason
    unlisted: list[str]  # audio files in the folder the metadata does not name
    new_classes: dict[str, int]  # class -> clips, for classes not in sound_classes.yaml
    quarantine: Quarantine = field(repr=False, default_factory=Quarantine)

    def summary(self) -> str:
        lines = [f"ingested {self.ingested} clips -> {self.catalog}"]
        if self.quarantined:
            counts = ", ".join(f"{reason} {n}" for reason, n in self.quarantined.items())
            total = sum(self.quarantined.values())
            lines.append(f"quarantined {total}: {counts} (see {self.quarantine_file})")
        if self.unlisted:
            lines.append(f"unlisted audio files, not ingested: {len(self.unlisted)}")
        if self.new_classes:
            names = ", ".join(f"{name} ({n})" for name, n in self.new_classes.items())
            lines.append(f"classes not in sound_classes.yaml (add them to use them): {names}")
        return "\n".join(lines)


def ingest_directory(
    directory: Path,
    metadata: Path,
    out: Path,
    name: str,
    cfg: Config,
    *,
    default_license: str = "unknown",
    quarantine_out: Path | None = None,
) -> IngestReport:
    """Validate every file the metadata lists and write the good ones to `out` as a
    local catalog named `name`; bad ones go to `quarantine_out` (default beside `out`)."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise IngestError(f"{directory}: not a directory")
    if not _NAME.match(name):
        raise IngestError(f"catalog name {name!r}: use lowercase letters, digits, _ . -")
    out = Path(out)
    quarantine_out = quarantine_out or out.with_name(out.stem + QUARANTINE_SUFFIX)
    classes = load_sound_classes(cfg.catalog.directory)
    rows = _read_metadata(Path(metadata))
    on_disk = _scan_audio(directory)
    by_basename: dict[str, list[str]] = {}
    for rel in on_disk:
        by_basename.setdefault(PurePosixPath(rel).name, []).append(rel)

    quarantine = Quarantine()
    entries: list[ClipEntry] = []
    listed: set[str] = set()
    ids: set[str] = set()
    new_classes: dict[str, int] = {}
    for where, raw in rows:
        row = raw if isinstance(raw, str) else _parse_row(raw)
        if isinstance(row, str):
            quarantine.add(where, "bad_metadata", row)
            continue
        rel = _locate(directory, row["path"], by_basename)
        if rel is None:
            quarantine.add(row["path"], "bad_metadata", f"{where}: path leaves the folder")
            continue
        if rel in listed:
            quarantine.add(rel, "duplicate", f"{where}: listed again")
            continue
        listed.add(rel)
        decoded = decode_audio_file(directory / rel, cfg.catalog.max_clip_s, cfg.catalog.min_clip_s)
        if isinstance(decoded, Drop):
            quarantine.add(rel, decoded.reason, f"{where}: {decoded.detail}")
            continue
        cls = row["sound_class"]
        label = classes[cls].label if cls in classes else cls.replace("_", " ")
        clip_id = _unique_id(name, rel, ids)
        try:
            entry = ClipEntry(
                id=clip_id,
                source=name,
                source_kind="local",
                root=str(directory),
                path=rel,
                sound_class=cls,
                caption=row["caption"] or f"A recording of {label}.",
                tags=row["tags"],
                duration_s=round(decoded.duration_s, 3),
                sample_rate=decoded.sample_rate,
                channels=decoded.channels,
                license=row["license"] or default_license,
                loopable=row["loopable"],
            )
        except ValidationError as exc:
            quarantine.add(rel, "bad_metadata", f"{where}: {exc.errors()[0]['msg']}")
            continue
        ids.add(clip_id)
        entries.append(entry)
        if cls not in classes:
            new_classes[cls] = new_classes.get(cls, 0) + 1

    by_class: dict[str, list[str]] = {}
    for entry in entries:
        by_class.setdefault(entry.sound_class, []).append(entry.id)
    splits = assign_splits(by_class)  # stratified by class within this catalog
    entries = [entry.model_copy(update={"split": splits[entry.id]}) for entry in entries]
    write_text_atomic(out, "".join(entry.to_json_line() + "\n" for entry in entries))
    quarantine.write(quarantine_out)
    return IngestReport(
        catalog=out,
        quarantine_file=quarantine_out,
        ingested=len(entries),
        quarantined=quarantine.counts(),
        unlisted=sorted(set(on_disk) - listed),
        new_classes=dict(sorted(new_classes.items())),
        quarantine=quarantine,
    )


def _read_metadata(path: Path) -> list[tuple[str, dict[str, Any] | str]]:
    """(file:line, raw row or a parse error) per row."""
    if not path.is_file():
        raise IngestError(f"{path}: metadata file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix in {".jsonl", ".ndjson"}:
        return _read_jsonl(path)
    raise IngestError(f"{path}: metadata must be .csv or .jsonl")


def _read_csv(path: Path) -> list[tuple[str, dict[str, Any] | str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:  # -sig: Excel's BOM
        reader = csv.DictReader(handle)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        if not columns & set(PATH_KEYS) or not columns & set(CLASS_KEYS):
            raise IngestError(
                f"{path}: needs a {' or '.join(PATH_KEYS)} column and a "
                f"{' or '.join(CLASS_KEYS)} column; found {sorted(columns)}"
            )
        rows: list[tuple[str, dict[str, Any] | str]] = []
        for row in reader:
            clean = {(k or "").strip().lower(): v for k, v in row.items() if v is not None}
            rows.append((f"{path.name}:{reader.line_num}", clean))
        return rows


def _read_jsonl(path: Path) -> list[tuple[str, dict[str, Any] | str]]:
    rows: list[tuple[str, dict[str, Any] | str]] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{lineno}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((where, f"not valid JSON: {exc.msg}"))
            continue
        rows.append((where, value if isinstance(value, dict) else "not a JSON object"))
    return rows


def _parse_row(raw: dict[str, Any]) -> dict[str, Any] | str:
    """Normalised fields, or why the row is unusable. ESC-50 rows are the generic
    case with `filename` and `category`; their other columns are ignored."""
    path = next((str(raw[k]).strip() for k in PATH_KEYS if raw.get(k)), "")
    cls = next((str(raw[k]).strip() for k in CLASS_KEYS if raw.get(k)), "")
    if not path or not cls:
        return "row needs a path/filename and a sound_class/category/label"
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(";")
    if not isinstance(tags, list):
        return "tags must be a list or a ;-separated string"
    loopable = raw.get("loopable", False)
    if not isinstance(loopable, bool):
        text = str(loopable).strip().lower()
        if text not in _TRUE | _FALSE:
            return f"loopable {loopable!r} is not a boolean"
        loopable = text in _TRUE
    return {
        "path": path,
        "sound_class": re.sub(r"[\s-]+", "_", cls.lower()),  # "Door knock" -> door_knock
        "caption": str(raw.get("caption") or "").strip(),
        "tags": tuple(t for t in (str(t).strip() for t in tags) if t),
        "license": str(raw.get("license") or "").strip(),
        "loopable": loopable,
    }


def _scan_audio(directory: Path) -> list[str]:
    """Audio files under the folder (relative posix paths), hidden ones skipped
    (e.g. macOS `._x.wav` resource forks)."""
    found = []
    for path in directory.rglob("*"):
        rel = path.relative_to(directory)
        hidden = any(part.startswith(".") for part in rel.parts)
        if not hidden and path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
            found.append(rel.as_posix())
    return sorted(found)


def _locate(directory: Path, listed: str, by_basename: dict[str, list[str]]) -> str | None:
    """The file's path relative to the folder; None if it would leave the folder.
    A bare file name not found at the top (ESC-50 lists names, the files sit in
    audio/) falls back to the one file of that name below."""
    rel = PurePosixPath(listed.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return None
    text = rel.as_posix()
    if len(rel.parts) == 1 and not (directory / text).exists():
        matches = by_basename.get(text, [])
        if len(matches) == 1:
            return matches[0]
    return text


def _unique_id(name: str, rel: str, taken: set[str]) -> str:
    stem = PurePosixPath(rel).with_suffix("").as_posix()
    clip_id = f"{name}/{re.sub(r'[^a-z0-9_/.-]+', '_', stem.lower())}"
    if clip_id in taken:  # "A b.wav" and "a_b.flac" slug alike: keep both, distinctly
        clip_id += "-" + hashlib.sha256(rel.encode()).hexdigest()[:8]
    return clip_id
