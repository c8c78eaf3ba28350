from collections import Counter

import numpy as np

from streamaudio.compose.labels import chunk_of_sample
from streamaudio.config import Config
from streamaudio.pipeline import CorpusBuilder, stream_seed
from streamaudio.schema import GroundedPlan, Stream
from streamaudio.tasks.registry import get_subtask

CHUNK = 6_400


def _stream(cfg: Config, subtask: str, index: int, seed: int = 0) -> Stream:
    builder = CorpusBuilder(cfg)
    stream = builder.build_stream(get_subtask(subtask), index, seed, Counter())
    assert isinstance(stream, Stream), stream
    return stream


def _trigger_chunks(plan: GroundedPlan) -> dict[int, str]:
    chunks = {}
    for event in plan.events:
        planned = plan.event_plan(event.event_id)
        if planned.trigger:
            chunks[chunk_of_sample(event.core_last_sample, CHUNK)] = planned.response
    return chunks


def test_hazard_alert_warns_in_the_chunk_where_the_hazard_core_ends(world_config: Config) -> None:
    for index in range(4):
        stream = _stream(world_config, "hazard_alert", index)
        plan = stream.plan
        hazard = next(e for e in plan.events if e.event_id == "hazard")
        expected = chunk_of_sample(hazard.core_last_sample, CHUNK)
        assert stream.labels.decisions.count(1) == 1
        assert stream.labels.decisions[expected] == 1
        assert stream.labels.emotions[expected] == "urgent"
        assert "glass" in stream.labels.responses[expected]
        assert stream.audio.size == plan.num_samples <= 384_000


def test_benign_silence_is_silent_throughout(world_config: Config) -> None:
    for index in range(3):
        stream = _stream(world_config, "benign_silence", index)
        assert stream.plan.scene.verified_silent
        assert set(stream.labels.decisions) == {0}
        assert set(stream.labels.responses) == {""}


def test_sound_qa_answers_after_the_sound_asked_about(world_config: Config) -> None:
    for index in range(4):
        stream = _stream(world_config, "sound_event_qa", index)
        scene = stream.plan.scene
        assert scene.instruction
        (chunk, response), = _trigger_chunks(stream.plan).items()
        assert stream.labels.responses[chunk] == response
        target = next(e for e in scene.events if e.trigger)
        label = {"door_knock": "knock", "dog_bark": "dog", "kettle_whistle": "kettle",
                 "glass_break": "glass"}[target.sound_class]
        assert label in response.lower()


def test_rendering_is_deterministic_and_re_renders_from_the_plan_json(
        world_config: Config) -> None:
    first = _stream(world_config, "hazard_alert", 2, seed=5)
    second = _stream(world_config, "hazard_alert", 2, seed=5)
    assert first.audio.tobytes() == second.audio.tobytes()
    assert first.plan.to_json() == second.plan.to_json()
    replayed = CorpusBuilder(world_config).render(GroundedPlan.from_json(first.plan.to_json()))
    assert replayed.audio.tobytes() == first.audio.tobytes()
    other = _stream(world_config, "hazard_alert", 2, seed=6)
    assert other.audio.tobytes() != first.audio.tobytes()


def test_gaps_are_never_digital_silence(world_config: Config) -> None:
    stream = _stream(world_config, "benign_silence", 1)
    frames = stream.audio[: stream.audio.size // 160 * 160].reshape(-1, 160)
    assert np.min(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))) > 1e-5


def test_stream_seeds_are_independent_of_each_other() -> None:
    seeds = {stream_seed(0, "t", index, 0) for index in range(1_000)}
    assert len(seeds) == 1_000
    assert stream_seed(0, "t", 1, 0) != stream_seed(1, "t", 1, 0)
    assert stream_seed(0, "t", 1, 0) != stream_seed(0, "u", 1, 0)


def test_tfjp_can_be_switched_off(world: object, world_config: Config) -> None:
    off = world_config.model_copy(update={"tfjp": world_config.tfjp.model_copy(
        update={"enabled": False})})
    stream = _stream(off, "hazard_alert", 0)
    assert set(stream.labels.decisions) == {0, 1}
    assert off.hash() != world_config.hash()
