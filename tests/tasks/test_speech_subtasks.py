"""The speech subtasks' plan builders, with voices given (no TTS needed), and two real
streams of each built end to end."""

import re
from pathlib import Path

import numpy as np
import pytest
from support import build_small_corpus

from streamaudio.plan.grammar import load_grammar
from streamaudio.retrieve.catalog import load_catalogs
from streamaudio.schema import GroundedPlan, ScenePlan, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.registry import PlanContext, get_subtask
from streamaudio.tasks.texts import load_texts

VOICES = {"en": (VoicePlan(backend="flite", voice="slt"), VoicePlan(backend="piper",
                                                                     voice="joe"))}


def _plans(world: Path, subtask: str, voices: dict = VOICES, count: int = 10) -> list:
    catalog = load_catalogs(world)
    grammar = load_grammar(world, set(catalog.classes)).usable(catalog)
    texts = load_texts(world)
    return [get_subtask(subtask).build(PlanContext(
        stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed), grammar=grammar,
        catalog=catalog, texts=texts, voices=voices, speeds=(0.9, 1.1)))
        for seed in range(count)]


def test_single_turn_chat_answers_the_question(world: Path) -> None:
    for plan in _plans(world, "single_turn_chat"):
        assert isinstance(plan, ScenePlan)
        (question,) = [e for e in plan.events if e.kind == "speech"]
        assert question.trigger and question.text.endswith("?")
        pair = next(p for p in load_texts(world).qa if p.question == question.text)
        assert question.response == pair.answer and question.emotion == pair.emotion
        assert question.voice is not None and question.voice.speed in (0.9, 1.1)


def test_translation_gives_each_sentence_its_chinese(world: Path) -> None:
    for plan in _plans(world, "en_zh_translation"):
        assert isinstance(plan, ScenePlan) and plan.instruction
        sentences = [e for e in plan.events if e.kind == "speech"]
        assert sentences and all(e.trigger for e in sentences)
        pairs = {p.en: p.zh for p in load_texts(world).en_zh}
        assert all(pairs[e.text] == e.response for e in sentences)
        assert [e.continues_turn for e in sentences] == [False] + [True] * (len(sentences) - 1)
        assert len({e.voice for e in sentences}) == 1  # one speaker


def test_asr_emits_words_from_one_speaker_in_a_quiet_room(world: Path) -> None:
    for plan in _plans(world, "asr_clean"):
        assert isinstance(plan, ScenePlan)
        assert all(e.kind == "speech" and e.emit == "words" for e in plan.events)
        assert plan.bed_offset_db < 0 and len(plan.events) >= 3


def test_no_voice_is_a_counted_drop(world: Path) -> None:
    for plan in _plans(world, "single_turn_chat", voices={}, count=2):
        assert isinstance(plan, Drop) and plan.reason == "no_voice"


def test_noisy_variants_raise_the_bed_and_add_background_sounds(world: Path) -> None:
    from streamaudio.tasks.events import NOISY_BED_DB

    for subtask in ("chat_in_noise", "translation_in_noise", "asr_noisy"):
        for plan in _plans(world, subtask):
            assert isinstance(plan, ScenePlan), plan
            assert NOISY_BED_DB[0] <= plan.bed_offset_db <= NOISY_BED_DB[1]
            assert any(e.role == "background" for e in plan.events)
            speech = [e for e in plan.events if e.kind == "speech"]
            assert speech and all(e.role == "foreground" for e in speech)
    for plan in _plans(world, "asr_noisy"):
        assert all(e.emit == "words" for e in plan.events if e.kind == "speech")


@pytest.mark.parametrize("subtask", ["single_turn_chat", "chat_in_noise", "en_zh_translation",
                                     "translation_in_noise"])
def test_built_streams_answer_each_spoken_trigger_where_it_ends(subtask: str,
                                                                 tmp_path: Path) -> None:
    for record in build_small_corpus(subtask, tmp_path):
        plan = GroundedPlan.model_validate_json(record.plan)
        spoken = [e for e in sorted(plan.events, key=lambda e: e.onset)
                  if plan.event_plan(e.event_id).kind == "speech"]
        assert spoken and all(plan.event_plan(e.event_id).trigger for e in spoken)
        chunks = [e.core_last_sample // 6_400 for e in spoken]
        assert np.flatnonzero(record.decisions).tolist() == chunks
        assert [record.responses[c] for c in chunks] == [
            plan.event_plan(e.event_id).response for e in spoken]
        if subtask.endswith("translation"):
            assert all(re.search(r"[\u4e00-\u9fff]", record.responses[c]) for c in chunks)
        assert (plan.scene.bed_offset_db > 0) == subtask.endswith("noise")
