"""The shared caches under concurrent writers: threads of one process and separate
processes (as Prefect's process runner and Dask's worker processes are) pointing
at one cache directory. Every entry reads back as its one true value, a reader
never sees part of a value, a torn or corrupt entry is a miss that is recomputed,
and a killed writer's leftovers break nothing. Process targets are in
tests/cache_workers.py (children must import them by name)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from cache_workers import (
    NAMESPACE,
    HashEmbedder,
    ToneGenerator,
    big_value,
    entry_key,
    generate_clips,
    generated_prompts,
    hammer_store,
    join_whisper,
    killed_before_rename,
    read_big,
    save_and_load_index,
    small_catalog,
    stored_payload,
    true_value,
    write_big,
)

import streamaudio.cache as cache_module
from streamaudio.atomic import temporary_path
from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config, load_config
from streamaudio.generate.store import GeneratedClips, GeneratedRecord
from streamaudio.plan.llm import LlmPlanner
from streamaudio.retrieve.index import ClipIndex, catalog_content_hash
from streamaudio.speech.asr import transcribe_cached
from streamaudio.speech.roundtrip import synthesize_cached
from streamaudio.speech.tts import TtsRegistry
from streamaudio.speech.types import Synthesis, Transcript, VoiceSpec, WordTiming

# forkserver: children fork from one clean server that imported the heavy modules
# once, so four of them start in milliseconds instead of seconds each ('spawn')
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["cache_workers", "streamaudio.generate.store"])
CHILD_TIMEOUT_S = 60.0


class Children:
    """One process per (target, args); each gets a shared start barrier and the
    report queue as its last two arguments. Holding this object keeps the barrier's
    semaphore alive until the children have unpickled it."""

    def __init__(self, jobs: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
        self.start, self.reports = CONTEXT.Barrier(len(jobs)), CONTEXT.Queue()
        self.processes = [
            CONTEXT.Process(target=t, args=(*a, self.start, self.reports)) for t, a in jobs
        ]
        for process in self.processes:
            process.start()

    def collect(self, count: int) -> list[tuple]:
        return collect(self.processes, self.reports, count)


def collect(processes: list, reports: Any, count: int) -> list[tuple]:
    """`count` reports, then every process joined; fails on a dead or stuck child."""
    got: list[tuple] = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while len(got) < count and time.monotonic() < deadline:
        try:
            got.append(reports.get(timeout=0.2))
        except queue.Empty:
            if not any(p.is_alive() for p in processes) and reports.empty():
                break  # a child died without reporting
    for process in processes:
        process.join(timeout=CHILD_TIMEOUT_S)
        if process.is_alive():
            process.kill()
    assert [p.exitcode for p in processes] == [0] * len(processes)
    assert len(got) == count
    return got


def run_children(jobs: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> list[tuple]:
    return Children(jobs).collect(len(jobs))


def files_under(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def temporaries(root: Path) -> list[str]:
    return [name for name in files_under(root) if name.endswith(".tmp")]


# --- many writers of the same keys ------------------------------------------------


def test_processes_and_threads_writing_the_same_keys_leave_each_true_value(
    tmp_path: Path,
) -> None:
    keys, size = 9, 64 * 1024  # three keys each of bytes, JSON and arrays
    reports = run_children([(hammer_store, (str(tmp_path), keys, size, 4, 4))] * 4)
    assert [problems for _, problems in reports] == [[]] * 4
    assert len({pid for pid, _ in reports}) == 4  # four processes, sixteen threads
    store = ContentStore(tmp_path, NAMESPACE)
    for index in range(keys):
        assert store.get_bytes(entry_key(index)) == stored_payload(index, size)
    assert np.array_equal(store.get_array(entry_key(2)), true_value(2, size))
    assert store.get_json(entry_key(1)) == true_value(1, size)
    assert files_under(tmp_path) == sorted(f"{entry_key(i)}.bin" for i in range(keys))
    assert store.corrupt == 0


def test_a_reader_never_sees_part_of_a_large_value(tmp_path: Path) -> None:
    writers, size = 3, 3 * 1024 * 1024
    stop = CONTEXT.Event()
    jobs: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
        (write_big, (str(tmp_path), w, size, 8)) for w in range(writers)
    ]
    jobs += [(read_big, (str(tmp_path), writers, size, stop))] * 2
    children = Children(jobs)
    # a reader thread here as well, on its own store object
    store = ContentStore(tmp_path, NAMESPACE)
    wanted = {hashlib.sha256(big_value(w, size)).hexdigest() for w in range(writers)}
    seen: list[str | None] = []

    def read_here() -> None:
        while not stop.is_set():
            data = store.get_bytes(entry_key(-1))
            seen.append(None if data is None else hashlib.sha256(data).hexdigest())

    reader = threading.Thread(target=read_here)
    reader.start()
    early: list[tuple] = []
    try:
        while len([r for r in early if len(r) == 2]) < writers:  # a writer reports (pid, problems)
            early.append(children.reports.get(timeout=CHILD_TIMEOUT_S))
    finally:
        stop.set()  # the writers are done (or failed): the readers stop
        reader.join()
    reports = early + children.collect(len(jobs) - len(early))
    written, read = [r for r in reports if len(r) == 2], [r for r in reports if len(r) == 4]
    assert [problems for _, problems in written] == [[]] * writers and len(read) == 2
    for _, problems, complete, corrupt in read:
        assert problems == [] and corrupt == 0
        assert complete > 0  # it did read while the writers wrote
    complete_here = [digest for digest in seen if digest is not None]
    assert complete_here and set(complete_here) <= wanted and store.corrupt == 0
    assert hashlib.sha256(store.get_bytes(entry_key(-1)) or b"").hexdigest() in wanted
    assert temporaries(tmp_path) == []


@pytest.fixture
def same_thread_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers whose pid and thread id are equal, as in two containers that share
    the cache volume (each has its own pid namespace: pid 1, thread ids from 1).
    Threads of this process already share the pid; this makes the thread id alike."""
    monkeypatch.setattr(threading, "get_native_id", lambda: 7)


def test_temporary_names_differ_even_for_the_same_pid_and_thread(
    tmp_path: Path, same_thread_ids: None
) -> None:
    path = tmp_path / "entry.bin"
    names = {temporary_path(path) for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.parent == tmp_path and n.name.startswith(".entry.bin.") for n in names)
    assert all(n.name.endswith(".tmp") for n in names)


def test_writers_with_the_same_pid_and_thread_id_do_not_collide(
    tmp_path: Path, same_thread_ids: None
) -> None:
    value = np.random.default_rng(0).bytes(1024 * 1024)
    errors: list[BaseException] = []
    together = threading.Barrier(6)

    def write() -> None:
        store = ContentStore(tmp_path, "t")
        try:
            together.wait()
            for _ in range(10):
                store.put_bytes("ab" * 32, value)
        except BaseException as exc:  # a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = ContentStore(tmp_path, "t")
    assert store.get_bytes("ab" * 32) == value and store.corrupt == 0
    assert temporaries(tmp_path) == []


def test_index_savers_with_the_same_pid_and_thread_id_do_not_collide(
    tmp_path: Path, same_thread_ids: None
) -> None:
    catalog, embedder = small_catalog(3000), HashEmbedder()
    built = ClipIndex.build(catalog, embedder)
    errors: list[BaseException] = []
    together = threading.Barrier(4)

    def save() -> None:
        try:
            together.wait()
            for _ in range(5):
                built.save(tmp_path)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    loaded = ClipIndex.load(tmp_path, catalog_content_hash(catalog), embedder)
    assert loaded is not None and loaded.clip_ids == built.clip_ids
    assert temporaries(tmp_path) == []


# --- other caches with their own write path ---------------------------------------


def test_generated_clips_from_many_processes_are_catalogued_once_each(tmp_path: Path) -> None:
    prompts = generated_prompts(6)
    reports = run_children([(generate_clips, (str(tmp_path), prompts, 3))] * 4)
    assert [problems for _, problems in reports] == [[]] * 4
    clips = GeneratedClips(load_config(overrides=[f"cache.directory={tmp_path}"]))
    text = clips.catalog_path.read_text(encoding="utf-8")
    records = [GeneratedRecord.model_validate_json(line) for line in text.splitlines()]
    assert sorted(r.prompt for r in records) == sorted(prompts)  # once each, none torn
    for record in records:
        expected = ToneGenerator().generate(record.prompt, 0.2, 1)
        assert record.sha256 == hashlib.sha256(expected.tobytes()).hexdigest()
        assert np.array_equal(clips.audio(record.id), expected)
    assert temporaries(tmp_path) == [] and clips.store.corrupt == 0


def test_index_files_saved_by_many_processes_always_load_whole(tmp_path: Path) -> None:
    clips = 3000  # a 384 kB index: a save is not instantaneous
    reports = run_children([(save_and_load_index, (str(tmp_path), clips, 6, 2))] * 3)
    assert [problems for _, problems in reports] == [[]] * 3
    catalog, embedder = small_catalog(clips), HashEmbedder()
    key = catalog_content_hash(catalog)
    loaded = ClipIndex.load(tmp_path, key, embedder)
    built = ClipIndex.build(catalog, embedder)
    assert loaded is not None and loaded.clip_ids == built.clip_ids
    assert np.array_equal(loaded.index.reconstruct_n(0, clips), built.index.reconstruct_n(0, clips))
    assert files_under(tmp_path) == [f"{key}-hash.faiss", f"{key}-hash.json"]


def test_whisper_joins_from_many_processes_agree(tmp_path: Path) -> None:
    parts = []
    for number, size in ((1, 3_000_000), (2, 2_000_000)):
        directory = tmp_path / f"part{number}" / "data"
        directory.mkdir(parents=True)
        (directory / f"model.bin.part{number}").write_bytes(bytes([number]) * size)
        parts.append(str(directory))
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (Path(parts[0]) / name).write_text(f"{name} contents")
    target = tmp_path / "whisper-base"
    reports = run_children([(join_whisper, (parts, str(target)))] * 3)
    assert [problems for _, problems in reports] == [[]] * 3
    assert (target / "model.bin").read_bytes() == b"\x01" * 3_000_000 + b"\x02" * 2_000_000
    assert files_under(target) == sorted(
        [".join.lock", "config.json", "model.bin", "tokenizer.json", "vocabulary.txt"])


# --- torn and corrupt entries: a miss, recomputed -----------------------------------

# what a writer that is not atomic leaves when killed, or a disk leaves when it fails
CUTS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "one byte": lambda data: data[:1],
    "header without newline": lambda data: data[:64],
    "header only": lambda data: data[:65],
    "half": lambda data: data[: len(data) // 2],
    "all but the last byte": lambda data: data[:-1],
    "a flipped payload byte": lambda data: data[:-7] + bytes([data[-7] ^ 0x01]) + data[-6:],
    "a flipped header digit": lambda data: (b"0" if data[:1] != b"0" else b"1") + data[1:],
    "garbage": lambda data: b"\x00" * len(data),
}


class CountingAsr:
    beam_size = 1

    def __init__(self) -> None:
        self.calls = 0

    def version(self) -> str:
        return "counting asr 1"

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        self.calls += 1
        words = (WordTiming("héard", 0, 9), WordTiming("it", 9, 12))
        return Transcript("héard it", language, words)


class ToneTts:
    name = "tone"

    def __init__(self) -> None:
        self.calls = 0

    def version(self) -> str:
        return "tone tts 1"

    def voices(self, language: str) -> list[str]:
        return ["a"]

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        self.calls += 1
        audio = np.sin(np.arange(8000 + len(text)) * 0.05).astype(np.float32)
        return Synthesis(audio, 16_000, voice, self.version())


class CountingLlm:
    """The slice of the OpenAI client the planner calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.chat = SimpleNamespace(completions=self)

    def create(self, **_: Any) -> Any:
        self.calls += 1
        content = json.dumps({"setting": "a kitchen", "événements": list(range(200))})
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=content))])


Consumer = tuple[Callable[[], bytes], Callable[[], int], Path]


def asr_consumer(root: Path) -> Consumer:
    asr, store = CountingAsr(), ContentStore(root, "asr")
    audio = np.linspace(-0.5, 0.5, 16_000, dtype=np.float32)
    return (lambda: repr(transcribe_cached(asr, audio, 16_000, "en", store)).encode(),
            lambda: asr.calls, store.directory)  # fmt: skip


def tts_consumer(root: Path) -> Consumer:
    tts, store = ToneTts(), ContentStore(root, "tts")
    registry = TtsRegistry(Config(), backends={"tone": tts})
    voice = VoiceSpec("tone", "a")
    return (lambda: registry.synthesize_cached("Hello there.", voice, store).audio.tobytes(),
            lambda: tts.calls, store.directory)  # fmt: skip


def plain_tts_consumer(root: Path) -> Consumer:
    tts, store = ToneTts(), ContentStore(root, "tts")
    voice = VoiceSpec("tone", "a")
    return (lambda: synthesize_cached(tts, "Hello there.", voice, store).audio.tobytes(),
            lambda: tts.calls, store.directory)  # fmt: skip


def llm_consumer(root: Path) -> Consumer:
    client = CountingLlm()
    cfg = load_config(overrides=[f"cache.directory={root}", "llm.base_url=http://127.0.0.1:9",
                                 "llm.model=fake"])  # fmt: skip
    planner = LlmPlanner(cfg, client=client)
    messages = [{"role": "user", "content": "Plan a scene."}]
    return (lambda: str(planner._complete(messages, 3, "scene-plan")).encode(),
            lambda: client.calls, planner.store.directory)  # fmt: skip


def generated_consumer(root: Path) -> Consumer:
    generator = ToneGenerator()
    calls = [0]
    original = generator.generate

    def counted(prompt: str, duration_s: float, seed: int) -> np.ndarray:
        calls[0] += 1
        return original(prompt, duration_s, seed)

    generator.generate = counted  # type: ignore[method-assign]
    clips = GeneratedClips(load_config(overrides=[f"cache.directory={root}"]))
    return (lambda: clips.generate_cached(generator, "a tone", 0.3, 2).audio.tobytes(),
            lambda: calls[0], clips.store.directory)  # fmt: skip


CONSUMERS = {"asr": asr_consumer, "tts": tts_consumer, "tts plain backend": plain_tts_consumer,
             "llm": llm_consumer, "generated clips": generated_consumer}  # fmt: skip


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize("consumer", list(CONSUMERS))
def test_a_torn_or_corrupt_entry_is_recomputed_never_returned(
    tmp_path: Path, consumer: str, cut: str
) -> None:
    call, calls, directory = CONSUMERS[consumer](tmp_path)
    first = call()
    assert calls() == 1
    entries = sorted(directory.rglob("*.bin"))
    assert entries
    for path in entries:
        path.write_bytes(CUTS[cut](path.read_bytes()))
    assert call() == first  # the true value again, computed anew
    assert calls() == 2
    assert call() == first and calls() == 2  # and stored whole: the next call is a hit
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("cut", list(CUTS))
def test_a_torn_entry_reads_as_missing_and_is_counted(tmp_path: Path, cut: str) -> None:
    store = ContentStore(tmp_path, "t")
    key = input_key({"cut": cut})
    store.put_json(key, {"text": "ünïcode", "n": list(range(100))})
    [path] = tmp_path.rglob("*.bin")
    path.write_bytes(CUTS[cut](path.read_bytes()))
    assert store.get_json(key) is None and store.get_array(key) is None
    assert store.corrupt == 1 and store.misses == 2 and not path.exists()


def test_a_corrupt_read_does_not_remove_a_good_entry_renamed_in_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reader A reads a torn file; before A removes it, writer B renames a good
    one into its place. A must leave B's entry alone."""
    store, key, good = ContentStore(tmp_path, "t"), "cd" * 32, b"good value" * 1000
    store.put_bytes(key, good)
    [path] = tmp_path.rglob("*.bin")
    path.write_bytes(path.read_bytes()[:100])  # torn
    verified = cache_module._verified

    def writer_lands_now(data: bytes) -> bytes | None:
        ContentStore(tmp_path, "t").put_bytes(key, good)  # B, between A's read and check
        return verified(data)

    monkeypatch.setattr(cache_module, "_verified", writer_lands_now)
    assert store.get_bytes(key) is None and store.corrupt == 1  # A's own read was torn
    monkeypatch.undo()
    assert ContentStore(tmp_path, "t").get_bytes(key) == good  # B's entry survived


# --- a killed writer's leftovers --------------------------------------------------


def test_a_writer_killed_before_its_rename_leaves_a_miss_not_a_crash(tmp_path: Path) -> None:
    size = 256 * 1024
    process = CONTEXT.Process(target=killed_before_rename, args=(str(tmp_path), 0, size))
    process.start()
    process.join(timeout=CHILD_TIMEOUT_S)
    assert process.exitcode == -9  # SIGKILL, as `kill -9` mid-write
    [leftover] = temporaries(tmp_path)
    store = ContentStore(tmp_path, NAMESPACE)
    assert store.get_bytes(entry_key(0)) is None and store.corrupt == 0  # a plain miss
    store.put_bytes(entry_key(0), true_value(0, size))
    assert store.get_bytes(entry_key(0)) == stored_payload(0, size)
    assert leftover in temporaries(tmp_path)  # untouched: it was never a visible entry


def test_leftover_temporaries_break_neither_reads_nor_writes(tmp_path: Path) -> None:
    store, key = ContentStore(tmp_path, "t"), "ef" * 32
    folder = tmp_path / "t" / key[:2]
    folder.mkdir(parents=True)
    # the names a killed writer of this or an older version leaves, one with the very
    # pid and thread id writing below; one half written, one complete
    stale = [folder / f".{key}.bin.{os.getpid()}.{threading.get_native_id()}.tmp",
             temporary_path(folder / f"{key}.bin")]  # fmt: skip
    stale[0].write_bytes(b"half a wri")
    stale[1].write_bytes(b"0" * 64 + b"\nnot this value")
    assert store.get_bytes(key) is None and store.corrupt == 0
    store.put_bytes(key, b"the value")
    assert store.get_bytes(key) == b"the value"
    store.put_bytes(key, b"the value")
    assert sorted(temporaries(tmp_path)) == sorted(p.name for p in stale)


def test_leftover_index_temporaries_break_neither_loads_nor_saves(tmp_path: Path) -> None:
    catalog, embedder = small_catalog(50), HashEmbedder()
    key = catalog_content_hash(catalog)
    ident = f"{os.getpid()}.{threading.get_native_id()}"
    for suffix in ("faiss", "json"):
        (tmp_path / f".{key}-hash.{suffix}.{ident}.tmp").write_bytes(b"torn")
    built = ClipIndex.load_or_build(catalog, embedder, tmp_path)
    assert built.built
    loaded = ClipIndex.load(tmp_path, key, embedder)
    assert loaded is not None and loaded.clip_ids == built.clip_ids


@pytest.mark.parametrize("which", ["faiss", "json"])
@pytest.mark.parametrize("cut", ["empty", "one byte", "half", "all but the last byte"])
def test_a_torn_index_file_is_rebuilt(tmp_path: Path, which: str, cut: str) -> None:
    catalog, embedder = small_catalog(200), HashEmbedder()
    key = catalog_content_hash(catalog)
    first = ClipIndex.load_or_build(catalog, embedder, tmp_path)
    path = tmp_path / f"{key}-hash.{which}"
    path.write_bytes(CUTS[cut](path.read_bytes()))
    assert ClipIndex.load(tmp_path, key, embedder) is None
    again = ClipIndex.load_or_build(catalog, embedder, tmp_path)
    assert again.built and again.clip_ids == first.clip_ids
    assert ClipIndex.load(tmp_path, key, embedder) is not None


def test_a_catalog_line_torn_inside_a_character_is_skipped(tmp_path: Path) -> None:
    clips = GeneratedClips(load_config(overrides=[f"cache.directory={tmp_path}"]))
    first = clips.generate_cached(ToneGenerator(), "un café", 0.2, 0)
    with open(clips.catalog_path, "ab") as handle:  # a writer died inside the "é" of "thé"
        handle.write('{"prompt": "un thé'.encode()[:-1])
    assert [r.id for r in clips.records()] == [first.clip_id]
    second = clips.generate_cached(ToneGenerator(), "deux cafés", 0.2, 0)
    assert [r.id for r in clips.records()] == [first.clip_id, second.clip_id]
    assert np.array_equal(clips.audio(second.clip_id), second.audio)
