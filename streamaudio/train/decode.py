"""The one streaming decode loop, reused by evaluation, the runtime and the benchmarks.

Chunk by chunk, with a KV cache kept across chunks: feed <|audio_begin|> + the chunk's
audio slots + <|assistant|>, read the control decision (silent vs text-begin, the only two
tokens allowed there), and on a response generate greedily -- the emotion tag, then text
to <|text_end|> or `max_response_tokens` -- streaming each token to the caller. The tokens
fed are exactly the training layout's (`layout.py`), so decoding sees what training saw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from streamaudio.schema import EMOTIONS
from streamaudio.train.layout import Layout
from streamaudio.train.model import StreamingModel


@dataclass
class ChunkDecision:
    chunk: int
    respond: bool
    emotion: str = ""
    text: str = ""
    token_ids: list[int] = field(default_factory=list)


class StreamDecoder:
    def __init__(self, model: StreamingModel, layout: Layout,
                 device: torch.device | str = "cpu") -> None:
        self.model = model.eval()
        self.layout = layout
        self.device = torch.device(device)
        self.max_tokens = layout.cfg.max_response_tokens
        vocab = model.lm.get_output_embeddings().weight.shape[0]
        # text generation may end the response but never emit another layout token
        self._text_mask = torch.zeros(vocab, dtype=torch.bool, device=self.device)
        self._text_mask[[i for i in layout.ids.values() if i != layout.text_end]] = True
        self._emotions = [layout.emotion_ids[e] for e in EMOTIONS]
        self._cache: DynamicCache | None = None
        self._pending: list[int] = []
        self.chunk = 0

    @torch.no_grad()
    def start(self, instruction: str = "", language: str = "en") -> None:
        self._cache = DynamicCache()
        self._pending = self.layout.prefix(instruction, language)
        self.chunk = 0

    def _embed(self, ids: list[int]) -> torch.Tensor:
        tensor = torch.tensor([ids], device=self.device)
        return self.model.lm.get_input_embeddings()(tensor)

    def _feed(self, embeds: torch.Tensor) -> torch.Tensor:
        out = self.model.lm(inputs_embeds=embeds, past_key_values=self._cache, use_cache=True)
        self._cache = out.past_key_values
        return out.logits[0, -1].float()

    @property
    def context_length(self) -> int:
        return 0 if self._cache is None else self._cache.get_seq_length()

    @torch.no_grad()
    def step(self, features: torch.Tensor,
             on_token: Callable[[str], None] | None = None) -> ChunkDecision:
        """One chunk's features [frames, dim] -> its decision (and response)."""
        if self._cache is None:
            raise RuntimeError("call start() before step()")
        layout = self.layout
        opening = layout.chunk_open()
        ids = self._pending + opening
        embeds = self._embed(ids)
        audio = self.model.audio_embeddings(features.to(self.device, embeds.dtype)[None])[0]
        slots = torch.tensor(ids, device=self.device) == layout.audio
        embeds[0, slots] = audio.to(embeds.dtype)
        logits = self._feed(embeds)
        chunk, self.chunk = self.chunk, self.chunk + 1
        if logits[layout.silent] >= logits[layout.text_begin]:
            self._pending = [layout.silent]
            return ChunkDecision(chunk, False)
        logits = self._feed(self._embed([layout.text_begin]))
        emotion_id = max(self._emotions, key=lambda i: float(logits[i]))
        emotion = EMOTIONS[self._emotions.index(emotion_id)]
        logits = self._feed(self._embed([emotion_id]))
        generated: list[int] = []
        while len(generated) < self.max_tokens:
            token = int(logits.masked_fill(self._text_mask, float("-inf")).argmax())
            if token == layout.text_end:
                break
            generated.append(token)
            if on_token is not None:
                on_token(layout.tokenizer.decode([token]))
            logits = self._feed(self._embed([token]))
        self._pending = [layout.text_end]
        text = layout.tokenizer.decode(generated)
        return ChunkDecision(chunk, True, emotion, text, generated)

    def decode(self, features: torch.Tensor, instruction: str = "", language: str = "en"
               ) -> list[ChunkDecision]:
        """A whole stream's chunk features [chunks, frames, dim], in order."""
        self.start(instruction, language)
        return [self.step(chunk) for chunk in features]
