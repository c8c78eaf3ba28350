"""The decode loop sees what training saw: fed the labelled answers, its per-chunk control
logits equal those of one teacher-forced forward over the whole encoded stream."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from streamaudio.shards.reader import iter_streams
from streamaudio.train.config import TrainConfig
from streamaudio.train.decode import StreamDecoder
from streamaudio.train.layout import Collate, Layout
from streamaudio.train.model import build_model
from streamaudio.train.tokenizer import build_offline_tokenizer


def _parts(cfg: TrainConfig) -> tuple[Layout, object]:
    tokenizer = build_offline_tokenizer(cfg.model.tokenizer.vocab_size,
                                        cache_dir=cfg.model.tokenizer.cache_dir)
    layout = Layout(tokenizer, cfg.model)
    torch.manual_seed(0)
    return layout, build_model(cfg.model, len(tokenizer), layout.pad).eval()


def test_decoder_decision_matches_teacher_forced_forward(train_corpus: Path,
                                                         tiny_config: TrainConfig) -> None:
    layout, model = _parts(tiny_config)
    record = next(r for r in iter_streams(train_corpus) if r.decisions.any())
    example = layout.encode(record)
    batch = Collate(layout.pad, layout.audio)([example])
    with torch.no_grad():
        hidden = model.hidden_states(batch.input_ids, batch.attention_mask, batch.audio_mask,
                                     batch.features)
        logits = model.head(hidden)[0]
    at_assistant = (example.control_labels != -100).nonzero().flatten()
    assert len(at_assistant) == record.num_chunks
    forced = logits[at_assistant][:, [layout.silent, layout.text_begin]]
    decoder = StreamDecoder(model, layout)
    decoder.start(record.instruction)
    seen = []
    for chunk in range(record.num_chunks):
        # the decision logits the decoder would act on, then the labelled answer forced
        seen.append(decoder.listen(example.features[chunk])[[layout.silent, layout.text_begin]])
        decoder.force(layout.response(record.emotions[chunk], record.responses[chunk])
                      if record.decisions[chunk] else [layout.silent])
    assert decoder.chunk == record.num_chunks
    assert torch.allclose(torch.stack(seen), forced, atol=1e-4)
    # step() is listen() and a decision: the first chunk's decision follows its logits
    decoder.start(record.instruction)
    first = decoder.step(example.features[0])
    assert first.respond == bool(seen[0][1] > seen[0][0])


def test_decoder_needs_start_and_uses_no_deprecated_cache_argument(
        train_corpus: Path, tiny_config: TrainConfig) -> None:
    layout, model = _parts(tiny_config)
    record = next(iter_streams(train_corpus))
    features = layout.encode(record).features
    decoder = StreamDecoder(model, layout)
    with pytest.raises(RuntimeError, match="start"):
        decoder.listen(features[0])
    with warnings.catch_warnings():
        # transformers warns (FutureWarning) for `past_key_values`, renamed `cache`
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        decoder.decode(features[:3], record.instruction)
    assert decoder.context_length > 0


def test_decoder_runs_a_whole_stream_with_bounded_responses(train_corpus: Path,
                                                            tiny_config: TrainConfig) -> None:
    layout, model = _parts(tiny_config)
    record = next(iter_streams(train_corpus))
    decoder = StreamDecoder(model, layout)
    example = layout.encode(record)
    decisions = decoder.decode(example.features, record.instruction)
    assert [d.chunk for d in decisions] == list(range(record.num_chunks))
    for decision in decisions:
        assert len(decision.token_ids) <= tiny_config.model.max_response_tokens
        assert not set(decision.token_ids) & (set(layout.ids.values()))
