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
        # `cache`, not `past_key_values` (deprecated since transformers 5.x, gone in 5.40)
        out = self.model.lm(inputs_embeds=embeds, cache=self._cache, use_cache=True)
        self._cache = out.cache
        return out.logits[0, -1].float()

    @property
    def context_length(self) -> int:
        return 0 if self._cache is None else self._cache.get_seq_length()

    @torch.no_grad()
    def listen(self, features: torch.Tensor) -> torch.Tensor:
        """Feed one chunk (features [frames, dim]) up to its <|assistant|>; the logits there
        over the vocabulary, where the control decision is read. `step` does this, then
        decides; or teacher-force the chunk's answer with `force`."""
        if self._cache is None:
            raise RuntimeError("call start() before listen() or step()")
        layout = self.layout
        ids = self._pending + layout.chunk_open()
        embeds = self._embed(ids)
        audio = self.model.audio_embeddings(features.to(self.device, embeds.dtype)[None])[0]
        slots = torch.tensor(ids, device=self.device) == layout.audio
        embeds[0, slots] = audio.to(embeds.dtype)
        self.chunk += 1
        return self._feed(embeds)

    @torch.no_grad()
    def force(self, answer: list[int]) -> None:
        """Take `answer` (`Layout.response(...)`, or `[layout.silent]`) as the answer to the
        chunk just `listen`ed to, instead of deciding: what training saw there."""
        if len(answer) > 1:
            self._feed(self._embed(answer[:-1]))
        self._pending = answer[-1:]  # fed with the next chunk, as `step` leaves its last token

    @torch.no_grad()
    def step(self, features: torch.Tensor,
             on_token: Callable[[str], None] | None = None) -> ChunkDecision:
        """One chunk's features [frames, dim] -> its decision (and response)."""
        layout = self.layout
        logits = self.listen(features)
        chunk = self.chunk - 1
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
