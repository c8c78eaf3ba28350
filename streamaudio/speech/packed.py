"""Hearing many short utterances in one ASR window. Whisper's encoder always reads
30 s, so a 2-3 s sentence heard alone pays for 30 s of encoder: laid end to end
with a pause between them, a dozen sentences cost about what one does. Each
utterance gets back the words whose middle falls in its own span (pauses split
halfway), timed against its own audio."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamaudio.cache import ContentStore
from streamaudio.speech.asr import refine_timings, transcribe_cached
from streamaudio.speech.types import AsrModel, Transcript, WordTiming

WINDOW_SECONDS = 28.0  # one whisper window (30 s) less a margin: a pack never spills over
PAUSE_SECONDS = 1.0  # between utterances: whisper ends a segment there, words stay apart


def packs(lengths: Sequence[int], limit: int, pause: int) -> list[list[int]]:
    """Indices of `lengths` grouped first-fit, longest first (ties in order), so that
    each group, with a `pause` after every item, fits in `limit`; each group keeps
    index order. An item longer than `limit` is a group of its own."""
    groups: list[list[int]] = []
    used: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        need = lengths[index] + pause
        slot = next((g for g, u in enumerate(used) if u + need <= limit), None)
        if slot is None:
            groups.append([])
            used.append(0)
            slot = len(groups) - 1
        groups[slot].append(index)
        used[slot] += need
    return [sorted(group) for group in groups]


def _split(transcript: Transcript, spans: list[tuple[int, int]], pause: int,
           audios: Sequence[np.ndarray], rate: int) -> list[Transcript]:
    """The window's words given back to each utterance, in its own samples."""
    joiner = "" if transcript.language.startswith("zh") else " "
    out = []
    for (offset, length), audio in zip(spans, audios, strict=True):
        lo, hi = offset - pause // 2, offset + length + pause // 2
        words = [WordTiming(w.word, min(max(w.start - offset, 0), length),
                            min(max(w.end - offset, 0), length))
                 for w in transcript.words if lo <= (w.start + w.end) // 2 < hi]
        words = refine_timings(words, audio, rate)
        out.append(Transcript(joiner.join(w.word for w in words).strip(),
                              transcript.language, tuple(words)))
    return out


def transcribe_packed(model: AsrModel, audios: Sequence[np.ndarray], rate: int,
                      language: str, store: ContentStore) -> list[tuple[Transcript, int]]:
    """A transcript for each of `audios` (one language, `rate` Hz), heard in packs of
    up to WINDOW_SECONDS, with the number of utterances in its window. Each pack's
    transcript is cached by the pack's audio, so the same utterances in the same
    order are heard the same way on every machine."""
    pause = round(PAUSE_SECONDS * rate)
    silence = np.zeros(pause, dtype=np.float32)
    results: list[tuple[Transcript, int] | None] = [None] * len(audios)
    for group in packs([a.size for a in audios], round(WINDOW_SECONDS * rate), pause):
        if len(group) == 1:  # heard alone, as the round trip would: one cache entry
            results[group[0]] = (transcribe_cached(model, audios[group[0]], rate, language,
                                                   store), 1)
            continue
        parts, spans, offset = [], [], 0
        for index in group:
            audio = np.asarray(audios[index], dtype=np.float32).reshape(-1)
            parts += [audio, silence]
            spans.append((offset, audio.size))
            offset += audio.size + pause
        window = np.concatenate(parts)
        heard = transcribe_cached(model, window, rate, language, store)
        for index, transcript in zip(group, _split(heard, spans, pause,
                                                   [audios[i] for i in group], rate),
                                     strict=True):
            results[index] = (transcript, len(group))
    return [r for r in results if r is not None]


class PreHeard:
    """Transcripts heard in packs ahead of the round trip, by (ASR model, audio): the
    round trip takes one from here instead of hearing the utterance alone."""

    def __init__(self) -> None:
        self._heard: dict[tuple[str, str], tuple[Transcript, int]] = {}

    def __len__(self) -> int:
        return len(self._heard)

    def put(self, model: AsrModel, digest: str, transcript: Transcript, window: int) -> None:
        """`window`: utterances heard in that whisper window. The first transcript of an
        audio stays: a later pack never changes an utterance already decided."""
        self._heard.setdefault((model.version(), digest), (transcript, window))

    def get(self, model: AsrModel, digest: str) -> tuple[Transcript, int] | None:
        return self._heard.get((model.version(), digest))
