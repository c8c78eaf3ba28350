"""Quarantine records, counts by reason, and its atomic JSONL file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from streamaudio import atomic as atomic_module
from streamaudio.retrieve.quarantine import Quarantine, QuarantineRecord
from streamaudio.stage import Drop


def test_records_counts_and_round_trip(tmp_path: Path) -> None:
    q = Quarantine()
    q.add("mt/door", "silent", "peak 0")
    q.add_drop("/x/a.wav", Drop("undecodable", "Format not recognised"))
    q.add("/x/b.wav", "undecodable")
    assert len(q) == 3
    assert q.counts() == {"silent": 1, "undecodable": 2}
    path = tmp_path / "sub" / "quarantine.jsonl"
    q.write(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"key": "mt/door", "reason": "silent", "detail": "peak 0"}
    assert Quarantine.read(path).records == q.records
    assert q.records[1] == QuarantineRecord("/x/a.wav", "undecodable", "Format not recognised")
    assert [p.name for p in path.parent.iterdir()] == ["quarantine.jsonl"]  # no temp left


def test_empty_quarantine_writes_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("stale\n")
    Quarantine().write(path)
    assert path.read_text() == "" and Quarantine().counts() == {}


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "q.jsonl"
    old = Quarantine()
    old.add("old", "silent")
    old.write(path)

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic_module.os, "replace", broken_replace)
    new = Quarantine()
    new.add("new", "empty")
    with pytest.raises(OSError, match="disk full"):
        new.write(path)
    assert Quarantine.read(path).records == old.records
    assert [p.name for p in tmp_path.iterdir()] == ["q.jsonl"]


def test_adds_from_threads_are_all_kept() -> None:
    q = Quarantine()

    def worker(n: int) -> None:
        for i in range(200):
            q.add(f"{n}/{i}", "silent" if i % 2 else "empty")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert q.counts() == {"empty": 400, "silent": 400}
