import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streamaudio.schema import BedLayer, ClipRef, EventPlan, GroundedEvent, GroundedPlan, ScenePlan

REF = ClipRef(clip_id="x/y", sha256="ab" * 32, source="pkg", license="CC0-1.0")
text = st.text(max_size=40)


def _event(index: int, trigger: bool = False, caption: str = "c") -> EventPlan:
    return EventPlan(event_id=f"e{index}", role="foreground", kind="sound", sound_class="k",
                     caption=caption, query="q", fallback_caption="f", trigger=trigger,
                     response="Watch out!" if trigger else "",
                     emotion="urgent" if trigger else None)


def _grounded(index: int, onset: int, gain: float) -> GroundedEvent:
    return GroundedEvent(event_id=f"e{index}", clip=REF, clip_offset=3, length=3_200,
                         onset=onset, core_start=10, core_end=3_000, gain_db=gain,
                         evidence={"clip_lufs": -23.5, "candidates_tried": 1, "how": "x"})


@settings(max_examples=40, deadline=None)
@given(captions=st.lists(text, min_size=3, max_size=15), gain=st.floats(-60, 30),
       onset=st.integers(0, 100_000), seed=st.integers(0, 2**63 - 1))
def test_grounded_plan_json_round_trip_is_exact(captions: list[str], gain: float, onset: int,
                                                 seed: int) -> None:
    events = [_event(i, trigger=i == 0, caption=c) for i, c in enumerate(captions)]
    scene = ScenePlan(stream_id="s", ability="a", subtask="t", setting="kitchen", seed=seed,
                      instruction="Tell me when you hear it.", events=events)
    plan = GroundedPlan(
        scene=scene, sample_rate=16_000, num_samples=onset + 3_200,
        events=[_grounded(i, onset, gain) for i in range(len(events))],
        bed=[BedLayer(kind="coloured", colour="brown", noise_seed=7, gain_db=gain / 3)],
    )
    text_form = plan.to_json()
    again = GroundedPlan.from_json(text_form)
    assert again == plan
    assert again.to_json() == text_form


def test_scene_needs_3_to_15_events() -> None:
    for count in (2, 16):
        with pytest.raises(ValidationError):
            ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                      events=[_event(i) for i in range(count)])


def test_trigger_needs_response_and_emotion() -> None:
    with pytest.raises(ValidationError, match="trigger needs a response"):
        EventPlan(event_id="e", role="foreground", kind="sound", caption="c", query="q",
                  fallback_caption="f", trigger=True)
    with pytest.raises(ValidationError):
        EventPlan(event_id="e", role="foreground", kind="sound", caption="c", query="q",
                  fallback_caption="f", trigger=True, response="hi", emotion="bored")


def test_verified_silence_has_no_triggers() -> None:
    with pytest.raises(ValidationError, match="verified-silent"):
        ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                  verified_silent=True, events=[_event(0, trigger=True), _event(1), _event(2)])


def test_grounding_must_cover_every_event_inside_the_stream() -> None:
    scene = ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                      events=[_event(i) for i in range(3)])
    bed = [BedLayer(kind="coloured", colour="pink", noise_seed=1, gain_db=-40)]
    with pytest.raises(ValidationError, match="exactly once"):
        GroundedPlan(scene=scene, sample_rate=16_000, num_samples=10_000,
                     events=[_grounded(0, 0, 0.0)], bed=bed)
    with pytest.raises(ValidationError, match="ends after"):
        GroundedPlan(scene=scene, sample_rate=16_000, num_samples=5_000,
                     events=[_grounded(i, 4_000, 0.0) for i in range(3)], bed=bed)
    with pytest.raises(ValidationError, match="core span"):
        GroundedEvent(event_id="e", clip=REF, clip_offset=0, length=100, onset=0,
                      core_start=50, core_end=101, gain_db=0.0)
