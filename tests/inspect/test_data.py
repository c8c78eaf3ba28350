import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from streamaudio.inspect.data import (
    corpus_stats,
    drop_counts,
    event_lanes,
    find_stream,
    identity_scores,
    log_spectrogram,
    pick_streams,
    response_chunks,
    response_density,
    scan_corpus,
    short,
    speech_wers,
    subtask_rows,
)
from streamaudio.schema import EventRow, GroundedPlan, VoicePlan
from streamaudio.shards.reader import StreamRecord, iter_streams


def _event(onset: float, offset: float, role: str = "foreground") -> EventRow:
    return EventRow(onset, offset, role, "sound", f"{role} at {onset}", "c", "s", "CC0", 0.0)


def test_response_chunks_and_density_follow_the_labels(tiny_corpus: Path) -> None:
    records = list(iter_streams(tiny_corpus))
    assert len(records) == 9
    for record in records:
        chunks = response_chunks(record)
        indices = np.flatnonzero(record.decisions).tolist()
        assert [c.index for c in chunks] == indices
        assert [c.response for c in chunks] == [record.responses[i] for i in indices]
        assert all(c.response and c.end_s - c.start_s == pytest.approx(0.4) for c in chunks)
        assert [c.start_s for c in chunks] == pytest.approx([0.4 * i for i in indices])
        minutes = record.num_samples / 16_000 / 60
        assert response_density(record) == pytest.approx(len(indices) / minutes)
        if record.subtask == "hazard_alert":
            assert [c.emotion for c in chunks] == ["urgent"]
        if record.subtask == "benign_silence":
            assert chunks == []


def test_stats_gather_lengths_and_plan_evidence(tiny_corpus: Path) -> None:
    records = list(iter_streams(tiny_corpus))
    stats = corpus_stats(records)
    assert stats.seconds == pytest.approx([r.num_samples / 16_000 for r in records])
    assert len(stats.density) == 9 and sum(d > 0 for d in stats.density) == 6
    # class-mode grounding of sound subtasks: no speech, no retrieval scores
    assert stats.wer == [] and stats.identity == {}
    scanned, shown = scan_corpus(tiny_corpus, 2)
    assert scanned == stats and len(shown) == 2


def _with_evidence(record: StreamRecord) -> StreamRecord:
    """The record's plan with a speech event (WER 0.05), a retrieved sound
    (identity 0.8) and a generated one (identity 0.4)."""
    plan = record.grounded_plan()
    first, second, third = (e.event_id for e in plan.events[:3])
    speech = {"kind": "speech", "text": "hello there", "voice": VoicePlan(backend="f", voice="v")}
    scene = plan.scene.model_copy(
        update={
            "events": [
                e.model_copy(update=speech) if e.event_id == first else e for e in plan.scene.events
            ]
        }
    )
    evidence = {
        first: {"wer": 0.05},
        second: {"selection": "retrieved", "identity": 0.8},
        third: {"selection": "generated:synth", "identity": 0.4},
    }
    events = [e.model_copy(update={"evidence": evidence.get(e.event_id, {})}) for e in plan.events]
    changed = plan.model_copy(update={"scene": scene, "events": events})
    GroundedPlan.from_json(changed.to_json())  # still a valid plan
    return dataclasses.replace(record, plan=changed.to_json())


def test_wer_and_identity_come_from_the_evidence(tiny_corpus: Path) -> None:
    record = _with_evidence(next(iter_streams(tiny_corpus, subtask="hazard_alert")))
    assert speech_wers(record) == [0.05]
    assert identity_scores(record) == [("retrieved", 0.8), ("generated:synth", 0.4)]
    stats = corpus_stats([record, record])
    assert stats.wer == [0.05, 0.05]
    assert stats.identity == {"retrieved": [0.8, 0.8], "generated:synth": [0.4, 0.4]}


def test_overlapping_events_of_a_role_get_rows(tiny_corpus: Path) -> None:
    record = next(iter_streams(tiny_corpus))
    events = (_event(0.0, 2.0), _event(1.0, 3.0), _event(2.5, 4.0), _event(0.5, 9.0, "ambient"))
    lanes = event_lanes(dataclasses.replace(record, events=events, num_samples=10 * 16_000))
    assert [(lane.event.onset_s, lane.row) for lane in lanes] == [
        (0.0, 0),
        (2.5, 0),
        (1.0, 1),
        (0.5, 0),
    ]
    # room for a caption: until the next event in the row, or the stream's end
    assert [lane.room_s for lane in lanes] == pytest.approx([2.5, 7.5, 9.0, 9.5])


def test_real_stream_lanes_never_overlap_within_a_row(tiny_corpus: Path) -> None:
    for record in iter_streams(tiny_corpus):
        lanes = event_lanes(record)
        assert sorted(map(id, (lane.event for lane in lanes))) == sorted(map(id, record.events))
        for a in lanes:
            for b in lanes:
                if a is not b and (a.event.role, a.row) == (b.event.role, b.row):
                    assert (
                        a.event.offset_s <= b.event.onset_s or b.event.offset_s <= a.event.onset_s
                    )


def test_pick_streams_spreads_over_subtasks_responses_first(tiny_corpus: Path) -> None:
    records = list(iter_streams(tiny_corpus))
    picked = pick_streams(records, 4)
    assert [r.subtask for r in picked] == [
        "sound_event_qa",
        "benign_silence",
        "hazard_alert",
        "sound_event_qa",
    ]
    assert [r.stream_id for r in picked[:3]] == [
        "sound_event_qa-s0-000000",
        "benign_silence-s0-000000",
        "hazard_alert-s0-000000",
    ]
    # a silent stream first in its subtask is passed over for one with a response
    silenced = dataclasses.replace(records[0], decisions=np.zeros_like(records[0].decisions))
    assert pick_streams([silenced, *records[1:3]], 1)[0].stream_id == "sound_event_qa-s0-000001"
    assert find_stream(tiny_corpus, "hazard_alert-s0-000002").stream_id == "hazard_alert-s0-000002"
    assert find_stream(tiny_corpus, "hazard_alert-s0-000009") is None


def test_manifest_rows_and_drops(tiny_corpus: Path) -> None:
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    rows = subtask_rows(manifest)
    assert [(r.ability, r.subtask, r.streams) for r in rows] == [
        ("audio_understanding", "sound_event_qa", 3),
        ("proactive_response", "benign_silence", 3),
        ("proactive_response", "hazard_alert", 3),
    ]
    assert {r.subtask: r.response_chunks for r in rows}["benign_silence"] == 0
    assert {r.subtask: r.verified_silent for r in rows}["benign_silence"] == 3
    manifest = {
        "drops": {"attempt:speech_too_long": 2, "no_verified_clip": 1},
        "quarantined_clips": {"silent": 3},
    }
    assert drop_counts(manifest) == {
        "attempt: speech_too_long": 2,
        "stream: no_verified_clip": 1,
        "clip: silent": 3,
    }


def test_log_spectrogram_peaks_at_the_tone() -> None:
    t = np.arange(16_000) / 16_000
    db, (t0, t1, f0, f1) = log_spectrogram(np.sin(2 * np.pi * 1000 * t), 16_000)
    assert db.shape[0] == 257 and f0 == 0 and f1 == pytest.approx(8000, rel=0.01)
    assert t0 <= 0 and t1 >= 1.0
    peak_hz = np.argmax(db[:, db.shape[1] // 2]) * 16_000 / 512
    assert peak_hz == pytest.approx(1000, abs=16_000 / 512)
    assert db.min() == pytest.approx(db.max() - 80)


def test_short_keeps_short_text_and_cuts_long_text() -> None:
    assert short("a  dog\nbarks", 20) == "a dog barks"
    cut = short("a dog barking in the garden next door", 12)
    assert len(cut) == 12 and cut.endswith("…")
