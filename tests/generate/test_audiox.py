"""The AudioX client against a local server on 127.0.0.1 implementing
AUDIOX_PROTOCOL.md: /health names the model, /generate answers base64 WAV/FLAC."""

from __future__ import annotations

import base64
import io
import json
import time

import numpy as np
import pytest
import soundfile as sf
from pytest_httpserver import HTTPServer
from support import dominant_hz
from werkzeug import Request, Response

from streamaudio.config import Config, load_config
from streamaudio.generate.audiox import PROTOCOL, AudioXGenerator
from streamaudio.generate.types import GenerationError, GeneratorUnavailable

TONE_HZ = 700.0
MODEL = "audiox-test 1.0"
HEALTH = {"status": "ok", "model": MODEL, "sample_rate": 44_100, "max_duration_s": 10.0}


def encoded(rate: int, seconds: float, fmt: str = "WAV", channels: int = 1) -> str:
    t = np.arange(round(rate * seconds)) / rate
    audio = np.repeat((0.5 * np.sin(2 * np.pi * TONE_HZ * t))[:, None], channels, axis=1)
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode("ascii")




@pytest.fixture
def httpserver(threaded_server: HTTPServer) -> HTTPServer:
    threaded_server.clear()
    threaded_server.expect_request("/health", method="GET").respond_with_json(HEALTH)
    return threaded_server


def config(server: HTTPServer, *extra: str) -> Config:
    url = server.url_for("/").rstrip("/")
    return load_config(overrides=[f"generate.audiox.url={url}", "generate.audiox.timeout_s=5",
                                  *extra])  # fmt: skip


def answer_with(**fields: object) -> Response:
    return Response(json.dumps(fields), mimetype="application/json")


def test_generates_16k_mono_from_a_44k_stereo_flac(httpserver: HTTPServer) -> None:
    requests: list[dict] = []

    def generate(request: Request) -> Response:
        requests.append(request.json)
        seconds = request.json["duration_s"]
        return answer_with(
            sample_rate=44_100, model=MODEL, audio_b64=encoded(44_100, seconds, "FLAC", channels=2)
        )

    httpserver.expect_request("/generate", method="POST").respond_with_handler(generate)
    gen = AudioXGenerator(config(httpserver, "generate.audiox.steps=50"))
    audio = gen.generate("a kettle whistling", 1.5, seed=2**40 + 5)
    assert audio.dtype == np.float32 and abs(audio.size - 24_000) <= 2
    assert abs(dominant_hz(audio) - TONE_HZ) < 2.0
    assert requests == [
        {
            "prompt": "a kettle whistling",
            "duration_s": 1.5,
            "seed": 5,
            "steps": 50,
            "cfg_scale": 7.0,
            "sample_rate": 16_000,
        }
    ]
    assert gen.version() == f"{PROTOCOL} model={MODEL} steps=50 cfg_scale=7"


def test_a_fixed_window_answer_is_cut_to_the_request(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/generate").respond_with_json(
        {"sample_rate": 16_000, "model": MODEL, "audio_b64": encoded(16_000, 10.0)}
    )
    audio = AudioXGenerator(config(httpserver)).generate("hum", 2.0, 0)
    assert audio.size == 32_000 and abs(float(audio[-1])) < 1e-3  # faded, not clicked off


def test_duration_is_capped_by_the_servers_maximum(httpserver: HTTPServer) -> None:
    asked: list[float] = []

    def generate(request: Request) -> Response:
        asked.append(request.json["duration_s"])
        return answer_with(sample_rate=16_000, model=MODEL, audio_b64=encoded(16_000, 1.0))

    httpserver.expect_request("/generate").respond_with_handler(generate)
    AudioXGenerator(config(httpserver)).generate("rain", 30.0, 0)
    assert asked == [10.0]


@pytest.mark.parametrize("status", [400, 422, 500, 503])
def test_error_json_becomes_a_generation_error(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/generate").respond_with_json(
        {"error": "the model is busy"}, status=status
    )
    with pytest.raises(GenerationError, match=f"HTTP {status}: the model is busy") as info:
        AudioXGenerator(config(httpserver)).generate("rain", 1.0, 0)
    assert info.value.reason == f"http_{status}"


def test_timeout(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return answer_with(sample_rate=16_000, model=MODEL, audio_b64=encoded(16_000, 1.0))

    httpserver.expect_request("/generate").respond_with_handler(slow)
    with pytest.raises(GenerationError, match="timed out") as info:
        AudioXGenerator(config(httpserver, "generate.audiox.timeout_s=0.2")).generate("x", 1, 0)
    assert info.value.reason == "timeout"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"sample_rate": 16_000, "model": MODEL, "audio_b64": "%%% not base64 %%%"}, "undecodable"),
        ({"sample_rate": 16_000, "model": MODEL,
          "audio_b64": base64.b64encode(b"RIFF not a wav at all").decode()}, "undecodable"),
        ({"sample_rate": 16_000, "model": MODEL}, "bad_response"),
        ({"sample_rate": 22_050, "model": MODEL, "audio_b64": encoded(16_000, 1.0)},
         "bad_response"),
    ],
)  # fmt: skip
def test_bad_audio_is_a_generation_error(httpserver: HTTPServer, body: dict, reason: str) -> None:
    httpserver.expect_request("/generate").respond_with_json(body)
    with pytest.raises(GenerationError) as info:
        AudioXGenerator(config(httpserver)).generate("rain", 1.0, 0)
    assert info.value.reason == reason


def test_non_json_answer(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/generate").respond_with_data("<html>proxy page</html>")
    with pytest.raises(GenerationError) as info:
        AudioXGenerator(config(httpserver)).generate("rain", 1.0, 0)
    assert info.value.reason == "bad_response"


def test_unhealthy_server_fails_the_request(threaded_server: HTTPServer) -> None:
    server = threaded_server
    server.clear()
    server.expect_request("/health").respond_with_json({"status": "loading"}, status=503)
    with pytest.raises(GenerationError) as info:
        AudioXGenerator(config(server)).version()
    assert info.value.reason == "http_503"


def test_connection_refused() -> None:
    cfg = load_config(overrides=["generate.audiox.url=http://127.0.0.1:9"])
    with pytest.raises(GenerationError) as info:
        AudioXGenerator(cfg).generate("rain", 1.0, 0)
    assert info.value.reason == "connect"


def test_no_url_is_a_config_error() -> None:
    with pytest.raises(GeneratorUnavailable, match=r"generate\.audiox\.url"):
        AudioXGenerator(load_config())


def test_credentials_in_the_url_are_not_shown(threaded_server: HTTPServer) -> None:
    server = threaded_server
    server.clear()
    server.expect_request("/health").respond_with_json({"error": "nope"}, status=401)
    url = server.url_for("/").rstrip("/").replace("http://", "http://user:s3cret-pw@")
    cfg = load_config(overrides=[f"generate.audiox.url={url}"])
    with pytest.raises(GenerationError) as info:
        AudioXGenerator(cfg).version()
    assert "s3cret-pw" not in str(info.value) and info.value.reason == "http_401"
