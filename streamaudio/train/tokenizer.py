"""Tokenizers: any Hugging Face tokenizer from a local directory, or the offline default, a
byte-level BPE trained on the project's own text catalogs (English and Chinese), deterministic
and cached by a hash of its inputs. Either way the layout's special tokens (`tokens.py`) are
single, unsplittable ids, and `text_ids` never produces them from ordinary text."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from streamaudio.atomic import temporary_path
from streamaudio.cache import input_key
from streamaudio.config import CacheConfig
from streamaudio.train import tokens

TEXT_DIR = Path(__file__).resolve().parents[2] / "catalogs" / "text"
NAMESPACE = "tokenizer"  # cache_dir/tokenizer/<hash>/
RECIPE = 1  # part of the cache key: bump it when the training recipe below changes


class TokenizerError(ValueError):
    """A tokenizer that cannot be used: says which directory and what to do."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def catalog_texts(text_dir: Path = TEXT_DIR) -> list[str]:
    """Every string field of every JSONL row (responses and translations too) and every line
    of the .txt files, sorted: one fixed order, so the trained merges never depend on how the
    files were read. Repeats are kept, they are real frequencies."""
    texts: list[str] = []
    for path in sorted(Path(text_dir).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.extend(_strings(json.loads(line)))
    for path in sorted(Path(text_dir).glob("*.txt")):
        texts.extend(path.read_text(encoding="utf-8").splitlines())
    return sorted(text for text in texts if text.strip())


def _train(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    # no prefix space: decode(encode(text)) gives back the text itself, not " " + text
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, show_progress=False,
        special_tokens=list(tokens.SPECIAL_TOKENS),  # ids 0.. in layout order, PAD = 0
        # all 256 bytes, seen or not, so any text (emoji, rare characters) has ids
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(texts, trainer=trainer, length=len(texts))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe)
    _add_layout_tokens(tokenizer, list(tokens.SPECIAL_TOKENS))
    return tokenizer


def build_offline_tokenizer(vocab_size: int = 4096, cache_dir: Path | None = None,
                            text_dir: Path = TEXT_DIR) -> PreTrainedTokenizerFast:
    """The byte-level BPE of the text catalogs, from `cache_dir/tokenizer/<hash>/` if built."""
    smallest = len(pre_tokenizers.ByteLevel.alphabet()) + len(tokens.SPECIAL_TOKENS)
    if vocab_size < smallest:
        raise TokenizerError(f"vocab_size {vocab_size} is below {smallest}: the 256 bytes and "
                             f"{len(tokens.SPECIAL_TOKENS)} special tokens come first")
    texts = catalog_texts(text_dir)
    if not texts:
        raise TokenizerError(f"{text_dir}: no text catalogs (*.jsonl, *.txt) to train on")
    key = input_key({"texts": input_key({"texts": texts}), "vocab_size": vocab_size,
                     "tokenizers": tokenizers.__version__, "recipe": RECIPE,
                     # the saved config files are transformers' writing
                     "transformers": transformers.__version__,
                     "special_tokens": list(tokens.SPECIAL_TOKENS)})
    root = Path(cache_dir) if cache_dir is not None else CacheConfig().directory
    target = root / NAMESPACE / key
    if not (target / "tokenizer.json").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(target)  # a name of its own per writer
        try:
            _train(texts, vocab_size).save_pretrained(str(tmp))
            # a directory appears whole or not at all; if another builder renamed its own
            # first the rename fails (target not empty) and theirs, the same bytes, is kept
            os.rename(tmp, target)
        except OSError as error:
            if not (target / "tokenizer.json").is_file():
                raise TokenizerError(f"{target}: cannot write the tokenizer there ({error}); "
                                     "if it is a leftover directory, remove it") from error
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    # our own class, saved by us: no AutoTokenizer (whose import pulls in torch) needed
    built = PreTrainedTokenizerFast.from_pretrained(str(target), local_files_only=True)
    special_ids(built)  # a tampered entry fails here, not in the middle of a training run
    return built


def _add_layout_tokens(tokenizer: PreTrainedTokenizerFast, missing: list[str]) -> None:
    if missing:
        # extend, not replace, the tokenizer's own extra special tokens (a model's chat tokens)
        tokenizer.add_special_tokens({"extra_special_tokens": missing},
                                     replace_extra_special_tokens=False)
    # the model is built with PAD's id as pad_token_id: make tokenizer.pad() agree
    tokenizer.pad_token = tokens.PAD


def _first_line(error: Exception) -> str:
    """transformers' messages run to several lines of advice about the hub; the first says it."""
    return (str(error).strip().splitlines() or [""])[0]


def _not_special(tokenizer: PreTrainedTokenizerFast) -> list[str]:
    """The layout tokens that are not special added tokens of the tokenizer: absent, or plain
    vocabulary entries (or non-special added tokens) that ordinary text could produce."""
    special = {added.content for added in tokenizer.added_tokens_decoder.values() if added.special}
    return tokens.missing_tokens(special)


def load_tokenizer(path: Path, add_tokens_if_missing: bool = True) -> PreTrainedTokenizerFast:
    """Any Hugging Face (fast) tokenizer saved in a local directory, with the layout's special
    tokens added if it lacks them (or a TokenizerError if `add_tokens_if_missing` is False)."""
    path = Path(path)
    if not path.is_dir():
        raise TokenizerError(f"{path}: no such tokenizer directory")
    from transformers import AutoTokenizer  # here: its import pulls in torch (seconds)

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as error:  # transformers raises OSError, ValueError, KeyError, ...
        raise TokenizerError(f"{path}: not a Hugging Face tokenizer directory "
                             f"({type(error).__name__}: {_first_line(error)})") from error
    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        raise TokenizerError(f"{path}: a slow ({type(tokenizer).__name__}) tokenizer; save it "
                             "with tokenizer.json (a fast tokenizer) to train with it")
    missing = _not_special(tokenizer)
    if missing and not add_tokens_if_missing:
        raise TokenizerError(
            f"{path}: the tokenizer lacks the layout's special tokens {', '.join(missing)} "
            "(as special, unsplittable tokens); "
            "load it with add_tokens_if_missing=True (a new model, whose embeddings grow to "
            "fit), or use the tokenizer/ directory saved with the checkpoint")
    _add_layout_tokens(tokenizer, missing)
    return tokenizer


def special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    """Token -> id for every layout token, each checked to be one special, unsplit id."""
    not_special = set(_not_special(tokenizer))
    ids: dict[str, int] = {}
    for token in tokens.SPECIAL_TOKENS:
        encoded = tokenizer.encode(token, add_special_tokens=False)
        if token in not_special or len(encoded) != 1:
            raise TokenizerError(f"{token} is not a single special id of this tokenizer "
                                 f"(encodes to {encoded}); load it with load_tokenizer")
        ids[token] = encoded[0]
    return ids


def text_ids(tokenizer: PreTrainedTokenizerFast, text: str) -> list[int]:
    """Ordinary text -> ids, no BOS/EOS added; a layout token written in the text is split
    into ordinary pieces, so text (a transcript, a user's words) cannot inject control ids."""
    return tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
