"""README.md for the corpus directory: a Hugging Face dataset card whose YAML front
matter declares one config per subtask, so `load_dataset(DIR, name=subtask)` works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from streamaudio.atomic import write_text_atomic

ALL_CONFIG = "all"

_COLUMN_DOCS: list[tuple[str, str, str]] = [
    ("stream_id", "string", "unique id of the stream"),
    ("ability", "string", "one of the 7 abilities"),
    ("subtask", "string", "one of the 28 subtasks"),
    ("audio", "Audio (struct bytes, path)", "16 kHz mono 16-bit FLAC bytes; path is a name only"),
    ("sample_rate", "int32", "16000"),
    ("num_samples", "int64", "stream length in samples (at most 24 s)"),
    ("chunk_ms", "int32", "400"),
    ("num_chunks", "int32", "ceil(num_samples / chunk samples)"),
    ("decisions", "list<int8>", "per chunk: 0 silent, 1 response"),
    ("responses", "list<string>", 'per chunk: response text ("" on silent chunks)'),
    ("emotions", "list<string>", 'per chunk: response emotion ("" on silent chunks)'),
    ("instruction", "string", 'instruction given at stream start ("" if none)'),
    (
        "events",
        "list<struct>",
        "onset_s, offset_s, role, kind, caption, clip_id, source, license, gain_db",
    ),
    ("plan", "string", "grounded plan JSON: re-renders the stream exactly"),
    ("seed", "int64", "stream seed"),
    ("config_hash", "string", "hash of the corpus-relevant configuration"),
    ("setting", "string", "scene setting"),
    ("verified_silent", "bool", "every chunk must stay silent"),
    ("clip_guard_scale", "float32", "clipping guard gain (1.0 = untouched)"),
    ("licenses", "list<string>", "every licence the stream's clips carry"),
]

CARD_FILE = "README.md"  # Hugging Face reads the dataset card from here


def _size_category(streams: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if streams < limit:
            return name
    return "10M<n<100M"


def front_matter(manifest: dict[str, Any]) -> dict[str, Any]:
    configs: list[dict[str, Any]] = [
        {
            "config_name": ALL_CONFIG,
            "default": True,
            "data_files": [{"split": "train", "path": "*/*/shard-*.parquet"}],
        }
    ]
    for subtask, stats in manifest["subtasks"].items():
        glob = f"{stats['ability']}/{subtask}/shard-*.parquet"
        configs.append({"config_name": subtask, "data_files": [{"split": "train", "path": glob}]})
    return {
        "pretty_name": "StreamAudio",
        "license": "other",  # mixed: each stream inherits its clips' licences
        "license_name": "per-stream-clip-licences",
        "size_categories": [_size_category(manifest["totals"]["streams"])],
        "task_categories": ["audio-classification"],
        "tags": ["audio", "streaming", "audio-language-model", "synthetic"],
        "configs": configs,
    }


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_dataset_card(manifest: dict[str, Any]) -> str:
    totals = manifest["totals"]
    drops = ", ".join(f"{k}: {v}" for k, v in manifest["drops"].items()) or "none"
    subtasks = _table(
        ["ability", "subtask", "streams", "hours", "response share", "mean s", "drops"],
        [
            [
                s["ability"],
                name,
                s["streams"],
                f"{s['hours']:.3f}",
                f"{s['response_share']:.3f}",
                f"{s['mean_stream_seconds']:.1f}",
                sum(s["drops"].values()),
            ]
            for name, s in manifest["subtasks"].items()
        ],
    )
    licenses = _table(["licence", "streams"], [[k, v] for k, v in manifest["licenses"].items()])
    columns = _table(["column", "type", "meaning"], [list(c) for c in _COLUMN_DOCS])
    example = next(iter(manifest["subtasks"]), "SUBTASK")
    header = yaml.safe_dump(front_matter(manifest), sort_keys=False, allow_unicode=True)
    return f"""---
{header}---

# StreamAudio corpus

Streaming-native training data for always-on audio-language models: 16 kHz mono streams of at
most 24 s, cut into 400 ms chunks; every chunk is labelled silent (0) or response (1), and
response chunks carry the text to say and an emotion. Built by `streamaudio` {manifest["version"]}
(config hash `{manifest["config_hash"]}`).

**{totals["streams"]} streams, {totals["hours"]:.3f} hours, {totals["shards"]} shards;**
response share {totals["response_share"]:.3f}; drops by reason: {drops}.

{subtasks}

## Licence

The corpus has no single licence. Each stream is mixed from recorded or generated clips, and it
inherits the licences of every clip it uses (CC-BY-SA-3.0, GPL-2.0-or-later, CC0-1.0, MIT, ...):
see the `licenses` column and each event's `license`, `source` and `clip_id`. Respect the
attribution and share-alike terms of the clips in the streams you use.

{licenses}

## Columns

{columns}

## Loading

With `datasets` (one config per subtask, plus `{ALL_CONFIG}`):

```python
from datasets import Audio, load_dataset
ds = load_dataset("path/to/corpus", name="{example}", split="train")
ds = ds.cast_column("audio", Audio(decode=False))  # raw FLAC bytes, see below
```

With `streamaudio` (pyarrow + soundfile only):

```python
from streamaudio.shards.reader import iter_streams
for record in iter_streams("path/to/corpus", subtask="{example}"):
    record.audio, record.decisions, record.responses
```

Decoding audio through recent `datasets` needs `torchcodec`, whose wheels may fail to load beside
CPU builds of torch. The bytes are plain FLAC: `soundfile.read(io.BytesIO(row["audio"]["bytes"]))`
reads them without either.
"""


def write_dataset_card(root: Path, manifest: dict[str, Any]) -> Path:
    path = Path(root) / CARD_FILE
    write_text_atomic(path, render_dataset_card(manifest), sync_directory=True)
    return path
