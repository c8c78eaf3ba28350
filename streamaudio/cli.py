"""`streamaudio ...`: build, validate and inspect corpora; manage catalogs."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from streamaudio.config import Config, load_config
from streamaudio.corpus import (
    build_corpus,
    select_subtasks,
    shard_jobs,
    usable_cores,
)
from streamaudio.pipeline import CorpusBuilder
from streamaudio.shards.layout import MANIFEST_FILE
from streamaudio.shards.remote import display_url, is_remote, local_path
from streamaudio.split import SPLITS
from streamaudio.stage import StageError
from streamaudio.tasks.registry import all_subtasks
from streamaudio.taxonomy import load_taxonomy
from streamaudio.train.cli import register as register_train_commands
from streamaudio.views import stream_table, summary_tables

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
catalog_app = typer.Typer(
    help="Clip catalogs: ingest a folder of your own recordings.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML config file.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config key, e.g. --set compose.gap_s=[1.0,2.0]"),
]


def _config(path: Path | None, overrides: list[str] | None) -> Config:
    try:
        return load_config(path, overrides)
    except (ValueError, OSError) as error:
        errors.print(f"[red]config error:[/] {error}")
        raise typer.Exit(2) from error


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _local_dir(corpus: str) -> Path:
    """The corpus directory; a URL is refused with what to do instead."""
    if is_remote(corpus):
        raise _fail(f"{display_url(corpus)} is a URL: this command reads a local corpus "
                    "directory (copy the corpus down first)")
    return local_path(corpus)


def _shard_progress() -> Progress:
    """The shard progress bar that `build` and `regen` show while they work. Redrawn
    when a shard completes (`_advance`), not by rich's refresh thread: with no second
    thread in the process, the build's workers can be forked (`worker_start_method`)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True, auto_refresh=False)


def _advance(progress: Progress, task: TaskID) -> None:
    progress.advance(task)
    progress.refresh()


@app.command()
def build(
    out: Annotated[str, typer.Option(
        help="Corpus directory, or an fsspec URL such as s3://bucket/corpus (credentials "
        "and endpoint from the environment).")],
    subtask: Annotated[
        list[str] | None,
        typer.Option(help="Subtask to build (repeat for several); none for the paper's mixture."),
    ] = None,
    streams: Annotated[
        int,
        typer.Option(
            help="Streams per named subtask; without --subtask, the total split by the mixture "
            "(the paper's ability shares over the built subtasks)."
        ),
    ] = 16,
    seed: Annotated[int, typer.Option(help="Corpus seed.")] = 0,
    split: Annotated[str | None, typer.Option(
        help="Catalog split to draw clips, rooms, texts and voices from: train (for "
        "training) or heldout (to measure on; never trained on) [default: "
        "catalog.split, train].")] = None,
    config: ConfigOption = None,
    set_: SetOption = None,
    runner: Annotated[
        str,
        typer.Option(help="inline: no Prefect, --workers processes of this machine (1: "
                     "this process); thread, process or dask: the Prefect flow "
                     "(flows/build.py) on that task runner. Same bytes with any runner."),
    ] = "inline",
    workers: Annotated[int | None, typer.Option(
        help="Processes, threads or Dask workers [default: the cores this process may "
        "use].")] = None,
    dask_address: Annotated[
        str | None, typer.Option(help="An existing Dask scheduler (runner dask).")
    ] = None,
) -> None:
    """Build (or resume) a corpus: complete shards on disk are skipped."""
    if split is not None:
        if split not in SPLITS:
            raise _fail(f"--split must be one of {', '.join(SPLITS)}, not {split!r}")
        set_ = [*(set_ or []), f"catalog.split={split}"]
    workers = workers if workers is not None else usable_cores()
    if workers < 1:
        raise _fail(f"--workers must be at least 1, not {workers}")
    if runner != "inline":
        _build_with_flow(out, subtask, streams, seed, config, set_, runner, workers,
                         dask_address)
        return
    cfg = _config(config, set_)
    builder = CorpusBuilder(cfg)
    try:
        selection = select_subtasks(cfg, builder, subtask, streams)
    except KeyError as error:
        raise _fail(str(error.args[0])) from error
    chosen, counts, skipped = selection.subtasks, selection.counts, selection.skipped
    for name, reason in (skipped or {}).items():
        errors.print(f"[yellow]skipped {name}[/]: {reason}")
    if not subtask:
        console.print("mixture: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
    jobs = len(shard_jobs(chosen, counts, seed, cfg))
    with _shard_progress() as progress:
        task = progress.add_task("shards", total=jobs)
        try:
            report = build_corpus(
                out, chosen, counts, seed, cfg, on_shard=lambda _: _advance(progress, task),
                builder=builder, skipped=skipped, workers=workers,
            )
        except StageError as error:
            raise _fail(str(error)) from error
    for table in summary_tables(report.manifest):
        console.print(table)
    if report.skipped:
        console.print(f"{report.skipped} complete shard(s) were already there and kept.")
    console.print(f"Corpus written to {display_url(out)}")


def _build_with_flow(out: str, subtask: list[str] | None, streams: int, seed: int,
                     config: Path | None, set_: list[str] | None, runner: str, workers: int,
                     dask_address: str | None) -> None:
    """Run the Prefect flow (ephemeral: no server needed). Prefect lives in flows/,
    imported only here, so the library itself never imports it."""
    _config(config, set_)  # bad arguments are clear errors before any flow starts
    from flows.build import build_corpus as build_flow
    from flows.runners import make_task_runner

    try:
        make_task_runner(runner, workers, dask_address)
    except ValueError as error:
        raise _fail(str(error)) from error

    try:
        manifest = build_flow(config=str(config) if config else None, streams=streams,
                              seed=seed, out=out, runner=runner, workers=workers,
                              dask_address=dask_address, subtasks=subtask, overrides=set_,
                              progress=True)
    except (StageError, ValueError, KeyError) as error:
        raise _fail(str(error.args[0] if isinstance(error, KeyError) else error)) from error
    for table in summary_tables(manifest):
        console.print(table)
    console.print(f"Corpus written to {display_url(out)}")


@app.command()
def validate(corpus: Annotated[str, typer.Argument(
        help="Corpus directory, or its fsspec URL (downloaded to a temporary folder).")]
        ) -> None:
    """Check every invariant of every row; exit 1 with a reason per failing row."""
    from streamaudio.validate import validate_corpus

    if is_remote(corpus):
        from streamaudio.shards.remote import RemoteCorpus

        with tempfile.TemporaryDirectory(prefix="streamaudio-validate-") as tmp:
            errors.print(f"downloading {display_url(corpus)} to validate it")
            RemoteCorpus(corpus).download(Path(tmp))
            checked, failures = validate_corpus(Path(tmp))
    else:
        checked, failures = validate_corpus(local_path(corpus))
    for failure in failures:
        console.print(str(failure), markup=False, highlight=False)
    if failures:
        rows = {(f.where, f.stream_id) for f in failures}
        errors.print(
            f"[red]{len(failures)} failure(s) in {len(rows)} row(s)/shard(s)[/] "
            f"of {checked} rows checked"
        )
        raise typer.Exit(1)
    console.print(f"OK: {checked} rows valid")


@app.command()
def inspect(
    corpus_dir: Annotated[str, typer.Argument(help="Corpus directory.")],
    stream: Annotated[str | None, typer.Option(help="Show this stream chunk by chunk.")] = None,
) -> None:
    """Summary table, or one stream's chunk-by-chunk labels with --stream."""
    corpus = _local_dir(corpus_dir)
    manifest_path = corpus / MANIFEST_FILE
    if not manifest_path.exists():
        raise _fail(f"{corpus} has no {MANIFEST_FILE}: not a built corpus")
    if stream is None:
        for table in summary_tables(json.loads(manifest_path.read_text())):
            console.print(table)
        return
    from streamaudio.shards.reader import iter_streams

    for record in iter_streams(corpus, subtask=stream.rsplit("-s", 1)[0]):
        if record.stream_id == stream:
            if record.instruction:
                console.print(f"instruction: {record.instruction}")
            console.print(stream_table(record))
            return
    raise _fail(f"no stream {stream!r} in {corpus}")


@app.command()
def report(
    corpus_dir: Annotated[str, typer.Argument(help="Corpus directory.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    streams: Annotated[int, typer.Option(help="Streams to show, spread over subtasks.")] = 6,
) -> None:
    """A static HTML page: summary table, distributions, and for a few streams the
    waveform, spectrogram, events, responses and an audio player (one file)."""
    corpus = _local_dir(corpus_dir)
    if not (corpus / MANIFEST_FILE).exists():
        raise _fail(f"{corpus} has no {MANIFEST_FILE}: not a built corpus")
    from streamaudio.inspect.report import write_report  # matplotlib loads only here

    console.print(f"Report written to {write_report(corpus, out, streams)}")


@app.command()
def regen(
    subtask: Annotated[str, typer.Argument(help="Subtask whose shards to rebuild.")],
    corpus_dir: Annotated[str, typer.Option("--corpus", help="Corpus directory.")],
    shards: Annotated[
        str | None, typer.Option(help="Only these shard indices, comma-separated, e.g. 3,7.")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="New corpus seed for these shards (default: each shard's own)."),
    ] = None,
    set_: SetOption = None,
    runner: Annotated[
        str,
        typer.Option(help="inline: this process, no Prefect; flow: the Prefect flow "
                     "regenerate-subtask (a flow run and a summary artifact), same bytes."),
    ] = "inline",
) -> None:
    """Rebuild one subtask's shards with the corpus's own config, atomically: every
    other shard stays as it is; a failure leaves the corpus untouched."""
    from streamaudio.regen import load_corpus_config, regen_subtask

    if is_remote(corpus_dir):
        raise _fail(f"regen works on a local corpus, not {display_url(corpus_dir)}: it swaps "
                    "shards under a file lock. Copy the corpus down, regen, copy it back.")
    if runner not in ("inline", "flow"):
        raise _fail(f"--runner is inline or flow, not {runner!r}")
    corpus = _local_dir(corpus_dir)
    try:
        indices = [int(part) for part in shards.split(",")] if shards else None
    except ValueError as error:
        raise _fail(f"--shards takes shard indices like 3,7, not {shards!r}") from error
    if runner == "flow":
        _regen_with_flow(corpus, subtask, indices, seed, set_)
        return
    try:
        cfg = load_corpus_config(corpus, set_)
    except (StageError, ValueError, OSError) as error:
        errors.print(f"[red]config error:[/] {error}")
        raise typer.Exit(2) from error
    with _shard_progress() as progress:
        task = progress.add_task("shards", total=None)

        def staged(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, refresh=True)

        try:
            rebuilt = regen_subtask(corpus, subtask, cfg, indices, seed, on_shard=staged)
        except StageError as error:
            raise _fail(str(error)) from error
    for shard in rebuilt.shards:
        target = shard.target
        what = "replaced" if shard.changed else "unchanged (same bytes)"
        where = target.path.relative_to(corpus).as_posix()
        console.print(
            f"{where}: {shard.streams} stream(s), seed {target.old_seed} -> {target.seed}, {what}",
            highlight=False,
        )
    for table in summary_tables(rebuilt.manifest):
        console.print(table)


def _regen_with_flow(corpus: Path, subtask: str, indices: list[int] | None, seed: int | None,
                     set_: list[str] | None) -> None:
    """Run the regenerate-subtask flow (ephemeral: no server needed); it prints each
    shard's line itself."""
    from flows.regen import regenerate_subtask

    try:
        result = regenerate_subtask(str(corpus), subtask, indices, seed, set_)
    except (StageError, ValueError, OSError) as error:
        raise _fail(str(error)) from error
    for table in summary_tables(result["manifest"]):
        console.print(table)


@app.command()
def subtasks(config: ConfigOption = None, set_: SetOption = None) -> None:
    """List the 28 subtasks of the taxonomy with their mixture share here: built
    ones, those this configuration cannot build (and why), and planned ones."""
    cfg = _config(config, set_)
    taxonomy = load_taxonomy(cfg.catalog.directory)
    builder = CorpusBuilder(cfg)
    blocked = {s.name: reason for s in all_subtasks()
               if (reason := builder.unavailable(s)) is not None}
    weights = taxonomy.weights({s.name for s in all_subtasks()} - set(blocked))
    for ability, spec in taxonomy.abilities.items():
        console.print(f"[bold]{ability}[/] ({spec.share} % of the paper's corpus)")
        for name, sub in spec.subtasks.items():
            share = (f"{100 * weights[name]:.1f} %" if name in weights
                     else f"skipped: {blocked[name]}" if name in blocked else "planned")
            console.print(f"  {name} [{share}]: {sub.contains}", markup=False,
                          highlight=False)


@catalog_app.command("ingest")
def catalog_ingest(
    directory: Annotated[Path, typer.Argument(help="Folder of your recordings.")],
    metadata: Annotated[
        Path,
        typer.Option(
            help="CSV (ESC-50 style or path,sound_class,...) or JSONL describing the files."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Catalog JSONL to write.")],
    name: Annotated[str, typer.Option(help="Catalog name, the clip id prefix.")] = "local",
    license_: Annotated[
        str, typer.Option("--license", help="Licence for rows without one.")
    ] = "unknown",
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Validate every file of a folder and write a clip catalog for the good ones;
    bad files are quarantined with their reason."""
    from streamaudio.retrieve.ingest import ingest_directory

    cfg = _config(config, set_)
    try:
        report = ingest_directory(directory, metadata, out, name, cfg, default_license=license_)
    except (ValueError, OSError) as error:
        raise _fail(str(error)) from error
    console.print(report.summary())


@catalog_app.command("split")
def catalog_split(
    check: Annotated[bool, typer.Option(
        help="Write nothing; exit 1 if a row has no split yet.")] = False,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Give every clip, room and text row of catalog.directory that has none its
    train / held-out split (stratified by class, by the hash of the id); rows that
    have one keep it."""
    from streamaudio.split import split_catalogs

    directory = _config(config, set_).catalog.directory
    changed = split_catalogs(directory, write=not check)
    for path, counts in changed.items():
        what = "rows without a split" if check else "wrote"
        console.print(f"{what}: {path} ({counts['train']} train, {counts['heldout']} heldout)")
    if not changed:
        console.print(f"every row under {directory} has its split")
    if check and changed:
        raise typer.Exit(1)


register_train_commands(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # python -m streamaudio.cli
    main()
