"""Quarantine: the record of clips that were refused and why, written as JSONL
atomically so a reader never sees half a file."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from streamaudio.atomic import write_text_atomic
from streamaudio.stage import Drop


@dataclass(frozen=True)
class QuarantineRecord:
    key: str  # clip id, or file path for files that never became clips
    reason: str  # stable Drop reason
    detail: str = ""


class Quarantine:
    """Thread-safe list of refused items; `write` replaces the file whole."""

    def __init__(self) -> None:
        self._records: list[QuarantineRecord] = []
        self._lock = threading.Lock()

    def add(self, key: str, reason: str, detail: str = "") -> None:
        with self._lock:
            self._records.append(QuarantineRecord(key, reason, detail))

    def add_drop(self, key: str, drop: Drop) -> None:
        self.add(key, drop.reason, drop.detail)

    @property
    def records(self) -> tuple[QuarantineRecord, ...]:
        with self._lock:
            return tuple(self._records)

    def __len__(self) -> int:
        return len(self.records)

    def counts(self) -> dict[str, int]:
        """Records per reason, sorted by reason."""
        return dict(sorted(Counter(record.reason for record in self.records).items()))

    def write(self, path: Path) -> None:
        lines = (json.dumps(asdict(record), ensure_ascii=False) for record in self.records)
        write_text_atomic(path, "".join(line + "\n" for line in lines))

    @classmethod
    def read(cls, path: Path) -> Quarantine:
        quarantine = cls()
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                quarantine.add(**json.loads(line))
        return quarantine
