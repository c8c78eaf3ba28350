"""zh_en_translation, dialogue_translation, asr_multi_speaker and asr_long_form: their
plans over many seeds (the tiny world's sounds, the real text catalogs, voices given),
Chinese being unavailable offline, and two real streams of each buildable one."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from support import build_small_corpus
from typer.testing import CliRunner

from streamaudio import cli
from streamaudio.config import Config, load_config
from streamaudio.pipeline import CorpusBuilder
from streamaudio.plan.grammar import load_grammar
from streamaudio.retrieve.catalog import load_catalogs
from streamaudio.schema import GroundedPlan, ScenePlan, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.realtime_asr import LONG_BUDGET_S, LONG_MIN_S, long_form_seconds
from streamaudio.tasks.registry import PlanContext, get_subtask
from streamaudio.tasks.texts import TextCatalog, load_texts
from streamaudio.tasks.translation import MAX_CHARS, spoken_chars

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
SEEDS = range(20)
EN = tuple(VoicePlan(backend="flite", voice=v) for v in ("slt", "kal16", "awb", "rms"))
ZH = tuple(VoicePlan(backend="cosyvoice", voice=v) for v in ("中文女", "中文男"))
VOICES = {"en": EN, "zh": ZH}
NO_ZH_HINT = "no configured TTS voice speaks zh (configure speech.cosyvoice for Chinese)"


@pytest.fixture(scope="module")
def texts() -> TextCatalog:
    return load_texts(CATALOGS)


def _plans(world: Path, texts: TextCatalog, subtask: str, voices: dict = VOICES,
           speeds: tuple[float, ...] = (0.9, 1.0, 1.1)) -> list[ScenePlan | Drop]:
    catalog = load_catalogs(world)
    grammar = load_grammar(world, set(catalog.classes)).usable(catalog)
    return [get_subtask(subtask).build(PlanContext(
        stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed), grammar=grammar,
        catalog=catalog, texts=texts, voices=voices, speeds=speeds)) for seed in SEEDS]


def _speech(plan: ScenePlan) -> list:
    return [event for event in plan.events if event.kind == "speech"]


def _dialogue_of(texts: TextCatalog, plan: ScenePlan):  # type: ignore[no-untyped-def]
    """The catalog dialogue whose leading lines the plan speaks."""
    spoken = [event.text for event in _speech(plan)]
    (dialogue,) = [d for d in texts.dialogues if [line.en for line in d.lines[:len(spoken)]]
                   == spoken]
    return dialogue


def test_zh_en_translation_speaks_chinese_and_answers_each_sentence_in_english(
        world: Path, texts: TextCatalog) -> None:
    english = {pair.zh: pair.en for pair in texts.en_zh}
    lengths = set()
    for plan in _plans(world, texts, "zh_en_translation"):
        assert isinstance(plan, ScenePlan), plan
        sentences = _speech(plan)
        lengths.add(len(sentences))
        assert 1 <= len(sentences) <= 4 and "English" in plan.instruction
        assert all(e.trigger and e.language == "zh" and e.emotion == "normal" for e in sentences)
        assert all(english[e.text] == e.response for e in sentences)
        assert [e.continues_turn for e in sentences] == [False] + [True] * (len(sentences) - 1)
        assert len({e.voice for e in sentences}) == 1  # one speaker
        assert sentences[0].voice.model_copy(update={"speed": 1.0}) in ZH
        assert sum(spoken_chars(e.text) for e in sentences) <= MAX_CHARS
        # a passage's sentences in order
        group = next(g for g in texts.passages() if g[0].zh == sentences[0].text)
        assert [p.zh for p in group[:len(sentences)]] == [e.text for e in sentences]
    assert len(lengths) >= 2


def test_zh_en_translation_without_a_chinese_voice_is_a_counted_drop(
        world: Path, texts: TextCatalog) -> None:
    for plan in _plans(world, texts, "zh_en_translation", voices={"en": EN})[:3]:
        assert isinstance(plan, Drop) and plan.reason == "no_voice"


def test_offline_builder_reports_chinese_unavailable(world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    assert get_subtask("zh_en_translation").languages == ("zh",)
    assert builder.unavailable(get_subtask("zh_en_translation")) == NO_ZH_HINT
    for name in ("dialogue_translation", "asr_multi_speaker", "asr_long_form"):
        assert get_subtask(name).languages == ("en",)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(cli, "console", Console(width=200))
    monkeypatch.setattr(cli, "errors", Console(width=200, stderr=True))
    return CliRunner()


def test_cli_build_of_zh_en_translation_fails_with_the_reason(
        runner: CliRunner, world: Path, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, [
        "build", "--out", str(tmp_path / "corpus"), "--subtask", "zh_en_translation",
        "--streams", "2", "--set", f"catalog.directory={world}",
        "--set", "retrieval.mode=class", "--set", f"cache.directory={tmp_path / 'cache'}"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"cannot build zh_en_translation: {NO_ZH_HINT}" in said
    assert not list((tmp_path / "corpus").glob("**/*.parquet"))


def test_cli_mixture_skips_zh_en_translation_with_a_message(
        runner: CliRunner, world: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = runner.invoke(cli.app, [
        "build", "--out", str(out), "--streams", "1", "--set", f"catalog.directory={world}",
        "--set", "retrieval.mode=class", "--set", f"cache.directory={tmp_path / 'cache'}"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"skipped zh_en_translation: {NO_ZH_HINT}" in said
    assert "zh_en_translation" not in said.split("mixture: ", 1)[1].split("Corpus", 1)[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_subtasks"]["zh_en_translation"] == NO_ZH_HINT


def test_dialogue_translation_translates_each_line_of_two_alternating_voices(
        world: Path, texts: TextCatalog) -> None:
    dialogues = set()
    for plan in _plans(world, texts, "dialogue_translation"):
        assert isinstance(plan, ScenePlan), plan
        turns = _speech(plan)
        dialogue = _dialogue_of(texts, plan)
        dialogues.add(dialogue.id)
        lines = dialogue.lines[:len(turns)]
        assert len({line.speaker for line in dialogue.lines}) == 2 and len(turns) >= 3
        assert [(e.text, e.response, e.speaker) for e in turns] == \
            [(line.en, line.zh, line.speaker) for line in lines]
        assert all(e.trigger and e.emotion == "normal" and e.voice_locked for e in turns)
        assert not any(e.continues_turn for e in turns)  # every line is a turn change
        assert all(a.speaker != b.speaker for a, b in pairwise(turns))
        voice_of = {e.speaker: e.voice for e in turns}
        assert len(voice_of) == 2 and voice_of["A"] != voice_of["B"]
        assert all(e.voice == voice_of[e.speaker] for e in turns)
        assert any(e.role == "background" for e in plan.events)
        assert "Chinese" in plan.instruction or "Mandarin" in plan.instruction
    assert len(dialogues) >= 10


def test_dialogue_translation_needs_two_voices(world: Path, texts: TextCatalog) -> None:
    for plan in _plans(world, texts, "dialogue_translation", voices={"en": EN[:1]})[:3]:
        assert isinstance(plan, Drop) and plan.reason == "too_few_voices"


def test_asr_multi_speaker_emits_words_of_two_or_three_locked_voices(
        world: Path, texts: TextCatalog) -> None:
    speaker_counts = set()
    for plan in _plans(world, texts, "asr_multi_speaker"):
        assert isinstance(plan, ScenePlan), plan
        turns = _speech(plan)
        assert turns == plan.events and len(turns) >= 3 and plan.bed_offset_db < 0
        dialogue = _dialogue_of(texts, plan)
        assert [e.speaker for e in turns] == [line.speaker for line in dialogue.lines[:len(turns)]]
        assert all(e.emit == "words" and not e.trigger and e.voice_locked for e in turns)
        assert all(a.speaker != b.speaker for a, b in pairwise(turns))
        voice_of = {e.speaker: e.voice for e in turns}
        assert len({(v.backend, v.voice) for v in voice_of.values()}) == len(voice_of)
        assert all(e.voice == voice_of[e.speaker] for e in turns)
        speaker_counts.add(len(voice_of))
        assert "[A]" in plan.instruction
    assert speaker_counts == {2, 3}


def test_asr_long_form_fills_the_stream_within_the_word_budget(
        world: Path, texts: TextCatalog) -> None:
    style_of = {s: p.style for p in texts.asr for s in p.sentences}
    for speeds in ((0.9,), (1.0,), (1.1,)):
        words = []
        for plan in _plans(world, texts, "asr_long_form", speeds=speeds):
            assert isinstance(plan, ScenePlan), plan
            sentences = _speech(plan)
            assert sentences == plan.events and plan.bed_offset_db < 0
            assert all(e.emit == "words" and not e.trigger for e in sentences)
            assert [e.continues_turn for e in sentences] == \
                [False] + [True] * (len(sentences) - 1)
            assert len({e.voice for e in sentences}) == 1
            assert len({style_of[e.text] for e in sentences}) == 1
            estimate = long_form_seconds([e.text for e in sentences], speeds[0])
            assert LONG_MIN_S <= estimate <= LONG_BUDGET_S
            words.append(sum(len(e.text.split()) for e in sentences))
        # 0.3 s a word at speed 1.0 (slower voices), with pauses, lead-in and tail
        assert min(words) >= 35 and max(words) <= 62
    assert not get_subtask("asr_long_form").stretches


# -- two real streams per buildable subtask (real clips, TTS and ASR) ---------------


@pytest.fixture(scope="module")
def real_speech() -> None:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    builder = CorpusBuilder(load_config())
    if len(builder.speech.voices.get("en", ())) < 3:
        pytest.skip("fewer than three English TTS voices (piper and flite)")


def _words_said(record) -> str:  # type: ignore[no-untyped-def]
    return " ".join(text for text in record.responses if text)


def _turns(record) -> list:  # type: ignore[no-untyped-def]
    plan = GroundedPlan.model_validate_json(record.plan)
    onsets = {event.event_id: event.onset for event in plan.events}
    return sorted((e for e in plan.scene.events if e.kind == "speech"),
                  key=lambda e: onsets[e.event_id])


def _assert_planned_voices(record) -> None:  # type: ignore[no-untyped-def]
    """Every turn was spoken by its planned voice (locked: no other voice stood in)."""
    plan = GroundedPlan.model_validate_json(record.plan)
    for grounded in plan.events:
        planned = plan.event_plan(grounded.event_id)
        if planned.kind == "speech":
            assert planned.voice is not None
            assert str(grounded.evidence["voice"]).startswith(
                f"{planned.voice.backend}:{planned.voice.voice}:")


def test_dialogue_translation_streams_answer_each_line(real_speech: None,
                                                       tmp_path: Path) -> None:
    for record in build_small_corpus("dialogue_translation", tmp_path):
        turns = _turns(record)
        assert [r for r in record.responses if r] == [e.response for e in turns]
        assert int(record.decisions.sum()) == len(turns) >= 3
        _assert_planned_voices(record)


def test_asr_multi_speaker_streams_tag_each_turn_change(real_speech: None,
                                                       tmp_path: Path) -> None:
    for record in build_small_corpus("asr_multi_speaker", tmp_path):
        turns = _turns(record)
        expected = " ".join(f"[{e.speaker}] {e.text}" for e in turns)  # speakers alternate
        assert _words_said(record) == expected
        assert record.responses[int(np.argmax(record.decisions))].startswith("[A] ")
        _assert_planned_voices(record)


def test_asr_long_form_streams_emit_every_word(real_speech: None, tmp_path: Path) -> None:
    for record in build_small_corpus("asr_long_form", tmp_path):
        turns = _turns(record)
        assert _words_said(record) == " ".join(e.text for e in turns)
        assert record.num_samples / record.sample_rate <= 24.0
        assert sum(len(e.text.split()) for e in turns) >= 35
