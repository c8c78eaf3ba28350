"""What a flow run shows a person: a markdown summary (published as a Prefect
artifact) and, on a terminal, a progress bar over shards."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_markdown(manifest: dict[str, Any], root: Path | str) -> str:
    """Streams and hours, per-subtask counts, drops by reason, retrieval and
    fallback rates, and this run's time by stage."""
    totals = manifest["totals"]
    run = manifest.get("last_run", {})
    grounding = totals.get("grounding", {})
    parts = [
        f"# StreamAudio corpus: `{root}`",
        f"**{totals['streams']} streams, {totals['hours']:.3f} h** in {totals['shards']} shards "
        f"(config `{manifest['config_hash']}`); response share {totals['response_share']:.3f}, "
        f"verified-silent share {totals.get('verified_silent_share', 0.0):.3f}.",
    ]
    if run:
        parts.append(
            f"This run ({run['runner']}): {run['shards_built']} shards built, "
            f"{run['shards_kept']} already complete and kept, {run['streams_built']} streams, "
            f"{run['wall_seconds']:.1f} s wall time.")
        parts.append(_table(["stage", "seconds (all workers)"],
                            [[k, f"{v:.1f}"] for k, v in run["stage_seconds"].items()]))
    parts.append("## Per subtask")
    parts.append(_table(
        ["subtask", "streams", "seconds", "response chunks", "verified-silent streams",
         "drops"],
        [[name, s["streams"], f"{s['seconds']:.1f}", s["response_chunks"],
          s["verified_silent_streams"], sum(s["drops"].values())]
         for name, s in manifest["subtasks"].items()]))
    parts.append("## Drops by reason")
    drops = manifest.get("drops", {})
    parts.append(_table(["reason", "count"], [[k, v] for k, v in drops.items()])
                 if drops else "none")
    parts.append("## Grounding")
    rates = [["retrieval hit rate", f"{grounding.get('retrieval_hit_rate', 0.0):.3f}"]]
    rates += [[f"fallback rate: {backend}", f"{rate:.3f}"]
              for backend, rate in grounding.get("fallback_rate", {}).items()]
    parts.append(_table(["measure", "value"], rates))
    for name, reason in manifest.get("skipped_subtasks", {}).items():
        parts.append(f"Skipped `{name}`: {reason}")
    return "\n\n".join(parts) + "\n"


@contextlib.contextmanager
def shard_progress(total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar over shards when enabled; yields the `advance` call."""
    if not enabled:
        yield lambda: None
        return
    with Progress(TextColumn("shards"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task("shards", total=total)
        yield lambda: progress.advance(task)
