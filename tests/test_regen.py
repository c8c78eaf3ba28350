import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from streamaudio import cli
from streamaudio.cli import app
from streamaudio.config import Config, load_config
from streamaudio.corpus import build_corpus, reproducible_files
from streamaudio.pipeline import CorpusBuilder
from streamaudio.regen import (
    STAGING_PREFIX,
    corpus_lock,
    load_corpus_config,
    regen_subtask,
)
from streamaudio.shards.layout import remove_stale_staging
from streamaudio.shards.reader import iter_streams, read_shard_meta
from streamaudio.stage import StageError
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus

HAZARD = "proactive_response/hazard_alert"
runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # tables are as wide as the terminal; the test runner's default 80 columns cut names
    monkeypatch.setattr(cli, "console", Console(width=200))
    monkeypatch.setattr(cli, "errors", Console(width=200, stderr=True))


@pytest.fixture
def cfg(world: Path, tmp_path: Path) -> Config:
    return load_config(
        overrides=[
            f"catalog.directory={world}",
            "shards.streams_per_shard=2",
            "retrieval.mode=class",
            f"cache.directory={tmp_path / 'cache'}",
        ]
    )


@pytest.fixture
def corpus(tmp_path: Path, cfg: Config) -> Path:
    """Two subtasks of 3 streams: shards of 2 + 1 streams each."""
    root = tmp_path / "corpus"
    build_corpus(root, [get_subtask("hazard_alert"), get_subtask("benign_silence")], 3, 0, cfg)
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest()
            for name, data in reproducible_files(root).items()}


def _changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    assert set(before) == set(after)  # no file appeared or vanished (staging is gone)
    return {path for path in before if before[path] != after[path]}


def test_same_seed_rebuilds_the_same_bytes(corpus: Path, cfg: Config) -> None:
    before = _hashes(corpus)
    report = regen_subtask(corpus, "hazard_alert", cfg)
    assert [(s.target.shard_index, s.streams, s.changed) for s in report.shards] == [
        (0, 2, False),
        (1, 1, False),
    ]
    assert _hashes(corpus) == before  # every shard, manifest, card, config, quarantine


def test_new_seed_changes_only_that_subtask(corpus: Path, cfg: Config) -> None:
    before = _hashes(corpus)
    report = regen_subtask(corpus, "hazard_alert", cfg, seed=9)
    changed = _changed(before, _hashes(corpus))
    hazard_shards = {f"{HAZARD}/shard-00000.parquet", f"{HAZARD}/shard-00001.parquet"}
    records = {f".progress/{HAZARD}/shard-0000{i}.json" for i in (0, 1)}
    assert changed - {"manifest.json", "README.md"} == hazard_shards | records
    streams = list(iter_streams(corpus, subtask="hazard_alert"))
    assert [s.stream_id for s in streams] == [f"hazard_alert-s9-{i:06d}" for i in range(3)]
    assert {s.seed for s in streams} == {9}
    assert read_shard_meta(corpus / f"{HAZARD}/shard-00001.parquet")["corpus_seed"] == 9
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest == report.manifest
    assert manifest["subtasks"]["hazard_alert"]["streams"] == 3
    stats = manifest["subtasks"]["hazard_alert"]
    # one warning each, or none in a negative (the hazard never comes)
    assert stats["response_chunks"] + stats["verified_silent_streams"] == 3
    assert manifest["totals"]["streams"] == 6
    seconds = sum(s.num_samples for s in iter_streams(corpus)) / 16_000
    assert manifest["totals"]["seconds"] == pytest.approx(seconds)
    assert (
        f"**6 streams, {manifest['totals']['hours']:.3f} hours"
        in (corpus / "README.md").read_text()
    )
    assert validate_corpus(corpus) == (6, [])
    regen_subtask(corpus, "hazard_alert", cfg, seed=0)  # the old seed gives the old bytes
    assert _hashes(corpus) == before


def test_named_shards_only(corpus: Path, cfg: Config) -> None:
    before = _hashes(corpus)
    report = regen_subtask(corpus, "hazard_alert", cfg, shard_indices=[1], seed=5)
    assert [(s.target.shard_index, s.target.old_seed, s.target.seed) for s in report.shards] == [
        (1, 0, 5)
    ]
    changed = _changed(before, _hashes(corpus))
    assert changed - {"manifest.json", "README.md"} == {
        f"{HAZARD}/shard-00001.parquet", f".progress/{HAZARD}/shard-00001.json"}
    ids = [s.stream_id for s in iter_streams(corpus, subtask="hazard_alert")]
    assert ids == ["hazard_alert-s0-000000", "hazard_alert-s0-000001", "hazard_alert-s5-000002"]
    assert validate_corpus(corpus) == (6, [])


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failure_midway_leaves_the_corpus_untouched(
    corpus: Path, cfg: Config, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    before = _hashes(corpus)
    real = CorpusBuilder.build_shard
    calls: list[int] = []

    def second_fails(self: CorpusBuilder, root: Path, *args: int) -> object:
        calls.append(args[1])
        if len(calls) == 2:
            raise error
        return real(self, root, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(CorpusBuilder, "build_shard", second_fails)
    with pytest.raises(StageError if isinstance(error, Exception) else KeyboardInterrupt):
        regen_subtask(corpus, "hazard_alert", cfg, seed=9)
    assert calls == [0, 1]
    assert _hashes(corpus) == before  # includes: no staging directory left
    assert not list(corpus.glob(f"{STAGING_PREFIX}*"))


def test_a_staged_shard_that_does_not_validate_is_not_committed(
    corpus: Path, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _hashes(corpus)
    real = CorpusBuilder.build_shard

    def wrong_labels(self: CorpusBuilder, root: Path, *args: int) -> object:
        outcome = real(self, root, *args)  # type: ignore[arg-type]
        table = pq.read_table(outcome.path)  # same schema and metadata, one label moved
        rows = table.to_pylist()
        rows[0]["decisions"] = [0, *rows[0]["decisions"][:-1]]
        rows[0]["responses"] = ["", *rows[0]["responses"][:-1]]
        rows[0]["emotions"] = ["", *rows[0]["emotions"][:-1]]
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), outcome.path)
        return outcome

    monkeypatch.setattr(CorpusBuilder, "build_shard", wrong_labels)
    with pytest.raises(StageError, match=r"do not validate.*labels differ"):
        regen_subtask(corpus, "hazard_alert", cfg, seed=9)
    assert _hashes(corpus) == before


def test_stale_staging_is_removed_unless_a_regen_holds_the_lock(corpus: Path, cfg: Config) -> None:
    stale = corpus / f"{STAGING_PREFIX}424242"
    (stale / "proactive_response").mkdir(parents=True)
    with corpus_lock(corpus):
        assert remove_stale_staging(corpus) == []
        with pytest.raises(StageError, match="another regen is running"):
            regen_subtask(corpus, "hazard_alert", cfg)
    assert stale.exists()
    regen_subtask(corpus, "benign_silence", cfg)
    assert not stale.exists()
    stale.mkdir()
    assert remove_stale_staging(corpus) == [stale] and not stale.exists()


def test_the_corpus_config_is_reused_and_hash_changes_refused(
    corpus: Path, cfg: Config, tmp_path: Path
) -> None:
    local = [f"cache.directory={tmp_path / 'elsewhere'}", f"catalog.directory={tmp_path}"]
    loaded = load_corpus_config(corpus, local)
    assert loaded.hash() == cfg.hash() and loaded.cache.directory == tmp_path / "elsewhere"
    assert load_corpus_config(corpus) == cfg
    with pytest.raises(StageError, match=r"--set retrieval.mode=embedding would change"):
        load_corpus_config(corpus, ["retrieval.mode=embedding", local[0]])
    other = load_config(overrides=[f"catalog.directory={cfg.catalog.directory}"])
    with pytest.raises(StageError, match="built with config"):
        regen_subtask(corpus, "hazard_alert", other)


def test_cli_regen(corpus: Path) -> None:
    result = runner.invoke(
        app, ["regen", "hazard_alert", "--corpus", str(corpus), "--shards", "1", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    assert f"{HAZARD}/shard-00001.parquet: 1 stream(s), seed 0 -> 5, replaced" in result.output
    assert "shard-00000" not in result.output and "Per subtask" in result.output
    result = runner.invoke(app, ["regen", "hazard_alert", "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "seed 5 -> 5, unchanged" in result.output
    assert runner.invoke(app, ["validate", str(corpus)]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope"], 1, "unknown subtask 'nope'"),
        (["sound_event_qa"], 1, "holds no shards of 'sound_event_qa'"),
        (["hazard_alert", "--shards", "1,7"], 1, "hazard_alert has no shard [7]"),
        (["hazard_alert", "--shards", "x"], 1, "--shards takes shard indices"),
        (["hazard_alert", "--set", "retrieval.mode=embedding"], 2, "would change the config hash"),
    ],
)
def test_cli_regen_errors(corpus: Path, args: list[str], code: int, message: str) -> None:
    before = _hashes(corpus)
    result = runner.invoke(app, ["regen", *args, "--corpus", str(corpus)])
    assert result.exit_code == code and message in result.output, result.output
    assert _hashes(corpus) == before


def test_a_relaunched_build_keeps_regenerated_shards(corpus: Path, cfg: Config) -> None:
    regen_subtask(corpus, "hazard_alert", cfg, seed=9)
    after_regen = _hashes(corpus)
    report = build_corpus(corpus, [get_subtask("hazard_alert"), get_subtask("benign_silence")],
                          3, 0, cfg)
    assert report.skipped == 4  # every shard, the regenerated ones too, is kept
    changed = _changed(after_regen, _hashes(corpus))
    assert not {name for name in changed if name.endswith(".parquet")}
