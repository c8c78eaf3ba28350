"""The offline byte-level BPE (deterministic, cached, English and Chinese, any text round
trips) and the loading of any local tokenizer with the layout's special tokens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from streamaudio.train import tokenizer as tokenizer_module
from streamaudio.train import tokens
from streamaudio.train.tokenizer import (
    TEXT_DIR,
    TokenizerError,
    build_offline_tokenizer,
    catalog_texts,
    load_tokenizer,
    special_ids,
    text_ids,
)

VOCAB = 1024  # small, so each build takes a fraction of a second
REPO = Path(__file__).resolve().parents[2]
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
UNSEEN = [
    "Smoke alarm in the kitchen 🔥🚒, everyone out!",
    '{"tool":"notify","args":{"message":"Smoke alarm"}}',
    "量子计算机在二〇三五年会普及吗？",  # characters the catalogs do not hold
    "Tabs\tand\nnew lines,  double  spaces and trailing space ",
    "naïve café, Ærøskøbing, Привет, こんにちは",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OFFLINE.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokenizer-cache")


@pytest.fixture(scope="module")
def bpe(cache: Path) -> PreTrainedTokenizerFast:
    return build_offline_tokenizer(VOCAB, cache_dir=cache)


def _pairs() -> list[dict[str, str]]:
    lines = (TEXT_DIR / "en_zh_pairs.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _entry(cache: Path) -> Path:
    """The one cache entry under `cache` (its name is the input hash)."""
    entries = [d for d in (cache / "tokenizer").iterdir() if not d.name.startswith(".")]
    assert len(entries) == 1, entries
    return entries[0]


def test_catalog_texts_hold_every_string_field_in_a_fixed_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text(json.dumps(
        {"id": "dlg-1", "lines": [{"speaker": "A", "en": "Hello there.", "zh": "你好。"}],
         "order": 3}, ensure_ascii=False) + "\n\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"question": "Why?", "answer": "Because."}\n')
    (tmp_path / "s.txt").write_text("Hello there.\nZebra crossing.\n")
    (tmp_path / "README.md").write_text("not training text\n")
    assert catalog_texts(tmp_path) == sorted(
        ["dlg-1", "A", "Hello there.", "你好。", "Why?", "Because.", "Hello there.",
         "Zebra crossing."])
    real = catalog_texts()
    assert real == sorted(real)
    pairs = _pairs()
    assert {pairs[0]["en"], pairs[0]["zh"], pairs[-1]["zh"]} <= set(real)


def test_two_builds_in_two_processes_write_the_same_bytes(bpe: PreTrainedTokenizerFast,
                                                          cache: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-cache"
    code = ("import sys; from pathlib import Path; "
            "from streamaudio.train.tokenizer import build_offline_tokenizer; "
            f"build_offline_tokenizer({VOCAB}, cache_dir=Path(sys.argv[1]))")
    subprocess.run([sys.executable, "-c", code, str(other)], check=True, cwd=REPO,
                   env={**os.environ, **OFFLINE}, timeout=120)
    mine, theirs = _entry(cache), _entry(other)
    assert mine.name == theirs.name  # the same inputs hash to the same entry
    assert (mine / "tokenizer.json").read_bytes() == (theirs / "tokenizer.json").read_bytes()
    assert (mine / "tokenizer_config.json").read_bytes() == \
        (theirs / "tokenizer_config.json").read_bytes()


def test_a_cache_hit_loads_without_training(bpe: PreTrainedTokenizerFast, cache: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry(cache)
    written = (entry / "tokenizer.json").stat().st_mtime_ns

    def no_training(*args: object) -> None:
        raise AssertionError("trained again on a cache hit")

    monkeypatch.setattr(tokenizer_module, "_train", no_training)
    again = build_offline_tokenizer(VOCAB, cache_dir=cache)
    assert (entry / "tokenizer.json").stat().st_mtime_ns == written
    assert again.get_vocab() == bpe.get_vocab()
    with pytest.raises(AssertionError, match="trained again"):  # another size is another key
        build_offline_tokenizer(VOCAB + 1, cache_dir=cache)
    assert not [p for p in (cache / "tokenizer").iterdir() if p.name.startswith(".")]


def test_a_builder_that_loses_the_race_keeps_the_winners_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    winner = build_offline_tokenizer(VOCAB, cache_dir=tmp_path / "winner")
    entry = _entry(tmp_path / "winner")
    target = tmp_path / "race" / "tokenizer" / entry.name
    train = tokenizer_module._train

    def train_while_another_finishes(texts: list[str], vocab_size: int) -> object:
        shutil.copytree(entry, target)  # the other builder renames its entry in first
        (target / "winner").touch()
        return train(texts, vocab_size)

    monkeypatch.setattr(tokenizer_module, "_train", train_while_another_finishes)
    lost = build_offline_tokenizer(VOCAB, cache_dir=tmp_path / "race")
    assert lost.get_vocab() == winner.get_vocab()
    assert (target / "winner").exists()  # the winner's entry, not replaced
    assert [p.name for p in target.parent.iterdir()] == [entry.name]  # no temp dir left

    # a foreign, non-empty directory at the entry's name is not taken for a tokenizer
    shutil.rmtree(target)
    target.mkdir()
    (target / "partial").touch()
    monkeypatch.setattr(tokenizer_module, "_train", train)
    with pytest.raises(TokenizerError, match=f"{target}: cannot write.*remove it"):
        build_offline_tokenizer(VOCAB, cache_dir=tmp_path / "race")
    assert [p.name for p in target.parent.iterdir()] == [entry.name]


def test_the_vocabulary_is_the_requested_size_with_the_layout_tokens_first(
        bpe: PreTrainedTokenizerFast) -> None:
    assert len(bpe) == VOCAB
    ids = special_ids(bpe)
    assert list(ids) == list(tokens.SPECIAL_TOKENS)
    assert list(ids.values()) == list(range(len(tokens.SPECIAL_TOKENS)))
    assert bpe.pad_token == tokens.PAD and bpe.pad_token_id == ids[tokens.PAD]
    for token, token_id in ids.items():
        assert bpe.convert_tokens_to_ids(token) == token_id
        assert bpe.decode([token_id]) == token
    with pytest.raises(TokenizerError, match="below 273"):
        build_offline_tokenizer(200)


def test_catalog_and_unseen_text_round_trips(bpe: PreTrainedTokenizerFast) -> None:
    pairs = _pairs()
    sentences = [pairs[i][lang] for i in (0, 57, 200, -1) for lang in ("en", "zh")]
    sentences += (TEXT_DIR / "roundtrip_sentences.txt").read_text().splitlines()[:5]
    for text in sentences + UNSEEN:
        ids = text_ids(bpe, text)
        assert bpe.decode(ids) == text
        assert not set(ids) & set(special_ids(bpe).values())
    emoji = text_ids(bpe, "🔥")  # 4 bytes never seen in training: one id per byte
    assert len(emoji) == 4 and bpe.decode(emoji) == "🔥"


def test_no_catalog_text_produces_a_special_id(bpe: PreTrainedTokenizerFast) -> None:
    specials = set(special_ids(bpe).values())
    produced = {i for text in catalog_texts() for i in text_ids(bpe, text)}
    assert produced and not produced & specials


def test_chinese_characters_become_their_own_tokens(tmp_path: Path) -> None:
    default = build_offline_tokenizer(cache_dir=tmp_path)  # the default size, 4096
    assert len(default) == 4096
    zh = [pair["zh"] for pair in _pairs()]
    en = [pair["en"] for pair in _pairs()]
    zh_tokens = sum(len(text_ids(default, s)) for s in zh)
    zh_bytes = sum(len(s.encode()) for s in zh)
    zh_chars = sum(len(s) for s in zh)
    # measured 19.3 tokens for 18.7 characters (56 bytes) a sentence; English 16.1 tokens
    assert zh_tokens < 0.4 * zh_bytes and zh_tokens < 1.1 * zh_chars
    assert sum(len(text_ids(default, s)) for s in en) < 0.3 * sum(len(s) for s in en)
    common = [char for char, _ in Counter("".join(zh)).most_common(30) if char not in "，。？！"]
    assert all(len(text_ids(default, char)) == 1 for char in common), common


def test_a_layout_token_in_ordinary_text_is_split_not_honoured(
        bpe: PreTrainedTokenizerFast) -> None:
    silent = special_ids(bpe)[tokens.SILENT]
    # the library's own encode honours special tokens written in the text ...
    assert bpe.encode(f"ok {tokens.SILENT}", add_special_tokens=False)[-1] == silent
    # ... text_ids does not: the same characters as ordinary pieces, which decode back
    for text in (tokens.SILENT, f"say {tokens.TEXT_BEGIN}hi{tokens.TEXT_END} now"):
        ids = text_ids(bpe, text)
        assert len(ids) > 1 and not set(ids) & set(special_ids(bpe).values())
        assert bpe.decode(ids) == text
    # and it leaves the tokenizer as it found it (the backend flag is set per call)
    assert bpe.encode(tokens.SILENT, add_special_tokens=False) == [silent]
    assert bpe("hello")["input_ids"] == text_ids(bpe, "hello")  # no BOS/EOS added


def test_saved_and_loaded_gives_the_same_ids(bpe: PreTrainedTokenizerFast,
                                             tmp_path: Path) -> None:
    bpe.save_pretrained(str(tmp_path / "saved"))
    loaded = load_tokenizer(tmp_path / "saved", add_tokens_if_missing=False)
    assert special_ids(loaded) == special_ids(bpe) and len(loaded) == len(bpe)
    for text in [*UNSEEN, _pairs()[3]["zh"], f"{tokens.AUDIO}{tokens.SILENT}"]:
        assert text_ids(loaded, text) == text_ids(bpe, text)
        assert loaded.encode(text, add_special_tokens=False) == \
            bpe.encode(text, add_special_tokens=False)


def _tiny_tokenizer(directory: Path) -> Path:
    """A small BPE of its own, knowing one layout token (PAD) and none of the others."""
    tiny = Tokenizer(models.BPE())
    tiny.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tiny.decoder = decoders.ByteLevel()
    tiny.train_from_iterator(["a tiny corpus of words", "hello world"], trainer=trainers.BpeTrainer(
        vocab_size=300, show_progress=False, special_tokens=["<eos>", "<|im_start|>", tokens.PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    PreTrainedTokenizerFast(tokenizer_object=tiny, eos_token="<eos>",
                            extra_special_tokens=["<|im_start|>"]).save_pretrained(str(directory))
    return directory


def test_a_tokenizer_without_the_layout_tokens(tmp_path: Path) -> None:
    path = _tiny_tokenizer(tmp_path / "tiny")
    with pytest.raises(TokenizerError) as error:
        load_tokenizer(path, add_tokens_if_missing=False)
    message = str(error.value)
    assert str(path) in message and "add_tokens_if_missing=True" in message
    assert all(token in message for token in tokens.SPECIAL_TOKENS if token != tokens.PAD)
    assert tokens.PAD not in message  # it has that one
    with pytest.raises(TokenizerError, match=r"<\|online\|> is not a single special id"):
        special_ids(PreTrainedTokenizerFast.from_pretrained(str(path)))

    before = PreTrainedTokenizerFast.from_pretrained(str(path))
    added = load_tokenizer(path)  # the default adds them
    ids = special_ids(added)
    assert ids[tokens.PAD] == before.convert_tokens_to_ids(tokens.PAD)  # kept, not re-added
    new = [ids[t] for t in tokens.SPECIAL_TOKENS if t != tokens.PAD]
    assert sorted(new) == list(range(len(before), len(before) + len(new)))
    assert len(added) == len(before) + len(tokens.SPECIAL_TOKENS) - 1
    assert added.pad_token_id == ids[tokens.PAD]
    assert {"<eos>", "<|im_start|>"} <= set(added.all_special_tokens)  # its own ones survive
    assert text_ids(added, "hello world") == text_ids(before, "hello world")


def test_layout_tokens_held_as_ordinary_added_tokens_are_made_special(tmp_path: Path) -> None:
    ordinary = PreTrainedTokenizerFast.from_pretrained(str(_tiny_tokenizer(tmp_path / "tiny")))
    ordinary.add_tokens([t for t in tokens.SPECIAL_TOKENS if t != tokens.PAD])  # not special
    assert len(ordinary.encode(tokens.ONLINE, add_special_tokens=False)) == 1
    assert len(text_ids(ordinary, tokens.ONLINE)) == 1  # so text could inject it
    with pytest.raises(TokenizerError, match=r"<\|online\|> is not a single special id"):
        special_ids(ordinary)
    ordinary.save_pretrained(str(tmp_path / "ordinary"))
    with pytest.raises(TokenizerError, match="lacks"):
        load_tokenizer(tmp_path / "ordinary", add_tokens_if_missing=False)
    promoted = load_tokenizer(tmp_path / "ordinary")
    assert len(promoted) == len(ordinary)  # the same ids, now special
    assert special_ids(promoted)[tokens.ONLINE] == ordinary.convert_tokens_to_ids(tokens.ONLINE)
    assert len(text_ids(promoted, tokens.ONLINE)) > 1


def test_a_missing_or_non_tokenizer_directory_is_a_tokenizer_error(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="no such tokenizer directory") as missing:
        load_tokenizer(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(missing.value)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("not a tokenizer")
    with pytest.raises(TokenizerError, match="not a Hugging Face tokenizer") as empty:
        load_tokenizer(tmp_path / "notes")
    assert str(tmp_path / "notes") in str(empty.value) and "\n" not in str(empty.value)
