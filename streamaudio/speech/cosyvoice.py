"""A client for CosyVoice's own FastAPI runtime (runtime/python/fastapi/server.py in
FunAudioLLM/CosyVoice): form-encoded POST to /inference_{sft,zero_shot,cross_lingual,
instruct}; the answer is a streamed body of raw 16-bit little-endian mono PCM at the
model's rate (22.05 kHz for CosyVoice v1, 24 kHz for v2), with no header.

The runtime takes no speed, so every utterance is spoken at the voice's natural
rate and the returned Synthesis says so (speed 1.0). The server samples, so its
audio is not reproducible: the registry caches what it returns."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.redact import redact_url, scrub_secret
from streamaudio.speech.types import BackendError, SpeechUnavailable, Synthesis, VoiceSpec

LANGUAGES = ("en", "zh")
NO_URL = (
    "CosyVoice is not configured: set speech.cosyvoice.url "
    "(e.g. --set speech.cosyvoice.url=http://127.0.0.1:50000)"
)
DEFAULT_INSTRUCT = "A speaker with a clear, calm and natural voice."
RATE_HEADER = "X-Custom-Header-sampleRate"  # sent by some forks of the runtime; used if present


class CosyVoiceBackend:
    name = "cosyvoice"

    def __init__(self, cfg: Config, instruct_text: str | None = None) -> None:
        self.cfg = cfg
        self.settings = cfg.speech.cosyvoice
        self.instruct_text = (
            instruct_text or cfg.speech.cosyvoice.instruct_text or DEFAULT_INSTRUCT
        )
        self._client: httpx.Client | None = None
        self._prompt: tuple[bytes, str] | None = None  # (wav bytes, sha256)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _uses_prompt(self) -> bool:
        return self.settings.mode in ("zero_shot", "cross_lingual")

    def _prompt_wav(self) -> tuple[bytes, str]:
        with self._lock:
            if self._prompt is None:
                path = self.settings.prompt_wav
                if path is None or not Path(path).is_file():
                    raise SpeechUnavailable(
                        f"CosyVoice {self.settings.mode} mode needs a reference recording: "
                        f"set speech.cosyvoice.prompt_wav (now {path})"
                    )
                data = Path(path).read_bytes()
                self._prompt = (data, hashlib.sha256(data).hexdigest())
            return self._prompt

    def version(self) -> str:
        s = self.settings
        text = f"cosyvoice-fastapi/{s.mode}/{s.sample_rate}Hz"
        if self._uses_prompt():
            prompt_text = hashlib.sha256(s.prompt_text.encode()).hexdigest()[:12]
            text += f"/prompt {self._prompt_wav()[1][:12]} {prompt_text}"
        elif s.mode == "instruct":
            text += f"/instruct {hashlib.sha256(self.instruct_text.encode()).hexdigest()[:12]}"
        return text

    def voices(self, language: str) -> list[str]:
        if self.settings.url is None or language not in LANGUAGES:
            return []
        if self._uses_prompt():  # one voice: whoever speaks in the reference recording
            path = self.settings.prompt_wav
            return [f"prompt:{Path(path).stem}"] if path is not None else []
        return list(self.settings.speakers.get(language, []))

    def _form(self, text: str, voice: VoiceSpec) -> tuple[dict[str, str], dict[str, object]]:
        mode, s = self.settings.mode, self.settings
        if mode == "sft":
            return {"tts_text": text, "spk_id": voice.voice}, {}
        if mode == "instruct":
            return {
                "tts_text": text,
                "spk_id": voice.voice,
                "instruct_text": self.instruct_text,
            }, {}
        files = {"prompt_wav": ("prompt_wav", self._prompt_wav()[0], "application/octet-stream")}
        if mode == "cross_lingual":
            return {"tts_text": text}, files
        if not s.prompt_text:
            raise SpeechUnavailable("CosyVoice zero_shot mode needs speech.cosyvoice.prompt_text")
        return {"tts_text": text, "prompt_text": s.prompt_text}, files

    def _fetch(
        self, endpoint: str, data: dict[str, str], files: dict[str, object]
    ) -> tuple[bytes, int]:
        timeout = self.settings.timeout_s
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(timeout))
            client = self._client
        where = redact_url(endpoint)
        deadline = time.monotonic() + timeout  # httpx times each read; this bounds the whole body
        try:
            with client.stream("POST", endpoint, data=data, files=files or None) as response:
                if response.status_code != 200:
                    snippet = response.read()[:200].decode("utf-8", "replace").strip()
                    raise BackendError(
                        f"CosyVoice at {where} answered HTTP {response.status_code}: {snippet}"
                    )
                rate = response.headers.get(RATE_HEADER, "")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline:
                        raise BackendError(f"CosyVoice at {where} took over {timeout} s")
        except httpx.TimeoutException as exc:
            raise BackendError(f"CosyVoice at {where} timed out after {timeout} s") from exc
        except httpx.ConnectError as exc:
            raise BackendError(f"cannot connect to CosyVoice at {where}: is it running?") from exc
        except httpx.HTTPError as exc:  # e.g. the body was cut off mid-stream
            detail = scrub_secret(str(exc), str(self.settings.url), where)[:200]
            raise BackendError(
                f"CosyVoice at {where} failed: {type(exc).__name__}: {detail}"
            ) from exc
        sample_rate = int(rate) if rate.isdigit() and int(rate) > 0 else self.settings.sample_rate
        return bytes(body), sample_rate

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        if self.settings.url is None:
            raise SpeechUnavailable(NO_URL)
        if voice.language not in LANGUAGES:
            raise SpeechUnavailable(f"CosyVoice speaks {LANGUAGES}, not {voice.language!r}")
        data, files = self._form(text, voice)
        endpoint = f"{self.settings.url.rstrip('/')}/inference_{self.settings.mode}"
        body, rate = self._fetch(endpoint, data, files)
        where = redact_url(endpoint)
        if not body:
            raise BackendError(f"CosyVoice at {where} returned no audio")
        if len(body) % 2:
            raise BackendError(
                f"CosyVoice at {where} returned malformed audio: {len(body)} bytes "
                "is not a whole number of 16-bit samples"
            )
        pcm = np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
        out_rate = self.cfg.audio.sample_rate
        audio = resample(pcm, rate, out_rate)
        if audio.size == 0:
            raise BackendError(f"CosyVoice at {where} returned {pcm.size} samples only")
        audio = audio / max(1.0, float(np.max(np.abs(audio))))
        return Synthesis(
            audio=np.ascontiguousarray(audio, dtype=np.float32),
            sample_rate=out_rate,
            voice=dataclasses.replace(voice, speed=1.0),  # the runtime has no speed control
            backend_version=self.version(),
        )
