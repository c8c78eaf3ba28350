from hypothesis import given, settings
from hypothesis import strategies as st

from streamaudio.compose.labels import LabelConflict, chunk_count, chunk_of_sample, derive_labels
from streamaudio.schema import BedLayer, ClipRef, EventPlan, GroundedEvent, GroundedPlan, ScenePlan

CHUNK = 6_400
REF = ClipRef(clip_id="t/clip", sha256="0" * 64, source="test", license="CC0-1.0")


def _plan(num_samples: int, spans: list[tuple[int, int, bool]]) -> GroundedPlan:
    """spans: (onset, length, trigger); the core is the whole event."""
    events = [
        EventPlan(event_id=f"e{i}", role="foreground", kind="sound", sound_class="x",
                  caption="c", query="q", fallback_caption="f", trigger=trigger,
                  response=f"r{i}" if trigger else "", emotion="urgent" if trigger else None)
        for i, (_, _, trigger) in enumerate(spans)
    ]
    while len(events) < 3:
        events.append(EventPlan(event_id=f"pad{len(events)}", role="background", kind="sound",
                                caption="c", query="q", fallback_caption="f"))
    scene = ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1, events=events)
    grounded = [
        GroundedEvent(event_id=f"e{i}", clip=REF, clip_offset=0, length=length, onset=onset,
                      core_start=0, core_end=length, gain_db=0.0)
        for i, (onset, length, _) in enumerate(spans)
    ]
    grounded += [GroundedEvent(event_id=e.event_id, clip=REF, clip_offset=0, length=10, onset=0,
                               core_start=0, core_end=10, gain_db=0.0)
                 for e in events[len(spans):]]
    bed = [BedLayer(kind="coloured", colour="pink", noise_seed=1, gain_db=-40.0)]
    return GroundedPlan(scene=scene, sample_rate=16_000, num_samples=num_samples,
                        events=grounded, bed=bed)


@given(st.integers(min_value=1, max_value=60 * CHUNK))
def test_chunk_count_is_ceiling(num_samples: int) -> None:
    count = chunk_count(num_samples, CHUNK)
    assert (count - 1) * CHUNK < num_samples <= count * CHUNK


def test_chunk_boundaries() -> None:
    assert chunk_of_sample(0, CHUNK) == 0
    assert chunk_of_sample(6_399, CHUNK) == 0
    assert chunk_of_sample(6_400, CHUNK) == 1
    assert chunk_count(6_400, CHUNK) == 1
    assert chunk_count(6_401, CHUNK) == 2


def test_response_lands_in_chunk_of_last_core_sample() -> None:
    # event covers samples 1000..12799: its last sample, 12799, is in chunk 1
    plan = _plan(60_000, [(1_000, 11_800, True)])
    labels = derive_labels(plan, CHUNK)
    assert labels.decisions == [0, 1] + [0] * 8
    assert labels.responses[1] == "r0" and labels.emotions[1] == "urgent"
    assert all(text == "" for i, text in enumerate(labels.responses) if i != 1)


def test_event_ending_exactly_on_a_boundary_stays_in_its_chunk() -> None:
    labels = derive_labels(_plan(20_000, [(0, 12_800, True)]), CHUNK)
    assert labels.decisions == [0, 1, 0, 0]


def test_two_responses_in_one_chunk_conflict() -> None:
    plan = _plan(20_000, [(0, 100, True), (200, 100, True)])
    try:
        derive_labels(plan, CHUNK)
    except LabelConflict as conflict:
        assert "chunk 0" in str(conflict)
    else:
        raise AssertionError("expected a conflict")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 30)), min_size=1, max_size=5),
       st.integers(0, 6_399))
def test_labels_stay_inside_bounds(turns: list[tuple[int, int]], jitter: int) -> None:
    spans, cursor = [], jitter
    for gap, length in turns:  # turns are whole chunks apart, so no conflicts
        onset = cursor + gap * CHUNK
        spans.append((onset, length * CHUNK, True))
        cursor = onset + (length + 1) * CHUNK
    num_samples = cursor
    labels = derive_labels(_plan(num_samples, spans), CHUNK)
    assert len(labels.decisions) == chunk_count(num_samples, CHUNK)
    assert sum(labels.decisions) == len(spans)
    for onset, length, _ in spans:
        assert labels.decisions[(onset + length - 1) // CHUNK] == 1


def test_words_are_emitted_in_the_chunk_where_each_ends() -> None:
    from streamaudio.schema import VoicePlan, WordSpan

    speech = EventPlan(event_id="say", role="foreground", kind="speech", caption="c",
                       query="q", fallback_caption="f", text="hello there big world",
                       voice=VoicePlan(backend="flite", voice="slt"), emit="words")
    others = [EventPlan(event_id=f"b{i}", role="background", kind="sound", caption="c",
                        query="q", fallback_caption="f") for i in range(2)]
    scene = ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                      events=[speech, *others])
    words = [WordSpan(word="hello", start=0, end=3_000), WordSpan(word="there", start=3_000,
             end=6_000), WordSpan(word="big", start=6_000, end=9_000),
             WordSpan(word="world", start=9_000, end=12_000)]
    grounded = [GroundedEvent(event_id="say", clip=REF, clip_offset=0, length=12_800,
                              onset=1_000, core_start=0, core_end=12_000, gain_db=0.0,
                              words=words)]
    grounded += [GroundedEvent(event_id=e.event_id, clip=REF, clip_offset=0, length=10,
                               onset=0, core_start=0, core_end=10, gain_db=0.0) for e in others]
    bed = [BedLayer(kind="coloured", colour="pink", noise_seed=1, gain_db=-40.0)]
    plan = GroundedPlan(scene=scene, sample_rate=16_000, num_samples=20_000,
                        events=grounded, bed=bed)
    labels = derive_labels(plan, CHUNK)
    # ends at 4_000, 7_000, 10_000, 13_000 -> chunks 0, 1, 1, 2
    assert labels.decisions == [1, 1, 1, 0]
    assert labels.responses[:3] == ["hello", "there big", "world"]
    assert set(labels.emotions[:3]) == {"normal"}


def _speaker_plan(speakers: list[str]) -> GroundedPlan:
    from streamaudio.schema import VoicePlan, WordSpan

    events, grounded = [], []
    for i, speaker in enumerate(speakers):
        events.append(EventPlan(event_id=f"t{i}", role="foreground", kind="speech",
                                caption="c", query="q", fallback_caption="f",
                                text="yes please", speaker=speaker, emit="words",
                                voice=VoicePlan(backend="flite", voice="slt")))
        grounded.append(GroundedEvent(
            event_id=f"t{i}", clip=REF, clip_offset=0, length=12_800, onset=i * 20_000,
            core_start=0, core_end=12_000, gain_db=0.0,
            words=[WordSpan(word="yes", start=0, end=3_000),
                   WordSpan(word="please", start=8_000, end=12_000)]))
    scene = ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                      events=events)
    bed = [BedLayer(kind="coloured", colour="pink", noise_seed=1, gain_db=-40.0)]
    return GroundedPlan(scene=scene, sample_rate=16_000, num_samples=len(speakers) * 20_000,
                        events=grounded, bed=bed)


def test_a_turn_change_tags_the_new_speakers_first_word() -> None:
    labels = derive_labels(_speaker_plan(["A", "A", "B"]), CHUNK)
    said = [text for text in labels.responses if text]
    assert said == ["[A] yes", "please", "yes", "please", "[B] yes", "please"]


def test_verified_silent_chunks_cover_what_starts_inside_the_span() -> None:
    from streamaudio.compose.labels import verified_silent_chunks

    plan = _plan(60_000, [(1_000, 11_800, False), (20_000, 6_400, True)])
    quiet = plan.scene.events[0].model_copy(update={"verified_silent": True})
    scene = plan.scene.model_copy(update={"events": [quiet, *plan.scene.events[1:]]})
    plan = plan.model_copy(update={"scene": scene})
    # samples 1_000..12_799: chunks starting at 6_400 (1) and 12_800 is past the end
    assert verified_silent_chunks(plan, CHUNK) == [1]


def test_words_timed_together_keep_their_spoken_order() -> None:
    from streamaudio.schema import WordSpan

    plan = _speaker_plan(["", "", ""])
    said = [WordSpan(word=w, start=1_000, end=5_000) for w in ("two", "hundred", "dollars")]
    event = plan.events[0].model_copy(update={"words": said})
    plan = plan.model_copy(update={"events": [event, *plan.events[1:]]})
    assert derive_labels(plan, CHUNK).responses[0] == "two hundred dollars"
