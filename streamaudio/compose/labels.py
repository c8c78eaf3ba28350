"""Chunk labels from sample intervals, by one rule: a turn's response goes in the
chunk that holds the turn's last sample (for a sound, its core span's last)."""

from __future__ import annotations

from streamaudio.schema import ChunkLabels, GroundedPlan
from streamaudio.units import ceil_div


class LabelConflict(ValueError):
    """Two responses fall in one chunk, or a response falls outside the stream."""


def chunk_count(num_samples: int, chunk_samples: int) -> int:
    if num_samples <= 0:
        raise ValueError("a stream has at least one sample")
    return ceil_div(num_samples, chunk_samples)


def chunk_of_sample(sample: int, chunk_samples: int) -> int:
    return sample // chunk_samples


def derive_labels(plan: GroundedPlan, chunk_samples: int) -> ChunkLabels:
    """One response per triggering event, in the chunk of its core's last sample;
    for word-emitting speech, each word in the chunk where it ends (words of one
    chunk are joined in the order they end; a speaker's first word after a turn
    change carries the speaker tag, "[B] yes"). A trigger never shares its chunk."""
    num_chunks = chunk_count(plan.num_samples, chunk_samples)
    decisions = [0] * num_chunks
    responses = [""] * num_chunks
    emotions = [""] * num_chunks
    words: dict[int, list[tuple[int, str]]] = {}
    previous_speaker = ""
    for grounded in sorted(plan.events, key=lambda e: e.onset):
        event = plan.event_plan(grounded.event_id)
        if event.emit == "words":
            # several speakers: a turn change puts the new speaker's tag on its first word
            tag = f"[{event.speaker}] " if event.speaker and event.speaker != previous_speaker \
                else ""
            previous_speaker = event.speaker or previous_speaker
            for index, span in enumerate(grounded.words):
                last = grounded.onset + span.end - 1
                words.setdefault(chunk_of_sample(last, chunk_samples), []).append(
                    (last, (tag if index == 0 else "") + span.word))
            continue
        if not event.trigger:
            continue
        last = grounded.core_last_sample
        if not 0 <= last < plan.num_samples:
            raise LabelConflict(f"event {event.event_id}: core ends outside the stream")
        chunk = chunk_of_sample(last, chunk_samples)
        if decisions[chunk]:
            raise LabelConflict(f"event {event.event_id}: chunk {chunk} already responds")
        decisions[chunk] = 1
        responses[chunk] = event.response
        emotions[chunk] = event.emotion or "normal"
    for chunk, ending in sorted(words.items()):
        if chunk >= num_chunks:
            raise LabelConflict(f"a word ends after the stream (chunk {chunk})")
        if decisions[chunk]:
            raise LabelConflict(f"chunk {chunk} holds both words and a response")
        decisions[chunk] = 1
        # by end sample only: words the ASR timed together ("$200" for "two hundred
        # dollars") keep their spoken order (the sort is stable)
        responses[chunk] = " ".join(word for _, word in sorted(ending, key=lambda w: w[0]))
        emotions[chunk] = "normal"
    return ChunkLabels(decisions=decisions, responses=responses, emotions=emotions)


def verified_silent_chunks(plan: GroundedPlan, chunk_samples: int) -> list[int]:
    """Chunks a listener must be silent in by construction: all of a verified-silent
    stream, else every chunk starting inside a verified-silent event."""
    num_chunks = chunk_count(plan.num_samples, chunk_samples)
    if plan.scene.verified_silent:
        return list(range(num_chunks))
    chunks: set[int] = set()
    for event in plan.events:
        if plan.event_plan(event.event_id).verified_silent:
            first = ceil_div(event.onset, chunk_samples)
            chunks.update(range(first, min(ceil_div(event.offset, chunk_samples), num_chunks)))
    return sorted(chunks)
