from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from streamaudio.cache import ContentStore, input_key


def _write(root: str, value: int) -> None:
    store = ContentStore(Path(root), "t")
    for _ in range(20):
        store.put_bytes(input_key({"k": 1}), bytes([value % 256]) * 50_000)


def test_key_is_canonical() -> None:
    assert input_key({"a": 1, "b": [1, 2]}) == input_key({"b": [1, 2], "a": 1})
    assert input_key({"a": 1}) != input_key({"a": 2})


def test_round_trips_and_counts(tmp_path: Path) -> None:
    store = ContentStore(tmp_path, "tts")
    key = input_key({"text": "hello"})
    assert store.get_json(key) is None and store.misses == 1
    store.put_json(key, {"wer": 0.0, "words": ["hello"]})
    assert store.get_json(key) == {"wer": 0.0, "words": ["hello"]} and store.hits == 1
    audio = np.linspace(-1, 1, 1_001, dtype=np.float32)
    store.put_array("ab" * 32, audio)
    assert np.array_equal(store.get_array("ab" * 32), audio)


def test_corrupt_entry_reads_as_missing_and_is_removed(tmp_path: Path) -> None:
    store = ContentStore(tmp_path, "asr")
    key = input_key({"x": 1})
    store.put_bytes(key, b"payload" * 100)
    path = next(tmp_path.rglob("*.bin"))
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.get_bytes(key) is None
    assert store.corrupt == 1 and not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"short")
    assert store.get_bytes(key) is None and store.corrupt == 2


def test_concurrent_writers_leave_one_complete_entry(tmp_path: Path) -> None:
    with ProcessPoolExecutor(2) as processes, ThreadPoolExecutor(4) as threads:
        jobs = [processes.submit(_write, str(tmp_path), 7) for _ in range(2)]
        jobs += [threads.submit(_write, str(tmp_path), 7) for _ in range(4)]
        for job in jobs:
            job.result()
    store = ContentStore(tmp_path, "t")
    assert store.get_bytes(input_key({"k": 1})) == bytes([7]) * 50_000
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [
        f"{input_key({'k': 1})}.bin"]
