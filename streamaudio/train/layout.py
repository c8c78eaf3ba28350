"""The one sequence layout (one stream = one sequence), shared by the trainer, the decode
loop, evaluation and the runtime:

    prefix   <|online|> <|lang_xx|> <|system|> <|text_begin|> system prompt [+ instruction]
             <|text_end|>                                                     (no loss)
    chunk    <|audio_begin|> <|audio|> x slots <|assistant|>, then either
             <|silent|>                                                   (control loss)
             or <|text_begin|> <|emotion_x|> response tokens <|text_end|>
                ^ control loss   ^ text loss on everything after <|text_begin|>

Targets are aligned with the position that predicts them: `control_labels[i]` and
`text_labels[i]` hold the id of token i + 1 (or -100), so the loss needs no shifting."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from streamaudio.schema import EMOTIONS
from streamaudio.shards.reader import StreamRecord
from streamaudio.train import tokens
from streamaudio.train.config import ModelConfig
from streamaudio.train.features import chunk_features
from streamaudio.train.tokenizer import special_ids, text_ids

IGNORE = -100
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def response_language(responses: tuple[str, ...] | list[str]) -> str:
    """The language tag of a stream: zh when any response holds Chinese characters."""
    return "zh" if any(_CJK.search(text) for text in responses) else "en"


@dataclass
class Example:
    """One encoded stream: ids, aligned targets and causal chunk features."""

    stream_id: str
    input_ids: torch.Tensor  # [L] int64
    control_labels: torch.Tensor  # [L]
    text_labels: torch.Tensor  # [L]
    features: torch.Tensor  # [chunks, frames, dim]: `features.ChunkFeatures`


class Layout:
    """Token ids of the layout's pieces for one tokenizer and model config."""

    def __init__(self, tokenizer: object, cfg: ModelConfig) -> None:
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.ids = special_ids(tokenizer)
        self.audio = self.ids[tokens.AUDIO]
        self.silent = self.ids[tokens.SILENT]
        self.text_begin = self.ids[tokens.TEXT_BEGIN]
        self.text_end = self.ids[tokens.TEXT_END]
        self.pad = self.ids[tokens.PAD]
        self.emotion_ids = {e: self.ids[tokens.emotion_token(e)] for e in EMOTIONS}
        self.features = chunk_features(cfg)

    def prefix(self, instruction: str, language: str) -> list[int]:
        prompt = self.cfg.system_prompt + ("\n" + instruction if instruction else "")
        return [self.ids[tokens.ONLINE], self.ids[tokens.language_token(language)],
                self.ids[tokens.SYSTEM], self.text_begin,
                *text_ids(self.tokenizer, prompt), self.text_end]

    def chunk_open(self) -> list[int]:
        return [self.ids[tokens.AUDIO_BEGIN], *[self.audio] * self.cfg.encoder.slots_per_chunk,
                self.ids[tokens.ASSISTANT]]

    def response(self, emotion: str, text: str) -> list[int]:
        """<|text_begin|> <|emotion|> text <|text_end|>, the text cut to the configured max."""
        body = text_ids(self.tokenizer, text)[: self.cfg.max_response_tokens]
        return [self.text_begin, self.emotion_ids[emotion or "normal"], *body, self.text_end]

    def encode(self, record: StreamRecord) -> Example:
        if record.num_chunks > self.cfg.max_chunks:
            raise ValueError(f"{record.stream_id}: {record.num_chunks} chunks, more than "
                             f"model.max_chunks={self.cfg.max_chunks}")
        ids = self.prefix(record.instruction, response_language(record.responses))
        control = [IGNORE] * len(ids)
        text = [IGNORE] * len(ids)
        for chunk in range(record.num_chunks):
            opening = self.chunk_open()
            ids += opening
            control += [IGNORE] * len(opening)
            text += [IGNORE] * len(opening)
            if record.decisions[chunk]:
                answer = self.response(record.emotions[chunk], record.responses[chunk])
            else:
                answer = [self.silent]
            control[-1] = answer[0]  # <|assistant|> predicts the decision
            ids += answer
            # each answer token after the first is predicted by the token before it
            text += [*answer[1:], IGNORE]
            control += [IGNORE] * len(answer)
        feats = self.features.stream(record.audio, record.num_chunks)
        return Example(record.stream_id, torch.tensor(ids), torch.tensor(control),
                       torch.tensor(text), torch.from_numpy(np.ascontiguousarray(feats)))


@dataclass
class Batch:
    stream_ids: list[str]
    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L]
    audio_mask: torch.Tensor  # [B, L] bool: the audio slots
    control_labels: torch.Tensor
    text_labels: torch.Tensor
    features: torch.Tensor  # [sum of chunks, frames, dim], in batch order

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.stream_ids, *(t.to(device) for t in (
            self.input_ids, self.attention_mask, self.audio_mask, self.control_labels,
            self.text_labels, self.features)))


class Collate:
    """Right-pads a list of Examples into a Batch (a class, so DataLoader workers pickle it)."""

    def __init__(self, pad_id: int, audio_id: int) -> None:
        self.pad_id = pad_id
        self.audio_id = audio_id

    def __call__(self, examples: list[Example]) -> Batch:
        length = max(e.input_ids.shape[0] for e in examples)

        def pad(values: list[torch.Tensor], fill: int) -> torch.Tensor:
            out = torch.full((len(values), length), fill, dtype=torch.long)
            for row, value in enumerate(values):
                out[row, : value.shape[0]] = value
            return out

        ids = pad([e.input_ids for e in examples], self.pad_id)
        mask = pad([torch.ones_like(e.input_ids) for e in examples], 0)
        return Batch([e.stream_id for e in examples], ids, mask, ids == self.audio_id,
                     pad([e.control_labels for e in examples], IGNORE),
                     pad([e.text_labels for e in examples], IGNORE),
                     torch.cat([e.features for e in examples]))
