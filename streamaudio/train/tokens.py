"""The special tokens of the streaming sequence layout, named in one place. They are added
to whatever tokenizer is used (never re-used ids of ordinary text), so a checkpoint's
tokenizer always carries them; `missing_tokens` says which a tokenizer lacks."""

from __future__ import annotations

from collections.abc import Iterable

from streamaudio.schema import EMOTIONS

ONLINE = "<|online|>"  # mode tag: a live stream, decided chunk by chunk
SYSTEM = "<|system|>"
TEXT_BEGIN = "<|text_begin|>"
TEXT_END = "<|text_end|>"
AUDIO_BEGIN = "<|audio_begin|>"
AUDIO = "<|audio|>"  # one audio slot: its embedding is replaced by an encoder frame
ASSISTANT = "<|assistant|>"  # the decision point: the next token is SILENT or TEXT_BEGIN
SILENT = "<|silent|>"
PAD = "<|pad|>"
LANGUAGES: tuple[str, ...] = ("en", "zh")


def language_token(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")
    return f"<|lang_{language}|>"


def emotion_token(emotion: str) -> str:
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; known: {', '.join(EMOTIONS)}")
    return f"<|emotion_{emotion}|>"


EMOTION_TOKENS: tuple[str, ...] = tuple(emotion_token(e) for e in EMOTIONS)
LANGUAGE_TOKENS: tuple[str, ...] = tuple(language_token(lang) for lang in LANGUAGES)
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD, ONLINE, SYSTEM, TEXT_BEGIN, TEXT_END, AUDIO_BEGIN, AUDIO, ASSISTANT, SILENT,
    *LANGUAGE_TOKENS, *EMOTION_TOKENS,
)


def missing_tokens(vocabulary: Iterable[str]) -> list[str]:
    """The layout's special tokens that a tokenizer's vocabulary does not hold."""
    have = set(vocabulary)
    return [token for token in SPECIAL_TOKENS if token not in have]
