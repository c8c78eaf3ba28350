"""Fallback sounds from ElevenLabs' sound-effects API through the official SDK:
`client.text_to_sound_effects.convert(...)`, a POST to {base_url}/v1/sound-generation.

The API key is read only from the environment variable named in
`generate.elevenlabs.api_key_env` and passed to the client explicitly (the SDK's own
default is read from ELEVENLABS_API_KEY when it is imported). It never appears in
an error or a log line: the SDK's exception text includes response headers, so our
messages are built from the status and body only, scrubbed of the key, and raised
outside the `except` block so the SDK exception (whose request carries the key
header) is not chained to ours. The API takes no seed: each seed is a separate,
cached request, and the version string says the seed is not honoured."""

from __future__ import annotations

import importlib.metadata
import io
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.generate.types import GenerationError, GeneratorUnavailable
from streamaudio.redact import redact_url, scrub_secret

# SDK 2.78 documents duration_seconds as "at least 0.5 and at most 30" (older models
# stopped at 22 s; our streams are at most 24 s and events much shorter).
API_MIN_S, API_MAX_S = 0.5, 30.0
DEFAULT_HOST = "https://api.elevenlabs.io"
Decoder = Callable[[bytes], tuple[np.ndarray, int]]


def _pcm(rate: int) -> Decoder:
    def decode(data: bytes) -> tuple[np.ndarray, int]:
        if len(data) % 2:
            raise ValueError(f"{len(data)} bytes is not a whole number of 16-bit samples")
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0, rate

    return decode


def _companded(rate: int, subtype: str) -> Decoder:
    def decode(data: bytes) -> tuple[np.ndarray, int]:
        audio, _ = sf.read(
            io.BytesIO(data), dtype="float32", format="RAW", subtype=subtype,
            samplerate=rate, channels=1,
        )  # fmt: skip
        return audio, rate

    return decode


def _container(data: bytes) -> tuple[np.ndarray, int]:
    """mp3 / wav / ogg-opus: the file says its own rate and channels."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1, dtype=np.float32), int(rate)


def decoder_for(output_format: str) -> Decoder:
    """How to turn the body of `output_format` (codec_rate[_bitrate]) into audio."""
    codec, _, rest = output_format.partition("_")
    rate_text = rest.split("_")[0]
    if not rate_text.isdigit():
        codec = ""
    if codec == "pcm":
        return _pcm(int(rate_text))
    if codec in ("ulaw", "alaw"):
        return _companded(int(rate_text), codec.upper())
    if codec in ("mp3", "wav", "opus"):
        return _container
    raise GeneratorUnavailable(
        f"generate.elevenlabs.output_format {output_format!r} is not supported: use pcm_<rate>, "
        "mp3_<rate>_<kbps>, wav_<rate>, opus_<rate>_<kbps>, ulaw_8000 or alaw_8000"
    )


def _detail(body: Any) -> str:
    """The service's own message from an error body, without headers."""
    if isinstance(body, dict):
        inner = body.get("detail", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("status") or inner
        body = inner
    return " ".join(str(body).split())[:200]


class ElevenLabsGenerator:
    name = "elevenlabs"

    def __init__(self, cfg: Config) -> None:
        from elevenlabs.client import ElevenLabs  # imported only when configured

        self.settings = cfg.generate.elevenlabs
        self.sample_rate = cfg.audio.sample_rate
        key = os.environ.get(self.settings.api_key_env, "").strip()
        if not key:
            raise GeneratorUnavailable(
                "ElevenLabs needs an API key: set the environment variable "
                f"{self.settings.api_key_env} (generate.elevenlabs.api_key_env)"
            )
        self._decode = decoder_for(self.settings.output_format)
        self._scrub: Callable[[str], str] = lambda text: scrub_secret(text, key)
        self._where = redact_url(self.settings.base_url) if self.settings.base_url else DEFAULT_HOST
        self._client = ElevenLabs(
            api_key=key, base_url=self.settings.base_url, timeout=self.settings.timeout_s
        )

    def version(self) -> str:
        s = self.settings
        sdk = importlib.metadata.version("elevenlabs")
        return (
            f"elevenlabs-sdk/{sdk} sound-generation {s.output_format} "
            f"prompt_influence={s.prompt_influence:g} seed=unsupported"
        )

    def _fetch(self, prompt: str, duration_s: float) -> bytes:
        from elevenlabs.core.api_error import ApiError
        from elevenlabs.core.parse_error import ParsingError

        timeout = self.settings.timeout_s
        deadline = time.monotonic() + timeout  # httpx times each read; this bounds the body
        failure: tuple[str, str] | None = None
        body = bytearray()
        try:
            for chunk in self._client.text_to_sound_effects.convert(
                text=prompt,
                duration_seconds=round(min(API_MAX_S, max(API_MIN_S, duration_s)), 3),
                prompt_influence=self.settings.prompt_influence,
                output_format=self.settings.output_format,
            ):
                body += chunk
                if time.monotonic() > deadline:
                    failure = (f"took over {timeout} s", "timeout")
                    break
        except (ApiError, ParsingError) as exc:
            status = exc.status_code
            failure = (f"answered HTTP {status}: {_detail(exc.body)}", f"http_{status}")
        except httpx.TimeoutException:
            failure = (f"timed out after {timeout} s", "timeout")
        except httpx.ConnectError:
            failure = ("refused the connection", "connect")
        except httpx.HTTPError as exc:  # e.g. the body was cut off mid-stream
            failure = (f"failed: {type(exc).__name__}", "http_error")
        if failure is not None:  # raised here, not in `except`: see the module docstring
            message = f"ElevenLabs sound generation at {self._where} {failure[0]}"
            raise GenerationError(self._scrub(message), reason=failure[1])
        return bytes(body)

    def generate(self, prompt: str, duration_s: float, seed: int) -> np.ndarray:
        """`seed` is accepted for the protocol but the API has none (see version())."""
        body = self._fetch(prompt, duration_s)
        where = f"ElevenLabs at {self._where}"
        if not body:
            raise GenerationError(f"{where} returned no audio", reason="empty")
        try:
            audio, rate = self._decode(body)
        except (RuntimeError, ValueError, TypeError, EOFError) as exc:
            detail = self._scrub(f"{type(exc).__name__}: {exc}")[:200]
            raise GenerationError(
                f"{where} returned undecodable {self.settings.output_format} audio "
                f"({len(body)} bytes): {detail}",
                reason="undecodable",
            ) from None
        if audio.size == 0 or not np.isfinite(audio).all():
            raise GenerationError(f"{where} returned empty or invalid audio", reason="undecodable")
        out = resample(np.ascontiguousarray(audio, dtype=np.float32), rate, self.sample_rate)
        return np.ascontiguousarray(out, dtype=np.float32)
