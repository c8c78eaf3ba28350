"""Flite: more English voices (Debian `flite`: kal16, slt, awb, rms, ...), run as a
subprocess. Flite is rule-based, so the same text and settings give the same bytes."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.speech.types import BackendError, SpeechUnavailable, Synthesis, VoiceSpec

INSTALL_HINT = "flite is not installed: apt-get install flite"
SILENT_PEAK = 1e-4


class FliteBackend:
    name = "flite"

    def __init__(self, cfg: Config, timeout_s: float = 60.0) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s
        self._listed: list[str] | None = None
        self._version: str | None = None
        self._lock = threading.Lock()

    def _binary(self) -> str:
        path = shutil.which("flite")
        if path is None:
            raise SpeechUnavailable(INSTALL_HINT)
        return path

    def _run(self, args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self._binary(), *args], cwd=cwd, capture_output=True, text=True,
                timeout=self.timeout_s, check=False,
            )  # fmt: skip
        except FileNotFoundError as exc:  # removed between which() and run()
            raise SpeechUnavailable(INSTALL_HINT) from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"flite did not finish within {self.timeout_s} s") from exc

    def _installed_voices(self) -> list[str]:
        with self._lock:
            if self._listed is None:
                out = self._run(["-lv"]).stdout  # "Voices available: kal awb_time kal16 ..."
                self._listed = out.split(":", 1)[1].split() if ":" in out else []
            return self._listed

    def version(self) -> str:
        with self._lock:
            if self._version is None:
                out = self._run(["--version"]).stdout  # "  version: flite-2.2-current Sep 2018"
                line = next((ln for ln in out.splitlines() if "version:" in ln), out)
                found = line.split("version:", 1)[-1].split("(")[0].strip()
                self._version = "flite " + found.removeprefix("flite-")
            return self._version

    def voices(self, language: str) -> list[str]:
        if language != "en":
            return []
        installed = set(self._installed_voices())
        return [v for v in self.cfg.speech.flite_voices if v in installed]

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        if voice.language != "en" or voice.voice not in self.voices("en"):
            raise SpeechUnavailable(
                f"flite has no voice {voice.voice!r} for {voice.language!r}; "
                f"English voices here: {self.voices('en')}"
            )
        if not voice.speed > 0:
            raise BackendError(f"flite: speed must be positive, got {voice.speed}")
        with tempfile.TemporaryDirectory(prefix="flite-") as tmp:
            # text from a file: no length limit, and a leading "-" is not read as an option
            Path(tmp, "text.txt").write_text(text, encoding="utf-8")
            stretch = f"duration_stretch={1.0 / voice.speed:.6f}"
            args = ["-voice", voice.voice, "--setf", stretch, "-f", "text.txt", "-o", "out.wav"]
            done = self._run(args, cwd=tmp)
            out = Path(tmp, "out.wav")
            if done.returncode != 0 or not out.is_file():
                detail = (done.stderr or done.stdout).strip()[-300:]
                raise BackendError(f"flite failed (exit {done.returncode}): {detail}")
            try:
                audio, rate = sf.read(out, dtype="float32", always_2d=True)
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"flite wrote unreadable audio: {exc}") from exc
        mono = audio.mean(axis=1, dtype=np.float32)
        if mono.size == 0 or float(np.max(np.abs(mono))) < SILENT_PEAK:
            raise BackendError(f"flite produced no audio for {text[:60]!r}")
        out_rate = self.cfg.audio.sample_rate
        audio16 = resample(mono, int(rate), out_rate)
        audio16 = audio16 / max(1.0, float(np.max(np.abs(audio16))))
        return Synthesis(
            audio=np.ascontiguousarray(audio16, dtype=np.float32),
            sample_rate=out_rate,
            voice=voice,
            backend_version=self.version(),
        )
