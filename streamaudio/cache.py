"""A content-addressed store for everything expensive (TTS, ASR, LLM answers,
embeddings, generated clips): the key is a hash of the inputs, each entry
carries the hash of its payload, writes are atomic, and a corrupt entry reads
as missing (and is removed) so it is recomputed. Threads and processes, also in
other containers sharing the directory, may read and write one store at once."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.atomic import write_bytes_atomic

_HEADER = 65  # 64 hex digits of the payload's sha256 and a newline


def _verified(data: bytes) -> bytes | None:
    """The payload of an entry's bytes, or None if they are torn or corrupt."""
    digest, payload = data[: _HEADER - 1].decode("ascii", "replace"), data[_HEADER:]
    if len(data) < _HEADER or hashlib.sha256(payload).hexdigest() != digest:
        return None
    return payload


def input_key(inputs: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the inputs."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ContentStore:
    def __init__(self, root: Path, namespace: str) -> None:
        self.directory = Path(root) / namespace
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.bin"

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def get_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                payload = _verified(handle.read())
                if payload is None:
                    self._count("corrupt")
                    # remove the file read, not whatever is at the path now: a writer
                    # may have renamed a good entry over it since (the open handle
                    # keeps the inode number from being reused meanwhile)
                    if os.path.samestat(os.fstat(handle.fileno()), os.stat(path)):
                        path.unlink(missing_ok=True)
        except FileNotFoundError:  # never written, or removed as corrupt by another reader
            payload = None
        self._count("misses" if payload is None else "hits")
        return payload

    def put_bytes(self, key: str, payload: bytes) -> None:
        # a temporary name of its own per writer: concurrent writers of one key each
        # rename a complete file, and the last rename wins with identical content
        header = hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
        write_bytes_atomic(self._path(key), header + payload)

    def get_json(self, key: str) -> Any | None:
        payload = self.get_bytes(key)
        return None if payload is None else json.loads(payload)

    def put_json(self, key: str, value: Any) -> None:
        self.put_bytes(key, json.dumps(value, sort_keys=True, ensure_ascii=False).encode())

    def get_array(self, key: str) -> np.ndarray | None:
        payload = self.get_bytes(key)
        return None if payload is None else np.load(io.BytesIO(payload), allow_pickle=False)

    def put_array(self, key: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        self.put_bytes(key, buffer.getvalue())
