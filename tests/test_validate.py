import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamaudio.config import Config
from streamaudio.corpus import build_corpus
from streamaudio.schema import (
    BedLayer,
    ClipRef,
    EventPlan,
    GroundedEvent,
    GroundedPlan,
    ScenePlan,
    VoicePlan,
)
from streamaudio.shards.reader import list_shards
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus


@pytest.fixture
def corpus(tmp_path: Path, world_config: Config) -> Path:
    root = tmp_path / "corpus"
    build_corpus(root, [get_subtask("hazard_alert"), get_subtask("benign_silence")], 4, 0,
                 world_config)
    return root


def _tamper(path: Path, change: Callable[[dict], None]) -> None:
    """Rewrite the shard with its first row changed, keeping schema and metadata."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows[0])
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def test_a_fresh_corpus_is_valid(corpus: Path) -> None:
    checked, failures = validate_corpus(corpus)
    assert checked == 8 and failures == []


def _first_response(row: dict) -> int:
    return row["decisions"].index(1)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda row: row.update(num_chunks=row["num_chunks"] + 1), "num_chunks"),
    (lambda row: row["responses"].__setitem__(0, "hello"), "silent chunk carries text"),
    (lambda row: row["emotions"].__setitem__(_first_response(row), "bored"), "emotion"),
    (lambda row: row["decisions"].__setitem__(_first_response(row), 0), "silent chunk"),
    (lambda row: row.update(config_hash="deadbeef"), "config_hash"),
    (lambda row: row.update(num_samples=row["num_samples"] - 1), "samples"),
    (lambda row: row["audio"].update(bytes=b"garbage"), "does not decode"),
    (lambda row: row.update(plan="{"), "plan does not parse"),
    (lambda row: row["events"][0].update(offset_s=99.0), "outside"),
])
def test_each_broken_invariant_is_reported_for_its_row(
        corpus: Path, change: Callable[[dict], None], reason: str) -> None:
    shard = next(p for p in list_shards(corpus) if p.parent.name == "hazard_alert")
    first_id = pq.read_table(shard).column("stream_id")[0].as_py()
    _tamper(shard, change)
    _, failures = validate_corpus(corpus)
    assert failures, "tampering went unnoticed"
    assert all(f.stream_id == first_id for f in failures)
    assert any(reason in f.reason for f in failures), [f.reason for f in failures]


def test_verified_silence_with_a_response_fails(corpus: Path) -> None:
    shard = next(p for p in list_shards(corpus) if p.parent.name == "benign_silence")

    def speak(row: dict) -> None:
        row["decisions"][2], row["responses"][2], row["emotions"][2] = 1, "Hi!", "happy"

    _tamper(shard, speak)
    _, failures = validate_corpus(corpus)
    assert any("verified-silent" in f.reason for f in failures)


def test_not_a_corpus(tmp_path: Path) -> None:
    _, failures = validate_corpus(tmp_path)
    assert failures and "not a StreamAudio corpus" in failures[0].reason


def test_a_response_inside_a_verified_silent_event_fails(corpus: Path) -> None:
    shard = next(p for p in list_shards(corpus) if p.parent.name == "hazard_alert")

    def overlap(row: dict) -> None:
        plan = json.loads(row["plan"])
        hazard = next(e for e in plan["events"] if e["event_id"] == "hazard")
        quiet = next(e for e in plan["scene"]["events"] if e.get("verified_silent"))
        moved = next(e for e in plan["events"] if e["event_id"] == quiet["event_id"])
        # a benign turn now starts with the warning's chunk
        answer = (hazard["onset"] + hazard["core_end"] - 1) // 6_400
        moved["onset"] = answer * 6_400
        moved["length"] = min(moved["length"], plan["num_samples"] - moved["onset"])
        moved["core_end"] = min(moved["core_end"], moved["length"])
        moved["core_start"] = min(moved["core_start"], moved["core_end"] - 1)
        row["plan"] = json.dumps(plan)

    _tamper(shard, overlap)
    _, failures = validate_corpus(corpus)
    assert any("inside a verified-silent span" in f.reason for f in failures), failures


def _history_plan(recall_distance: int) -> GroundedPlan:
    voice = VoicePlan(backend="flite", voice="slt")
    events = []
    for i in range(5):
        recalls = f"t{4 - recall_distance}" if i == 4 else ""
        events.append(EventPlan(event_id=f"t{i}", role="foreground", kind="speech",
                                caption="c", query="q", fallback_caption="f", text=f"turn {i}",
                                voice=voice, trigger=True, response=f"r{i}", emotion="normal",
                                recalls=recalls))
    scene = ScenePlan(stream_id="s", ability="voice_chat", subtask="history_review_chat",
                      setting="x", seed=1, events=events)
    ref = ClipRef(clip_id="t/c", sha256="0" * 64, source="t", license="CC0-1.0")
    grounded = [GroundedEvent(event_id=f"t{i}", clip=ref, clip_offset=0, length=6_400,
                              onset=i * 20_000, core_start=0, core_end=6_400, gain_db=0.0)
                for i in range(5)]
    return GroundedPlan(scene=scene, sample_rate=16_000, num_samples=100_000, events=grounded,
                        bed=[BedLayer(kind="coloured", colour="pink", noise_seed=1,
                                      gain_db=-40.0)])


def test_history_review_must_reach_three_turns_back() -> None:
    from streamaudio.validate import _history_failures

    assert list(_history_failures(_history_plan(3))) == []
    assert list(_history_failures(_history_plan(4))) == []
    (failure,) = _history_failures(_history_plan(2))
    assert "2 back" in failure
    with pytest.raises(ValueError, match="not an earlier event"):
        _history_plan(0)
