"""Rich tables shown by the CLI: corpus summary and one stream's chunks."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from streamaudio.shards.reader import StreamRecord


def summary_tables(manifest: dict[str, Any]) -> list[Table]:
    totals = manifest["totals"]
    overview = Table(title="Corpus", show_header=False)
    overview.add_row("streams", str(totals["streams"]))
    overview.add_row("hours", f"{totals['hours']:.4f}")
    overview.add_row("shards", str(totals["shards"]))
    overview.add_row("response share of chunks", f"{totals['response_share']:.3f}")
    overview.add_row("verified-silent share of chunks",
                     f"{totals.get('verified_silent_share', 0.0):.3f}")
    for name, reason in manifest.get("skipped_subtasks", {}).items():
        overview.add_row(f"skipped {name}", reason)
    overview.add_row("config hash", manifest["config_hash"])

    # abilities are in manifest.json and the dataset card; at 80 columns the
    # subtask names need the room
    per_subtask = Table(title="Per subtask", box=box.SIMPLE_HEAD)
    per_subtask.add_column("subtask", no_wrap=True)
    for column in ("streams", "seconds", "resp.", "silent", "retried", "dropped"):
        per_subtask.add_column(column, justify="right", no_wrap=True, min_width=len(column))
    for name, stats in manifest["subtasks"].items():
        drops = stats["drops"]
        retried = sum(n for reason, n in drops.items() if reason.startswith("attempt:"))
        per_subtask.add_row(name, str(stats["streams"]), f"{stats['seconds']:.1f}",
                            str(stats["response_chunks"]), str(stats["verified_silent_streams"]),
                            str(retried), str(sum(drops.values()) - retried))

    drops = Table(title="Drops and quarantine by reason")
    drops.add_column("what")
    drops.add_column("reason")
    drops.add_column("count", justify="right")
    for reason, count in manifest["drops"].items():
        drops.add_row("stream attempt" if reason.startswith("attempt:") else "stream",
                      reason.split(":", 1)[-1], str(count))
    for reason, count in sorted(manifest.get("quarantined_clips", {}).items()):
        drops.add_row("clip quarantined", reason, str(count))
    if not drops.row_count:
        drops.add_row("-", "none", "0")
    return [overview, per_subtask, drops, grounding_table(totals.get("grounding", {}))]


def grounding_table(grounding: dict[str, Any]) -> Table:
    """How sound events found their clips: retrieval, generation, what failed."""
    table = Table(title="Grounding of sound events", show_header=False)
    counts = grounding.get("counts", {})
    table.add_row("sound events (grounding attempts)", str(counts.get("sound_events", 0)))
    table.add_row("retrieval hit rate", f"{grounding.get('retrieval_hit_rate', 0.0):.3f}")
    for backend, rate in grounding.get("fallback_rate", {}).items():
        table.add_row(f"fallback rate: {backend}", f"{rate:.3f}")
    for criterion, count in grounding.get("verification_failures", {}).items():
        table.add_row(f"verification failed: {criterion}", str(count))
    return table


def stream_table(record: StreamRecord) -> Table:
    chunk_s = record.chunk_ms / 1000
    table = Table(title=f"{record.stream_id} ({record.subtask}, {record.setting}, "
                        f"{record.num_samples / record.sample_rate:.2f} s)")
    table.add_column("chunk", justify="right")
    table.add_column("time (s)")
    table.add_column("decision")
    table.add_column("emotion")
    table.add_column("response")
    table.add_column("events ending here")
    for index in range(record.num_chunks):
        start, end = index * chunk_s, (index + 1) * chunk_s
        ending = [event.caption for event in record.events if start < event.offset_s <= end]
        decision = "response" if record.decisions[index] else "silent"
        table.add_row(str(index), f"{start:5.1f}-{end:4.1f}",
                      f"[bold green]{decision}[/]" if record.decisions[index] else decision,
                      record.emotions[index], record.responses[index], "; ".join(ending))
    return table
