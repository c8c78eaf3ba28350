"""The paper's dual loss: mean text-token CE + λ · mean control-token CE (λ =
`control_weight`, 1.0 by default). The public release uses one plain CE over both; here
the two are computed and logged apart. Logits are computed only at supervised positions,
so a 150k-token vocabulary does not cost [B, L, V] of memory."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from streamaudio.train.layout import IGNORE, Batch
from streamaudio.train.model import StreamingModel


@dataclass
class LossParts:
    total: torch.Tensor
    text: torch.Tensor  # detached means, for logging
    control: torch.Tensor
    text_tokens: int
    control_tokens: int
    text_correct: int
    control_correct: int


def _ce(model: StreamingModel, hidden: torch.Tensor, labels: torch.Tensor
        ) -> tuple[torch.Tensor, int, int]:
    where = labels != IGNORE
    count = int(where.sum())
    if not count:
        return hidden.sum() * 0.0, 0, 0  # keeps the graph (DDP needs every rank to reduce)
    logits = model.head(hidden[where]).float()
    target = labels[where]
    correct = int((logits.argmax(-1) == target).sum())
    return F.cross_entropy(logits, target), count, correct


def dual_loss(model: StreamingModel, batch: Batch, control_weight: float) -> LossParts:
    hidden = model.hidden_states(batch.input_ids, batch.attention_mask, batch.audio_mask,
                                 batch.features)
    text, text_n, text_ok = _ce(model, hidden, batch.text_labels)
    control, control_n, control_ok = _ce(model, hidden, batch.control_labels)
    return LossParts(text + control_weight * control, text.detach(), control.detach(),
                     text_n, control_n, text_ok, control_ok)

