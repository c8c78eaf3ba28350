import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import soundfile as sf
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from typer.testing import CliRunner

from streamaudio.cli import app
from streamaudio.compose.labels import verified_silent_chunks
from streamaudio.inspect.figures import RESPONSE_GID, SILENT_GID, stream_figure, summary_figures
from streamaudio.inspect.report import write_report
from streamaudio.schema import GroundedPlan
from streamaudio.shards.reader import StreamRecord, iter_streams

SUBTASKS = {"hazard_alert", "benign_silence", "sound_event_qa"}


class _Page(HTMLParser):
    """Tag counts, <audio> sources, and the summary table's cells by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.audio: list[str] = []
        self.summary: list[list[str]] = []
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        found = dict(attrs)
        if tag == "audio":
            self.audio.append(found["src"] or "")
        if tag == "table":
            self._table = found.get("class")
        if tag == "tr" and self._table == "summary":
            self.summary.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._table == "summary" and self.summary:
            self.summary[-1].append(data)


def _axes(fig: Figure, label: str) -> Axes:
    return next(ax for ax in fig.axes if ax.get_label() == label)


def _check_stream_figure(record: StreamRecord) -> None:
    fig = stream_figure(record)
    responses = int(record.decisions.sum())
    wave = _axes(fig, "waveform")
    shaded = [p for p in wave.patches if p.get_gid() == RESPONSE_GID]
    assert len(shaded) == responses
    starts = sorted(p.get_x() for p in shaded)
    assert starts == [0.4 * i for i in np.flatnonzero(record.decisions)]
    plan = GroundedPlan.model_validate_json(record.plan)
    tinted = sorted(round(p.get_x() / 0.4) for p in wave.patches if p.get_gid() == SILENT_GID)
    assert tinted == verified_silent_chunks(plan, 6_400)
    assert not set(tinted) & set(np.flatnonzero(record.decisions).tolist())
    assert len(_axes(fig, "responses").texts) == max(responses, 1)  # or "every chunk silent"
    grid = [c for c in wave.collections if isinstance(c, LineCollection)]
    assert len(grid) == 1 and len(grid[0].get_segments()) == record.num_chunks + 1
    assert len(_axes(fig, "events").patches) == len(record.events)  # one bar per event
    assert len(_axes(fig, "events").texts) == len(record.events)
    assert _axes(fig, "spectrogram").images[0].get_array().shape[0] == 257


def test_stream_figure_shades_each_response_chunk(tiny_corpus: Path) -> None:
    for record in iter_streams(tiny_corpus):
        _check_stream_figure(record)


def test_summary_figures(tiny_corpus: Path) -> None:
    manifest = json.loads((tiny_corpus / "manifest.json").read_text())
    figures = summary_figures(manifest, iter_streams(tiny_corpus))
    assert list(figures) == ["streams", "length", "density", "wer", "identity", "drops"]
    bars = figures["streams"].axes[0].patches
    assert sorted(bar.get_width() for bar in bars) == [3, 3, 3]
    lengths = figures["length"].axes[0].patches
    assert sum(bar.get_height() for bar in lengths) == 9  # one count per stream
    # no speech and class-mode grounding: the figure says so instead of plotting
    assert "no speech events" in figures["wer"].axes[0].texts[0].get_text()
    assert "no drops" in figures["drops"].axes[0].texts[0].get_text()


def test_report_is_one_file_with_a_player_per_stream(tiny_corpus: Path, tmp_path: Path) -> None:
    out = write_report(tiny_corpus, tmp_path / "site" / "report.html", streams=4)
    html = out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # self-contained
    page = _Page()
    page.feed(html)
    assert len(page.audio) == page.tags["section"] == 4
    shown = re.findall(r'<section id="([^"]+)">', html)
    assert {name.rsplit("-s", 1)[0] for name in shown} == SUBTASKS
    subtasks = [row[1] for row in page.summary[1:-1]]  # header and total rows aside
    assert sorted(subtasks) == sorted(SUBTASKS)
    assert page.summary[-1][:2] == ["total", "9"]  # the empty subtask cell has no text
    records = {r.stream_id: r for r in iter_streams(tiny_corpus)}
    for stream_id, src in zip(shown, page.audio, strict=True):
        audio, rate = sf.read(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert rate == 16_000
        assert np.abs(audio - records[stream_id].audio).max() < 1 / 32_768 + 1e-9
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 6 + 4  # summary figures, then one per stream
    for data in images:
        pixels = imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert pixels.ndim == 3 and min(pixels.shape[:2]) > 200


def test_report_command(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["report", str(tiny_corpus), "--out", str(out), "--streams", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("<audio ") == 2
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "not a built corpus" in result.output
