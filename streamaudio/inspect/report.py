"""`streamaudio report`: a static HTML page of a corpus. One self-contained file:
figures (PNG) and audio (WAV) are embedded as base64 data URIs, so the page can
be moved, mailed or kept as a CI artefact without breaking a link."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from streamaudio.atomic import write_text_atomic
from streamaudio.inspect.data import scan_corpus, stream_seconds
from streamaudio.inspect.figures import figure_png, stream_figure, summary_figures
from streamaudio.inspect.tables import (
    audio_html,
    chunk_table_html,
    grounding_html,
    summary_table_html,
)
from streamaudio.shards.layout import MANIFEST_FILE
from streamaudio.shards.reader import StreamRecord

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: left; }
table.summary tr:last-child td { font-weight: bold; }
.figures img { width: 32%; min-width: 380px; }
section img { width: 100%; }
section { border-top: 2px solid #999; margin-top: 2em; }
audio { width: 100%; margin: 0.5em 0; }
"""


def png_img(fig: Figure, alt: str) -> str:
    data = base64.b64encode(figure_png(fig)).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def stream_section(record: StreamRecord) -> str:
    about = (
        f"{record.ability} / {record.subtask} · setting {record.setting} · "
        f"{stream_seconds(record):.1f} s · {record.num_chunks} chunks · "
        f"{int(record.decisions.sum())} response chunk(s)"
    )
    instruction = (
        f"<p>instruction: <q>{escape(record.instruction)}</q></p>" if record.instruction else ""
    )
    figure = png_img(
        stream_figure(record), f"waveform, spectrogram and events of {record.stream_id}"
    )
    return (
        f'<section id="{escape(record.stream_id)}"><h3>{escape(record.stream_id)}</h3>'
        f"<p>{escape(about)}</p>{instruction}{figure}"
        f"{audio_html(record)}{chunk_table_html(record)}</section>"
    )


def report_html(root: Path, streams: int = 6) -> str:
    """The page for the corpus at `root`, showing up to `streams` streams spread
    over the subtasks (the ones with responses first)."""
    path = Path(root) / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"{root} has no {MANIFEST_FILE}: not a built corpus")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    stats, shown = scan_corpus(Path(root), streams)
    totals = manifest["totals"]
    figures = "".join(png_img(fig, name) for name, fig in summary_figures(manifest, stats).items())
    title = f"StreamAudio corpus report: {Path(root).resolve().name}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{totals['streams']} streams · {totals['hours']:.3f} h · "
        f"config {escape(manifest['config_hash'])} · streamaudio {escape(manifest['version'])}</p>"
        f"<h2>Summary</h2>{summary_table_html(manifest)}{grounding_html(manifest)}"
        f'<h2>Distributions</h2><div class="figures">{figures}</div>'
        f"<h2>Streams</h2>{''.join(stream_section(record) for record in shown)}"
        "</body></html>\n"
    )


def write_report(root: Path, out: Path, streams: int = 6) -> Path:
    write_text_atomic(Path(out), report_html(root, streams))
    return Path(out)
