"""The ElevenLabs generator drives the real SDK against a local server on 127.0.0.1
that answers as POST /v1/sound-generation does: raw PCM (or an MP3 file) on success,
JSON errors otherwise. A canary key in the environment must never leak."""

from __future__ import annotations

import io
import json
import logging
import time

import numpy as np
import pytest
import soundfile as sf
from pytest_httpserver import HTTPServer
from support import dominant_hz
from werkzeug import Request, Response

from streamaudio.config import Config, load_config
from streamaudio.generate.elevenlabs import API_MAX_S, API_MIN_S, ElevenLabsGenerator
from streamaudio.generate.types import GenerationError, GeneratorUnavailable

KEY_ENV = "STREAMAUDIO_TEST_ELEVENLABS_KEY"
CANARY = "xi-canary-4b1e9d7c2a8f"
PATH = "/v1/sound-generation"
TONE_HZ = 1000.0


def tone(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * TONE_HZ * t)


def pcm(rate: int, seconds: float) -> bytes:
    return (tone(rate, seconds) * 32767).astype("<i2").tobytes()




@pytest.fixture
def httpserver(threaded_server: HTTPServer) -> HTTPServer:
    threaded_server.clear()
    return threaded_server


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY)


def config(server: HTTPServer, *extra: str) -> Config:
    url = server.url_for("/").rstrip("/")
    return load_config(overrides=[
        f"generate.elevenlabs.base_url={url}", f"generate.elevenlabs.api_key_env={KEY_ENV}",
        "generate.elevenlabs.timeout_s=5", *extra,
    ])  # fmt: skip


def failure(cfg: Config, caplog: pytest.LogCaptureFixture) -> GenerationError:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GenerationError) as info:
        ElevenLabsGenerator(cfg).generate("a smoke alarm", 2.0, 0)
    error = info.value
    shown = [str(error), repr(error), str(error.__cause__), str(error.__context__)]
    for text in [*shown, caplog.text]:
        assert CANARY not in text
    return error


def test_pcm_answer_becomes_16k_float32_of_the_requested_length(httpserver: HTTPServer) -> None:
    seen: list[tuple[dict, dict, str]] = []

    def answer(request: Request) -> Response:
        body = json.loads(request.data)
        seen.append((body, dict(request.args), request.headers.get("xi-api-key", "")))
        return Response(pcm(16_000, body["duration_seconds"]), mimetype="audio/pcm")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)
    cfg = config(httpserver, "generate.elevenlabs.prompt_influence=0.7")
    audio = ElevenLabsGenerator(cfg).generate("a microwave beeping", 2.5, seed=3)
    assert audio.dtype == np.float32 and audio.size == 40_000
    assert abs(dominant_hz(audio) - TONE_HZ) < 2.0
    assert 0.45 < float(np.max(np.abs(audio))) < 0.55
    body, args, key = seen[0]
    assert body["text"] == "a microwave beeping" and body["duration_seconds"] == 2.5
    assert body["prompt_influence"] == 0.7 and "seed" not in body
    assert args == {"output_format": "pcm_16000"} and key == CANARY


def test_other_pcm_rates_are_resampled(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(pcm(44_100, 1.0))
    cfg = config(httpserver, "generate.elevenlabs.output_format=pcm_44100")
    audio = ElevenLabsGenerator(cfg).generate("beep", 1.0, 0)
    assert abs(audio.size - 16_000) <= 2 and abs(dominant_hz(audio) - TONE_HZ) < 2.0


def test_mp3_answer_is_decoded(httpserver: HTTPServer) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, tone(44_100, 1.0), 44_100, format="MP3")
    httpserver.expect_request(PATH).respond_with_data(buffer.getvalue(), mimetype="audio/mpeg")
    cfg = config(httpserver, "generate.elevenlabs.output_format=mp3_44100_128")
    audio = ElevenLabsGenerator(cfg).generate("beep", 1.0, 0)
    assert 15_000 < audio.size < 18_000  # mp3 frames pad the ends
    assert abs(dominant_hz(audio) - TONE_HZ) < 3.0


@pytest.mark.parametrize(("asked", "sent"), [(0.2, API_MIN_S), (40.0, API_MAX_S), (3.0, 3.0)])
def test_duration_is_clamped_to_the_api_range(
    httpserver: HTTPServer, asked: float, sent: float
) -> None:
    durations: list[float] = []

    def answer(request: Request) -> Response:
        durations.append(json.loads(request.data)["duration_seconds"])
        return Response(pcm(16_000, 0.5))

    httpserver.expect_request(PATH).respond_with_handler(answer)
    ElevenLabsGenerator(config(httpserver)).generate("hum", asked, 0)
    assert durations == [sent]


@pytest.mark.parametrize("status", [401, 429, 500])
def test_http_errors_are_generation_errors_without_the_key(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    def answer(request: Request) -> Response:
        # a server that echoes the key in its error body (and httpcore logs headers
        # at DEBUG: the request's key header must not be among them)
        key = request.headers.get("xi-api-key", "")
        body = {"detail": {"status": "error", "message": f"rejected key {key}"}}
        return Response(json.dumps(body), status=status, mimetype="application/json")

    httpserver.expect_request(PATH).respond_with_handler(answer)
    error = failure(config(httpserver), caplog)
    assert error.reason == f"http_{status}"
    assert f"HTTP {status}" in str(error) and "rejected key [redacted]" in str(error)


def test_a_non_json_error_body_is_reported(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(PATH).respond_with_data("upstream exploded", status=502)
    error = failure(config(httpserver), caplog)
    assert error.reason == "http_502" and "upstream exploded" in str(error)


def test_timeout(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(pcm(16_000, 1.0))

    httpserver.expect_request(PATH).respond_with_handler(slow)
    error = failure(config(httpserver, "generate.elevenlabs.timeout_s=0.2"), caplog)
    assert error.reason == "timeout" and "timed out" in str(error)


def test_connection_refused(caplog: pytest.LogCaptureFixture) -> None:
    cfg = load_config(
        overrides=[
            "generate.elevenlabs.base_url=http://127.0.0.1:9",
            f"generate.elevenlabs.api_key_env={KEY_ENV}",
        ]
    )
    assert failure(cfg, caplog).reason == "connect"


@pytest.mark.parametrize(
    ("output_format", "body"),
    [("mp3_44100_128", b"this is not an mp3 file at all" * 50), ("pcm_16000", b"\x01\x02\x03")],
)
def test_undecodable_audio(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, output_format: str, body: bytes
) -> None:
    httpserver.expect_request(PATH).respond_with_data(body)
    cfg = config(httpserver, f"generate.elevenlabs.output_format={output_format}")
    error = failure(cfg, caplog)
    assert error.reason == "undecodable" and output_format in str(error)


def test_empty_answer(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_request(PATH).respond_with_data(b"")
    assert failure(config(httpserver), caplog).reason == "empty"


def test_missing_key_names_the_variable(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv("ELEVENLABS_API_KEY", "the-sdk-default-must-not-be-used")
    with pytest.raises(GeneratorUnavailable, match=KEY_ENV):
        ElevenLabsGenerator(config(httpserver))


def test_unknown_output_format_is_a_config_error(httpserver: HTTPServer) -> None:
    with pytest.raises(GeneratorUnavailable, match="output_format"):
        ElevenLabsGenerator(config(httpserver, "generate.elevenlabs.output_format=flac_9"))


def test_version_records_format_influence_and_no_seed(httpserver: HTTPServer) -> None:
    version = ElevenLabsGenerator(config(httpserver)).version()
    assert "pcm_16000" in version and "prompt_influence=0.5" in version
    assert "seed=unsupported" in version and CANARY not in version
