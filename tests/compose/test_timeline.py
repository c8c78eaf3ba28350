import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamaudio.compose.timeline import SpanRequest, layout
from streamaudio.config import Config
from streamaudio.stage import Retry

CFG = Config()
GRID = CFG.audio.grid_samples


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 10), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(1, 150), st.booleans()), max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_layout_keeps_turns_ordered_gapped_and_inside(
    turn_cells: list[int], others: list[tuple[int, bool]], seed: int
) -> None:
    requests = [SpanRequest(f"fg{i}", "foreground", cells * GRID)
                for i, cells in enumerate(turn_cells)]
    requests += [SpanRequest(f"bg{i}", "background", cells * GRID, loop)
                 for i, (cells, loop) in enumerate(others)]
    result = layout(requests, np.random.default_rng(seed), CFG)
    if isinstance(result, Retry):
        assert result.reason == "scene_too_long"
        return
    placements, num_samples = result
    assert 0 < num_samples <= CFG.audio.max_stream_samples
    assert [p.event_id for p in placements] == [r.event_id for r in requests]
    for placement in placements:
        assert placement.onset >= 0 and placement.onset + placement.length <= num_samples
        assert placement.length % GRID == 0
    turns = [p for p in placements if p.event_id.startswith("fg")]
    low, high = (int(s * 16_000) for s in CFG.compose.gap_s)
    for before, after in itertools.pairwise(turns):
        assert low <= after.onset - (before.onset + before.length) <= high
    lead_low, lead_high = (int(s * 16_000) for s in CFG.compose.lead_in_s)
    assert lead_low <= turns[0].onset <= lead_high


def test_layout_is_deterministic_for_a_seed() -> None:
    requests = [SpanRequest("a", "foreground", 5 * GRID), SpanRequest("b", "foreground", GRID),
                SpanRequest("c", "ambient", 3 * GRID, True)]
    first = layout(requests, np.random.default_rng(7), CFG)
    second = layout(requests, np.random.default_rng(7), CFG)
    assert first == second


def test_too_many_long_turns_ask_for_a_retry() -> None:
    requests = [SpanRequest(f"fg{i}", "foreground", 30 * GRID) for i in range(5)]
    result = layout(requests, np.random.default_rng(0), CFG)
    assert isinstance(result, Retry) and result.reason == "scene_too_long"


def test_a_stream_needs_a_turn() -> None:
    result = layout([SpanRequest("a", "ambient", GRID, True)], np.random.default_rng(0), CFG)
    assert isinstance(result, Retry) and result.reason == "no_foreground"


def test_sentences_of_one_turn_are_separated_by_short_pauses() -> None:
    requests = [SpanRequest("s0", "foreground", 10 * GRID),
                SpanRequest("s1", "foreground", 10 * GRID, continues=True),
                SpanRequest("q", "foreground", 5 * GRID)]
    for seed in range(20):
        result = layout(requests, np.random.default_rng(seed), CFG)
        assert not isinstance(result, Retry)
        (s0, s1, q), _ = result
        pause = s1.onset - (s0.onset + s0.length)
        gap = q.onset - (s1.onset + s1.length)
        assert int(0.2 * 16_000) <= pause <= int(0.6 * 16_000)
        assert int(0.8 * 16_000) <= gap <= int(2.4 * 16_000)


def test_longest_silences_bounds_every_draw_of_the_layout() -> None:
    """Grounding leaves `longest_silences` free: no draw of lead-in, gaps, pauses
    and tail may take more, and the bound is the sum of the configured maxima."""
    from streamaudio.compose.timeline import longest_silences

    continues = [False, True, False, True]
    requests = [SpanRequest(f"fg{i}", "foreground", GRID, continues=flag)
                for i, flag in enumerate(continues)]
    bound = longest_silences(continues, CFG)
    c = CFG.compose
    assert bound == round((c.lead_in_s[1] + c.tail_s[1] + 2 * c.pause_s[1] + c.gap_s[1])
                          * CFG.audio.sample_rate)
    widest = 0
    for seed in range(200):
        placed = layout(requests, np.random.default_rng(seed), CFG)
        assert not isinstance(placed, Retry)
        widest = max(widest, placed[1] - len(requests) * GRID)
    assert widest <= bound and widest > 0.8 * bound
