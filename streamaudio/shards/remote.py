"""A corpus at an fsspec URL (`s3://bucket/corpus`, `gs://...`, `memory://...`).

Workers build each shard in a local temporary folder, then publish it: the shard
first, then its completion record, so a record on the store always means a whole
shard. The corpus files (config, quarantine, manifest, card) are published the same
way. On an object store one PUT is atomic (the object appears whole or not at all);
on other filesystems a file goes to a dot-named temporary and is moved into place.

Credentials and endpoints come from the environment (for S3: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_S3, AWS_PROFILE), never from the config,
and URLs are shown without any user:password part."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec

from streamaudio.shards.progress import PROGRESS_DIR, RECORD_FORMAT, ShardRequest
from streamaudio.shards.reader import SHARD_GLOB
from streamaudio.shards.writer import shard_footer

# a PUT on these is atomic, so a file can go straight to its final name
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
_LOCAL = frozenset({"file", "local"})
_FOOTER_BLOCK = 1 << 16  # read a shard's footer, not the audio before it


def is_remote(out: str | Path) -> bool:
    """True for a URL with a protocol other than a local file."""
    if isinstance(out, Path):
        return False
    protocol, _ = fsspec.core.split_protocol(out)
    return protocol is not None and protocol not in _LOCAL


def local_path(out: str | Path) -> Path:
    """`out` as a local path (`file:///x` is `/x`)."""
    if isinstance(out, Path):
        return out
    protocol, path = fsspec.core.split_protocol(out)
    return Path(path if protocol in _LOCAL else out)


def display_url(url: str) -> str:
    """The URL without credentials, fit for logs and reports."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class RemoteCorpus:
    """Reads and publishes the files of one corpus at `url`. Picklable: the fsspec
    filesystem is made on first use in each process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._fs: fsspec.AbstractFileSystem | None = None
        self._root = ""

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"])

    def __str__(self) -> str:
        return display_url(self.url)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        if self._fs is None:
            self._fs, self._root = fsspec.core.url_to_fs(self.url)
        return self._fs

    def _path(self, relative: str) -> str:
        _ = self.fs  # sets the root
        return f"{self._root.rstrip('/')}/{relative}"

    @property
    def atomic_put(self) -> bool:
        protocols = self.fs.protocol
        return bool(OBJECT_STORES.intersection(
            (protocols,) if isinstance(protocols, str) else protocols))

    def refresh(self) -> None:
        """Forget cached listings (another worker or run may have published since)."""
        self.fs.invalidate_cache()

    def read_text(self, relative: str) -> str | None:
        """The file's text, or None if it does not exist."""
        try:
            return self.fs.cat_file(self._path(relative)).decode("utf-8")
        except FileNotFoundError:
            return None

    def fetch(self, relative: str, local: Path) -> bool:
        """Copy the file to `local` if it exists; True if it did."""
        text = self.read_text(relative)
        if text is None:
            return False
        Path(local).write_text(text, encoding="utf-8")
        return True

    def publish(self, local: Path, relative: str) -> None:
        """Put a local file at `relative`, visible only whole."""
        target = self._path(relative)
        if self.atomic_put:
            self.fs.put_file(str(local), target)
            return
        parent, name = target.rsplit("/", 1)
        tmp = f"{parent}/.{name}.tmp-{os.getpid()}-{threading.get_native_id()}"
        self.fs.makedirs(parent, exist_ok=True)
        self.fs.put_file(str(local), tmp)
        self.fs.mv(tmp, target)

    def shard_done(self, relative: str, request: ShardRequest) -> bool:
        """True only if the shard's record was made for `request` and the shard on the
        store has the recorded size. (Hashing it again would mean downloading it; the
        record is published after the shard, so it stands for the whole upload.)"""
        text = self.read_text(record_relative(relative))
        try:
            record = json.loads(text) if text is not None else None
        except ValueError:
            return False
        if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
            return False
        if any(record.get(key) != value for key, value in asdict(request).items()):
            return False
        try:
            return self.fs.size(self._path(relative)) == record.get("bytes")
        except FileNotFoundError:
            return False

    def shard_footers(self) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """(path inside the corpus, footer metadata or None if incomplete) per shard,
        sorted like a local corpus's; only each shard's footer is read."""
        root = self._path("")
        for path in sorted(self.fs.glob(self._path(SHARD_GLOB))):
            with self.fs.open(path, "rb", block_size=_FOOTER_BLOCK) as handle:
                yield path[len(root):], shard_footer(handle)

    def download(self, local: Path) -> None:
        """Copy the whole corpus (dot-folders included) under `local`."""
        root = self._path("")
        for path in self.fs.find(root.rstrip("/")):
            target = Path(local) / path[len(root):]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(path, str(target))

    def remove_temporaries(self) -> None:
        """Temporaries a killed run left (only where puts are not atomic)."""
        if self.atomic_put:
            return
        for path in self.fs.glob(self._path("**/.*.tmp-*")):
            self.fs.rm_file(path)


def record_relative(shard: str) -> str:
    """Where the completion record of the shard at `shard` (inside the corpus) lives."""
    return f"{PROGRESS_DIR}/{shard.rsplit('.', 1)[0]}.json"
