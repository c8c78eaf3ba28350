"""Checkpoints: one directory holding safetensors weights, the model and train configs,
the tokenizer, and the trainer state (optimizer, scheduler, RNG, step, data position of
every rank). A save writes a new directory beside the old one and swaps it in, so a kill
at any point leaves either the old checkpoint or the new one, never half of one. The
`logs/` folder (CSV, TensorBoard) is moved across each swap, never rewritten."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch

from streamaudio.train.model import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ModelError,
    StreamingModel,
    save_model,
)

STATE_FILE = "trainer_state.pt"
TRAIN_CONFIG_FILE = "train_config.yaml"
TOKENIZER_DIR = "tokenizer"
LOGS_DIR = "logs"
STATE_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint directory that is missing, corrupt or from another run."""


def save_checkpoint(out: Path, model: StreamingModel, tokenizer: Any, config_yaml: str,
                    state: dict[str, Any]) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp)
    tokenizer.save_pretrained(str(tmp / TOKENIZER_DIR))
    (tmp / TRAIN_CONFIG_FILE).write_text(config_yaml)
    torch.save({"format": STATE_FORMAT, **state}, tmp / STATE_FILE)
    if (out / LOGS_DIR).is_dir():
        # the trainer flushes its log writers first: they reopen their files by path
        os.replace(out / LOGS_DIR, tmp / LOGS_DIR)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def check_checkpoint(path: Path) -> None:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: no checkpoint directory there")
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_DIR) if
               not (path / name).exists()]
    if missing:
        raise CheckpointError(f"{path}: not a complete checkpoint (missing {', '.join(missing)})")


def load_state(path: Path) -> dict[str, Any]:
    file = Path(path) / STATE_FILE
    if not file.is_file():
        raise CheckpointError(f"{path}: no {STATE_FILE}: nothing to resume")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for a torn or foreign file
        raise CheckpointError(f"{file}: corrupt trainer state ({error})") from error
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{file}: trainer state format {state.get('format')!r}, "
                              f"this version reads {STATE_FORMAT}")
    return state


__all__ = ["CheckpointError", "ModelError", "check_checkpoint", "load_state", "save_checkpoint"]
