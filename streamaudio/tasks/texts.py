"""Text catalogs the speech subtasks draw from (catalogs/text/), validated once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamaudio.schema import Emotion
from streamaudio.split import Split
from streamaudio.stage import StageError

TEXT_DIR = "text"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CatalogRow(_Row):
    """A row of a text catalog: an id, and the split it belongs to (streamaudio/split.py)."""

    id: str
    split: Split = "train"


class QaPair(_CatalogRow):
    topic: str
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    emotion: Emotion


class ParallelPair(_CatalogRow):
    domain: str
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    passage: str | None = None
    order: int | None = None


class AsrPassage(_CatalogRow):
    style: str
    sentences: list[str] = Field(min_length=1)


class ChatExchange(_Row):
    user: str = Field(min_length=1)  # what the user says (spoken)
    assistant: str = Field(min_length=1)  # the response text
    emotion: Emotion


class Conversation(_CatalogRow):
    """One user's consecutive turns on a topic, each answered before the next."""

    topic: str
    exchanges: list[ChatExchange] = Field(min_length=3)


class HistoryFact(_CatalogRow):
    """A fact the user states, and a later question whose answer is that fact."""

    statement: str = Field(min_length=1)
    acknowledgement: str = Field(min_length=1)  # the response to the statement
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class NameMessage(_CatalogRow):
    """An utterance addressed to the listener by name, and its one-sentence summary."""

    message: str = Field(pattern=r"\{name\}")  # "{name}" is replaced by the user's name
    summary: str = Field(min_length=1)


class DialogueLine(_Row):
    speaker: Literal["A", "B", "C"]
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class Dialogue(_CatalogRow):
    """People talking in turns, with a Chinese translation of every line."""

    domain: str
    lines: list[DialogueLine] = Field(min_length=2)


RowT = TypeVar("RowT", bound=_Row)


def _read(path: Path, model: type[RowT], required: bool = True) -> tuple[RowT, ...]:
    if not required and not path.exists():
        return ()  # the subtasks that need it drop their streams, counted
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
    conversations: tuple[Conversation, ...] = ()
    history: tuple[HistoryFact, ...] = ()
    name_messages: tuple[NameMessage, ...] = ()
    dialogues: tuple[Dialogue, ...] = ()

    def in_split(self, split: Split) -> TextCatalog:
        """The rows of one split (`streamaudio build --split`)."""
        return TextCatalog(*(tuple(row for row in rows if row.split == split)
                             for rows in (self.qa, self.en_zh, self.asr, self.conversations,
                                          self.history, self.name_messages, self.dialogues)))

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
        conversations=_read(directory / "conversations.jsonl", Conversation, required=False),
        history=_read(directory / "history_facts.jsonl", HistoryFact, required=False),
        name_messages=_read(directory / "name_messages.jsonl", NameMessage, required=False),
        dialogues=_read(directory / "dialogues.jsonl", Dialogue, required=False),
    )
