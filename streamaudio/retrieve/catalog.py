"""Clip catalogs as typed objects. Catalogs are our own data: every line is
validated once, here, and a bad line fails loudly with its file and line number."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streamaudio.schema import Emotion
from streamaudio.split import QUARANTINE_SUFFIX, Split
from streamaudio.stage import StageError

SourceKind = Literal["deb", "pypi", "local"]
Domain = Literal[
    "daily_living", "human_signals", "equipment", "nature_environment", "traffic", "music"
]
CLIP_ID_PATTERN = r"^[a-z0-9_.-]+/[a-z0-9_/.-]+$"
CLIPS_SUBDIR = "clips"
CLASSES_FILE = "sound_classes.yaml"
RIRS_FILE = "rirs.jsonl"


class CatalogError(StageError):
    """A catalog of ours is malformed or missing: the pipeline cannot run."""


class PackageMissing(LookupError):
    """The Python distribution a `pypi` clip lives in is not installed."""


class ClipEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=CLIP_ID_PATTERN)
    source: str = Field(min_length=1)
    source_kind: SourceKind
    root: str | None = None  # only for source_kind "local"
    path: str = Field(min_length=1)
    sound_class: str = Field(min_length=1)
    caption: str
    tags: tuple[str, ...] = ()
    duration_s: float = Field(gt=0)
    sample_rate: int = Field(gt=0)
    channels: int = Field(gt=0)
    license: str = Field(min_length=1)
    loopable: bool = False
    split: Split = "train"  # streamaudio/split.py: written into every catalog line

    @model_validator(mode="after")
    def _paths(self) -> ClipEntry:
        rel = PurePosixPath(self.path)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"path {self.path!r} must be relative and stay inside its root")
        if self.source_kind == "local":
            if self.root is None or not Path(self.root).is_absolute():
                raise ValueError("a local clip needs an absolute root")
        elif self.root is not None:
            raise ValueError(f"root is only for local clips, not {self.source_kind!r}")
        return self

    def to_json_line(self) -> str:
        # `root` is omitted, not null, outside local catalogs (the file format).
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


class SoundClass(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: Domain
    label: str = Field(min_length=1)
    hazard: bool = False
    warning: str | None = None  # what to say when a hazard is heard
    emotion: Emotion | None = None
    ambience: bool = False

    @model_validator(mode="after")
    def _hazard_fields(self) -> SoundClass:
        if self.hazard and (not self.warning or self.emotion is None):
            raise ValueError("a hazard class needs a warning and an emotion")
        if not self.hazard and (self.warning or self.emotion is not None):
            raise ValueError("only hazard classes carry a warning and an emotion")
        return self


@cache
def _site_root(distribution: str) -> Path:
    try:
        return Path(str(importlib.metadata.distribution(distribution).locate_file("")))
    except importlib.metadata.PackageNotFoundError as exc:
        raise PackageMissing(f"Python package {distribution!r} is not installed") from exc


def resolve_path(entry: ClipEntry) -> Path:
    """Where the clip's file should be; raises PackageMissing for an absent pypi package."""
    if entry.source_kind == "deb":
        return Path("/") / entry.path
    if entry.source_kind == "pypi":
        return _site_root(entry.source) / entry.path
    assert entry.root is not None  # validated in ClipEntry
    return Path(entry.root) / entry.path


def is_installed(entry: ClipEntry) -> bool:
    """True if the clip's file is on this machine."""
    try:
        return resolve_path(entry).is_file()
    except PackageMissing:
        return False


@dataclass(frozen=True)
class Catalog:
    entries: tuple[ClipEntry, ...]
    classes: dict[str, SoundClass]
    _by_id: dict[str, ClipEntry] = field(init=False, repr=False, compare=False)
    _by_class: dict[str, tuple[ClipEntry, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id = {entry.id: entry for entry in self.entries}
        if len(by_id) != len(self.entries):
            raise CatalogError("clip ids must be unique across catalogs")
        grouped: dict[str, list[ClipEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(entry.sound_class, []).append(entry)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_class", {k: tuple(v) for k, v in grouped.items()})

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ClipEntry]:
        return iter(self.entries)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._by_id

    def by_id(self, clip_id: str) -> ClipEntry:
        try:
            return self._by_id[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the catalog") from None

    def by_class(self, sound_class: str) -> tuple[ClipEntry, ...]:
        """Clips of one class in catalog order (empty if none are installed)."""
        return self._by_class.get(sound_class, ())

    def classes_where(
        self,
        hazard: bool | None = None,
        ambience: bool | None = None,
        domain: str | None = None,
    ) -> list[str]:
        """Sorted class names matching every given criterion (None = any)."""
        return sorted(
            name
            for name, cls in self.classes.items()
            if (hazard is None or cls.hazard == hazard)
            and (ambience is None or cls.ambience == ambience)
            and (domain is None or cls.domain == domain)
        )

    resolve_path = staticmethod(resolve_path)

    def in_split(self, split: Split) -> Catalog:
        """The clips of one split (`streamaudio build --split`), with every class."""
        return Catalog(tuple(e for e in self.entries if e.split == split), self.classes)

    def filter_installed(self) -> tuple[Catalog, list[ClipEntry]]:
        """(catalog of clips whose file exists, clips whose package is not installed)."""
        present: list[ClipEntry] = []
        missing: list[ClipEntry] = []
        for entry in self.entries:
            (present if is_installed(entry) else missing).append(entry)
        return Catalog(tuple(present), self.classes), missing


def load_sound_classes(directory: Path) -> dict[str, SoundClass]:
    path = Path(directory) / CLASSES_FILE
    if not path.is_file():
        raise CatalogError(f"{path}: sound class table not found")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: must map sound_class -> fields")
    classes: dict[str, SoundClass] = {}
    for name, fields in raw.items():
        try:
            classes[str(name)] = SoundClass.model_validate(fields)
        except ValidationError as exc:
            raise CatalogError(f"{path}: class {name!r}: {_brief(exc)}") from None
    return classes


def read_clip_lines(path: Path) -> Iterator[tuple[int, ClipEntry]]:
    """(line number, entry) for every non-blank line; raises CatalogError naming file:line."""
    with Path(path).open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, ClipEntry.model_validate_json(line)
            except ValidationError as exc:
                raise CatalogError(f"{path}:{lineno}: {_brief(exc)}") from None


def load_catalogs(directory: Path, extra: Sequence[Path] = ()) -> Catalog:
    """Every `<directory>/clips/*.jsonl` (sorted by name; `*.quarantine.jsonl` skipped)
    plus `extra` catalog files, checked against `<directory>/sound_classes.yaml`."""
    directory = Path(directory)
    classes = load_sound_classes(directory)
    found = sorted((directory / CLIPS_SUBDIR).glob("*.jsonl"))
    files = [*(p for p in found if not p.name.endswith(QUARANTINE_SUFFIX)), *map(Path, extra)]
    return Catalog(_checked_entries(files, classes), classes)


def load_rirs(directory: Path) -> list[ClipEntry]:
    """Room impulse responses (`<directory>/rirs.jsonl`); their class is not checked."""
    path = Path(directory) / RIRS_FILE
    if not path.is_file():
        raise CatalogError(f"{path}: RIR catalog not found")
    return [entry for _, entry in read_clip_lines(path)]


def _checked_entries(
    files: Iterable[Path], classes: dict[str, SoundClass]
) -> tuple[ClipEntry, ...]:
    seen: dict[str, str] = {}
    entries: list[ClipEntry] = []
    for path in files:
        for lineno, entry in read_clip_lines(path):
            where = f"{path}:{lineno}"
            if entry.id in seen:
                raise CatalogError(
                    f"{where}: duplicate id {entry.id!r} (first at {seen[entry.id]})"
                )
            if entry.sound_class not in classes:
                raise CatalogError(
                    f"{where}: sound_class {entry.sound_class!r} is not in {CLASSES_FILE}"
                )
            seen[entry.id] = where
            entries.append(entry)
    return tuple(entries)


def _brief(exc: ValidationError) -> str:
    """One line per problem: `field: message` (pydantic's own text is long)."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "line"
        parts.append(f"{loc}: {error['msg']}")
    return "; ".join(parts)
