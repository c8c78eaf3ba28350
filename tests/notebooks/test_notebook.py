"""notebooks/inspect_corpus.ipynb runs headless (nbclient, no network) against a
tiny corpus of the three sound subtasks."""

import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from streamaudio.config import Config
from streamaudio.corpus import build_corpus
from streamaudio.tasks.registry import get_subtask

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "inspect_corpus.ipynb"
SUBTASKS = ["hazard_alert", "benign_silence", "sound_event_qa"]


@pytest.fixture
def corpus(tmp_path: Path, world_config: Config, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "corpus"
    build_corpus(root, [get_subtask(name) for name in SUBTASKS], 2, 0, world_config)
    monkeypatch.setenv("STREAMAUDIO_CORPUS", str(root))  # the kernel inherits it
    monkeypatch.delenv("STREAMAUDIO_STREAM", raising=False)
    return root


def _run() -> list[dict]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def _text(outputs: list[dict]) -> str:
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def test_kernel_python3_is_this_interpreter() -> None:
    # jupyter_client swaps a spec's bare "python" for sys.executable; a user-level
    # spec pointing at another interpreter would run the notebook without streamaudio
    assert KernelManager(kernel_name="python3").format_kernel_cmd()[0] == sys.executable


def test_notebook_is_saved_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_runs_headless(corpus: Path) -> None:
    outputs = _run()
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = "".join(o["data"].get("text/html", "") for o in outputs if "data" in o)
    assert html.count("<audio") == 1
    assert all(name in html for name in SUBTASKS)  # the summary table
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1 + 6  # the stream, then the summary figures
    # the first stream with a response: sound_event_qa sorts first and always has one
    assert "sound_event_qa-s0-000000 |" in _text(outputs)


def test_notebook_shows_the_stream_asked_for(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMAUDIO_STREAM", "benign_silence-s0-000001")
    outputs = _run()
    assert "benign_silence-s0-000001 | (no instruction)" in _text(outputs)
    assert "Every chunk is silent" in "".join(
        o.get("data", {}).get("text/html", "") for o in outputs
    )
