"""`streamaudio ...`: build, validate and inspect corpora; manage catalogs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streamaudio.config import Config, load_config
from streamaudio.corpus import MANIFEST_FILE, build_corpus, shard_jobs
from streamaudio.stage import StageError
from streamaudio.tasks.registry import Subtask, all_subtasks, get_subtask
from streamaudio.views import stream_table, summary_tables

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
catalog_app = typer.Typer(help="Clip catalogs: ingest a folder of your own recordings.",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", help="YAML config file.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", help="Override one config key, e.g. --set compose.gap_s=[1.0,2.0]")]


def _config(path: Path | None, overrides: list[str] | None) -> Config:
    try:
        return load_config(path, overrides)
    except (ValueError, OSError) as error:
        errors.print(f"[red]config error:[/] {error}")
        raise typer.Exit(2) from error


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _subtasks(names: list[str]) -> list[Subtask]:
    if not names or names == ["all"]:
        return all_subtasks()
    try:
        return [get_subtask(name) for name in names]
    except KeyError as error:
        raise _fail(str(error.args[0])) from error


@app.command()
def build(
    out: Annotated[Path, typer.Option(help="Corpus directory.")],
    subtask: Annotated[list[str] | None, typer.Option(
        help="Subtask to build (repeat for several); 'all' or none for every subtask.")] = None,
    streams: Annotated[int, typer.Option(help="Streams per subtask.")] = 16,
    seed: Annotated[int, typer.Option(help="Corpus seed.")] = 0,
    config: ConfigOption = None,
    set_: SetOption = None,
) -> None:
    """Build (or resume) a corpus: complete shards on disk are skipped."""
    cfg = _config(config, set_)
    chosen = _subtasks(subtask or [])
    jobs = len(shard_jobs(chosen, streams, seed, cfg))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("shards", total=jobs)
        try:
            report = build_corpus(out, chosen, streams, seed, cfg,
                                  on_shard=lambda _: progress.advance(task))
        except StageError as error:
            raise _fail(str(error)) from error
    for table in summary_tables(report.manifest):
        console.print(table)
    if report.skipped:
        console.print(f"{report.skipped} complete shard(s) were already on disk and kept.")
    console.print(f"Corpus written to {out}")


@app.command()
def validate(corpus: Annotated[Path, typer.Argument(help="Corpus directory.")]) -> None:
    """Check every invariant of every row; exit 1 with a reason per failing row."""
    from streamaudio.validate import validate_corpus

    checked, failures = validate_corpus(corpus)
    for failure in failures:
        console.print(str(failure), markup=False, highlight=False)
    if failures:
        rows = {(f.where, f.stream_id) for f in failures}
        errors.print(f"[red]{len(failures)} failure(s) in {len(rows)} row(s)/shard(s)[/] "
                     f"of {checked} rows checked")
        raise typer.Exit(1)
    console.print(f"OK: {checked} rows valid")


@app.command()
def inspect(
    corpus: Annotated[Path, typer.Argument(help="Corpus directory.")],
    stream: Annotated[str | None, typer.Option(help="Show this stream chunk by chunk.")] = None,
) -> None:
    """Summary table, or one stream's chunk-by-chunk labels with --stream."""
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
def subtasks() -> None:
    """List the subtasks this version can build."""
    for item in all_subtasks():
        console.print(f"[bold]{item.name}[/] ({item.ability}): {item.summary}")


@catalog_app.command("ingest")
def catalog_ingest(
    directory: Annotated[Path, typer.Argument(help="Folder of your recordings.")],
    metadata: Annotated[Path, typer.Option(help="CSV (ESC-50 style or path,sound_class,...) "
                                                "or JSONL describing the files.")],
    out: Annotated[Path, typer.Option(help="Catalog JSONL to write.")],
    name: Annotated[str, typer.Option(help="Catalog name, the clip id prefix.")] = "local",
    license_: Annotated[str, typer.Option("--license", help="Licence for rows without one.")]
    = "unknown",
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


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
