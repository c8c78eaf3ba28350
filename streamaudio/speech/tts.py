"""The enabled TTS backends behind one registry, and cached synthesis: an utterance
is keyed by its text, voice and the backend's version, so a re-run or a
regeneration synthesises nothing it already has."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.speech.cosyvoice import CosyVoiceBackend
from streamaudio.speech.flite_tts import FliteBackend
from streamaudio.speech.piper_tts import PiperBackend
from streamaudio.speech.types import SpeechUnavailable, Synthesis, TtsBackend, VoiceSpec

CHINESE_NEEDS_COSYVOICE = (
    "Chinese speech needs a CosyVoice server: set speech.cosyvoice.url "
    "(e.g. --set speech.cosyvoice.url=http://127.0.0.1:50000)"
)
FACTORIES: dict[str, Callable[[Config], TtsBackend]] = {
    "piper": PiperBackend,
    "flite": FliteBackend,
    "cosyvoice": CosyVoiceBackend,
}


class TtsRegistry:
    def __init__(self, cfg: Config, backends: dict[str, TtsBackend] | None = None) -> None:
        """`backends` replaces the configured ones (tests, custom voices)."""
        self.cfg = cfg
        if backends is None:
            names = list(dict.fromkeys(cfg.speech.backends))
            if cfg.speech.cosyvoice.url and "cosyvoice" not in names:
                names.append("cosyvoice")
            backends = {name: FACTORIES[name](cfg) for name in names}
        self._backends = dict(backends)
        self.cache_hits = 0
        self.synthesized = 0  # backend calls made
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._backends)

    def backend(self, name: str) -> TtsBackend:
        try:
            return self._backends[name]
        except KeyError:
            raise SpeechUnavailable(
                f"TTS backend {name!r} is not enabled (enabled: {self.names}); see speech.backends"
            ) from None

    def voices_for(self, language: str) -> list[tuple[str, str]]:
        """(backend, voice) pairs that speak `language`, in backend order. A backend
        that is not usable here (e.g. flite not installed) is skipped; none at all
        raises SpeechUnavailable with what to configure."""
        found, reasons = [], []
        for name, backend in self._backends.items():
            try:
                found += [(name, voice) for voice in backend.voices(language)]
            except SpeechUnavailable as exc:
                reasons.append(f"{name}: {exc}")
        if found:
            return found
        if language == "zh":
            raise SpeechUnavailable(CHINESE_NEEDS_COSYVOICE)
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        raise SpeechUnavailable(f"no enabled TTS backend speaks {language!r}{detail}")

    def _speaker(self, voice: VoiceSpec) -> TtsBackend:
        backend = self._backends.get(voice.backend)
        if voice.language == "zh" and (backend is None or not backend.voices("zh")):
            raise SpeechUnavailable(CHINESE_NEEDS_COSYVOICE)
        return self.backend(voice.backend)

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def synthesize_cached(self, text: str, voice: VoiceSpec, store: ContentStore) -> Synthesis:
        backend = self._speaker(voice)
        version = backend.version()
        key = input_key({
            "kind": "tts", "text": text, "backend": voice.backend, "voice": voice.voice,
            "speed": float(voice.speed), "language": voice.language, "version": version,
        })  # fmt: skip
        meta_key = input_key({"tts_meta": key})
        meta = store.get_json(meta_key)
        audio = store.get_array(key) if meta is not None else None
        if meta is not None and audio is not None and audio.shape == (meta["samples"],):
            self._count("cache_hits")
            spoken = VoiceSpec(**meta["voice"])
            return Synthesis(audio, meta["sample_rate"], spoken, meta["backend_version"])
        result = backend.synthesize(text, voice)
        self._count("synthesized")
        audio = np.ascontiguousarray(result.audio, dtype=np.float32)
        store.put_array(key, audio)
        # the metadata goes last: an entry whose metadata reads back is complete
        store.put_json(meta_key, {
            "text": text, "samples": int(audio.shape[0]), "sample_rate": result.sample_rate,
            "backend_version": result.backend_version, "voice": {
                "backend": result.voice.backend, "voice": result.voice.voice,
                "speed": result.voice.speed, "language": result.voice.language},
        })  # fmt: skip
        return Synthesis(audio, result.sample_rate, result.voice, result.backend_version)
