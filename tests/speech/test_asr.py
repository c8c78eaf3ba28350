"""whisper-base from the split packages: the join, real transcription of real
TTS speech with word timings in samples, the Chinese t2s path, the cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import soxr

from streamaudio.cache import ContentStore
from streamaudio.config import Config, load_config
from streamaudio.speech import asr as asr_module
from streamaudio.speech.asr import (
    WhisperAsr,
    join_model,
    package_part_dirs,
    refine_timings,
    to_simplified,
    transcribe_cached,
    whisper_model_dir,
)
from streamaudio.speech.normalize import word_error_rate
from streamaudio.speech.types import SpeechUnavailable, Transcript, WordTiming

RATE = 16_000
SENTENCE = "Please turn off the kitchen light before you go to bed."


def flite_speech(text: str, voice: str = "slt") -> np.ndarray:
    """Real speech from Debian flite, float32 at 16 kHz."""
    if shutil.which("flite") is None:
        pytest.skip("Debian flite is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True)
        audio, rate = sf.read(path, dtype="float32")
    return audio if rate == RATE else soxr.resample(audio, rate, RATE).astype(np.float32)


@pytest.fixture(scope="module")
def real_cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    # one cache per test session: the 145 MB join happens once for all modules
    cache = tmp_path_factory.getbasetemp() / "speech-cache"
    return load_config(overrides=[f"cache.directory={cache}"])


@pytest.fixture(scope="module")
def whisper(real_cfg: Config) -> WhisperAsr:
    asr = WhisperAsr(real_cfg)
    asr.model()  # load once per module (and once per process: the model is shared)
    return asr


def fake_parts(root: Path, sizes: tuple[int, ...] = (10, 7)) -> list[Path]:
    dirs = []
    for index, size in enumerate(sizes, start=1):
        directory = root / f"part{index}" / "data"
        directory.mkdir(parents=True)
        (directory / f"model.bin.part{index}").write_bytes(bytes([index]) * size)
        dirs.append(directory)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (dirs[0] / name).write_text(f"{name} contents")
    return dirs


def test_join_concatenates_parts_in_order(tmp_path: Path) -> None:
    dirs = fake_parts(tmp_path)
    # the part number decides the order, not the order the folders are given in
    target = join_model(list(reversed(dirs)), tmp_path / "cache" / "whisper-base")
    assert (target / "model.bin").read_bytes() == b"\x01" * 10 + b"\x02" * 7
    assert (target / "vocabulary.txt").read_text() == "vocabulary.txt contents"
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


def test_join_rebuilds_wrong_sizes_and_keeps_good_files(tmp_path: Path) -> None:
    dirs = fake_parts(tmp_path)
    target = join_model(dirs, tmp_path / "out")
    inode = (target / "model.bin").stat().st_ino
    join_model(dirs, target)
    assert (target / "model.bin").stat().st_ino == inode  # complete: not rewritten
    with open(target / "model.bin", "r+b") as handle:  # an interrupted copy
        handle.truncate(12)
    (target / "config.json").write_text("{")
    join_model(dirs, target)
    assert (target / "model.bin").read_bytes() == b"\x01" * 10 + b"\x02" * 7
    assert (target / "config.json").read_text() == "config.json contents"


def test_concurrent_joins_agree(tmp_path: Path) -> None:
    dirs = fake_parts(tmp_path, sizes=(3_000_000, 2_000_000))
    target = tmp_path / "out"
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: join_model(dirs, target), range(6)))
    assert results == [target] * 6
    data = (target / "model.bin").read_bytes()
    assert data == b"\x01" * 3_000_000 + b"\x02" * 2_000_000
    assert sorted(p.name for p in target.iterdir()) == [
        ".join.lock",
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]


def test_configured_model_dir_must_be_complete(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    cfg = load_config(overrides=[f"speech.asr_model_dir={tmp_path}"])
    with pytest.raises(SpeechUnavailable, match=r"missing config\.json, tokenizer\.json"):
        whisper_model_dir(cfg)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_text("{}")
    assert whisper_model_dir(cfg) == tmp_path


def test_real_join_matches_the_packages(real_cfg: Config) -> None:
    target = whisper_model_dir(real_cfg)
    parts = [p for d in package_part_dirs() for p in d.glob("model.bin.part*")]
    assert len(parts) == 2
    assert (target / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    config = package_part_dirs()[0] / "config.json"
    assert (target / "config.json").read_bytes() == config.read_bytes()


def test_transcribes_real_speech_with_sample_timings(whisper: WhisperAsr) -> None:
    speech = flite_speech(SENTENCE)
    pad = RATE // 2  # half a second of silence first: timings must count it
    audio = np.concatenate([np.zeros(pad, np.float32), speech])
    transcript = whisper.transcribe(audio, RATE, "en")
    assert word_error_rate(SENTENCE, transcript.text, "en") <= 0.1, transcript.text
    words = transcript.words
    assert len(words) >= 10
    starts, ends = [w.start for w in words], [w.end for w in words]
    assert starts == sorted(starts) and ends == sorted(ends)
    assert all(0 <= w.start <= w.end <= audio.size for w in words)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    assert abs(words[0].start - loud[0]) <= 0.1 * RATE  # not at 0: silence is skipped
    assert abs(words[-1].end - loud[-1]) <= 0.15 * RATE

    # the same speech at 8 kHz: timings come back in 8 kHz samples
    slow = soxr.resample(audio, RATE, 8_000).astype(np.float32)
    low = whisper.transcribe(slow, 8_000, "en")
    assert word_error_rate(SENTENCE, low.text, "en") <= 0.1, low.text
    assert abs(low.words[-1].end * 2 - words[-1].end) <= 0.1 * RATE
    assert low.words[-1].end <= slow.size


# flite sentences whose whisper-base timings or text change with numpy's BLAS thread
# count when it is not pinned (the mel features go through a BLAS matmul)
THREAD_SENSITIVE = (
    "What was the name of the song that played just a moment ago?",
    "Turn the kitchen lights off and lock the back door, thanks.",
    "I think the kettle is boiling, can you check the stove for me?",
)
_TRANSCRIBE_IN_FRESH_PROCESS = """
import json, sys
import numpy as np, threadpoolctl
from streamaudio.config import load_config
from streamaudio.speech.asr import WhisperAsr
speech = np.load(sys.argv[1])
asr = WhisperAsr(load_config(overrides=[f"cache.directory={sys.argv[2]}"]))
heard = [[t.text, [[w.start, w.end] for w in t.words]]
         for t in (asr.transcribe(speech[name], 16_000, "en") for name in sorted(speech))]
blas = sorted({p["num_threads"] for p in threadpoolctl.threadpool_info()
               if p["user_api"] == "blas"})
print(json.dumps({"heard": heard, "blas_threads": blas}))
"""


def test_transcripts_do_not_depend_on_the_blas_thread_count(real_cfg: Config,
                                                            tmp_path: Path) -> None:
    """A Dask worker runs with OMP_NUM_THREADS=1, an in-process build with numpy's
    default: both must hear the same words at the same samples, or their round-trip
    drops and labels differ."""
    speech = tmp_path / "speech.npz"
    np.savez(speech, **{f"s{i}": flite_speech(text) for i, text in enumerate(THREAD_SENSITIVE)})
    whisper_model_dir(real_cfg)  # the join, once, before the two processes share it
    runs = {}
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        done = subprocess.run(
            [sys.executable, "-c", _TRANSCRIBE_IN_FRESH_PROCESS, str(speech),
             str(real_cfg.cache.directory)],
            env=env, check=True, capture_output=True, text=True)
        runs[threads] = json.loads(done.stdout.splitlines()[-1])
    assert runs["1"]["heard"] == runs["2"]["heard"]
    assert runs["1"]["blas_threads"] == runs["2"]["blas_threads"] == [1]
    assert all(text for text, _ in runs["1"]["heard"])


def test_refine_timings_skips_silence_at_the_edges() -> None:
    """Two 0.5 s tone words after 1 s of silence, as whisper times them: the
    first word from 0, the last ending 0.2 s early."""
    t = np.arange(RATE // 2) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio = np.concatenate([np.zeros(RATE, np.float32), tone, tone, np.zeros(RATE, np.float32)])
    words = [WordTiming("one", 0, 24_000), WordTiming("two", 24_000, 28_800)]
    first, last = refine_timings(words, audio, RATE)
    assert abs(first.start - RATE) <= 0.03 * RATE and first.end == 24_000
    assert last.start == 24_000 and abs(last.end - 2 * RATE) <= 0.03 * RATE
    # words inside continuous speech are left alone
    inner = [WordTiming("a", 17_000, 20_000), WordTiming("b", 20_000, 23_000)]
    assert refine_timings([*inner, WordTiming("c", 23_000, 32_000)], audio, RATE)[:2] == inner


def test_version_names_model_and_compute_type(real_cfg: Config) -> None:
    assert WhisperAsr(real_cfg).version().startswith("faster-whisper 1.")
    assert WhisperAsr(real_cfg).version().endswith("/whisper-base int8")


def test_to_simplified() -> None:
    transcript = Transcript(
        "我們開門吧", "zh", (WordTiming("我們", 0, 10), WordTiming("開門", 10, 20))
    )
    simple = to_simplified(transcript)
    assert simple.text == "我们开门吧"
    assert [w.word for w in simple.words] == ["我们", "开门"]
    assert [(w.start, w.end) for w in simple.words] == [(0, 10), (10, 20)]


def test_chinese_transcripts_come_out_simplified(monkeypatch: pytest.MonkeyPatch) -> None:
    """The zh path through transcribe(), with the model replaced by one that
    answers in traditional characters as whisper-base often does."""
    words = [
        SimpleNamespace(word=" 這裡", start=0.5, end=0.9),
        SimpleNamespace(word="很熱鬧", start=0.9, end=1.6),
    ]
    segment = SimpleNamespace(text="這裡很熱鬧。", words=words)

    class Model:
        def transcribe(self, audio: np.ndarray, **options: object) -> tuple[list, None]:
            assert options["language"] == "zh" and options["vad_filter"] is False
            return [segment], None

    monkeypatch.setattr(asr_module, "_load_model", lambda *args: Model())
    asr = WhisperAsr(load_config())
    asr._directory = Path("unused")
    transcript = asr.transcribe(np.zeros(2 * RATE, np.float32), RATE, "zh")
    assert transcript.text == "这里很热闹。"
    assert transcript.words == (WordTiming("这里", 8000, 14400), WordTiming("很热闹", 14400, 25600))


class CountingAsr:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def version(self) -> str:
        return "counting 1"

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        self.calls += 1
        return Transcript(f"heard {audio.size}", language, (WordTiming("heard", 0, audio.size),))


def test_transcribe_cached(tmp_path: Path) -> None:
    asr, store = CountingAsr(), ContentStore(tmp_path, "asr")
    audio = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    first = transcribe_cached(asr, audio, RATE, "en", store)
    assert transcribe_cached(asr, audio.copy(), RATE, "en", store) == first
    assert asr.calls == 1
    transcribe_cached(asr, audio, RATE, "zh", store)  # another language: another key
    transcribe_cached(asr, audio[::-1], RATE, "en", store)  # other audio: another key
    assert asr.calls == 3
    asr.beam_size = 1  # another beam: another transcript, another key
    transcribe_cached(asr, audio, RATE, "en", store)
    assert asr.calls == 4


def test_the_first_pass_decodes_greedily_and_whisper_base_with_beams(real_cfg: Config) -> None:
    """tiny.en only filters (its misses go to whisper-base), so it decodes greedily."""
    from streamaudio.speech.asr import first_pass_asr

    tiny = first_pass_asr(real_cfg)
    assert tiny is not None and tiny.beam_size == real_cfg.speech.asr_first_pass_beam_size == 1
    assert WhisperAsr(real_cfg).beam_size == real_cfg.speech.asr_beam_size == 5
