"""Speech events end to end: real TTS (flite, piper), TFJP, the whisper round
trip and word timings, inside a stream."""

from collections import Counter
from pathlib import Path

import pytest

from streamaudio.compose.labels import chunk_of_sample
from streamaudio.config import Config, load_config
from streamaudio.ground.store import ClipChanged
from streamaudio.pipeline import CorpusBuilder
from streamaudio.schema import Stream
from streamaudio.tasks.registry import get_subtask


def _config(world: Path, cache: Path) -> Config:
    return load_config(overrides=[f"catalog.directory={world}", f"cache.directory={cache}",
                                  "retrieval.mode=class"])


def _stream(cfg: Config, subtask: str, index: int) -> Stream:
    stream = CorpusBuilder(cfg).build_stream(get_subtask(subtask), index, 0, Counter())
    assert isinstance(stream, Stream), stream
    return stream


def test_a_question_is_answered_where_its_last_word_ends(world: Path, tmp_path: Path) -> None:
    stream = _stream(_config(world, tmp_path / "cache"), "single_turn_chat", 0)
    question = next(e for e in stream.plan.events if e.event_id == "question")
    assert question.clip.clip_id.startswith("tts/")
    assert float(question.evidence["wer"]) <= 0.10
    last_word_end = question.onset + question.words[-1].end - 1
    chunk = chunk_of_sample(last_word_end, 6_400)
    assert stream.labels.decisions[chunk] == 1
    assert stream.labels.decisions.count(1) == 1
    assert question.core_end == question.words[-1].end


def test_asr_labels_rebuild_the_spoken_text_in_order(world: Path, tmp_path: Path) -> None:
    stream = _stream(_config(world, tmp_path / "cache"), "asr_clean", 0)
    emitted = " ".join(text for text in stream.labels.responses if text)
    speech = [e for e in sorted(stream.plan.events, key=lambda e: e.onset)
              if stream.plan.event_plan(e.event_id).kind == "speech"]
    spoken = " ".join(str(e.evidence["spoken_text"]) for e in speech)
    assert emitted == spoken
    for event in speech:
        ends = [w.end for w in event.words]
        assert ends == sorted(ends) and ends[-1] <= event.length


def test_same_seed_same_bytes_with_fresh_caches_and_rerender(world: Path,
                                                            tmp_path: Path) -> None:
    first = _stream(_config(world, tmp_path / "a"), "en_zh_translation", 1)
    second = _stream(_config(world, tmp_path / "b"), "en_zh_translation", 1)
    assert first.audio.tobytes() == second.audio.tobytes()
    assert first.plan.to_json() == second.plan.to_json()
    emptied = _config(world, tmp_path / "empty")
    with pytest.raises(ClipChanged, match="not in the cache"):
        CorpusBuilder(emptied).render(first.plan)
    again = CorpusBuilder(_config(world, tmp_path / "a")).render(first.plan)
    assert again.audio.tobytes() == first.audio.tobytes()


def test_noisy_asr_still_emits_every_spoken_word(world: Path, tmp_path: Path) -> None:
    stream = _stream(_config(world, tmp_path / "cache"), "asr_noisy", 0)
    emitted = " ".join(text for text in stream.labels.responses if text)
    speech = [e for e in stream.plan.events if e.clip.clip_id.startswith("tts/")]
    assert emitted == " ".join(str(e.evidence["spoken_text"]) for e in speech)
    assert stream.plan.scene.bed_offset_db > 0


def _windows(root: Path) -> list[int]:
    """`asr_window` of every spoken event in the corpus at `root`."""
    from streamaudio.schema import GroundedPlan
    from streamaudio.shards.reader import iter_streams

    windows = []
    for record in iter_streams(root):
        plan = GroundedPlan.from_json(record.plan)
        windows += [int(e.evidence["asr_window"]) for e in plan.events
                    if e.clip.clip_id.startswith("tts/")]
    return windows


@pytest.mark.parametrize("packed", [True, False])
def test_a_shards_speech_is_heard_in_packs(world: Path, tmp_path: Path, packed: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With speech.hear_in_packs a shard's utterances share whisper windows (the evidence
    says how many per window) and whisper runs fewer times than there are utterances;
    without, each is heard alone. Both keep every stream."""
    from streamaudio.speech.asr import WhisperAsr

    calls = []
    transcribe = WhisperAsr.transcribe

    def counted(self: WhisperAsr, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return transcribe(self, *args, **kwargs)

    monkeypatch.setattr(WhisperAsr, "transcribe", counted)
    cfg = load_config(overrides=[f"catalog.directory={world}", f"cache.directory={tmp_path}/c",
                                 "retrieval.mode=class", f"speech.hear_in_packs={packed}"])
    outcome = CorpusBuilder(cfg).build_shard(tmp_path / "corpus", get_subtask("multi_turn_chat"),
                                             0, 3, 0)
    assert outcome.streams == 3, outcome.drops
    windows = _windows(tmp_path / "corpus")
    assert len(windows) >= 6
    if packed:
        assert max(windows) >= 3 and len(calls) < len(windows)
    else:
        assert set(windows) == {1} and len(calls) >= len(windows)
