"""streamaudio.profile: nested parts count once, in the innermost block."""

import time

from streamaudio import profile


def test_nested_time_counts_in_the_inner_part_only() -> None:
    before = profile.snapshot()
    with profile.timed("tts"):
        time.sleep(0.02)
        with profile.timed("model loading"):
            time.sleep(0.05)
    spent = profile.snapshot()
    spent.subtract(before)
    assert spent["model loading"] >= 0.05
    assert 0.02 <= spent["tts"] < 0.05  # the loading inside it is not counted twice
