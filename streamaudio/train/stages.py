"""The paper's four training stages: what each trains, at what learning rate, on what data.
A stage starts from the previous stage's checkpoint (`--init`); parameters a stage does not
train are frozen (bit-identical after it: no gradient, no weight decay)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from streamaudio.train.model import StreamingModel

GROUPS = ("encoder", "adapter", "lm_head", "new_embeddings", "lm")


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    trains: tuple[str, ...]  # of GROUPS
    lr: float
    abilities: tuple[str, ...] = ()  # data filters; empty: every stream
    subtasks: tuple[str, ...] = ()


STAGES: dict[int, Stage] = {
    1: Stage(1, "format", ("lm_head", "new_embeddings"), 1e-4),
    # the conv encoder has no pretrained weights: it learns with the adapter
    2: Stage(2, "adapter", ("encoder", "adapter"), 1e-4),
    3: Stage(3, "streaming_sft", ("encoder", "adapter", "lm"), 5e-5),
    4: Stage(4, "instruction_following", ("encoder", "adapter", "lm"), 1e-5,
             abilities=("instruction_following", "proactive_response"),
             subtasks=("multi_turn_chat", "history_review_chat", "benign_silence",
                       "agent_ignore")),
}


def get_stage(number: int) -> Stage:
    if number not in STAGES:
        raise ValueError(f"unknown stage {number}; stages: "
                         + ", ".join(f"{s.number} ({s.name})" for s in STAGES.values()))
    return STAGES[number]


def _row_mask_hook(rows: torch.Tensor):
    def hook(grad: torch.Tensor) -> torch.Tensor:
        return grad * rows.to(grad.dtype).unsqueeze(1)

    return hook


def apply_stage(model: StreamingModel, stage: Stage, new_token_ids: list[int]
                ) -> list[torch.utils.hooks.RemovableHandle]:
    """Sets requires_grad per the stage; with `new_embeddings` alone, a gradient hook
    keeps every old row of the embedding matrix at zero gradient. Returns the hooks."""
    for param in model.parameters():
        param.requires_grad_(False)
    embeddings = model.lm.get_input_embeddings().weight
    head = model.lm.get_output_embeddings().weight
    handles = []
    for group in stage.trains:
        if group == "encoder":
            model.encoder.requires_grad_(True)
        elif group == "adapter":
            model.adapter.requires_grad_(True)
        elif group == "lm":
            model.lm.requires_grad_(True)
        elif group == "lm_head":
            head.requires_grad_(True)
    if "new_embeddings" in stage.trains and "lm" not in stage.trains:
        if head is embeddings:
            raise ValueError("stage 1 trains the head and the new token rows apart: use an "
                             "LM with untied embeddings (model.lm.tie_word_embeddings=false)")
        embeddings.requires_grad_(True)
        rows = torch.zeros(embeddings.shape[0], dtype=torch.bool)
        rows[new_token_ids] = True
        handles.append(embeddings.register_hook(_row_mask_hook(rows.to(embeddings.device))))
    return handles


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on matrices; none on biases, norms and embeddings (a frozen
    embedding row must not shrink)."""
    embedding_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay, no_decay = [], []
    for _, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or id(param) in embedding_ids else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
