"""Metrics on hand-made truths and predictions with known answers, plus truth_from_record on
real streams of the tiny world."""

from __future__ import annotations

import json
from collections.abc import Sequence

import jiwer
import pytest
import sacrebleu
from conftest import write_world
from rich.console import Console

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.shards.reader import StreamRecord, iter_streams
from streamaudio.tasks.registry import get_subtask
from streamaudio.train.metrics import (
    Report,
    StreamPrediction,
    StreamTruth,
    always_silent,
    comparison_table,
    markdown_table,
    match,
    respond_at_foreground_ends,
    score,
    truth_from_record,
)

ABILITY = {"hazard_alert": "proactive_response", "benign_silence": "proactive_response",
           "asr_clean": "realtime_asr", "en_zh_translation": "translation",
           "zh_en_translation": "translation", "alarm_action": "environment_agent",
           "notify_on_sound": "instruction_following"}


def truth(labels: dict[int, str], chunks: int = 12, subtask: str = "hazard_alert",
          stream_id: str = "s", verified: Sequence[int] = (),
          ends: Sequence[int] = ()) -> StreamTruth:
    return StreamTruth(stream_id, subtask, ABILITY[subtask],
                       tuple(int(c in labels) for c in range(chunks)),
                       tuple(labels.get(c, "") for c in range(chunks)),
                       frozenset(verified), tuple(ends))


def predict(of: StreamTruth, said: dict[int, str], correct: int = 0,
            tokens: int = 0) -> StreamPrediction:
    n = len(of.decisions)
    return StreamPrediction(of.stream_id, tuple(int(c in said) for c in range(n)),
                            tuple(said.get(c, "") for c in range(n)), correct, tokens)


def perfect(of: StreamTruth) -> StreamPrediction:
    return StreamPrediction(of.stream_id, of.decisions, of.responses)


def test_hit_late_early_and_missed() -> None:
    t = truth({2: "a", 5: "b", 8: "c", 11: "d"}, chunks=14)
    report = score([t], [predict(t, {2: "a", 6: "b", 7: "c"})])
    group = report.overall
    assert group.labels == 4
    assert group.tally.outcomes == {"hit": 1, "late": 1, "early": 1, "missed": 1}
    assert (group.rate("hit"), group.rate("hit_or_late")) == (0.25, 0.5)
    assert (group.rate("early"), group.rate("late"), group.rate("missed")) == (.25, .25, .25)
    assert group.tally.false_triggers == 0 and group.false_trigger_rate == 0.0
    assert group.tally.silent_chunks == 10


def test_greedy_prefers_the_exact_hit_over_a_late_match() -> None:
    # the prediction in chunk 5 is label 4's late answer and label 5's exact one
    assert match([4, 5], [5]) == ({5: ("hit", 5)}, set())
    t = truth({4: "a", 5: "b"})
    outcomes = score([t], [predict(t, {5: "b"})]).overall.tally.outcomes
    assert outcomes == {"hit": 1, "late": 0, "early": 0, "missed": 1}
    # late is preferred over early, and each prediction serves one label only
    assert match([3, 5], [4]) == ({3: ("late", 4)}, set())
    assert match([3], [2, 4]) == ({3: ("late", 4)}, {2})


def test_false_triggers_on_silent_and_verified_silent_chunks() -> None:
    t = truth({3: "fire"}, chunks=10, verified=(6, 7, 8))
    group = score([t], [predict(t, {0: "x", 3: "fire", 6: "x", 8: "x"})]).overall
    assert group.tally.false_triggers == 3 and group.tally.silent_chunks == 9
    assert group.false_trigger_rate == pytest.approx(3 / 9)
    assert group.tally.verified_silent_responses == 2
    assert group.verified_silent_rate == pytest.approx(2 / 3)
    # a late answer on a verified-silent chunk is no false trigger, but it is a
    # response where the listener must be silent
    t = truth({3: "fire"}, chunks=10, verified=(4,))
    group = score([t], [predict(t, {4: "fire"})]).overall
    assert (group.rate("late"), group.false_trigger_rate, group.verified_silent_rate) == (
        1.0, 0.0, 1.0)
    # no verified-silent chunks: no rate, not 0
    t = truth({3: "fire"})
    assert score([t], [predict(t, {3: "fire"})]).overall.verified_silent_rate is None


def _mixed() -> list[StreamTruth]:
    return [truth({3: "fire", 9: "smoke"}, subtask="hazard_alert", stream_id="h1",
                  verified=(5, 6)),
            truth({}, subtask="benign_silence", stream_id="b1", verified=range(12)),
            truth({1: "the", 2: "cat sat", 4: "down"}, subtask="asr_clean", stream_id="a1")]


def test_perfect_predictor_and_always_silent() -> None:
    truths = _mixed()
    best = score(truths, [perfect(t) for t in truths]).overall
    assert (best.rate("hit"), best.rate("hit_or_late")) == (1.0, 1.0)
    assert (best.false_trigger_rate, best.verified_silent_rate, best.wer) == (0.0, 0.0, 0.0)
    silent = score(truths, [always_silent(t) for t in truths]).overall
    assert (silent.rate("hit"), silent.rate("missed")) == (0.0, 1.0)
    assert (silent.false_trigger_rate, silent.verified_silent_rate) == (0.0, 0.0)
    assert silent.wer == 1.0  # every reference word deleted
    assert silent.tally.verified_silent_chunks == 14 and silent.tally.silent_chunks == 31


def test_foreground_end_baseline_where_ends_are_the_labels() -> None:
    t = truth({7: "glass"}, chunks=10, verified=(2, 3), ends=(3, 7))
    prediction = respond_at_foreground_ends(t)
    assert prediction.decisions == (0, 0, 0, 1, 0, 0, 0, 1, 0, 0)
    assert set(prediction.responses) == {""}
    group = score([t], [prediction]).overall
    assert group.rate("hit") == 1.0
    assert group.false_trigger_rate == pytest.approx(1 / 9)
    assert group.verified_silent_rate == 0.5


def test_wer_perfect_and_imperfect_against_jiwer() -> None:
    a = truth({1: "the cat", 3: "sat on", 5: "the mat"}, subtask="asr_clean", stream_id="a")
    b = truth({2: "hello", 4: "world"}, subtask="asr_clean", stream_id="b")
    assert score([a, b], [perfect(a), perfect(b)]).subtasks["asr_clean"].wer == 0.0
    # timing does not enter WER: a late chunk's words count, a missed chunk's are deleted
    predictions = [predict(a, {1: "the cat", 4: "sit on"}), predict(b, {2: "hello", 4: "word"})]
    group = score([a, b], predictions).abilities["realtime_asr"]
    expected = jiwer.wer(["the cat sat on the mat", "hello world"],
                         ["the cat sit on", "hello word"])
    assert group.wer == pytest.approx(expected) == pytest.approx(4 / 8)
    assert (group.wer_errors, group.wer_words) == (4, 8)


def test_chrf_and_bleu_for_chinese_and_english() -> None:
    zh = truth({2: "火车九点出发。", 6: "我喜欢在周末喝绿茶。"}, subtask="en_zh_translation",
               stream_id="z")
    en = truth({3: "I like green tea very much."}, subtask="zh_en_translation", stream_id="e")
    report = score([zh, en], [perfect(zh), perfect(en)])
    for group in (report.subtasks["en_zh_translation"], report.subtasks["zh_en_translation"],
                  report.abilities["translation"]):
        assert group.chrf == pytest.approx(100) and group.bleu == pytest.approx(100)
    # an imperfect Chinese answer is scored with the zh tokenizer; a missed label pairs with ""
    said = {3: "火车十点出发。"}  # late, wrong hour; the second label is missed
    group = score([zh], [predict(zh, said)]).overall
    hyps, refs = ["火车十点出发。", ""], [["火车九点出发。", "我喜欢在周末喝绿茶。"]]
    assert group.bleu == pytest.approx(sacrebleu.corpus_bleu(hyps, refs, tokenize="zh").score)
    assert group.bleu != pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score)
    assert group.chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, refs).score)
    assert 0 < group.chrf < 100
    assert group.tally.translation == [("火车九点出发。", "火车十点出发。"),
                                       ("我喜欢在周末喝绿茶。", "")]


def test_tool_call_exact_json_match() -> None:
    call = '{"tool": "notify", "args": {"event": "smoke_alarm"}}'
    t = truth({2: call, 5: call, 8: call, 10: call}, subtask="alarm_action")
    said = {2: '{"args":{"event":  "smoke_alarm"},\n "tool":"notify"}',  # same object
            5: '{"tool": "notify", "args": {"event": "fire_alarm"}}',  # wrong arg
            8: '{"tool": "notify", "args": {"event": "smoke_alarm"'}  # unparsable; 10 missed
    group = score([t], [predict(t, said)]).abilities["environment_agent"]
    assert (group.tally.tool_calls_exact, group.tally.tool_calls) == (1, 4)
    assert group.tool_call_match == 0.25
    t = truth({2: '{"tool": "oven", "args": {"power": "off", "now": true}}'},
              subtask="alarm_action")
    same_but_1 = predict(t, {2: '{"tool": "oven", "args": {"power": "off", "now": 1}}'})
    assert score([t], [same_but_1]).overall.tool_call_match == 0.0  # true is not 1


def test_grouping_is_micro_per_subtask_ability_and_overall() -> None:
    h1 = truth({1: "a", 4: "b", 7: "c"}, subtask="hazard_alert", stream_id="h1")
    h2 = truth({2: "a"}, subtask="hazard_alert", stream_id="h2")
    n1 = truth({5: "x"}, subtask="notify_on_sound", stream_id="n1")
    b1 = truth({}, subtask="benign_silence", stream_id="b1")
    predictions = [predict(h1, {1: "a", 4: "b", 7: "c"}), always_silent(h2),
                   always_silent(n1), predict(b1, {3: "?"})]
    report = score([n1, b1, h2, h1], predictions)
    assert list(report.subtasks) == ["benign_silence", "hazard_alert", "notify_on_sound"]
    assert list(report.abilities) == ["instruction_following", "proactive_response"]
    assert report.subtasks["hazard_alert"].rate("hit") == 0.75
    assert report.subtasks["notify_on_sound"].rate("hit") == 0.0
    assert report.subtasks["benign_silence"].rate("hit") is None
    assert report.subtasks["benign_silence"].false_trigger_rate == pytest.approx(1 / 12)
    proactive = report.abilities["proactive_response"]
    assert (proactive.tally.streams, proactive.labels, proactive.rate("hit")) == (3, 4, 0.75)
    assert proactive.tally.silent_chunks == 9 + 11 + 12
    # micro over labels: 3 of 5, not the mean of the abilities' rates (0.375)
    assert report.overall.rate("hit") == 0.6 and report.overall.tally.streams == 4


def test_text_token_accuracy_from_teacher_forced_counts() -> None:
    a, b = truth({1: "x"}, stream_id="a"), truth({1: "y"}, stream_id="b")
    group = score([a, b], [predict(a, {}, 3, 4), predict(b, {}, 1, 4)]).overall
    assert group.text_token_accuracy == 0.5
    assert score([a, b], [perfect(a), perfect(b)]).overall.text_token_accuracy is None


def _report() -> Report:
    truths = [*_mixed(), truth({2: "火车九点出发。"}, subtask="en_zh_translation", stream_id="z"),
              truth({4: '{"tool": "notify"}'}, subtask="alarm_action", stream_id="t")]
    predictions = [predict(t, {c + 1: r for c, r in enumerate(t.responses) if r}, 1, 3)
                   for t in truths]
    return score(truths, predictions)


def test_to_dict_round_trips_through_json_with_rounded_floats() -> None:
    data = _report().to_dict()
    assert json.loads(json.dumps(data)) == data
    overall = data["overall"]
    assert overall["text_token_accuracy"] == {"rate": 0.3333, "count": 5, "of": 15}
    # every answer one chunk late, so the ASR stream's chunk-2 answer is label 2's hit
    assert overall["late"] == {"rate": 0.7143, "count": 5, "of": 7}
    assert overall["hit"] == {"rate": 0.1429, "count": 1, "of": 7}
    assert overall["false_trigger"] == {"rate": 0.0189, "count": 1, "of": 53}
    assert data["subtasks"]["benign_silence"]["hit"] == {"rate": None, "count": 0, "of": 0}
    assert set(data["abilities"]) == {"proactive_response", "realtime_asr", "translation",
                                      "environment_agent"}
    assert data["subtasks"]["en_zh_translation"]["chrf"] == {"score": 100.0, "pairs": 1}


def test_tables_show_each_group_for_each_system() -> None:
    truths = _mixed()
    reports = {"oracle": score(truths, [perfect(t) for t in truths]),
               "silent": score(truths, [always_silent(t) for t in truths])}
    console = Console(width=200, record=True)
    console.print(comparison_table(reports))
    text = console.export_text()
    for name in ("overall", "proactive_response", "realtime_asr", "asr_clean", "benign_silence",
                 "hazard_alert", "WER 0.0", "WER 100.0", "oracle", "silent"):
        assert name in text
    lines = markdown_table(reports).splitlines()
    assert len(lines) == 2 + 1 + 2 + 3  # header, rule, overall, 2 abilities, 3 subtasks
    assert lines[2].split(" | ")[:6] == ["| overall", "100.0", "100.0", "0.0", "0.0", "–"]
    hazard = next(line for line in lines if line.startswith("| hazard_alert"))
    assert hazard.split(" | ")[6:10] == ["0.0", "0.0", "0.0", "0.0"]


def test_comparison_table_fits_80_columns_uncut() -> None:
    # the widest cells there are: the longest ability name, the evaluate command's three
    # systems, chrF/BLEU at 100 and 100 % rates
    truths = [*_mixed(), truth({2: "火车九点出发。"}, subtask="en_zh_translation", stream_id="z"),
              truth({4: '{"tool": "notify"}'}, subtask="alarm_action", stream_id="t"),
              truth({3: "done"}, subtask="notify_on_sound", stream_id="n")]
    reports = {"model": score(truths, [perfect(t) for t in truths]),
               "always_silent": score(truths, [always_silent(t) for t in truths]),
               "foreground_ends": score(truths, [respond_at_foreground_ends(t) for t in truths])}
    console = Console(width=80, record=True)
    console.print(comparison_table(reports))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert not any("…" in line for line in lines)
    text = "\n".join(lines)
    for cell in ("instruction_following", "en_zh_translation", "  foreground_ends",
                 "chrF 100.0 / BLEU 100.0", "chrF 0.0 / BLEU 0.0", "tool 100.0", "WER 100.0",
                 "100.0"):
        assert cell in text, cell
    # one row per system under each group, each with all five figures
    row = next(line for line in lines if line.startswith("  always_silent"))
    assert row.split() == ["always_silent", "0.0", "0.0", "0.0", "0.0", "–"]


def test_mismatched_inputs_raise_naming_the_stream() -> None:
    t = truth({1: "a"}, stream_id="known")
    stray = StreamPrediction("stray", t.decisions, t.responses)
    with pytest.raises(ValueError, match="stray"):
        score([t], [stray])
    short = StreamPrediction("known", t.decisions[:-1], t.responses[:-1])
    with pytest.raises(ValueError, match=r"known.*11 decisions.*12 chunks"):
        score([t], [short])
    with pytest.raises(ValueError, match="known"):
        score([t], [StreamPrediction("known", t.decisions, t.responses[:-1])])
    with pytest.raises(ValueError, match=r"no prediction for stream.*known"):
        score([t], [])
    with pytest.raises(ValueError, match=r"second prediction.*known"):
        score([t], [perfect(t), perfect(t)])
    with pytest.raises(ValueError, match=r"second truth.*known"):
        score([t, t], [perfect(t)])


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[StreamRecord], int]:
    tmp = tmp_path_factory.mktemp("metrics")
    world = write_world(tmp / "world")
    cfg = load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class",
                                 "shards.streams_per_shard=2", f"cache.directory={tmp / 'cache'}"])
    build_corpus(tmp / "corpus", [get_subtask("hazard_alert"), get_subtask("benign_silence")],
                 2, 0, cfg)
    return list(iter_streams(tmp / "corpus")), cfg.audio.chunk_samples


def test_truth_from_record_follows_the_plan(records: tuple[list[StreamRecord], int]) -> None:
    streams, chunk_samples = records
    assert sorted(r.subtask for r in streams) == ["benign_silence"] * 2 + ["hazard_alert"] * 2
    for record in streams:
        t, plan = truth_from_record(record, chunk_samples), record.grounded_plan()
        assert (t.stream_id, t.subtask, t.ability) == (record.stream_id, record.subtask,
                                                       record.ability)
        assert t.decisions == tuple(record.decisions.tolist()) and len(t.decisions) == \
            record.num_chunks
        foreground = [(e, plan.event_plan(e.event_id)) for e in plan.events
                      if plan.event_plan(e.event_id).role == "foreground"]
        assert t.foreground_ends == tuple(sorted((e.offset - 1) // chunk_samples
                                                 for e, _ in foreground))
        if record.verified_silent:  # benign silence: every chunk
            assert t.verified_silent == frozenset(range(record.num_chunks))
            assert sum(t.decisions) == 0
            continue
        starts_inside = {c for e, p in foreground if p.verified_silent
                         for c in range(record.num_chunks)
                         if e.onset <= c * chunk_samples < e.offset}
        assert t.verified_silent == starts_inside and starts_inside
        hazards = [e for e, p in foreground if p.trigger]
        assert [c for c, d in enumerate(t.decisions) if d] == [
            e.core_last_sample // chunk_samples for e in hazards]
        # the baseline answers every foreground end, so it speaks in verified silence
        group = score([t], [respond_at_foreground_ends(t)]).overall
        assert group.tally.verified_silent_responses > 0
    with pytest.raises(ValueError, match=streams[0].stream_id):
        truth_from_record(streams[0], chunk_samples * 2)
