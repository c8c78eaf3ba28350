"""Matplotlib figures of a stream and of a corpus. Figures are built with the
object API (no pyplot): nothing is drawn on screen and nothing is left open."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from streamaudio.compose.labels import verified_silent_chunks
from streamaudio.inspect.data import (
    ROLES,
    CorpusStats,
    Lane,
    corpus_stats,
    drop_counts,
    event_lanes,
    log_spectrogram,
    response_chunks,
    short,
    stream_seconds,
    subtask_rows,
)
from streamaudio.schema import GroundedPlan
from streamaudio.shards.reader import StreamRecord

ROLE_COLOURS = {"foreground": "tab:red", "background": "tab:blue", "ambient": "tab:gray"}
RESPONSE_COLOUR = "gold"
RESPONSE_GID = "response"  # gid of the shaded response chunks on the waveform
SILENT_COLOUR = "palegreen"
SILENT_GID = "verified_silent"  # gid of the verified-silent chunks on the waveform
CHARS_PER_S_INCH = 13.0  # 7 pt caption characters per inch of axis
ENVELOPE = 32  # samples per min/max point of the drawn waveform
# responses may be Chinese: matplotlib falls back glyph by glyph along this list;
# only installed families are named, since a missing one logs a warning per text
CJK_FONTS = ("Noto Sans CJK SC", "Droid Sans Fallback", "WenQuanYi Zen Hei", "AR PL UMing CN")
_INSTALLED = {font.name for font in font_manager.fontManager.ttflist}
TEXT_FONTS = ["DejaVu Sans", *(name for name in CJK_FONTS if name in _INSTALLED)]


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG on a 256-colour palette: spectrogram noise makes a full-colour PNG about
    three times larger for no visible gain (Pillow comes with matplotlib)."""
    rendered, quantised = io.BytesIO(), io.BytesIO()
    fig.savefig(rendered, format="png", dpi=dpi)
    Image.open(rendered).convert("RGB").quantize(256).save(quantised, "PNG", optimize=True)
    return quantised.getvalue()


def stream_figure(record: StreamRecord) -> Figure:
    """Responses, waveform, spectrogram and events on one time axis (axes labelled
    so), with the 400 ms chunk grid, the response chunks shaded and the
    verified-silent chunks tinted green."""
    lanes = event_lanes(record)
    rows = {
        r: 1 + max([lane.row for lane in lanes if lane.event.role == r], default=0) for r in ROLES
    }
    height = 0.5 + 0.3 * sum(rows.values())
    fig = Figure(figsize=(14, 6.5 + height), layout="constrained")
    grid = fig.add_gridspec(4, 1, height_ratios=[1.2, 1.4, 2.2, height])
    text_ax = fig.add_subplot(grid[0], label="responses")
    wave_ax, spec_ax, event_ax = (
        fig.add_subplot(grid[i], label=name, sharex=text_ax)
        for i, name in enumerate(("waveform", "spectrogram", "events"), 1)
    )
    seconds = stream_seconds(record)
    title = f"{record.stream_id}  ·  {record.subtask}  ·  {record.setting}  ·  {seconds:.1f} s"
    if record.instruction:
        title += f"\ninstruction: {short(record.instruction, 120)}"
    fig.suptitle(title, fontsize=11, family=TEXT_FONTS)
    _responses(text_ax, record)
    _waveform(wave_ax, record)
    db, (t0, t1, f0, f1) = log_spectrogram(record.audio, record.sample_rate)
    image = spec_ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(t0, t1, f0 / 1000, f1 / 1000),
        interpolation="nearest",
    )
    fig.colorbar(image, ax=spec_ax, label="dB", pad=0.005, aspect=15)
    spec_ax.set_ylabel("kHz")
    _events(event_ax, lanes, rows, CHARS_PER_S_INCH * fig.get_figwidth() * 0.85 / seconds)
    chunk_edges = np.arange(record.num_chunks + 1) * record.chunk_ms / 1000
    for ax in (wave_ax, spec_ax, event_ax):
        ax.vlines(
            chunk_edges,
            0,
            1,
            transform=ax.get_xaxis_transform(),
            colors="0.5",
            linewidths=0.4,
            alpha=0.6,
        )
    chunk_s = record.chunk_ms / 1000
    plan = GroundedPlan.model_validate_json(record.plan)
    for chunk in verified_silent_chunks(plan, plan.sample_rate * record.chunk_ms // 1000):
        wave_ax.axvspan(chunk * chunk_s, (chunk + 1) * chunk_s, color=SILENT_COLOUR,
                        alpha=0.35, gid=SILENT_GID, zorder=0, lw=0)
    for chunk in response_chunks(record):
        wave_ax.axvspan(
            chunk.start_s,
            chunk.end_s,
            color=RESPONSE_COLOUR,
            alpha=0.45,
            gid=RESPONSE_GID,
            zorder=0,
        )
        spec_ax.axvspan(
            chunk.start_s, chunk.end_s, facecolor="none", edgecolor=RESPONSE_COLOUR, linewidth=1.5
        )
    text_ax.set_xlim(0, seconds)
    return fig


def _responses(ax: Axes, record: StreamRecord) -> None:
    ax.set_axis_off()
    chunks = response_chunks(record)
    for chunk in chunks:
        label = short(chunk.response, 48)
        if chunk.emotion not in ("", "normal"):
            label = f"[{chunk.emotion}] {label}"
        ax.text(
            (chunk.start_s + chunk.end_s) / 2,
            0.02,
            label,
            rotation=40,
            fontsize=7,
            family=TEXT_FONTS,
            ha="left",
            va="bottom",
            rotation_mode="anchor",
        )
    if not chunks:
        ax.text(0, 0.1, "no response: every chunk is silent", fontsize=9, style="italic")


def _waveform(ax: Axes, record: StreamRecord) -> None:
    # a min/max envelope: every peak stays visible at a fraction of the points
    blocks = record.audio[: record.audio.size // ENVELOPE * ENVELOPE].reshape(-1, ENVELOPE)
    times = (np.arange(blocks.shape[0]) + 0.5) * ENVELOPE / record.sample_rate
    ax.fill_between(times, blocks.min(axis=1), blocks.max(axis=1), color="tab:blue", lw=0)
    peak = max(float(np.abs(record.audio).max()), 1e-3)
    ax.set_ylim(-1.05 * peak, 1.05 * peak)
    ax.set_ylabel("amplitude")
    ax.tick_params(labelbottom=False)


def _events(ax: Axes, lanes: list[Lane], rows: dict[str, int], chars_per_s: float) -> None:
    base, ticks = 0, {}
    for role in reversed(ROLES):  # foreground on top
        ticks[role] = base + rows[role] / 2 - 0.5
        for lane in (lane for lane in lanes if lane.event.role == role):
            event, y = lane.event, base + rows[role] - 1 - lane.row  # row 0 on top
            ax.barh(
                y,
                event.offset_s - event.onset_s,
                left=event.onset_s,
                height=0.8,
                color=ROLE_COLOURS[role],
                alpha=0.55,
                edgecolor=ROLE_COLOURS[role],
                hatch="///" if event.kind == "speech" else None,
            )
            caption = short(event.caption, max(6, int(lane.room_s * chars_per_s)))
            ax.text(event.onset_s + 0.05, y, caption, fontsize=7, va="center", clip_on=True)
        base += rows[role]
    ax.set_ylim(-0.6, base - 0.4)
    ax.set_yticks(list(ticks.values()), list(ticks), fontsize=8)
    ax.set_xlabel("time (s)")


def summary_figures(
    manifest: dict[str, Any], records: Iterable[StreamRecord] | CorpusStats
) -> dict[str, Figure]:
    """One small figure per view, keyed by name, in display order. Pass the
    CorpusStats of a scan to avoid reading the shards again."""
    stats = records if isinstance(records, CorpusStats) else corpus_stats(records)
    wer_bins = np.linspace(0, max([0.2, *stats.wer]), 21)
    return {
        "streams": _streams_by_subtask(manifest),
        "length": _histogram(
            {"": stats.seconds}, "stream length", "seconds", "streams", np.arange(0, 25, 1.0)
        ),
        "density": _histogram(
            {"": stats.density},
            "response density",
            "response chunks per stream minute",
            "streams",
            20,
        ),
        "wer": _histogram(
            {"": stats.wer},
            "TTS round trip of speech events",
            "word error rate",
            "speech events",
            wer_bins,
        ),
        "identity": _histogram(
            stats.identity,
            "identity of grounded sounds",
            "query-caption similarity",
            "retrieval scores (class-mode grounding)",
            np.linspace(0, 1, 21),
        ),
        "drops": _bars(drop_counts(manifest), "drops and quarantine by reason"),
    }


def _small(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10)
    return fig, ax


def _empty(ax: Axes, what: str) -> None:
    ax.text(
        0.5,
        0.5,
        f"no {what} in this corpus",
        ha="center",
        va="center",
        transform=ax.transAxes,
        style="italic",
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _histogram(
    groups: dict[str, list[float]], title: str, xlabel: str, empty: str, bins: Any
) -> Figure:
    """Stacked by group; a single unnamed group gets no legend."""
    fig, ax = _small(title)
    groups = {name: values for name, values in sorted(groups.items()) if values}
    if not groups:
        _empty(ax, empty)
        return fig
    ax.hist(
        list(groups.values()),
        bins=bins,
        stacked=True,
        label=list(groups),
        edgecolor="white",
        linewidth=0.5,
    )
    if any(groups):
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def _streams_by_subtask(manifest: dict[str, Any]) -> Figure:
    fig, ax = _small("streams by ability / subtask")
    rows = subtask_rows(manifest)
    abilities = list(dict.fromkeys(row.ability for row in rows))
    bars = ax.barh(
        [row.subtask for row in rows],
        [row.streams for row in rows],
        color=[f"C{abilities.index(row.ability)}" for row in rows],
    )
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.invert_yaxis()
    ax.set_xlabel("streams")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    first = [[row.ability for row in rows].index(ability) for ability in abilities]
    ax.legend(
        [bars[i] for i in first],
        abilities,
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )
    return fig


def _bars(counts: dict[str, int], title: str) -> Figure:
    fig, ax = _small(title)
    if not counts:
        _empty(ax, "drops")
        return fig
    bars = ax.barh(list(counts), list(counts.values()), height=0.6, color="tab:purple")
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.invert_yaxis()
    ax.set_xlabel("count")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(y=0.5 / len(counts))
    return fig
