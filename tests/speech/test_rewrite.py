"""LLM rewrites through the real `openai` client against a local
OpenAI-compatible server on 127.0.0.1, and the API key kept out of logs,
exceptions and the cache."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from support import completion
from werkzeug import Request, Response

from streamaudio.config import Config, load_config
from streamaudio.speech.asr import WhisperAsr
from streamaudio.speech.flite_tts import FliteBackend
from streamaudio.speech.rewrite import LlmRewriter, clean_answer, make_rewriter
from streamaudio.speech.roundtrip import SpeechStores, Utterance, speak
from streamaudio.speech.types import Synthesis, VoiceSpec
from streamaudio.stage import StageError

CANARY = "sk-canary-7f3a9c1e5d2b48a6"
KEY_ENV = "STREAMAUDIO_TEST_LLM_KEY"
EASIER = "The train to the city leaves in ten minutes."


@pytest.fixture
def httpserver() -> Iterator[HTTPServer]:
    """Our own server on 127.0.0.1 (not the plugin's session-wide one on "localhost")."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()




@pytest.fixture
def llm_cfg(httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(KEY_ENV, CANARY)
    return load_config(
        overrides=[
            f"cache.directory={tmp_path / 'cache'}",
            f"llm.base_url={httpserver.url_for('/v1')}",
            "llm.model=test-model",
            f"llm.api_key_env={KEY_ENV}",
            "llm.max_retries=0",
            "llm.timeout_s=10",
        ]
    )


def assert_no_canary(cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert CANARY not in caplog.text
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files  # the check below saw something
    assert not [p for p in files if CANARY.encode() in p.read_bytes()]


def test_make_rewriter_only_when_configured(llm_cfg: Config) -> None:
    assert make_rewriter(load_config()) is None
    assert make_rewriter(load_config(overrides=["llm.model=m"])) is None
    assert isinstance(make_rewriter(llm_cfg), LlmRewriter)


def test_missing_key_is_a_clear_error(llm_cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(StageError, match=KEY_ENV):
        LlmRewriter(llm_cfg)


@pytest.mark.parametrize(
    ("answer", "cleaned"),
    [
        ('"The cat sat on the mat."', "The cat sat on the mat."),
        ("“The cat sat.”\n\nI kept the meaning.", "The cat sat."),
        ("", None),
        ("   \n ", None),
        ("word " * 200, None),
    ],
)
def test_clean_answer(answer: str, cleaned: str | None) -> None:
    assert clean_answer(answer, "The feline was seated on the mat.") == cleaned


def test_rewrite_asks_once_and_caches(
    llm_cfg: Config, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        completion(f'"{EASIER}"')
    )
    rewriter = LlmRewriter(llm_cfg)
    hard = "The 10-min. train to the city dep. now."
    assert rewriter.rewrite(hard, "en", heard="the ten mint rain") == EASIER
    assert LlmRewriter(llm_cfg).rewrite(hard, "en", heard="the ten mint rain") == EASIER
    assert len(httpserver.log) == 1  # the second answer came from the cache
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {CANARY}"  # the key was really used
    body = json.loads(request.get_data())
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    prompt = body["messages"][0]["content"]
    assert hard in prompt and "the ten mint rain" in prompt and "English" in prompt
    assert_no_canary(llm_cfg.cache.directory, caplog)


def test_refused_key_does_not_leak(
    llm_cfg: Config, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY}", "type": "auth"}}
    httpserver.expect_request("/v1/chat/completions").respond_with_json(echo, status=401)
    with pytest.raises(StageError) as info:
        LlmRewriter(llm_cfg).rewrite("A sentence.", "en")
    assert KEY_ENV in str(info.value) and "401" in str(info.value)
    assert CANARY not in "".join(traceback.format_exception(info.value))
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert CANARY not in caplog.text


def test_server_error_means_no_rewrite(
    llm_cfg: Config, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    def fail(request: Request) -> Response:
        return Response(
            json.dumps({"error": {"message": f"boom {CANARY}"}}),
            status=500,
            content_type="application/json",
        )

    httpserver.expect_request("/v1/chat/completions").respond_with_handler(fail)
    assert LlmRewriter(llm_cfg).rewrite("A sentence.", "en") is None
    assert "InternalServerError (HTTP 500)" in caplog.text
    assert CANARY not in caplog.text
    assert not list(Path(llm_cfg.cache.directory).rglob("*.bin"))  # failures are not cached


class FluxReversed:
    """Flite, but a sentence with "flux" comes out time-reversed (unintelligible)."""

    name = "flite"

    def __init__(self, cfg: Config) -> None:
        self.inner = FliteBackend(cfg)

    def version(self) -> str:
        return self.inner.version() + "+flux-reversed"

    def voices(self, language: str) -> list[str]:
        return self.inner.voices(language)

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        s = self.inner.synthesize(text, voice)
        audio = s.audio[::-1].copy() if "flux" in text else s.audio
        return Synthesis(audio, s.sample_rate, s.voice, s.backend_version)


def test_round_trip_passes_after_a_rewrite_without_leaking_the_key(
    llm_cfg: Config,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion(EASIER))
    shared = tmp_path_factory.getbasetemp() / "speech-cache"  # whisper joined once per session
    asr = WhisperAsr(
        llm_cfg.model_copy(update={"cache": llm_cfg.cache.model_copy(update={"directory": shared})})
    )
    cache = Path(llm_cfg.cache.directory)
    hard = "The flux train to the city leaves in ten minutes."
    result = speak(
        hard,
        "en",
        [VoiceSpec("flite", "slt")],
        FluxReversed(llm_cfg),
        asr,
        SpeechStores.under(cache),
        llm_cfg,
        rewriter=make_rewriter(llm_cfg),
    )
    assert isinstance(result, Utterance), result
    assert result.text == EASIER and result.rewritten_from == hard
    assert result.wer <= llm_cfg.speech.max_wer and result.attempts == 2
    assert np.isfinite(result.audio).all()
    assert len(httpserver.log) == 1
    assert_no_canary(cache, caplog)
