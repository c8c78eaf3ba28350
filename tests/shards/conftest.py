"""Tiny hand-made streams for the shard tests: a 3-event grounded plan over a tone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streamaudio.schema import (
    BedLayer,
    ChunkLabels,
    ClipRef,
    EventPlan,
    GroundedEvent,
    GroundedPlan,
    ScenePlan,
    Stream,
    VoicePlan,
)
from streamaudio.shards.writer import shard_path, write_shard_with_rows

RATE = 16_000
CHUNK = 6_400

MakeStream = Callable[..., Stream]


def _clip(name: str, license: str) -> ClipRef:
    return ClipRef(clip_id=name, sha256="0" * 64, source=f"pkg-{name}", license=license)


def make_stream(
    stream_id: str = "s0",
    ability: str = "alerting",
    subtask: str = "doorbell",
    seconds: float = 2.0,
    seed: int = 7,
    respond_at: int = 2,
) -> Stream:
    n = int(seconds * RATE)
    events = [
        EventPlan(
            event_id="e0",
            role="ambient",
            kind="noise",
            caption="rain on a roof",
            query="rain",
            fallback_caption="steady rain",
        ),
        EventPlan(
            event_id="e1",
            role="foreground",
            kind="sound",
            caption="a doorbell rings",
            query="doorbell",
            fallback_caption="doorbell chime",
            trigger=True,
            response="Someone is at the door.",
            emotion="normal",
        ),
        EventPlan(
            event_id="e2",
            role="background",
            kind="speech",
            caption="a man speaks",
            query="speech",
            fallback_caption="male voice",
            text="hello there",
            voice=VoicePlan(backend="flite", voice="awb"),
        ),
    ]
    scene = ScenePlan(
        stream_id=stream_id,
        ability=ability,
        subtask=subtask,
        setting="kitchen",
        seed=seed,
        instruction="Tell me if the doorbell rings.",
        events=events,
    )
    grounded = [
        GroundedEvent(
            event_id="e0",
            clip=_clip("rain", "CC-BY-SA-3.0"),
            clip_offset=0,
            length=n,
            onset=0,
            core_start=0,
            core_end=n,
            gain_db=-12.0,
            loop=True,
        ),
        GroundedEvent(
            event_id="e1",
            clip=_clip("bell", "CC0-1.0"),
            clip_offset=0,
            length=n // 4,
            onset=n // 4,
            core_start=0,
            core_end=n // 8,
            gain_db=0.0,
        ),
        GroundedEvent(
            event_id="e2",
            clip=_clip("voice", "GPL-2.0-or-later"),
            clip_offset=160,
            length=n // 8,
            onset=n - n // 8,
            core_start=0,
            core_end=n // 16,
            gain_db=-6.0,
        ),
    ]
    bed = [BedLayer(kind="clip", gain_db=-38.0, clip=_clip("wind", "MIT"))]
    plan = GroundedPlan(scene=scene, sample_rate=RATE, num_samples=n, events=grounded, bed=bed)
    t = np.arange(n) / RATE
    audio = (0.25 * np.sin(2 * np.pi * (440 + seed) * t)).astype(np.float32)
    chunks = -(-n // CHUNK)
    decisions = [1 if i == respond_at else 0 for i in range(chunks)]
    labels = ChunkLabels(
        decisions=decisions,
        responses=["Someone is at the door." if d else "" for d in decisions],
        emotions=["normal" if d else "" for d in decisions],
    )
    return Stream(
        plan=plan,
        audio=audio,
        labels=labels,
        chunk_ms=400,
        clip_guard_scale=1.0,
        config_hash="cafe0123cafe0123",
    )


@pytest.fixture
def stream_factory() -> MakeStream:
    return make_stream


def _build_corpus(root: Path) -> dict[str, list[Path]]:
    """Two subtasks: doorbell (2 shards, 3 streams) and kettle (1 shard, 2 streams)."""
    layout = {
        ("alerting", "doorbell"): [[2.0, 1.0], [3.0]],
        ("monitoring", "kettle"): [[2.4, 1.2]],
    }
    written: dict[str, list[Path]] = {}
    for (ability, subtask), shards in layout.items():
        for index, lengths in enumerate(shards):
            streams = [
                (
                    make_stream(
                        f"{subtask}-{index}-{i}", ability, subtask, s, seed=i, respond_at=1
                    ),
                    i,
                )
                for i, s in enumerate(lengths)
            ]
            path = shard_path(root, ability, subtask, index)
            meta = {"drops": {"wer": index + 1, "no_clip": 1}}
            write_shard_with_rows(streams, path, ability, subtask, meta, 64)
            written.setdefault(subtask, []).append(path)
    return written


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path / "corpus"
    return root, _build_corpus(root)


@pytest.fixture
def hf_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No network, and a private cache so parallel runs do not share state."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "hf-cache"
