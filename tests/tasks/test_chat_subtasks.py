"""multi_turn_chat, history_review_chat, name_trigger_summary and delayed_instruction:
their plan builders on the real catalogs (voices given, no TTS), and two streams of each
built, validated and checked on its trigger rule."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from support import build_small_corpus

from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.schema import MIN_HISTORY_TURNS, EventPlan, ScenePlan, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.instruction_following import (
    CONDITIONS,
    MIN_CONDITION_S,
    NAMES,
    TASKS,
    mentions,
    overheard,
    your,
)
from streamaudio.tasks.registry import PlanContext, get_subtask
from streamaudio.tasks.silence import as_negative
from streamaudio.tasks.texts import TextCatalog, load_texts
from streamaudio.tasks.voice_chat import MAX_EXCHANGES, MIN_EXCHANGES, turns_fit

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
VOICES = {"en": tuple(VoicePlan(backend=backend, voice=voice) for backend, voice in (
    ("piper", "en_US-joe-medium"), ("flite", "slt"), ("flite", "kal16"), ("flite", "awb")))}
SEEDS = 20


@pytest.fixture(scope="module")
def real() -> tuple[Catalog, SceneGrammar, TextCatalog]:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    return (catalog, load_grammar(CATALOGS, set(catalog.classes)).usable(catalog),
            load_texts(CATALOGS))


def _context(real: tuple[Catalog, SceneGrammar, TextCatalog], seed: int,
             texts: TextCatalog | None = None, voices: dict = VOICES) -> PlanContext:
    catalog, grammar, real_texts = real
    return PlanContext(stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed),
                       grammar=grammar, catalog=catalog, texts=texts or real_texts,
                       voices=voices, speeds=(0.9, 1.0, 1.1))


def _plans(real: tuple[Catalog, SceneGrammar, TextCatalog], subtask: str,
           count: int = SEEDS) -> list[ScenePlan]:
    plans = []
    for seed in range(count):
        plan = get_subtask(subtask).build(_context(real, seed))
        assert isinstance(plan, ScenePlan), plan
        assert plan.subtask == subtask and 3 <= len(plan.events) <= 15
        plans.append(plan)
    return plans


def _speech(plan: ScenePlan) -> list[EventPlan]:
    return [e for e in plan.events if e.kind == "speech"]


# ---------------------------------------------------------------- plans


def test_registration_flags() -> None:
    flags = {name: (get_subtask(name).speech, get_subtask(name).negatives,
                    get_subtask(name).stretches)
             for name in ("multi_turn_chat", "history_review_chat", "name_trigger_summary",
                          "delayed_instruction")}
    assert flags == {"multi_turn_chat": (True, False, False),
                     "history_review_chat": (True, False, False),
                     "name_trigger_summary": (True, True, False),
                     "delayed_instruction": (False, True, False)}


def test_multi_turn_chat_answers_each_turn_with_its_exchange(real) -> None:
    conversations = real[2].conversations
    lengths = set()
    for plan in _plans(real, "multi_turn_chat"):
        turns = _speech(plan)
        lengths.add(len(turns))
        assert MIN_EXCHANGES <= len(turns) <= MAX_EXCHANGES
        assert [e.event_id for e in plan.foreground_turns()] == [e.event_id for e in turns]
        # consecutive exchanges from the start of one conversation
        (conversation,) = [c for c in conversations
                           if [x.user for x in c.exchanges[:len(turns)]] == [e.text for e in turns]]
        for event, exchange in zip(turns, conversation.exchanges, strict=False):
            assert event.trigger and event.response == exchange.assistant
            assert event.emotion == exchange.emotion != "angry"
            assert not event.continues_turn and not event.verified_silent
        assert len({e.voice for e in turns}) == 1  # one user
        background = [e for e in plan.events if e.kind != "speech"]
        assert 1 <= len(background) <= 2
        assert all(e.role == "background" and not e.trigger for e in background)
        assert turns_fit([e.text for e in turns])
    assert lengths >= {3, 4}


def test_history_review_recalls_the_fact_three_or_more_turns_back(real) -> None:
    facts = {fact.statement: fact for fact in real[2].history}
    for plan in _plans(real, "history_review_chat"):
        turns = _speech(plan)
        assert all(e.trigger and e.role == "foreground" for e in turns)
        statement, *fillers, review = turns
        fact = facts[statement.text]
        assert statement.response == fact.acknowledgement and statement.emotion == "normal"
        assert review.text == fact.question and review.response == fact.answer
        assert review.emotion == "normal" and review.recalls == statement.event_id
        assert turns.index(review) - turns.index(statement) >= MIN_HISTORY_TURNS
        assert not any(e.recalls for e in [statement, *fillers])
        assert statement.voice_locked and review.voice_locked  # one person states and asks
        (conversation,) = [c for c in real[2].conversations
                           if [x.user for x in c.exchanges[:len(fillers)]]
                           == [e.text for e in fillers]]
        for event, exchange in zip(fillers, conversation.exchanges, strict=False):
            assert event.response == exchange.assistant and event.emotion == exchange.emotion
        assert len({e.voice for e in turns}) == 1
        assert turns_fit([e.text for e in turns])


def test_name_trigger_summarises_only_the_message_with_the_name(real) -> None:
    messages = real[2].name_messages
    pool = set(overheard(real[2]))
    counts = set()
    for plan in _plans(real, "name_trigger_summary"):
        name = next(n for n in NAMES if mentions(plan.instruction, n))
        *talk, named = _speech(plan)
        assert plan.foreground_turns()[-1] is named
        assert named.trigger and named.emotion == "normal" and not named.verified_silent
        assert named.speaker == "A"
        (message,) = [m for m in messages if m.message.replace("{name}", name) == named.text]
        assert named.response == message.summary
        assert name in named.text and named.text.count(name) == 1
        counts.add(len(talk))
        assert 1 <= len(talk) <= 3
        for event in talk:
            assert event.verified_silent and not event.trigger and event.role == "foreground"
            assert not mentions(event.text, name), (name, event.text)
            assert event.text in pool and event.voice != named.voice
            assert event.speaker not in ("", named.speaker)
        assert len({e.text for e in talk}) == len(talk)
        assert all(e.role == "background" for e in plan.events if e.kind != "speech")
        assert turns_fit([e.text for e in _speech(plan)])
    assert len(counts) >= 2


def test_mentions_catches_anything_heard_as_the_name() -> None:
    assert mentions("Ask Mark's sister.", "Mark") and mentions("the market", "Mark")
    assert mentions("ALEX, hi", "Alex") and not mentions("Tom and Anna", "Alex")


def test_delayed_instruction_reminds_when_the_condition_sound_ends(real) -> None:
    catalog = real[0]
    conditions = set()
    for plan in _plans(real, "delayed_instruction"):
        foreground = plan.foreground_turns()
        (trigger,) = [e for e in plan.events if e.trigger]
        assert foreground[-1] is trigger and trigger.emotion == "normal"
        said, stopped = CONDITIONS[trigger.sound_class]
        conditions.add(trigger.sound_class)
        clips = catalog.by_class(trigger.sound_class)
        assert clips and min(clip.duration_s for clip in clips) >= MIN_CONDITION_S
        task = next(t for t in TASKS if t in plan.instruction)
        assert said in plan.instruction
        assert trigger.response.startswith(stopped) and trigger.response.endswith(f"{your(task)}.")
        before = foreground[:-1]
        assert 2 <= len(before) <= 3
        assert all(e.verified_silent and not e.trigger for e in before)
        for event in plan.events:
            if event is not trigger:
                assert event.sound_class not in CONDITIONS
                assert not catalog.classes[event.sound_class].hazard
        assert 1 <= sum(e.role == "background" for e in plan.events) <= 2
    assert len(conditions) >= 3
    assert your("take my tablets") == "take your tablets" and your("myself") == "myself"


@pytest.mark.parametrize("subtask", ["name_trigger_summary", "delayed_instruction"])
def test_without_the_trigger_the_stream_is_a_valid_silent_one(real, subtask: str) -> None:
    catalog, grammar, _ = real
    for plan in _plans(real, subtask, 10):
        negative = as_negative(plan, grammar, catalog, np.random.default_rng(plan.seed))
        assert negative is not None and negative.verified_silent
        assert not any(e.trigger for e in negative.events)
        untriggered = [e.event_id for e in plan.events if not e.trigger]
        assert [e.event_id for e in negative.events[:len(untriggered)]] == untriggered
        # too few events left: spare household sounds, in the background, make up three
        added = negative.events[len(untriggered):]
        assert all(e.kind == "sound" and e.role == "background" for e in added)
        assert len(negative.events) == max(3, len(untriggered))
        if subtask == "delayed_instruction":  # the condition sound never comes
            assert not any(e.sound_class in CONDITIONS for e in negative.events)
        ScenePlan.model_validate(negative.model_dump())


def test_missing_catalogs_and_voices_are_counted_drops(real) -> None:
    empty = replace(real[2], conversations=(), history=(), name_messages=())
    for subtask in ("multi_turn_chat", "history_review_chat", "name_trigger_summary"):
        plan = get_subtask(subtask).build(_context(real, 0, texts=empty))
        assert isinstance(plan, Drop) and plan.reason == "no_text_catalog"
    one_voice = {"en": VOICES["en"][:1]}
    plan = get_subtask("name_trigger_summary").build(_context(real, 0, voices=one_voice))
    assert isinstance(plan, Drop) and plan.reason == "too_few_voices"
    plan = get_subtask("multi_turn_chat").build(_context(real, 0, voices={}))
    assert isinstance(plan, Drop) and plan.reason == "no_voice"


def test_every_conversation_and_fact_fits_a_stream(real) -> None:
    texts = real[2]
    for conversation in texts.conversations:
        assert turns_fit([e.user for e in conversation.exchanges[:MIN_EXCHANGES]]), \
            conversation.id
    shortest_two = min(sum(len(e.user.split()) for e in c.exchanges[:2])
                       for c in texts.conversations)
    for fact in texts.history:
        assert turns_fit([fact.statement, "x " * shortest_two, fact.question]), fact.id


# ---------------------------------------------------------------- built streams


def _response_chunk(record, event_id: str) -> int:
    plan = record.grounded_plan()
    grounded = next(e for e in plan.events if e.event_id == event_id)
    return grounded.core_last_sample // (record.sample_rate * record.chunk_ms // 1000)


def _responses(record) -> list[str]:
    return [text for text, decision in zip(record.responses, record.decisions, strict=True)
            if decision]


def test_multi_turn_chat_builds_one_answer_per_turn(real, tmp_path: Path) -> None:
    for record in build_small_corpus("multi_turn_chat", tmp_path):
        scene = record.grounded_plan().scene
        turns = _speech(scene)
        assert int(record.decisions.sum()) == len(turns) >= MIN_EXCHANGES
        assert _responses(record) == [e.response for e in turns]
        chunks = [_response_chunk(record, e.event_id) for e in turns]
        assert chunks == sorted(set(chunks))
        assert [record.emotions[c] for c in chunks] == [e.emotion for e in turns]


def test_history_review_chat_builds_the_recall_last(real, tmp_path: Path) -> None:
    for record in build_small_corpus("history_review_chat", tmp_path):
        scene = record.grounded_plan().scene
        turns = _speech(scene)
        review = turns[-1]
        assert review.recalls == "statement" and len(turns) - 1 >= MIN_HISTORY_TURNS
        assert int(record.decisions.sum()) == len(turns)
        chunk = _response_chunk(record, review.event_id)
        assert record.responses[chunk] == review.response and record.emotions[chunk] == "normal"
        assert chunk == int(np.flatnonzero(record.decisions)[-1])
        assert record.responses[_response_chunk(record, "statement")] == turns[0].response
        voices = {e.event_id: e.evidence["voice"].rsplit(":", 2)[0]
                  for e in record.grounded_plan().events if e.event_id in ("statement", "review")}
        assert voices["statement"] == voices["review"]


def test_name_trigger_summary_builds_one_summary_after_silent_talk(real, tmp_path: Path) -> None:
    for record in build_small_corpus("name_trigger_summary", tmp_path):
        plan = record.grounded_plan()
        talk = [e for e in _speech(plan.scene) if e.verified_silent]
        assert talk
        if record.verified_silent:  # a negative: the named message was left out
            assert int(record.decisions.sum()) == 0
            assert not any(e.trigger for e in plan.scene.events)
            continue
        named = next(e for e in plan.scene.events if e.trigger)
        assert int(record.decisions.sum()) == 1
        chunk = _response_chunk(record, named.event_id)
        assert record.responses[chunk] == named.response and named.response.startswith("They")
        last_talk = max(e.offset for e in plan.events if e.event_id in {t.event_id for t in talk})
        assert chunk * record.chunk_ms * record.sample_rate // 1000 >= last_talk


def test_delayed_instruction_builds_the_reminder_at_the_condition_end(real,
                                                                     tmp_path: Path) -> None:
    for record in build_small_corpus("delayed_instruction", tmp_path):
        plan = record.grounded_plan()
        assert record.instruction == plan.scene.instruction
        if record.verified_silent:
            assert int(record.decisions.sum()) == 0
            assert not any(e.sound_class in CONDITIONS for e in plan.scene.events)
            continue
        condition = next(e for e in plan.scene.events if e.trigger)
        assert int(record.decisions.sum()) == 1
        chunk = _response_chunk(record, "condition")
        assert record.responses[chunk] == condition.response
        grounded = next(e for e in plan.events if e.event_id == "condition")
        # the condition is the last foreground turn: its end is the last thing that stops
        assert all(e.offset <= grounded.onset for e in plan.events
                   if plan.event_plan(e.event_id).role == "foreground" and e is not grounded)
