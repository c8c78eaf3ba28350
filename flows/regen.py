"""`regenerate_subtask`: the flow behind `streamaudio regen`. Regeneration stages,
validates and swaps shards under a corpus lock (streamaudio/regen.py), so it is
one coarse task; the flow adds the Prefect run record and the summary artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.report import run_markdown
from streamaudio.regen import load_corpus_config, regen_subtask


@task(name="regenerate-shards", cache_policy=NO_CACHE, task_run_name="regen-{subtask}")
def regenerate_shards(corpus: str, subtask: str, shards: list[int] | None, seed: int | None,
                      overrides: list[str] | None) -> dict[str, Any]:
    cfg = load_corpus_config(Path(corpus), overrides or [])
    report = regen_subtask(Path(corpus), subtask, cfg, shards, seed)
    return {"manifest": report.manifest,
            "shards": [{"path": str(s.target.path), "streams": s.streams, "changed": s.changed,
                        "old_seed": s.target.old_seed, "seed": s.target.seed}
                       for s in report.shards]}


@flow(name="regenerate-subtask", log_prints=True)
def regenerate_subtask(corpus: str, subtask: str, shards: list[int] | None = None,
                       seed: int | None = None, overrides: list[str] | None = None
                       ) -> dict[str, Any]:
    """Rebuild one subtask's shards (all, or `shards`) with the corpus's own config;
    every other shard stays byte-identical, and a failure changes nothing."""
    result = regenerate_shards(corpus, subtask, shards, seed, overrides)
    for shard in result["shards"]:
        state = "replaced" if shard["changed"] else "unchanged (same bytes)"
        print(f"{shard['path']}: {shard['streams']} stream(s), seed {shard['old_seed']} -> "
              f"{shard['seed']}, {state}")
    create_markdown_artifact(run_markdown(result["manifest"], corpus),
                             key="corpus-regen-summary",
                             description=f"StreamAudio: {subtask} regenerated in {corpus}")
    return result
