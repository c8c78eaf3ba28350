"""A tiny, self-made world for pipeline tests: four sound classes recorded as
synthetic WAV files, a two-setting scene grammar and one room response. Tests
that need the real recordings live in tests/test_real_catalogs.py."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from pytest_httpserver import HTTPServer

from streamaudio.config import Config, load_config

RATE = 16_000
# Tiers (CONTRIBUTING.md, "Tests"): `make test` runs everything; `make test-fast` leaves
# out these. integration: Prefect servers, subprocess builds, S3, notebooks, the real
# catalogs and models end to end. slow: single tests that take tens of seconds.
INTEGRATION = ("flows/", "notebooks/", "test_real_catalogs.py", "test_corpus_remote.py",
               "test_benchmarks.py", "test_cache_concurrency.py", "train/test_cli.py")
SLOW = ("speech/test_roundtrip.py", "speech/test_asr.py", "test_regen.py",
        "train/test_encoders.py", "test_corpus.py::test_worker_processes",
        "test_split_corpora.py", "speech/test_audible.py")
REPO_CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"

CLASSES = {
    "door_knock": {"domain": "daily_living", "label": "a knock at the door"},
    "dog_bark": {"domain": "nature_environment", "label": "a dog barking"},
    "kettle_whistle": {"domain": "equipment", "label": "a kettle whistling"},
    "glass_break": {
        "domain": "daily_living",
        "label": "glass breaking",
        "hazard": True,
        "warning": "I just heard glass breaking. Is everyone all right?",
        "emotion": "urgent",
    },
    "rain": {"domain": "nature_environment", "label": "rain", "ambience": True},
}

SCENES = {
    "settings": [
        {
            "name": "kitchen",
            "description": "a kitchen in the morning",
            "ambience": ["rain"],
            "benign": ["door_knock", "kettle_whistle", "dog_bark"],
            "hazards": ["glass_break"],
        },
        {
            "name": "porch",
            "description": "a porch on a rainy evening",
            "ambience": ["rain"],
            "benign": ["door_knock", "dog_bark"],
            "hazards": [],
        },
    ]
}


def _burst(rng: np.random.Generator, seconds: float, freq: float, pad: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    core = 0.4 * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)
    noise = 0.002 * rng.standard_normal(int(pad * RATE))
    return np.concatenate([noise, core + 0.002 * rng.standard_normal(t.size), noise])


def write_world(root: Path, seed: int = 0) -> Path:
    """Write catalogs/ (classes, clips, rirs, scenes) and the audio under root."""
    rng = np.random.default_rng(seed)
    audio_dir = root / "audio"
    catalog_dir = root / "catalogs"
    (catalog_dir / "clips").mkdir(parents=True)
    audio_dir.mkdir()
    lines = []
    freqs = {"door_knock": 200, "dog_bark": 500, "kettle_whistle": 2000, "glass_break": 4000}
    for name, freq in freqs.items():
        for take in range(3):
            path = audio_dir / f"{name}_{take}.wav"
            sf.write(path, _burst(rng, 0.5 + 0.4 * take, freq, 0.3), RATE)
            lines.append(_entry(name, path, root, loopable=False))
    for take in range(2):
        path = audio_dir / f"rain_{take}.wav"
        stereo = 0.05 * rng.standard_normal((8 * 44_100, 2))  # a 44.1 kHz stereo bed
        sf.write(path, stereo, 44_100)
        lines.append(_entry("rain", path, root, loopable=True))
    (catalog_dir / "clips" / "tiny.jsonl").write_text("".join(line + "\n" for line in lines))
    rir_path = audio_dir / "room.wav"
    decay = np.exp(-np.arange(RATE // 4) / (0.03 * RATE))
    sf.write(rir_path, rng.standard_normal(decay.size) * decay, RATE)
    rir = json.loads(_entry("rain", rir_path, root, loopable=False))
    rir.update(sound_class="room_impulse_response", id="tiny/room")
    (catalog_dir / "rirs.jsonl").write_text(json.dumps(rir) + "\n")
    (catalog_dir / "sound_classes.yaml").write_text(yaml.safe_dump(CLASSES))
    (catalog_dir / "scenes.yaml").write_text(yaml.safe_dump(SCENES))
    _write_texts(catalog_dir / "text")
    shutil.copy(REPO_CATALOGS / "taxonomy.yaml", catalog_dir / "taxonomy.yaml")
    return catalog_dir


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _write_texts(directory: Path) -> None:
    directory.mkdir()
    _jsonl(
        directory / "qa_pairs.jsonl",
        [
            {
                "id": "qa-1",
                "topic": "cooking",
                "question": "How long should I boil an egg?",
                "answer": "About nine minutes for a firm yolk.",
                "emotion": "normal",
            },
            {
                "id": "qa-2",
                "topic": "weather",
                "question": "Is it going to rain later today?",
                "answer": "I can't see a forecast, but bring an umbrella to be safe.",
                "emotion": "normal",
            },
        ],
    )
    _jsonl(
        directory / "en_zh_pairs.jsonl",
        [
            {
                "id": "p1",
                "domain": "travel",
                "en": "The train leaves at nine.",
                "zh": "火车九点出发。",
                "passage": "p-1",
                "order": 1,
            },
            {
                "id": "p2",
                "domain": "travel",
                "en": "Please be on time.",
                "zh": "请准时。",
                "passage": "p-1",
                "order": 2,
            },
            {"id": "s1", "domain": "daily_life", "en": "I like green tea.", "zh": "我喜欢绿茶。"},
        ],
    )
    _jsonl(
        directory / "asr_passages.jsonl",
        [
            {
                "id": "a1",
                "style": "dictation",
                "sentences": [
                    "Please buy milk and bread.",
                    "Call the dentist tomorrow.",
                    "Water the plants.",
                ],
            },
        ],
    )
    _jsonl(directory / "conversations.jsonl", [{
        "id": "c1", "topic": "cooking", "exchanges": [
            {"user": "I'm baking bread today.", "assistant": "Lovely!", "emotion": "happy"},
            {"user": "How long should it rise?", "assistant": "About an hour.",
             "emotion": "normal"},
            {"user": "Where should I leave it?", "assistant": "Somewhere warm.",
             "emotion": "normal"},
            {"user": "Thanks for the help.", "assistant": "You're welcome.",
             "emotion": "happy"}]}])
    _jsonl(directory / "history_facts.jsonl", [{
        "id": "h1", "statement": "My sister Sarah lands at nine tonight.",
        "acknowledgement": "Noted, nine tonight.", "question": "When does Sarah land?",
        "answer": "At nine tonight."}])
    _jsonl(directory / "name_messages.jsonl", [{
        "id": "n1", "message": "{name}, the meeting moved to three.",
        "summary": "They said the meeting moved to three."}])
    _jsonl(directory / "dialogues.jsonl", [{
        "id": "d1", "domain": "travel", "lines": [
            {"speaker": "A", "en": "Is this seat free?", "zh": "这个座位有人吗？"},
            {"speaker": "B", "en": "Yes, go ahead.", "zh": "没有，请坐。"},
            {"speaker": "A", "en": "Thank you very much.", "zh": "非常感谢。"}]}])


def _entry(sound_class: str, path: Path, root: Path, loopable: bool) -> str:
    info = sf.info(path)
    return json.dumps(
        {
            "id": f"tiny/{path.stem}",
            "source": "tiny",
            "source_kind": "local",
            "root": str(root),
            "path": path.relative_to(root).as_posix(),
            "sound_class": sound_class,
            "caption": f"A test recording of {sound_class}.",
            "tags": [sound_class],
            "duration_s": round(info.duration, 3),
            "sample_rate": info.samplerate,
            "channels": info.channels,
            "license": "CC0-1.0",
            "loopable": loopable,
        }
    )


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[HTTPServer]:
    # threaded: a handler sleeping past a client's timeout must not block later tests
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return write_world(tmp_path / "world")


@pytest.fixture
def world_config(world: Path) -> Config:
    # grounding by class: the tiny world's tones are too unlike each other for the
    # continuity check; retrieval grounding has its own tests
    return load_config(
        overrides=[
            f"catalog.directory={world}",
            "shards.streams_per_shard=4",
            "retrieval.mode=class",
        ]
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto's server mode) on a free loopback port for the
    session, with the environment a user would set for their own endpoint (child
    processes of the process and Dask runners inherit it)."""
    import socket

    import s3fs
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
             "AWS_ENDPOINT_URL_S3")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=endpoint)
    s3fs.S3FileSystem.clear_instance_cache()  # none may keep another endpoint
    yield endpoint
    server.stop()
    s3fs.S3FileSystem.clear_instance_cache()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket on the test S3 server; returns its s3:// URL."""
    import fsspec

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("s3").mkdir(bucket)
    return f"s3://{bucket}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tiers by where a test lives (one list above, not a decorator per test)."""
    tests = Path(__file__).resolve().parent
    for item in items:
        where = Path(item.path).resolve().relative_to(tests).as_posix() + "::" + item.name
        if where.startswith(INTEGRATION):
            item.add_marker(pytest.mark.integration)
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
