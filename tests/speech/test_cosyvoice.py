"""The CosyVoice client against a local server on 127.0.0.1 that answers as
CosyVoice's FastAPI runtime does: form fields in, raw 16-bit PCM streamed out."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from support import dominant_hz
from werkzeug import Request, Response

from streamaudio.config import Config, load_config
from streamaudio.speech.cosyvoice import CosyVoiceBackend
from streamaudio.speech.types import BackendError, SpeechUnavailable, VoiceSpec

TONE_HZ = 440.0
ZH = VoiceSpec("cosyvoice", "中文女", language="zh")


def tone_pcm(rate: int, seconds: float = 1.0) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype("<i2").tobytes()


def streamed(body: bytes, piece: int = 1001) -> Response:
    # odd-sized pieces: samples are split across chunks, as a real stream may do
    return Response((body[i : i + piece] for i in range(0, len(body), piece)), status=200)




@pytest.fixture
def httpserver(threaded_server: HTTPServer) -> HTTPServer:
    threaded_server.clear()
    return threaded_server


def config(server: HTTPServer, *extra: str) -> Config:
    url = server.url_for("/").rstrip("/")
    return load_config(overrides=[f"speech.cosyvoice.url={url}", *extra])


@pytest.mark.parametrize("model_rate", [22_050, 24_000])
def test_streamed_pcm_becomes_16k_float32(httpserver: HTTPServer, model_rate: int) -> None:
    seen: list[dict[str, str]] = []

    def answer(request: Request) -> Response:
        seen.append(dict(request.form))
        return streamed(tone_pcm(model_rate))

    httpserver.expect_request("/inference_sft", method="POST").respond_with_handler(answer)
    cfg = config(httpserver, f"speech.cosyvoice.sample_rate={model_rate}")
    result = CosyVoiceBackend(cfg).synthesize("你好，世界。", ZH)
    assert seen == [{"tts_text": "你好，世界。", "spk_id": "中文女"}]
    assert result.sample_rate == 16_000 and result.audio.dtype == np.float32
    assert abs(result.audio.size - 16_000) <= 2  # 1.0 s of tone
    assert abs(dominant_hz(result.audio, 16_000) - TONE_HZ) < 2.0  # a wrong rate shifts it
    assert 0.45 < float(np.max(np.abs(result.audio))) < 0.55
    assert result.backend_version == f"cosyvoice-fastapi/sft/{model_rate}Hz"


def test_runtime_has_no_speed_so_the_result_says_natural_rate(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/inference_sft").respond_with_response(streamed(tone_pcm(22_050)))
    voice = VoiceSpec("cosyvoice", "英文女", speed=1.1, language="en")
    result = CosyVoiceBackend(config(httpserver)).synthesize("Hello.", voice)
    assert result.voice.speed == 1.0 and result.voice.voice == "英文女"


def test_http_500_is_a_backend_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/inference_sft").respond_with_data("boom: CUDA OOM", status=500)
    with pytest.raises(BackendError, match=r"HTTP 500.*CUDA OOM"):
        CosyVoiceBackend(config(httpserver)).synthesize("你好", ZH)


def test_slow_server_times_out(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return streamed(tone_pcm(22_050))

    httpserver.expect_request("/inference_sft").respond_with_handler(slow)
    cfg = config(httpserver, "speech.cosyvoice.timeout_s=0.2")
    start = time.monotonic()
    with pytest.raises(BackendError, match="timed out"):
        CosyVoiceBackend(cfg).synthesize("你好", ZH)
    assert time.monotonic() - start < 0.9


@pytest.mark.parametrize(("body", "message"), [(b"", "no audio"), (b"\x01\x02\x03", "malformed")])
def test_malformed_audio(httpserver: HTTPServer, body: bytes, message: str) -> None:
    httpserver.expect_request("/inference_sft").respond_with_response(streamed(body))
    with pytest.raises(BackendError, match=message):
        CosyVoiceBackend(config(httpserver)).synthesize("你好", ZH)


def test_connection_refused_is_a_backend_error_without_secrets() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = load_config(overrides=[f"speech.cosyvoice.url=http://user:s3cret@127.0.0.1:{port}"])
    with pytest.raises(BackendError, match="cannot connect") as caught:
        CosyVoiceBackend(cfg).synthesize("你好", ZH)
    assert "s3cret" not in str(caught.value) and str(port) in str(caught.value)


def test_no_url_names_the_setting() -> None:
    backend = CosyVoiceBackend(Config())
    assert backend.voices("zh") == []
    with pytest.raises(SpeechUnavailable, match=r"speech\.cosyvoice\.url"):
        backend.synthesize("你好", ZH)


def test_zero_shot_uploads_the_prompt(httpserver: HTTPServer, tmp_path: Path) -> None:
    prompt = tmp_path / "reference.wav"
    prompt.write_bytes(b"RIFF....WAVEfmt fake prompt bytes")
    got: dict[str, object] = {}

    def answer(request: Request) -> Response:
        got["form"] = dict(request.form)
        upload = request.files["prompt_wav"]
        got["file"] = upload.read()
        got["content_type"] = request.content_type
        return streamed(tone_pcm(22_050, 0.5))

    httpserver.expect_request("/inference_zero_shot", method="POST").respond_with_handler(answer)
    cfg = config(
        httpserver, "speech.cosyvoice.mode=zero_shot", f"speech.cosyvoice.prompt_wav={prompt}",
        "speech.cosyvoice.prompt_text=希望你以后能够做的比我还好呦。",
    )  # fmt: skip
    backend = CosyVoiceBackend(cfg)
    assert backend.voices("zh") == ["prompt:reference"] == backend.voices("en")
    result = backend.synthesize(
        "今天天气很好。", VoiceSpec("cosyvoice", "prompt:reference", 1.0, "zh")
    )
    assert got["form"] == {
        "tts_text": "今天天气很好。",
        "prompt_text": "希望你以后能够做的比我还好呦。",
    }
    assert got["file"] == prompt.read_bytes()
    assert str(got["content_type"]).startswith("multipart/form-data")
    assert abs(result.audio.size - 8_000) <= 2
    assert "/prompt " in backend.version()


def test_cross_lingual_and_instruct_forms(httpserver: HTTPServer, tmp_path: Path) -> None:
    prompt = tmp_path / "p.wav"
    prompt.write_bytes(b"prompt")
    forms: list[tuple[str, dict[str, str], list[str]]] = []

    def answer(request: Request) -> Response:
        forms.append((request.path, dict(request.form), list(request.files)))
        return streamed(tone_pcm(22_050, 0.2))

    for path in ("/inference_cross_lingual", "/inference_instruct"):
        httpserver.expect_request(path).respond_with_handler(answer)
    cross = config(httpserver, "speech.cosyvoice.mode=cross_lingual",
                   f"speech.cosyvoice.prompt_wav={prompt}")  # fmt: skip
    CosyVoiceBackend(cross).synthesize("Hello.", VoiceSpec("cosyvoice", "prompt:p", 1.0, "en"))
    instruct = config(httpserver, "speech.cosyvoice.mode=instruct")
    CosyVoiceBackend(instruct, instruct_text="A cheerful girl.").synthesize("你好", ZH)
    assert forms == [
        ("/inference_cross_lingual", {"tts_text": "Hello."}, ["prompt_wav"]),
        ("/inference_instruct",
         {"tts_text": "你好", "spk_id": "中文女", "instruct_text": "A cheerful girl."}, []),
    ]  # fmt: skip


def test_prompt_mode_without_a_prompt_names_the_setting(httpserver: HTTPServer) -> None:
    cfg = config(httpserver, "speech.cosyvoice.mode=cross_lingual")
    with pytest.raises(SpeechUnavailable, match=r"speech\.cosyvoice\.prompt_wav"):
        CosyVoiceBackend(cfg).synthesize("你好", ZH)


def test_voices_per_language(httpserver: HTTPServer) -> None:
    backend = CosyVoiceBackend(config(httpserver))
    assert backend.voices("zh") == ["中文女", "中文男"]
    assert backend.voices("en") == ["英文女", "英文男"]
    assert backend.voices("fr") == []
