"""Text catalogs the speech subtasks draw from (catalogs/text/), validated once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamaudio.schema import Emotion
from streamaudio.stage import StageError

TEXT_DIR = "text"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QaPair(_Row):
    id: str
    topic: str
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    emotion: Emotion


class ParallelPair(_Row):
    id: str
    domain: str
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    passage: str | None = None
    order: int | None = None


class AsrPassage(_Row):
    id: str
    style: str
    sentences: list[str] = Field(min_length=1)


RowT = TypeVar("RowT", bound=_Row)


def _read(path: Path, model: type[RowT]) -> tuple[RowT, ...]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as error:
            raise StageError(f"{path}:{number}: {str(error).splitlines()[0]}") from error
    return tuple(rows)


@dataclass(frozen=True)
class TextCatalog:
    qa: tuple[QaPair, ...]
    en_zh: tuple[ParallelPair, ...]
    asr: tuple[AsrPassage, ...]

    def passages(self) -> list[list[ParallelPair]]:
        """Parallel sentences grouped: a passage's sentences in order, or one
        standalone sentence per group."""
        groups: dict[str, list[ParallelPair]] = {}
        for pair in self.en_zh:
            groups.setdefault(pair.passage or pair.id, []).append(pair)
        return [sorted(group, key=lambda p: p.order or 0) for _, group in sorted(groups.items())]


@lru_cache(maxsize=4)
def load_texts(catalog_dir: Path) -> TextCatalog:
    directory = Path(catalog_dir) / TEXT_DIR
    return TextCatalog(
        qa=_read(directory / "qa_pairs.jsonl", QaPair),
        en_zh=_read(directory / "en_zh_pairs.jsonl", ParallelPair),
        asr=_read(directory / "asr_passages.jsonl", AsrPassage),
    )
