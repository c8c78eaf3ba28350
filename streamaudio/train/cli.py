"""`streamaudio train` and `streamaudio evaluate` (registered on the main Typer app)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

if TYPE_CHECKING:
    from streamaudio.train.learn import LearnSettings
    from streamaudio.train.trainer import StepLog

console = Console()
errors = Console(stderr=True)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(max(0.0, seconds))))


class DeadlineColumn(ProgressColumn):
    """A bar over seconds (`--max-minutes`): the trainer's own elapsed time and what is
    left to its deadline, rather than an ETA guessed from step speed."""

    def __init__(self) -> None:
        super().__init__(table_column=Column(no_wrap=True))  # the loss text wraps instead

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{_clock(task.completed)} elapsed, {_clock(task.total - task.completed)} "
                    "left", style="progress.remaining")


def training_progress(max_steps: int | None, max_minutes: float | None,
                      target: Console | None = None
                      ) -> tuple[Progress, Callable[[StepLog], None]]:
    """The train command's progress bar and the `on_step` that moves it: over steps (with
    their ETA) when `--max-steps` is given, else over the minutes to the deadline."""
    by_time = max_steps is None and max_minutes is not None
    clock: list[ProgressColumn] = [DeadlineColumn()] if by_time else [
        MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    progress = Progress(TextColumn("step {task.fields[step]}"), BarColumn(), *clock,
                        TextColumn("{task.fields[info]}"), console=target or console,
                        transient=True)
    total = max_minutes * 60 if by_time and max_minutes is not None else max_steps
    task = progress.add_task("train", total=total, step=0, info="checking the corpus")
    first: list[int] = []  # the first step logged: a resumed run counts from its own start

    def on_step(log: StepLog) -> None:
        first[:] = first or [log.step]
        info = (f"loss {log.loss:.3f} text {log.text_loss:.3f} control {log.control_loss:.3f}"
                f" {log.steps_per_s:.2f} steps/s")
        done = min(log.elapsed_s, total or 0.0) if by_time else log.step - first[0] + 1
        progress.update(task, completed=done, step=log.step, info=info)

    return progress, on_step


def train_command(
    corpus: Annotated[str, typer.Option(help="Corpus directory or fsspec URL.")],
    stage: Annotated[int, typer.Option(help="1 format, 2 adapter, 3 streaming SFT, "
                                       "4 instruction following.")],
    out: Annotated[Path, typer.Option(help="Checkpoint directory to write.")],
    config: Annotated[Path | None, typer.Option(help="Train config YAML.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a train config "
                                                   "key, e.g. --set data.batch_size=4")] = None,
    init: Annotated[Path | None, typer.Option(help="Start from this checkpoint (e.g. the "
                                              "previous stage's).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in --out exactly.")
                      ] = False,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this much time.")
                           ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
) -> None:
    """Train one stage of the streaming model on a corpus (dual loss, checkpoints, DDP
    under torchrun)."""
    from streamaudio.train.config import load_train_config
    from streamaudio.train.trainer import train

    try:
        cfg = load_train_config(config, set_)
    except (ValueError, OSError) as error:
        errors.print(f"[red]config error:[/] {error}")
        raise typer.Exit(2) from error
    progress, on_step = training_progress(max_steps, max_minutes)
    with progress:
        try:
            result = train(cfg, corpus, stage, out, init=init, resume=resume,
                           max_steps=max_steps, max_minutes=max_minutes, on_step=on_step)
        except (ValueError, OSError) as error:
            errors.print(f"[red]error:[/] {error}")
            raise typer.Exit(1) from error
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun, rank 0 speaks for the run
    last = result.logs[-1] if result.logs else None
    console.print(f"trained {result.steps} steps -> {out}" + (
        f" (loss {last.loss:.3f}, text {last.text_loss:.3f}, control {last.control_loss:.3f})"
        if last else ""))


def evaluate_command(
    checkpoint: Annotated[Path, typer.Option(help="A checkpoint from `streamaudio train`.")],
    corpus: Annotated[Path, typer.Option(help="Corpus directory to evaluate on.")],
    out: Annotated[Path | None, typer.Option(help="JSON report (default: "
                                             "<checkpoint>/evaluation.json).")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many streams.")] = None,
) -> None:
    """Run the streaming decode loop over a corpus; table + JSON beside two baselines."""
    from streamaudio.train.evaluate import evaluate, write_evaluation
    from streamaudio.train.metrics import comparison_table

    try:
        with console.status("evaluating"):
            result = evaluate(checkpoint, corpus, limit)
    except (ValueError, OSError) as error:
        errors.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    console.print(comparison_table(result.reports))
    target = out or Path(checkpoint) / "evaluation.json"
    write_evaluation(result, target)
    console.print(f"{result.streams} streams, {result.to_dict()['x_real_time']}x real time "
                  f"-> {target}")


def _verdict(value: bool | None) -> str:
    return "-" if value is None else ("ok" if value else "MISS")


def _learn_settings(out: Path, train_streams: int, heldout_streams: int, seed: int,
                    stage: int, max_minutes: float, max_steps: int | None,
                    workers: int | None, build_set: list[str] | None,
                    set_: list[str] | None, subtask: list[str] | None) -> LearnSettings:
    """`learn` and `ablation` options as LearnSettings: the held-out seed is seed + 1, and
    the train overrides are learn's defaults followed by --set."""
    from streamaudio.corpus import usable_cores
    from streamaudio.train.learn import TRAIN_DEFAULTS, LearnSettings

    return LearnSettings(
        out=out, train_streams=train_streams, heldout_streams=heldout_streams, seed=seed,
        heldout_seed=seed + 1, stage=stage, max_minutes=max_minutes, max_steps=max_steps,
        workers=workers or usable_cores(), build_overrides=tuple(build_set or ()),
        train_overrides=(*TRAIN_DEFAULTS, *(set_ or ())), subtasks=tuple(subtask or ()))


def learn_command(
    out: Annotated[Path, typer.Option(help="Directory for both corpora, the checkpoint and "
                                      "learn-report.json / .png.")] = Path("learn"),
    train_streams: Annotated[int, typer.Option(help="Streams of the training corpus "
                                               "(the paper's mixture).")] = 192,
    heldout_streams: Annotated[int, typer.Option(help="Streams of the held-out corpus.")
                               ] = 96,
    seed: Annotated[int, typer.Option(help="Training corpus seed (held-out: seed + 1).")] = 0,
    stage: Annotated[int, typer.Option(help="Training stage (3: streaming SFT, all "
                                       "parameters).")] = 3,
    max_minutes: Annotated[float, typer.Option(help="Training time.")] = 10.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop training after this many "
                                                  "steps (also).")] = None,
    workers: Annotated[int | None, typer.Option(help="Build processes [default: the cores "
                                                "this process may use].")] = None,
    build_set: Annotated[list[str] | None, typer.Option(
        "--build-set", help="Override a corpus config key for both corpora, e.g. "
        "--build-set tfjp.enabled=false")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a train config key, e.g. --set control_weight=3")] = None,
    subtask: Annotated[list[str] | None, typer.Option(
        help="Build only these subtasks (repeat); none: the paper's mixture.")] = None,
) -> None:
    """Build a training and a held-out corpus (disjoint clips and sentences), train the
    reference model for --max-minutes, evaluate on the held-out corpus beside two baselines
    and write learn-report.json and learn-report.png."""
    from streamaudio.stage import StageError
    from streamaudio.train.learn import REPORT_FILE, learn
    from streamaudio.train.metrics import comparison_table

    settings = _learn_settings(out, train_streams, heldout_streams, seed, stage, max_minutes,
                               max_steps, workers, build_set, set_, subtask)
    try:
        result = learn(settings, say=lambda text: console.print(f"[bold]{text}[/]"))
    except (ValueError, OSError, StageError) as error:
        errors.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    console.print(comparison_table(result.evaluation.reports))
    console.print("targets on held-out streams (%): hit (in the chunk or one late) >= 90, "
                  "false triggers <= 2 of verified-silent chunks; | better than each baseline")
    for name, row in result.report["groups"].items():
        hits, false = row["hit_or_late"], row["false_trigger_verified_silent"]
        beats = ", ".join(f"{b} {_verdict(v)}" for b, v in row["beats_baselines"].items())
        console.print(
            f"{name[:22]:22s} hit {'  -  ' if hits is None else f'{100 * hits:5.1f}'} "
            f"{_verdict(row['meets']['hit_or_late']):4s} v.silent "
            f"{'  -  ' if false is None else f'{100 * false:5.1f}'} "
            f"{_verdict(row['meets']['false_trigger_verified_silent']):4s} | {beats}",
            soft_wrap=True)
    walls = ", ".join(f"{k} {v:.0f} s" for k, v in result.wall_seconds.items())
    console.print(f"wall times: {walls}; report -> {out / REPORT_FILE}")


def _percent_cell(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def ablation_command(
    out: Annotated[Path, typer.Option(help="Directory for the corpora, checkpoints and "
                                      "ablation-report.json (shares make learn's held-out "
                                      "and training corpora when it is the same).")
                   ] = Path("learn"),
    train_streams: Annotated[int, typer.Option(help="Streams of each training corpus.")] = 192,
    heldout_streams: Annotated[int, typer.Option(help="Streams of the held-out corpus.")
                               ] = 96,
    seed: Annotated[int, typer.Option(help="Training corpus seed (held-out: seed + 1).")] = 0,
    stage: Annotated[int, typer.Option(help="Training stage.")] = 3,
    max_minutes: Annotated[float, typer.Option(help="Training time per variant.")] = 10.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop each training after this many "
                                                  "steps (also).")] = None,
    workers: Annotated[int | None, typer.Option(help="Build processes.")] = None,
    build_set: Annotated[list[str] | None, typer.Option(
        "--build-set", help="Override a corpus config key for every corpus.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a train config key for every variant.")] = None,
    variant: Annotated[list[str] | None, typer.Option(
        help="Run only the variants whose name contains this (repeat).")] = None,
    subtask: Annotated[list[str] | None, typer.Option(
        help="Build only these subtasks (repeat); none: the paper's mixture.")] = None,
) -> None:
    """The paper's ablations in direction: without TFJP, without event selection, without
    verified silence, and λ = 0.1 / 1 / 3, each trained for the same time on a corpus of the
    same seed and size, all evaluated on one held-out corpus."""
    from streamaudio.config import CatalogConfig
    from streamaudio.stage import StageError
    from streamaudio.train.ablation import REPORT_FILE, paper_variants, run_ablation

    settings = _learn_settings(out, train_streams, heldout_streams, seed, stage, max_minutes,
                               max_steps, workers, build_set, set_, subtask)
    catalog_dir = CatalogConfig().directory
    for item in build_set or ():
        if item.startswith("catalog.directory="):
            catalog_dir = Path(item.split("=", 1)[1])
    variants = [v for v in paper_variants(catalog_dir)
                if not variant or any(part in v.name for part in variant)]
    if not variants:
        errors.print(f"[red]error:[/] no variant matches {variant}")
        raise typer.Exit(2)
    try:
        report = run_ablation(settings, variants,
                              say=lambda text: console.print(f"[bold]{text}[/]"))
    except (ValueError, OSError, StageError) as error:
        errors.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    console.print(f"{'variant':26s} {'steps':>5s} {'hit≤1':>6s} {'false':>6s} {'v.sil.':>6s} "
                  f"{'tok acc':>7s}  paper")
    for row in report["variants"]:
        console.print(
            f"{row['variant'][:26]:26s} {row['steps']:5d} {_percent_cell(row['hit_or_late']):>6s}"
            f" {_percent_cell(row['false_trigger']):>6s}"
            f" {_percent_cell(row['false_trigger_verified_silent']):>6s}"
            f" {_percent_cell(row['text_token_accuracy']):>7s}  {row['paper']}", soft_wrap=True)
    console.print(f"% on held-out streams -> {out / REPORT_FILE}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
    app.command("learn")(learn_command)
    app.command("ablation")(ablation_command)
