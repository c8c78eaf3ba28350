"""Timings for the words of the text that was meant, from the ASR's timed
words of what it heard: align the two after normalisation (numbers spelled
out etc.) and give each reference token the end of the words heard for it."""

from __future__ import annotations

from difflib import SequenceMatcher

from streamaudio.speech.normalize import normalize_text
from streamaudio.speech.types import WordTiming


def _expand(tokens: list[str], language: str) -> tuple[list[str], list[int]]:
    """Normalised words and, for each, the index of the token it came from."""
    words: list[str] = []
    owners: list[int] = []
    for index, token in enumerate(tokens):
        for word in normalize_text(token, language).split():
            words.append(word)
            owners.append(index)
    return words, owners


def align_reference(reference: str, heard: tuple[WordTiming, ...], language: str = "en"
                    ) -> list[WordTiming]:
    """One WordTiming per whitespace token of `reference` (punctuation kept), with
    non-decreasing times. A token the ASR missed ends where the previous one did."""
    tokens = reference.split()
    if not tokens or not heard:
        return []
    ref_words, ref_owner = _expand(tokens, language)
    hyp_words, hyp_owner = _expand([w.word for w in heard], language)
    spans: dict[int, tuple[int, int]] = {}

    def claim(ref_index: int, hyp_index: int) -> None:
        token, timing = ref_owner[ref_index], heard[hyp_owner[hyp_index]]
        start, end = spans.get(token, (timing.start, timing.end))
        spans[token] = (min(start, timing.start), max(end, timing.end))

    matcher = SequenceMatcher(a=ref_words, b=hyp_words, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag in ("equal", "replace") and b1 > b0:
            for offset in range(a1 - a0):  # proportional when lengths differ
                claim(a0 + offset, b0 + offset * (b1 - b0) // (a1 - a0))
    timings: list[WordTiming] = []
    previous_end = heard[0].start
    for index, token in enumerate(tokens):
        start, end = spans.get(index, (previous_end, previous_end))
        start, end = max(start, previous_end if timings else start), max(end, previous_end)
        timings.append(WordTiming(token, start, end))
        previous_end = end
    return timings
