"""Checks of the hand-written text catalogs in catalogs/text/: voice-chat QA pairs, en->zh
parallel sentences, real-time ASR passages, the TTS->ASR round-trip sentences, and the
conversations, history facts and name messages of the chat and instruction subtasks."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from streamaudio.schema import EMOTIONS
from streamaudio.tasks.texts import load_texts

ROOT = Path(__file__).resolve().parents[2]
TEXT = ROOT / "catalogs" / "text"
QA_FILE = TEXT / "qa_pairs.jsonl"
EN_ZH_FILE = TEXT / "en_zh_pairs.jsonl"
ASR_FILE = TEXT / "asr_passages.jsonl"
ROUNDTRIP_FILE = TEXT / "roundtrip_sentences.txt"
CONVERSATIONS_FILE = TEXT / "conversations.jsonl"
HISTORY_FILE = TEXT / "history_facts.jsonl"
NAME_MESSAGES_FILE = TEXT / "name_messages.jsonl"

QA_TOPICS = {
    "everyday",
    "cooking",
    "health",
    "travel",
    "science",
    "nature",
    "history",
    "technology",
    "language",
    "math",
    "home",
    "sports",
    "music",
    "animals",
    "weather",
    "work",
    "money",
    "transport",
    "geography",
    "wellbeing",
}
EN_ZH_DOMAINS = {
    "conversation",
    "travel",
    "business",
    "news",
    "instructions",
    "story",
    "science",
    "daily_life",
}
ASR_STYLES = {"dictation", "meeting", "lecture", "phone_call", "podcast", "announcement", "story"}
CONVERSATION_TOPICS = {
    "cooking", "travel", "health", "home", "work", "shopping", "weather", "sports", "music",
    "pets", "garden", "family", "weekend", "school", "technology", "money", "wellbeing",
    "transport", "books", "films",
}  # fmt: skip

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")
DIGIT = re.compile(r"\d")
MARKUP = re.compile(r"[*#_`\[\]<>{}|\\]|https?:|www\.")


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        assert line.strip(), f"{path.name}:{number}: blank line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            pytest.fail(f"{path.name}:{number}: not JSON ({error})")
        assert isinstance(row, dict), f"{path.name}:{number}: not an object"
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def qa() -> list[dict[str, Any]]:
    return read_jsonl(QA_FILE)


@pytest.fixture(scope="module")
def en_zh() -> list[dict[str, Any]]:
    return read_jsonl(EN_ZH_FILE)


@pytest.fixture(scope="module")
def asr() -> list[dict[str, Any]]:
    return read_jsonl(ASR_FILE)


@pytest.fixture(scope="module")
def roundtrip() -> list[str]:
    return ROUNDTRIP_FILE.read_text(encoding="utf-8").splitlines()


def check_ids(rows: list[dict[str, Any]], pattern: str) -> None:
    ids = [row["id"] for row in rows]
    assert all(re.fullmatch(pattern, i) for i in ids), [
        i for i in ids if not re.fullmatch(pattern, i)
    ]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]


def test_loader_accepts_all_catalogs() -> None:
    catalog = load_texts.__wrapped__(ROOT / "catalogs")
    assert catalog.qa and catalog.en_zh and catalog.asr
    assert catalog.conversations and catalog.history and catalog.name_messages


def speakable(text: str) -> None:
    """Plain spoken English: no digits, markup or Chinese, tidy spacing, a final stop."""
    assert not DIGIT.search(text), f"digits are read oddly by TTS: {text}"
    assert not MARKUP.search(text), f"markup or URL: {text}"
    assert not CJK.search(text), text
    assert text == text.strip() and "  " not in text, repr(text)
    assert text[-1] in ".?!", text


# ---------------------------------------------------------------- QA pairs


def test_qa_keys_and_ids(qa: list[dict[str, Any]]) -> None:
    for row in qa:
        assert set(row) == {"id", "split", "topic", "question", "answer", "emotion"}, row
        assert all(isinstance(v, str) for v in row.values()), row
    check_ids(qa, r"qa-\d{4}")


def test_qa_counts(qa: list[dict[str, Any]]) -> None:
    assert len(qa) >= 300
    topics = Counter(row["topic"] for row in qa)
    assert set(topics) <= QA_TOPICS, set(topics) - QA_TOPICS
    assert sum(1 for n in topics.values() if n >= 10) >= 20, topics


def test_qa_emotions(qa: list[dict[str, Any]]) -> None:
    emotions = Counter(row["emotion"] for row in qa)
    assert set(emotions) <= set(EMOTIONS), emotions
    assert emotions["normal"] > len(qa) / 2, emotions
    for needed in ("happy", "sad", "urgent", "surprise"):
        assert emotions[needed] >= 5, emotions


def test_qa_text_is_speakable(qa: list[dict[str, Any]]) -> None:
    for row in qa:
        question, answer = row["question"], row["answer"]
        assert 8 <= words(question) <= 25, question
        assert 10 <= words(answer) <= 45, answer
        assert 1 <= len(sentences(answer)) <= 3, answer
        for text in (question, answer):
            assert not DIGIT.search(text), f"digits are read oddly by TTS: {text}"
            assert not MARKUP.search(text), f"markup or URL: {text}"
            assert not CJK.search(text), text
            assert text == text.strip() and "  " not in text, repr(text)
        assert question.rstrip('"')[-1] in ".?!", question
        assert answer.rstrip('"')[-1] in ".?!", answer


def test_qa_questions_unique_and_varied(qa: list[dict[str, Any]]) -> None:
    questions = [row["question"].lower() for row in qa]
    assert len(questions) == len(set(questions)), [
        q for q, n in Counter(questions).items() if n > 1
    ]
    openings = Counter(" ".join(q.split()[:2]) for q in questions)
    assert openings.most_common(1)[0][1] < len(qa) / 10, openings.most_common(5)


# ---------------------------------------------------------------- en -> zh


def test_en_zh_keys_and_ids(en_zh: list[dict[str, Any]]) -> None:
    for row in en_zh:
        base = {"id", "split", "domain", "en", "zh"}
        assert set(row) in (base, base | {"passage", "order"}), row
        assert row["domain"] in EN_ZH_DOMAINS, row
    check_ids(en_zh, r"enzh-\d{4}")


def test_en_zh_counts(en_zh: list[dict[str, Any]]) -> None:
    assert len(en_zh) >= 300
    domains = Counter(row["domain"] for row in en_zh)
    assert set(domains) == EN_ZH_DOMAINS, domains
    assert min(domains.values()) >= 20, domains


def test_en_zh_languages(en_zh: list[dict[str, Any]]) -> None:
    for row in en_zh:
        en, zh = row["en"], row["zh"]
        assert 6 <= words(en) <= 22, en
        assert not CJK.search(en), en
        assert not DIGIT.search(en), f"numbers should be words: {en}"
        assert CJK.search(zh), zh
        assert not ASCII_LETTER.search(zh), zh
        assert not DIGIT.search(zh), zh
        assert not re.search(r"[,;:?!()\"]", zh), f"ASCII punctuation in Chinese: {zh}"
        assert zh[-1] in "。？！", zh


def test_en_zh_simplified_characters(en_zh: list[dict[str, Any]]) -> None:
    opencc = pytest.importorskip("opencc")
    to_simplified = opencc.OpenCC("t2s")
    traditional = [row["zh"] for row in en_zh if to_simplified.convert(row["zh"]) != row["zh"]]
    assert not traditional, traditional


def test_en_zh_unique(en_zh: list[dict[str, Any]]) -> None:
    for key in ("en", "zh"):
        texts = [row[key] for row in en_zh]
        assert len(texts) == len(set(texts)), [t for t, n in Counter(texts).items() if n > 1]


def test_en_zh_passages(en_zh: list[dict[str, Any]]) -> None:
    passages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in en_zh:
        if "passage" in row:
            assert re.fullmatch(r"p-\d{3}", row["passage"]), row
            assert isinstance(row["order"], int), row
            passages[row["passage"]].append(row)
    assert len(passages) >= 30, len(passages)
    for name, rows in passages.items():
        assert [r["order"] for r in rows] == list(range(1, len(rows) + 1)), name
        assert 2 <= len(rows) <= 4, name
        assert len({r["domain"] for r in rows}) == 1, name
        # a passage's sentences sit next to each other in the file
        positions = [en_zh.index(r) for r in rows]
        assert positions == list(range(positions[0], positions[0] + len(rows))), name


# ---------------------------------------------------------------- ASR passages


def test_asr_keys_and_ids(asr: list[dict[str, Any]]) -> None:
    for row in asr:
        assert set(row) == {"id", "split", "style", "sentences"}, row
        assert row["style"] in ASR_STYLES, row
        assert isinstance(row["sentences"], list), row
    check_ids(asr, r"asr-\d{4}")


def test_asr_counts(asr: list[dict[str, Any]]) -> None:
    assert len(asr) >= 100
    styles = Counter(row["style"] for row in asr)
    assert set(styles) == ASR_STYLES, styles
    assert min(styles.values()) >= 10, styles


def test_asr_sentences(asr: list[dict[str, Any]]) -> None:
    seen: Counter[str] = Counter()
    for row in asr:
        assert 2 <= len(row["sentences"]) <= 4, row
        for sentence in row["sentences"]:
            assert isinstance(sentence, str), row
            assert 6 <= words(sentence) <= 20, sentence
            assert not DIGIT.search(sentence), sentence
            assert not CJK.search(sentence), sentence
            assert not MARKUP.search(sentence), sentence
            assert sentence[-1] in ".?!", sentence
            seen[sentence.lower()] += 1
    assert not [s for s, n in seen.items() if n > 1]


# ---------------------------------------------------------------- round-trip sentences


def test_roundtrip_sentences(roundtrip: list[str]) -> None:
    assert all(line.strip() and line == line.strip() for line in roundtrip), "blank or padded line"
    assert len(roundtrip) >= 200
    assert len({s.lower() for s in roundtrip}) == len(roundtrip), "duplicate sentence"
    for sentence in roundtrip:
        assert 4 <= words(sentence) <= 25, sentence
        assert not CJK.search(sentence), sentence
        assert not sentence.startswith("#"), sentence
        assert sentence[-1] in ".?!", sentence
    with_digits = sum(1 for s in roundtrip if DIGIT.search(s))
    assert 10 <= with_digits <= len(roundtrip) / 2, with_digits
    assert sum(1 for s in roundtrip if s.endswith("?")) >= 20
    assert sum(1 for s in roundtrip if "," in s) >= 20
    lengths = [words(s) for s in roundtrip]
    assert min(lengths) <= 5 and max(lengths) >= 18, (min(lengths), max(lengths))


# ---------------------------------------------------------------- conversations


@pytest.fixture(scope="module")
def conversations() -> list[dict[str, Any]]:
    return read_jsonl(CONVERSATIONS_FILE)


def test_conversation_keys_ids_and_counts(conversations: list[dict[str, Any]]) -> None:
    for row in conversations:
        assert set(row) == {"id", "split", "topic", "exchanges"}, row
        assert row["topic"] in CONVERSATION_TOPICS, row
        for exchange in row["exchanges"]:
            assert set(exchange) == {"user", "assistant", "emotion"}, row["id"]
    check_ids(conversations, r"conv-\d{4}")
    assert len(conversations) >= 40
    topics = Counter(row["topic"] for row in conversations)
    assert set(topics) == CONVERSATION_TOPICS and min(topics.values()) >= 2, topics


def test_conversation_turns_are_short_and_speakable(
    conversations: list[dict[str, Any]],
) -> None:
    for row in conversations:
        assert 4 <= len(row["exchanges"]) <= 8, row["id"]
        for exchange in row["exchanges"]:
            user, assistant = exchange["user"], exchange["assistant"]
            assert 3 <= words(user) <= 12, user
            assert words(assistant) <= 25 and 1 <= len(sentences(assistant)) <= 2, assistant
            speakable(user)
            speakable(assistant)
    openings = [row["exchanges"][0]["user"].lower() for row in conversations]
    assert len(openings) == len(set(openings))


def test_conversation_emotions(conversations: list[dict[str, Any]]) -> None:
    emotions = Counter(e["emotion"] for row in conversations for e in row["exchanges"])
    assert set(emotions) <= set(EMOTIONS) - {"angry"}, emotions  # never answered angrily
    assert emotions["normal"] > sum(emotions.values()) / 2, emotions
    for needed in ("happy", "sad", "urgent", "surprise"):
        assert emotions[needed] >= 2, emotions


# ---------------------------------------------------------------- history facts


@pytest.fixture(scope="module")
def history() -> list[dict[str, Any]]:
    return read_jsonl(HISTORY_FILE)


def test_history_keys_ids_and_counts(history: list[dict[str, Any]]) -> None:
    for row in history:
        keys = {"id", "split", "statement", "acknowledgement", "question", "answer"}
        assert set(row) == keys, row
        assert all(isinstance(v, str) for v in row.values()), row
    check_ids(history, r"hist-\d{4}")
    assert len(history) >= 60
    for key in ("statement", "question"):
        texts = [row[key].lower() for row in history]
        assert len(texts) == len(set(texts)), [t for t, n in Counter(texts).items() if n > 1]


def test_history_texts(history: list[dict[str, Any]]) -> None:
    for row in history:
        assert 4 <= words(row["statement"]) <= 12, row["statement"]
        assert words(row["acknowledgement"]) <= 10, row["acknowledgement"]
        assert 3 <= words(row["question"]) <= 10 and row["question"].endswith("?"), row
        assert 1 <= words(row["answer"]) <= 8, row["answer"]
        for key in ("statement", "acknowledgement", "question", "answer"):
            speakable(row[key])
        assert not row["statement"].endswith("?"), row
        # the answer's content words come from the statement: the fact is recalled, not new
        content = {w.strip(".,?!").lower() for w in row["answer"].split()} - {
            "at", "on", "in", "the", "a", "for", "yes", "your", "to", "by", "of"}
        stated = {w.strip(".,?!'s").lower() for w in row["statement"].split()} | {
            w.strip(".,?!").lower() for w in row["statement"].split()}
        assert content <= stated, (row["id"], content - stated)


# ---------------------------------------------------------------- name messages


@pytest.fixture(scope="module")
def name_messages() -> list[dict[str, Any]]:
    return read_jsonl(NAME_MESSAGES_FILE)


def test_name_message_keys_ids_and_counts(name_messages: list[dict[str, Any]]) -> None:
    for row in name_messages:
        assert set(row) == {"id", "split", "message", "summary"}, row
    check_ids(name_messages, r"name-\d{4}")
    assert len(name_messages) >= 60
    texts = [row["message"].lower() for row in name_messages]
    assert len(texts) == len(set(texts))


def test_name_messages_have_one_placeholder_and_a_summary(
    name_messages: list[dict[str, Any]],
) -> None:
    from streamaudio.tasks.instruction_following import NAMES, mentions

    for row in name_messages:
        message, summary = row["message"], row["summary"]
        assert message.count("{name}") == 1 and not re.search(r"[{}]", message.replace(
            "{name}", "")), message
        filled = message.replace("{name}", "Alex")
        assert 5 <= words(filled) <= 18, message
        speakable(filled)
        speakable(summary)
        assert summary.startswith("They ") and len(sentences(summary)) == 1, summary
        assert "{name}" not in summary and words(summary) <= 20, summary
        # names the message could be heard to say already ("Tom" in "tomorrow") are not
        # filled in; nearly every configured name must stay usable
        assert sum(mentions(message, name) for name in NAMES) <= 1, message
