from streamaudio.speech.align import align_reference
from streamaudio.speech.types import WordTiming


def _heard(*words: tuple[str, int, int]) -> tuple[WordTiming, ...]:
    return tuple(WordTiming(w, s, e) for w, s, e in words)


def test_tokens_keep_punctuation_and_take_the_heard_times() -> None:
    heard = _heard(("Hello,", 0, 100), ("Sarah.", 120, 300))
    assert align_reference("Hello, Sarah!", heard) == [
        WordTiming("Hello,", 0, 100), WordTiming("Sarah!", 120, 300)]


def test_numbers_align_across_normalisation() -> None:
    # the text says "45", the ASR heard "forty-five" as one word
    heard = _heard(("I", 0, 50), ("paid", 60, 200), ("forty-five", 210, 600),
                   ("dollars", 610, 900))
    timings = align_reference("I paid 45 dollars.", heard)
    assert [t.word for t in timings] == ["I", "paid", "45", "dollars."]
    assert timings[2] == WordTiming("45", 210, 600)


def test_missed_words_end_with_the_previous_and_times_never_go_back() -> None:
    heard = _heard(("the", 0, 50), ("cat", 300, 400), ("sat", 420, 500))
    timings = align_reference("the big cat sat", heard)
    assert [t.word for t in timings] == ["the", "big", "cat", "sat"]
    assert timings[1].end == 50
    ends = [t.end for t in timings]
    assert ends == sorted(ends)
    assert align_reference("", heard) == [] and align_reference("x", ()) == []
