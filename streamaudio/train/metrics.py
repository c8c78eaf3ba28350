"""Evaluation metrics for chunk-level streaming responses: when a model speaks (hit, late,
early, missed, false triggers) and what it says (WER, chrF/BLEU, tool-call match, teacher-
forced text-token accuracy), per subtask, per ability and overall, each rate beside its
denominator. Pure Python + numpy + jiwer + sacrebleu: no model here.

Matching, per stream: every labelled response chunk c takes at most one predicted response
chunk, and a prediction serves at most one label. Greedy in three passes over the labels in
time order: first exact (c), then late (c+1), then early (c-1), so a prediction in a
label's own chunk is never taken by the label before it as a late answer. A predicted
response left unmatched is a false trigger (it always lies on a silent-labelled chunk, as
the exact pass claims every prediction on a labelled chunk)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jiwer
import sacrebleu
from rich import box
from rich.table import Table

from streamaudio.compose.labels import chunk_count, chunk_of_sample, verified_silent_chunks
from streamaudio.shards.reader import StreamRecord

ASR, TRANSLATION, AGENT = "realtime_asr", "translation", "environment_agent"
PASSES = ((0, "hit"), (1, "late"), (-1, "early"))  # preference order of a label's match
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class StreamTruth:
    stream_id: str
    subtask: str
    ability: str
    decisions: tuple[int, ...]  # 0 silent / 1 response, per chunk
    responses: tuple[str, ...]  # "" on silent chunks
    verified_silent: frozenset[int] = frozenset()  # chunks a listener must be silent in
    foreground_ends: tuple[int, ...] = ()  # chunk of each foreground event's last sample


@dataclass(frozen=True)
class StreamPrediction:
    stream_id: str
    decisions: tuple[int, ...]
    responses: tuple[str, ...]
    text_tokens_correct: int = 0  # teacher-forced counts, filled in by the model side
    text_tokens: int = 0


def truth_from_record(record: StreamRecord, chunk_samples: int) -> StreamTruth:
    plan = record.grounded_plan()
    if chunk_count(plan.num_samples, chunk_samples) != record.num_chunks:
        raise ValueError(f"{record.stream_id}: {chunk_samples} samples per chunk does not "
                         f"give the record's {record.num_chunks} chunks")
    ends = {chunk_of_sample(event.offset - 1, chunk_samples) for event in plan.events
            if plan.event_plan(event.event_id).role == "foreground"}
    return StreamTruth(
        stream_id=record.stream_id, subtask=record.subtask, ability=record.ability,
        decisions=tuple(int(d) for d in record.decisions), responses=tuple(record.responses),
        verified_silent=frozenset(verified_silent_chunks(plan, chunk_samples)),
        foreground_ends=tuple(sorted(ends)))


def always_silent(truth: StreamTruth) -> StreamPrediction:
    n = len(truth.decisions)
    return StreamPrediction(truth.stream_id, (0,) * n, ("",) * n)


def respond_at_foreground_ends(truth: StreamTruth) -> StreamPrediction:
    """Responds (with empty text) in the chunk where every foreground event ends."""
    ends = set(truth.foreground_ends)
    decisions = tuple(int(c in ends) for c in range(len(truth.decisions)))
    return StreamPrediction(truth.stream_id, decisions, ("",) * len(decisions))


def match(labels: Iterable[int], predicted: Iterable[int]) -> tuple[dict[int, tuple[str, int]],
                                                                     set[int]]:
    """label chunk -> (outcome, predicted chunk) for matched labels; the unmatched
    predicted chunks. Labels absent from the dict are missed."""
    order, free = sorted(labels), set(predicted)
    matched: dict[int, tuple[str, int]] = {}
    for shift, outcome in PASSES:
        for chunk in order:
            if chunk not in matched and chunk + shift in free:
                matched[chunk] = (outcome, chunk + shift)
                free.remove(chunk + shift)
    return matched, free


def _canonical_json(text: str) -> str | None:
    try:  # sorted keys, no whitespace; 1, 1.0 and true stay distinct (== would not)
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except (ValueError, TypeError):
        return None


def _same_call(label: str, said: str | None) -> bool:
    """Exact tool-call match; an unparsable label or answer, or a missed label, is wrong."""
    want = _canonical_json(label)
    return said is not None and want is not None and want == _canonical_json(said)


@dataclass
class Tally:
    """Raw counts and text pairs of some streams; merged, then finished to a GroupScore."""

    streams: int = 0
    chunks: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("hit", "late", "early", "missed"), 0))
    silent_chunks: int = 0
    false_triggers: int = 0
    verified_silent_chunks: int = 0
    verified_silent_responses: int = 0
    text_tokens_correct: int = 0
    text_tokens: int = 0
    asr: list[tuple[str, str]] = field(default_factory=list)  # per stream (ref, hyp)
    translation: list[tuple[str, str]] = field(default_factory=list)  # per label
    tool_calls_exact: int = 0
    tool_calls: int = 0

    def add(self, other: Tally) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(value, dict):
                for key, count in value.items():
                    mine[key] += count
            elif isinstance(value, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)


def _tally(truth: StreamTruth, prediction: StreamPrediction) -> Tally:
    labels = [c for c, d in enumerate(truth.decisions) if d]
    predicted = [c for c, d in enumerate(prediction.decisions) if d]
    matched, unmatched = match(labels, predicted)
    tally = Tally(streams=1, chunks=len(truth.decisions),
                  silent_chunks=len(truth.decisions) - len(labels), false_triggers=len(unmatched),
                  verified_silent_chunks=len(truth.verified_silent),
                  verified_silent_responses=len(truth.verified_silent.intersection(predicted)),
                  text_tokens_correct=prediction.text_tokens_correct,
                  text_tokens=prediction.text_tokens)
    for chunk in labels:
        tally.outcomes[matched[chunk][0] if chunk in matched else "missed"] += 1
    said = {label: prediction.responses[chunk] for label, (_, chunk) in matched.items()}
    if truth.ability == ASR:
        reference = " ".join(truth.responses[c] for c in labels if truth.responses[c].strip())
        if reference:  # jiwer cannot score an empty reference
            hypothesis = " ".join(prediction.responses[c] for c in predicted
                                  if prediction.responses[c].strip())
            tally.asr.append((reference, hypothesis))
    elif truth.ability == TRANSLATION:
        tally.translation = [(truth.responses[c], said.get(c, "")) for c in labels]
    elif truth.ability == AGENT:
        tally.tool_calls = len(labels)
        tally.tool_calls_exact = sum(_same_call(truth.responses[c], said.get(c)) for c in labels)
    return tally


def _ratio(count: int | float, total: int | float) -> float | None:
    return count / total if total else None


def _rate(count: int | float, total: int, digits: int = 4) -> dict[str, Any]:
    value = _ratio(count, total)
    return {"rate": None if value is None else round(value, digits), "count": count,
            "of": total}


@dataclass(frozen=True)
class GroupScore:
    """Scores of a group of streams, micro over its chunks and labels. Rates of labels:
    hit/late/early/missed; false triggers: unmatched responses / silent-labelled chunks;
    verified silence: any response on a verified-silent chunk / those chunks; WER:
    (S + D + I) / reference words, corpus-level; chrF/BLEU: sacrebleu corpus scores."""

    tally: Tally
    wer_errors: int = 0  # substitutions + deletions + insertions
    wer_words: int = 0  # reference words
    chrf: float | None = None
    bleu: float | None = None

    @classmethod
    def finish(cls, tally: Tally) -> GroupScore:
        errors = words = 0
        if tally.asr:
            words_out = jiwer.process_words([r for r, _ in tally.asr], [h for _, h in tally.asr])
            errors = words_out.substitutions + words_out.deletions + words_out.insertions
            words = words_out.hits + words_out.substitutions + words_out.deletions
        chrf = bleu = None
        if tally.translation:
            refs, hyps = [[r for r, _ in tally.translation]], [h for _, h in tally.translation]
            tokenize = "zh" if any(CJK.search(r) for r in refs[0]) else "13a"
            chrf = sacrebleu.corpus_chrf(hyps, refs).score
            bleu = sacrebleu.corpus_bleu(hyps, refs, tokenize=tokenize).score
        return cls(tally, errors, words, chrf, bleu)

    @property
    def labels(self) -> int:
        return sum(self.tally.outcomes.values())

    def rate(self, outcome: str) -> float | None:
        """Share of labels with this outcome; "hit_or_late" is hit + late."""
        if outcome == "hit_or_late":
            return _ratio(self.tally.outcomes["hit"] + self.tally.outcomes["late"], self.labels)
        return _ratio(self.tally.outcomes[outcome], self.labels)

    @property
    def false_trigger_rate(self) -> float | None:
        return _ratio(self.tally.false_triggers, self.tally.silent_chunks)

    @property
    def verified_silent_rate(self) -> float | None:
        return _ratio(self.tally.verified_silent_responses, self.tally.verified_silent_chunks)

    @property
    def text_token_accuracy(self) -> float | None:
        return _ratio(self.tally.text_tokens_correct, self.tally.text_tokens)

    @property
    def wer(self) -> float | None:
        return _ratio(self.wer_errors, self.wer_words)

    @property
    def tool_call_match(self) -> float | None:
        return _ratio(self.tally.tool_calls_exact, self.tally.tool_calls)

    def to_dict(self) -> dict[str, Any]:
        t, outcomes = self.tally, self.tally.outcomes
        return {
            "streams": t.streams, "chunks": t.chunks, "labels": self.labels,
            **{name: _rate(outcomes[name], self.labels) for name in outcomes},
            "hit_or_late": _rate(outcomes["hit"] + outcomes["late"], self.labels),
            "false_trigger": _rate(t.false_triggers, t.silent_chunks),
            "false_trigger_verified_silent": _rate(t.verified_silent_responses,
                                                   t.verified_silent_chunks),
            "text_token_accuracy": _rate(t.text_tokens_correct, t.text_tokens),
            "wer": _rate(self.wer_errors, self.wer_words),
            "chrf": _score(self.chrf, len(t.translation)),
            "bleu": _score(self.bleu, len(t.translation)),
            "tool_call_match": _rate(t.tool_calls_exact, t.tool_calls),
        }


def _score(value: float | None, pairs: int) -> dict[str, Any]:
    return {"score": None if value is None else round(value, 2), "pairs": pairs}


@dataclass(frozen=True)
class Report:
    overall: GroupScore
    abilities: dict[str, GroupScore]
    subtasks: dict[str, GroupScore]

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall.to_dict(),
                "abilities": {k: v.to_dict() for k, v in self.abilities.items()},
                "subtasks": {k: v.to_dict() for k, v in self.subtasks.items()}}

    def groups(self) -> dict[str, GroupScore]:
        """Rows in table order: overall, each ability, each subtask."""
        return {"overall": self.overall, **self.abilities, **self.subtasks}


def score(truths: Iterable[StreamTruth], predictions: Iterable[StreamPrediction]) -> Report:
    known: dict[str, StreamTruth] = {}
    for truth in truths:
        if truth.stream_id in known:
            raise ValueError(f"a second truth for stream {truth.stream_id!r}")
        known[truth.stream_id] = truth
    given: dict[str, StreamPrediction] = {}
    for prediction in predictions:
        truth = known.get(prediction.stream_id)
        if truth is None or prediction.stream_id in given:
            why = "unknown stream" if truth is None else "a second prediction for stream"
            raise ValueError(f"{why} {prediction.stream_id!r}")
        n = len(truth.decisions)
        if len(prediction.decisions) != n or len(prediction.responses) != n:
            raise ValueError(f"stream {prediction.stream_id!r}: the prediction has "
                             f"{len(prediction.decisions)} decisions and "
                             f"{len(prediction.responses)} responses; the truth {n} chunks")
        given[prediction.stream_id] = prediction
    if missing := sorted(set(known) - set(given)):
        raise ValueError(f"no prediction for stream(s) {', '.join(missing)}")
    overall, abilities, subtasks = Tally(), {}, {}
    for stream_id, truth in sorted(known.items()):
        tally = _tally(truth, given[stream_id])
        for group in (overall, abilities.setdefault(truth.ability, Tally()),
                      subtasks.setdefault(truth.subtask, Tally())):
            group.add(tally)
    return Report(GroupScore.finish(overall),
                  {k: GroupScore.finish(abilities[k]) for k in sorted(abilities)},
                  {k: GroupScore.finish(subtasks[k]) for k in sorted(subtasks)})


COLUMNS = ("hit %", "hit ≤1 late %", "false trig. %", "on verified silence %", "quality")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _quality(group: GroupScore, name: str) -> str:
    """The figure that fits the group: WER, chrF/BLEU or tool-call match for one
    ability's streams, else (and on the overall row) text-token accuracy."""
    if name != "overall":
        if group.wer is not None:
            return f"WER {_percent(group.wer)}"
        if group.chrf is not None:
            return f"chrF {group.chrf:.1f} / BLEU {group.bleu:.1f}"
        if group.tool_call_match is not None:
            return f"tool {_percent(group.tool_call_match)}"
    accuracy = group.text_token_accuracy
    return "–" if accuracy is None else f"tok {_percent(accuracy)}"


def _cells(group: GroupScore | None, name: str) -> list[str]:
    if group is None:
        return ["–"] * len(COLUMNS)
    return [_percent(group.rate("hit")), _percent(group.rate("hit_or_late")),
            _percent(group.false_trigger_rate), _percent(group.verified_silent_rate),
            _quality(group, name)]


def _group_names(reports: dict[str, Report]) -> list[str]:
    """Every system's groups (overall, abilities, subtasks), in first-seen order."""
    names: dict[str, None] = {}
    for report in reports.values():
        names.update(dict.fromkeys(report.groups()))
    return list(names)


def _rows(reports: dict[str, Report]) -> list[list[str]]:
    return [[name] + [cell for report in reports.values()
                      for cell in _cells(report.groups().get(name), name)]
            for name in _group_names(reports)]


# the terminal table's headers, COLUMNS in short; the caption spells them out
SHORT_COLUMNS = ("hit", "≤1 late", "false", "v.silent", "quality")
TABLE_CAPTION = ("% of labels answered in their chunk (hit) or up to one late; % of silent "
                 "chunks with a false trigger, of verified-silent chunks with any response; "
                 "every count in the JSON")


def comparison_table(reports: dict[str, Report]) -> Table:
    """Systems one under another within each group (overall, abilities, subtasks), so the
    width does not grow with the systems: 80 columns hold a 21-character group name, the
    five figures and "chrF 100.0 / BLEU 100.0" (checked in the tests)."""
    table = Table(title="Evaluation", box=box.SIMPLE_HEAD, caption=TABLE_CAPTION,
                  show_edge=False, pad_edge=False, collapse_padding=True)
    # a group name longer than today's (21) folds onto two lines rather than cutting a figure
    table.add_column("group / system", overflow="fold")
    for column in SHORT_COLUMNS:
        table.add_column(column, justify="right", no_wrap=True)
    names = _group_names(reports)
    for index, name in enumerate(names):
        table.add_row(name, *[""] * len(SHORT_COLUMNS), style="bold")
        for number, (system, report) in enumerate(reports.items()):
            table.add_row(f"  {system}", *_cells(report.groups().get(name), name),
                          end_section=number == len(reports) - 1 and index < len(names) - 1)
    return table


def markdown_table(reports: dict[str, Report]) -> str:
    header = ["group"] + [f"{system}: {column}" for system in reports for column in COLUMNS]
    lines = [header, ["---"] + ["---:"] * (len(header) - 1), *_rows(reports)]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines) + "\n"
