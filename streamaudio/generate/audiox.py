"""A client for a user-run AudioX server speaking our JSON protocol
(AUDIOX_PROTOCOL.md beside this file): GET /health names the model, POST /generate
returns a base64 WAV/FLAC file. Errors are `GenerationError`s counted by reason;
a missing URL is `GeneratorUnavailable`."""

from __future__ import annotations

import base64
import binascii
import io
import threading
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.generate.types import GenerationError, GeneratorUnavailable
from streamaudio.redact import redact_url

PROTOCOL = "streamaudio-audiox/1"
NO_URL = (
    "AudioX is not configured: set generate.audiox.url to a server speaking "
    "streamaudio/generate/AUDIOX_PROTOCOL.md (e.g. --set generate.audiox.url=http://127.0.0.1:7860)"
)
FADE_S = 0.01  # when a fixed-window answer is cut to the requested length


def _decode_file(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio.mean(axis=1, dtype=np.float32), int(rate)


def _cut(audio: np.ndarray, n: int, rate: int) -> np.ndarray:
    if audio.size <= n:
        return audio
    audio = audio[:n].copy()
    fade = min(n, int(FADE_S * rate))
    audio[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return audio


class AudioXGenerator:
    name = "audiox"

    def __init__(self, cfg: Config) -> None:
        self.settings = cfg.generate.audiox
        if not self.settings.url:
            raise GeneratorUnavailable(NO_URL)
        self.sample_rate = cfg.audio.sample_rate
        self._base = self.settings.url.rstrip("/")
        self._where = redact_url(self._base)
        self._client = httpx.Client(timeout=httpx.Timeout(self.settings.timeout_s))
        self._health: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """The JSON answer of one request; every failure is a GenerationError."""
        timeout = self.settings.timeout_s
        failure: tuple[str, str] | None = None
        try:
            response = self._client.request(method, f"{self._base}{path}", json=payload)
        except httpx.TimeoutException:
            failure = (f"timed out after {timeout} s", "timeout")
        except httpx.ConnectError:
            failure = ("refused the connection: is the server running?", "connect")
        except httpx.HTTPError as exc:
            failure = (f"failed: {type(exc).__name__}", "http_error")
        if failure is not None:  # raised outside `except`: httpx errors carry the request
            raise GenerationError(f"AudioX at {self._where}{path} {failure[0]}", failure[1])
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            message = answer.get("error") if isinstance(answer, dict) else None
            detail = " ".join(str(message or response.text).split())[:200]
            raise GenerationError(
                f"AudioX at {self._where}{path} answered HTTP {response.status_code}: {detail}",
                f"http_{response.status_code}",
            )
        if not isinstance(answer, dict):
            raise GenerationError(
                f"AudioX at {self._where}{path} did not answer JSON", "bad_response"
            )
        return answer

    def health(self) -> dict[str, Any]:
        """The server's /health answer, asked once per generator."""
        with self._lock:
            if self._health is None:
                answer = self._call("GET", "/health")
                if answer.get("status") != "ok" or not isinstance(answer.get("model"), str):
                    raise GenerationError(
                        f"AudioX at {self._where} is not ready: {str(answer)[:200]}", "not_ready"
                    )
                self._health = answer
            return self._health

    def version(self) -> str:
        s = self.settings
        return (
            f"{PROTOCOL} model={self.health()['model']} steps={s.steps} cfg_scale={s.cfg_scale:g}"
        )

    def generate(self, prompt: str, duration_s: float, seed: int) -> np.ndarray:
        limit = self.health().get("max_duration_s")
        if isinstance(limit, int | float) and limit > 0:
            duration_s = min(duration_s, float(limit))
        payload = {
            "prompt": prompt, "duration_s": round(duration_s, 3), "seed": seed % 2**32,
            "steps": self.settings.steps, "cfg_scale": self.settings.cfg_scale,
            "sample_rate": self.sample_rate,
        }  # fmt: skip
        answer = self._call("POST", "/generate", payload)
        audio = self._audio(answer)
        return _cut(audio, round(duration_s * self.sample_rate), self.sample_rate)

    def _audio(self, answer: dict[str, Any]) -> np.ndarray:
        where = f"AudioX at {self._where}/generate"
        encoded, stated = answer.get("audio_b64"), answer.get("sample_rate")
        if not isinstance(encoded, str) or not isinstance(stated, int):
            raise GenerationError(f"{where} answered without audio_b64/sample_rate", "bad_response")
        try:
            audio, rate = _decode_file(base64.b64decode(encoded, validate=True))
        except (binascii.Error, RuntimeError, ValueError, TypeError, EOFError) as exc:
            detail = f"{type(exc).__name__}: {exc}"[:200]
            raise GenerationError(
                f"{where} returned undecodable audio: {detail}", "undecodable"
            ) from None
        if rate != stated:
            raise GenerationError(
                f"{where} said sample_rate {stated} but the file is {rate} Hz", "bad_response"
            )
        if audio.size == 0 or not np.isfinite(audio).all():
            raise GenerationError(f"{where} returned empty or invalid audio", "undecodable")
        return np.ascontiguousarray(resample(audio, rate, self.sample_rate), dtype=np.float32)
