"""Checks of catalogs/text/dialogues.jsonl: short everyday exchanges between two or three
people, each English line with its Chinese, for dialogue translation and multi-speaker ASR."""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path

from streamaudio.tasks.texts import load_texts

ROOT = Path(__file__).resolve().parents[2]
DIALOGUES = ROOT / "catalogs" / "text" / "dialogues.jsonl"
DOMAINS = {"travel", "shop", "restaurant", "work", "home", "health", "weather", "school",
           "bank", "transport", "phone", "friends", "sport"}
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
LATIN_OR_DIGIT = re.compile(r"[A-Za-z0-9]")
PLAIN_EN = re.compile(r"^[A-Z][A-Za-z ,'!?.]*[.?!]$")  # spoken text: no digits, symbols, quotes
CHINESE_END = ("。", "？", "！")


def _rows() -> list[dict]:
    lines = DIALOGUES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_catalog_loads_through_the_validated_model() -> None:
    dialogues = load_texts(ROOT / "catalogs").dialogues
    assert len(dialogues) == len(_rows()) >= 50
    assert [d.id for d in dialogues] == [f"dlg-{i:04d}" for i in range(1, len(dialogues) + 1)]


def test_ids_are_unique_and_domains_everyday() -> None:
    rows = _rows()
    assert len({row["id"] for row in rows}) == len(rows)
    domains = Counter(row["domain"] for row in rows)
    assert set(domains) <= DOMAINS and len(domains) >= 8


def test_speakers_alternate_and_are_introduced_in_order() -> None:
    counts = Counter()
    for row in _rows():
        speakers = [line["speaker"] for line in row["lines"]]
        assert 3 <= len(speakers) <= 6, row["id"]
        assert all(a != b for a, b in pairwise(speakers)), row["id"]
        first_seen = list(dict.fromkeys(speakers))
        assert first_seen == ["A", "B", "C"][: len(first_seen)], row["id"]
        counts[len(first_seen)] += 1
    assert set(counts) == {2, 3} and counts[2] >= 40 and counts[3] >= 10


def test_english_lines_are_short_plain_spoken_text() -> None:
    for row in _rows():
        for line in row["lines"]:
            en = line["en"]
            assert 3 <= len(en.split()) <= 14, en
            assert PLAIN_EN.match(en), en  # no digits, symbols or abbreviations with dots
            assert en == en.strip() and "  " not in en


def test_chinese_lines_are_simplified_chinese_sentences() -> None:
    traditional = set("這個們說嗎還對會過請點來時後愛車飯錢學")
    for row in _rows():
        for line in row["lines"]:
            zh = line["zh"]
            assert CJK.search(zh) and not LATIN_OR_DIGIT.search(zh), zh
            assert zh.endswith(CHINESE_END) and not set(zh) & traditional, zh
