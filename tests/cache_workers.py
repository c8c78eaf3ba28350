"""Process targets for tests/test_cache_concurrency.py. They live in a module of
their own, importable by name, so 'spawn'/'forkserver' children can unpickle
them (test modules are imported with --import-mode=importlib and are not).

Every target reports one `(pid, problems)` tuple on its queue: `problems` lists
each exception or wrong value a thread of that process met, so a failure inside
a child fails the test in the parent."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.cache import ContentStore, input_key

NAMESPACE = "shared"
KINDS = ("bytes", "json", "array")


# --- the one true value of every test key ------------------------------------------


def entry_key(index: int) -> str:
    return input_key({"test": "concurrency", "index": index})


def kind_of(index: int) -> str:
    return KINDS[index % len(KINDS)]


def true_value(index: int, size: int) -> Any:
    """What key `index` holds: bytes, a JSON document or a float32 array of about `size` bytes."""
    rng = np.random.default_rng(index)
    kind = kind_of(index)
    if kind == "bytes":
        return rng.bytes(size)
    if kind == "json":
        words = [f"wörd{n}-{int(v)}" for n, v in enumerate(rng.integers(0, 10**6, size // 16))]
        return {"index": index, "text": "人声 " + " ".join(words), "words": words}
    return rng.standard_normal(size // 4).astype(np.float32)


def stored_payload(index: int, size: int) -> bytes:
    """The exact payload bytes ContentStore keeps for key `index` (after its header)."""
    value, kind = true_value(index, size), kind_of(index)
    if kind == "bytes":
        return value
    if kind == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return buffer.getvalue()


def put(store: ContentStore, index: int, size: int) -> None:
    value, kind = true_value(index, size), kind_of(index)
    if kind == "bytes":
        store.put_bytes(entry_key(index), value)
    elif kind == "json":
        store.put_json(entry_key(index), value)
    else:
        store.put_array(entry_key(index), value)


def read_matches(store: ContentStore, index: int, size: int) -> str | None:
    """None if key `index` reads back as exactly its true value, else what went wrong."""
    kind, key = kind_of(index), entry_key(index)
    got: Any = (store.get_bytes(key) if kind == "bytes" else
                store.get_json(key) if kind == "json" else store.get_array(key))  # fmt: skip
    if got is None:
        return f"key {index} ({kind}) read as missing right after a write"
    expected = true_value(index, size)
    same = (np.array_equal(got, expected) and got.dtype == expected.dtype
            if kind == "array" else got == expected)  # fmt: skip
    return None if same else f"key {index} ({kind}) read back a different value"


# --- running threads inside a child ------------------------------------------------


def _threads(count: int, work: Callable[[int], None]) -> list[str]:
    """Run work(0..count-1) on `count` threads that start together; their failures."""
    problems: list[str] = []
    lock = threading.Lock()
    together = threading.Barrier(count)

    def run(number: int) -> None:
        try:
            together.wait(timeout=30)
            work(number)
        except BaseException:  # reported to the parent: a thread's exception is otherwise lost
            with lock:
                problems.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems


def hammer_store(
    root: str, keys: int, size: int, rounds: int, threads: int, start: Any, results: Any
) -> None:
    """Every thread writes every key `rounds` times in its own shuffled order and
    reads each back at once: the read must be the true value (never missing, never
    another value), since every writer of a key writes the same bytes."""
    store = ContentStore(Path(root), NAMESPACE)
    problems: list[str] = []

    def work(number: int) -> None:
        order = list(range(keys))
        shuffle = random.Random(f"{os.getpid()}:{number}").shuffle
        for _ in range(rounds):
            shuffle(order)
            for index in order:
                put(store, index, size)
                wrong = read_matches(store, index, size)
                if wrong:
                    problems.append(wrong)

    start.wait(timeout=60)  # every process is up: their writes really overlap
    problems += _threads(threads, work)
    if store.corrupt:
        problems.append(f"{store.corrupt} corrupt entries read")
    results.put((os.getpid(), problems))


# --- large values: writers and readers at once -------------------------------------


def big_value(writer: int, size: int) -> bytes:
    """Writer `writer`'s own complete value for the one contended key."""
    return np.random.default_rng(1000 + writer).bytes(size)


def write_big(
    root: str, writer: int, size: int, writes: int, start: Any, results: Any
) -> None:
    store = ContentStore(Path(root), NAMESPACE)
    value = big_value(writer, size)
    start.wait(timeout=60)
    problems = _threads(1, lambda _: [store.put_bytes(entry_key(-1), value) for _ in range(writes)])
    results.put((os.getpid(), problems))


def read_big(
    root: str, writers: int, size: int, stop: Any, start: Any, results: Any
) -> None:
    """Read the contended key until `stop`; every value read must be one writer's
    complete value. Reports (pid, problems, complete reads, corrupt reads)."""
    store = ContentStore(Path(root), NAMESPACE)
    wanted = {hashlib.sha256(big_value(w, size)).hexdigest() for w in range(writers)}
    counts = {"complete": 0}
    problems: list[str] = []
    start.wait(timeout=60)

    def work(_: int) -> None:
        while not stop.is_set():
            data = store.get_bytes(entry_key(-1))
            if data is None:
                continue
            if hashlib.sha256(data).hexdigest() not in wanted:
                problems.append(f"read {len(data)} bytes that no writer wrote")
            else:
                counts["complete"] += 1  # one reader thread: no lock needed

    problems += _threads(1, work)
    results.put((os.getpid(), problems, counts["complete"], store.corrupt))


# --- a writer killed between writing its temporary file and renaming it ------------


def killed_before_rename(root: str, index: int, size: int) -> None:
    """Write key `index`, but die by SIGKILL (as `kill -9` would) at the rename:
    the complete temporary file is left and no entry."""

    def die(*_: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = die  # only this child process: it dies at the first rename
    put(ContentStore(Path(root), NAMESPACE), index, size)


# --- the generated-clip catalog: one line per clip whoever writes it ---------------


class ToneGenerator:
    """A deterministic generator: the same prompt and seed give the same samples."""

    name = "tone"

    def version(self) -> str:
        return "tone/1"

    def generate(self, prompt: str, duration_s: float, seed: int) -> np.ndarray:
        hz = 200 + int(hashlib.sha256(prompt.encode()).hexdigest()[:6], 16) % 2000 + seed
        t = np.arange(round(duration_s * 16_000)) / 16_000
        return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def generated_prompts(count: int) -> list[str]:
    return [f"a tone, café number {n}" for n in range(count)]  # non-ASCII on purpose


def generate_clips(root: str, prompts: list[str], threads: int, start: Any, results: Any) -> None:
    """Every thread generates (or finds) and catalogues every prompt's clip;
    each must come back as the generator's exact samples."""
    from streamaudio.config import load_config
    from streamaudio.generate.store import GeneratedClips

    cfg = load_config(overrides=[f"cache.directory={root}"])
    generator = ToneGenerator()
    problems: list[str] = []

    def work(number: int) -> None:
        clips = GeneratedClips(cfg)  # one per thread: only the files are shared
        for prompt in prompts[number % 2 :] + prompts[: number % 2]:
            clip = clips.generate_cached(generator, prompt, 0.2, 1, event_caption=prompt)
            if clip.audio.tobytes() != generator.generate(prompt, 0.2, 1).tobytes():
                problems.append(f"{prompt!r}: other samples than the generator's")

    start.wait(timeout=60)
    problems += _threads(threads, work)
    results.put((os.getpid(), problems))


# --- the FAISS index files: saved and loaded by many at once -----------------------


class HashEmbedder:
    """A deterministic text embedder (sha256 of the text): no model to load."""

    name = "hash"
    dim = 32

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        from streamaudio.retrieve.embed import normalise

        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8) for t in texts]
        return normalise(np.array(rows, dtype=np.float32).reshape(len(texts), self.dim) - 127.5)


def small_catalog(clips: int) -> Any:
    from streamaudio.retrieve.catalog import Catalog, ClipEntry, SoundClass

    fields = {"source": "test", "source_kind": "local", "root": "/nonexistent",
              "sound_class": "beep", "duration_s": 1.0, "sample_rate": 16_000, "channels": 1,
              "license": "cc0"}  # fmt: skip
    entries = tuple(
        ClipEntry(id=f"test/clip-{n}", path=f"clip-{n}.wav", caption=f"beep number {n}", **fields)
        for n in range(clips)
    )
    return Catalog(entries, {"beep": SoundClass(domain="equipment", label="a beep")})


def save_and_load_index(
    directory: str, clips: int, rounds: int, threads: int, start: Any, results: Any
) -> None:
    """Every thread saves the same index again and again and loads it back between:
    a load must always find a complete, consistent index equal to the built one."""
    from streamaudio.retrieve.index import ClipIndex, catalog_content_hash

    catalog, embedder = small_catalog(clips), HashEmbedder()
    built = ClipIndex.build(catalog, embedder)
    expected = built.index.reconstruct_n(0, built.index.ntotal)
    key = catalog_content_hash(catalog)
    problems: list[str] = []

    def work(_: int) -> None:
        for _ in range(rounds):
            built.save(Path(directory))
            loaded = ClipIndex.load(Path(directory), key, embedder)
            if loaded is None:
                problems.append("a saved index did not load")
            elif loaded.clip_ids != built.clip_ids or not np.array_equal(
                loaded.index.reconstruct_n(0, loaded.index.ntotal), expected
            ):
                problems.append("a loaded index differs from the saved one")

    start.wait(timeout=60)
    problems += _threads(threads, work)
    results.put((os.getpid(), problems))


# --- joining the whisper model into the cache -------------------------------------


def join_whisper(part_dirs: list[str], target: str, start: Any, results: Any) -> None:
    from streamaudio.speech.asr import join_model

    start.wait(timeout=60)
    problems = _threads(2, lambda _: join_model([Path(d) for d in part_dirs], Path(target)))
    results.put((os.getpid(), problems))
