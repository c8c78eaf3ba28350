"""HTML pieces shared by the report and the notebook: the per-subtask summary,
a stream's response chunks, and an audio player. Every text is escaped."""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

import soundfile as sf

from streamaudio.inspect.data import response_chunks, subtask_rows
from streamaudio.shards.reader import StreamRecord


def _table(header: list[str], rows: list[list[Any]], css: str) -> str:
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def summary_table_html(manifest: dict[str, Any]) -> str:
    """One row per subtask (with its ability) and a total row."""
    header = [
        "ability",
        "subtask",
        "streams",
        "seconds",
        "response chunks",
        "response share",
        "verified silent",
        "retried",
        "dropped",
    ]
    rows = [
        [
            r.ability,
            r.subtask,
            r.streams,
            f"{r.seconds:.1f}",
            r.response_chunks,
            f"{r.response_share:.3f}",
            r.verified_silent,
            r.retried,
            r.dropped,
        ]
        for r in subtask_rows(manifest)
    ]
    t = manifest["totals"]
    retried = sum(n for reason, n in t["drops"].items() if reason.startswith("attempt:"))
    rows.append(
        [
            "total",
            "",
            t["streams"],
            f"{t['seconds']:.1f}",
            t["response_chunks"],
            f"{t['response_share']:.3f}",
            t["verified_silent_streams"],
            retried,
            sum(t["drops"].values()) - retried,
        ]
    )
    return _table(header, rows, "summary")


def grounding_html(manifest: dict[str, Any]) -> str:
    """How sound events found their clips, as in `streamaudio inspect`."""
    grounding = manifest["totals"].get("grounding", {})
    rows = [
        ["sound events", grounding.get("counts", {}).get("sound_events", 0)],
        ["retrieval hit rate", f"{grounding.get('retrieval_hit_rate', 0.0):.3f}"],
    ]
    for backend, rate in grounding.get("fallback_rate", {}).items():
        rows.append([f"fallback rate: {backend}", f"{rate:.3f}"])
    for criterion, count in grounding.get("verification_failures", {}).items():
        rows.append([f"verification failed: {criterion}", count])
    return _table(["grounding", ""], rows, "grounding")


def chunk_table_html(record: StreamRecord) -> str:
    chunks = response_chunks(record)
    if not chunks:
        return "<p><em>Every chunk is silent.</em></p>"
    rows = [[c.index, f"{c.start_s:.1f}–{c.end_s:.1f}", c.emotion, c.response] for c in chunks]
    return _table(["chunk", "time (s)", "emotion", "response"], rows, "chunks")


def wav_bytes(record: StreamRecord) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, record.audio, record.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def audio_html(record: StreamRecord) -> str:
    # WAV rather than the shard's FLAC: every browser plays 16-bit PCM WAV
    data = base64.b64encode(wav_bytes(record)).decode("ascii")
    return f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio>'
