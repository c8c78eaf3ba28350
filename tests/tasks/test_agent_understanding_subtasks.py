"""music_qa, speaker_scene_qa, doorbell_action and appliance_action (and the silent
turns of alarm_action) on the real catalogs: each trigger rule over 20+ seeds of
plans, then two built and validated streams per subtask."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import build_small_corpus

from streamaudio.config import Config, load_config
from streamaudio.corpus import build_corpus
from streamaudio.ground.speech import SpeechGrounder
from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.schema import EventPlan, ScenePlan, VoicePlan
from streamaudio.shards.reader import StreamRecord, iter_streams
from streamaudio.speech.piper_tts import VOICE_ID
from streamaudio.speech.voices import VOICE_TRAITS, describe_voice, voice_traits
from streamaudio.tasks.environment_agent import (
    ACTIONABLE,
    APPLIANCES,
    DOOR_CUES,
    HOME_SETTINGS,
    KITCHEN_SETTINGS,
)
from streamaudio.tasks.events import speech_event
from streamaudio.tasks.registry import PlanContext, get_subtask
from streamaudio.tasks.understanding import INSTRUMENTS
from streamaudio.validate import validate_corpus

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
SEEDS = 24
VOICES = (VoicePlan(backend="piper", voice=VOICE_ID), VoicePlan(backend="flite", voice="slt"),
          VoicePlan(backend="flite", voice="kal16"), VoicePlan(backend="flite", voice="awb"),
          VoicePlan(backend="flite", voice="rms"),
          VoicePlan(backend="cosyvoice", voice="unknown_speaker"))  # no traits: never asked
WHERE = "It sounds like {description}; I can hear {heard}."
WHO = ("You sound like {who}.", "I would say you are {who}.")


@pytest.fixture(scope="module")
def real() -> tuple[Catalog, SceneGrammar]:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    return catalog, load_grammar(CATALOGS, set(catalog.classes)).usable(catalog)


def _plans(real: tuple[Catalog, SceneGrammar], subtask: str,
           count: int = SEEDS) -> list[ScenePlan]:
    plans = []
    for seed in range(count):
        ctx = PlanContext(stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed),
                          grammar=real[1], catalog=real[0], voices={"en": VOICES},
                          speeds=(0.9, 1.0, 1.1))
        plan = get_subtask(subtask).build(ctx)
        assert isinstance(plan, ScenePlan), plan
        assert plan.subtask == subtask and 3 <= len(plan.events) <= 15
        assert sum(e.trigger for e in plan.events) == 1
        plans.append(plan)
    return plans


def _trigger(plan: ScenePlan) -> EventPlan:
    return next(e for e in plan.events if e.trigger)


def _silent_turns_before(plan: ScenePlan, trigger: EventPlan) -> list[EventPlan]:
    turns = plan.foreground_turns()
    return turns[:turns.index(trigger)]


# ------------------------------------------------------------------------- music_qa


def test_music_qa_names_the_instrument_of_the_excerpt(real) -> None:
    catalog = real[0]
    played = set()
    for plan in _plans(real, "music_qa"):
        music = _trigger(plan)
        played.add(music.sound_class)
        instrument = INSTRUMENTS[music.sound_class]
        assert music.kind == "music" and catalog.by_class(music.sound_class)
        assert instrument in music.response and music.emotion in ("normal", "happy")
        assert (music.emotion == "happy") == ("!" in music.response)
        # the instrument named is the one the class label names
        label = catalog.classes[music.sound_class].label
        assert {w for w in instrument.split() if w not in ("a", "or")} <= set(label.split())
        assert plan.foreground_turns()[-1] == music
        before = _silent_turns_before(plan, music)
        assert len(before) <= 2 and all(e.verified_silent for e in before)
        others = [e for e in plan.events if e is not music]
        assert all(catalog.classes[e.sound_class].domain != "music" for e in others)
        assert "instrument" in plan.instruction
    assert len(played) >= 4  # the draw spreads over the instrument classes
    assert "background_music" not in INSTRUMENTS  # a track has no single instrument


# ------------------------------------------------------------------------- speaker_scene_qa


def test_speaker_scene_qa_names_the_setting_or_the_locked_voice(real) -> None:
    catalog, grammar = real
    kinds = {"place": 0, "voice": 0}
    for plan in _plans(real, "speaker_scene_qa", 30):
        question = _trigger(plan)
        assert question.kind == "speech" and question.emotion == "normal"
        assert plan.foreground_turns()[-1] == question
        heard = _silent_turns_before(plan, question)
        assert 2 <= len(heard) <= 4 and all(e.verified_silent for e in heard)
        setting = grammar.by_name(plan.setting)
        assert setting is not None and all(e.sound_class in setting.benign for e in heard)
        traits = voice_traits(question.voice) if question.voice else None
        if question.response.startswith("It sounds like"):
            kinds["place"] += 1
            assert not question.voice_locked
            labels = [catalog.classes[e.sound_class].label for e in heard]
            named = [f"{a} and {b}" for a in labels for b in labels if a != b]
            assert question.response in {WHERE.format(description=setting.description,
                                                      heard=pair) for pair in named}
        else:
            kinds["voice"] += 1
            assert question.voice_locked and traits is not None
            assert question.response in {w.format(who=describe_voice(traits)) for w in WHO}
    assert kinds["place"] >= 5 and kinds["voice"] >= 5


def test_voice_answers_follow_the_table() -> None:
    assert describe_voice(VOICE_TRAITS[("flite", "slt")]) == "a woman with an American accent"
    assert describe_voice(VOICE_TRAITS[("flite", "awb")]) == "a man with a Scottish accent"
    assert voice_traits(VoicePlan(backend="piper", voice=VOICE_ID)) == VOICE_TRAITS[
        ("piper", VOICE_ID)]
    assert voice_traits(VoicePlan(backend="cosyvoice", voice="unknown_speaker")) is None


def test_a_locked_voice_is_never_swapped_by_the_grounder() -> None:
    grounder = SpeechGrounder(Config())
    grounder.voices = {"en": VOICES}  # what the registry would list, without loading it
    planned = VoicePlan(backend="flite", voice="slt", speed=1.0)
    for locked in (True, False):
        event = speech_event("q", "Am I a man or a woman, do you think?", planned,
                             response="You sound like a woman.", emotion="normal",
                             voice_locked=locked)
        tried = {(v.backend, v.voice) for v in grounder._voice_order(event)}
        if locked:
            assert tried == {("flite", "slt")}
        else:
            assert len(tried) == len(VOICES)


# ------------------------------------------------------------------------- agent cues


def _call(event: EventPlan) -> dict[str, Any]:
    call = json.loads(event.response)
    assert event.response == json.dumps(call, separators=(",", ":"), sort_keys=True)
    return call


def _household_around(plan: ScenePlan, cue: EventPlan, catalog: Catalog) -> None:
    others = [e for e in plan.events if e is not cue]
    assert 2 <= len(others) <= 4
    for event in others:
        assert not catalog.classes[event.sound_class].hazard
        assert not any(fragment in event.sound_class for fragment in ACTIONABLE)
        assert event.verified_silent == (event.role == "foreground")
    assert _silent_turns_before(plan, cue)  # the cue comes after at least one turn


def test_doorbell_action_shows_the_door_camera(real) -> None:
    catalog = real[0]
    cues = set()
    for plan in _plans(real, "doorbell_action"):
        cue = _trigger(plan)
        cues.add(cue.sound_class)
        assert cue.sound_class in DOOR_CUES and not catalog.by_class(cue.sound_class)
        assert cue.role == "foreground" and cue.emotion == "normal"
        assert _call(cue) == {"tool": "door_camera", "args": {"action": "show"}}
        assert plan.setting in HOME_SETTINGS
        _household_around(plan, cue, catalog)
    assert cues == set(DOOR_CUES)


def test_appliance_action_calls_the_appliance_tool(real) -> None:
    catalog = real[0]
    expected = {"oven_timer_beeping": {"tool": "oven", "args": {"power": "off"}},
                "microwave_beeping": {"tool": "notify", "args": {"event": "microwave_done",
                                                                 "urgency": "normal"}}}
    cues = set()
    for plan in _plans(real, "appliance_action"):
        cue = _trigger(plan)
        cues.add(cue.sound_class)
        assert cue.sound_class in APPLIANCES and cue.emotion == "normal"
        assert _call(cue) == expected[cue.sound_class]
        assert plan.setting in KITCHEN_SETTINGS
        _household_around(plan, cue, catalog)
    assert cues == set(APPLIANCES)


def test_alarm_action_household_turns_are_verified_silent(real) -> None:
    for plan in _plans(real, "alarm_action"):
        alarm = _trigger(plan)
        for event in plan.events:
            if event is not alarm:
                assert event.verified_silent == (event.role == "foreground")


# ------------------------------------------------------------------------- built streams


def _check_trigger_rule(record: StreamRecord, subtask: str) -> EventPlan | None:
    """The record's one response is the trigger's, in the chunk of its core's last
    sample; a negative is silent throughout. Returns the trigger (None: negative)."""
    assert record.subtask == subtask
    plan = record.grounded_plan()
    if record.verified_silent:
        assert not record.decisions.any() and not any(e.trigger for e in plan.scene.events)
        return None
    trigger = _trigger(plan.scene)
    grounded = next(e for e in plan.events if e.event_id == trigger.event_id)
    chunk = grounded.core_last_sample * 1000 // (record.sample_rate * record.chunk_ms)
    assert np.flatnonzero(record.decisions).tolist() == [chunk]
    assert record.responses[chunk] == trigger.response
    assert record.emotions[chunk] == trigger.emotion
    return trigger


def test_music_qa_streams(real, tmp_path: Path) -> None:
    for record in build_small_corpus("music_qa", tmp_path):
        trigger = _check_trigger_rule(record, "music_qa")
        assert trigger is not None and INSTRUMENTS[trigger.sound_class] in trigger.response


def test_speaker_scene_qa_streams_keep_the_locked_voice(real, tmp_path: Path) -> None:
    records = build_small_corpus("speaker_scene_qa", tmp_path)
    for record in records:
        trigger = _check_trigger_rule(record, "speaker_scene_qa")
        assert trigger is not None and trigger.voice is not None
        grounded = next(e for e in record.grounded_plan().events if e.event_id == "question")
        backend, voice = str(grounded.evidence["voice"]).split(":")[:2]
        if trigger.voice_locked:
            assert (backend, voice) == (trigger.voice.backend, trigger.voice.voice)
            traits = voice_traits(trigger.voice)
            assert traits is not None and describe_voice(traits) in trigger.response


@pytest.mark.parametrize("subtask", ["doorbell_action", "appliance_action"])
def test_generated_cue_streams_by_class(real, subtask: str, tmp_path: Path) -> None:
    answered = 0
    for record in build_small_corpus(subtask, tmp_path):
        trigger = _check_trigger_rule(record, subtask)
        if trigger is None:
            continue
        answered += 1
        cue = next(e for e in record.grounded_plan().events if e.event_id == "cue")
        assert cue.evidence["selection"] == "generated:synth"
        assert cue.clip.clip_id.startswith("generated/")
    assert answered >= 1


def test_doorbell_action_streams_by_embedding(real, tmp_path: Path) -> None:
    """The default mode: retrieval finds no doorbell or knock clip, so the cue is
    generated from its fallback caption and verified, identity included."""
    cfg: Config = load_config(overrides=["shards.streams_per_shard=2",
                                         f"cache.directory={tmp_path / 'cache'}"])
    assert cfg.retrieval.mode == "embedding"
    build_corpus(tmp_path / "corpus", [get_subtask("doorbell_action")], 2, 7, cfg)
    checked, failures = validate_corpus(tmp_path / "corpus")
    assert failures == [] and checked == 2
    answered = 0
    for record in iter_streams(tmp_path / "corpus"):
        if _check_trigger_rule(record, "doorbell_action") is None:
            continue
        answered += 1
        cue = next(e for e in record.grounded_plan().events if e.event_id == "cue")
        assert cue.evidence["selection"] == "generated:synth"
        assert float(cue.evidence["identity"]) >= cfg.verify.min_identity
    assert answered >= 1
