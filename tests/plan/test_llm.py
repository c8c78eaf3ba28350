"""The LLM scene planner through the real `openai` client against a local
OpenAI-compatible server on 127.0.0.1: replans, drops, transport failures,
the cache, and the API key kept out of logs, errors, plans and the cache."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from support import completion
from werkzeug import Request, Response

from streamaudio.config import Config, load_config
from streamaudio.plan.brief import SceneBrief
from streamaudio.plan.llm import LlmPlanner, caption_query, make_planner, parse_json_object
from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop, Retry, StageError

CANARY = "sk-canary-2b7e41d09c5a4f13"
KEY_ENV = "STREAMAUDIO_TEST_PLANNER_KEY"
BRIEF = SceneBrief(
    subtask="hazard_alert",
    ability="proactive_response",
    description="everyday sounds, one of which is a hazard the listener must hear about",
    min_events=3,
    max_events=6,
    triggers="one",
    trigger_hint="a safety-relevant sound, answered by a short spoken warning, emotion urgent",
)
KETTLE = "A kettle whistling on a gas stove, close by."
GLASS = "A drinking glass shattering on a tiled floor."
DOG = "A dog barking in the next room."
RAIN = "Steady light rain on the window."
SCENE: dict[str, Any] = {
    "setting": "a kitchen in the morning",
    "instruction": "Tell me if anything happens.",  # this subtask takes none: dropped
    "events": [
        # models often tag every event with an emotion: tolerated on non-triggers
        {
            "role": "foreground",
            "kind": "sound",
            "caption": KETTLE,
            "duration_s": 2.5,
            "trigger": False,
            "response": "",
            "emotion": "normal",
        },
        {
            "role": "foreground",
            "kind": "sound",
            "caption": GLASS,
            "duration_s": 1.5,
            "trigger": True,
            "response": "Careful, a glass just broke.",
            "emotion": "urgent",
        },
        {
            "role": "background",
            "kind": "sound",
            "caption": DOG,
            "duration_s": 3.0,
            "trigger": False,
            "response": "",
            "emotion": None,
        },
        {"role": "ambient", "kind": "noise", "caption": RAIN, "duration_s": 20.0, "trigger": False},
    ],
}
REFINED = {
    KETTLE: ("kettle whistling", "A stovetop kettle whistling shrilly, close microphone."),
    GLASS: ("glass shattering on tiles", "A thin drinking glass smashing on ceramic tiles."),
    DOG: ("dog barking", "A medium dog barking twice behind a closed door."),
    RAIN: ("light rain on window", "Soft steady rain tapping on a window pane, indoors."),
}
Reply = str | Response | Callable[[Request], Response]




def error(status: int, headers: dict[str, str] | None = None) -> Response:
    # servers echoing the key in errors must not leak it through us
    body = {"error": {"message": f"failure for key {CANARY}", "type": "test"}}
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def scene_with(**changes: Any) -> str:
    data = copy.deepcopy(SCENE)
    for path, value in changes.items():
        index, field = path.split("__")
        if value is None:
            del data["events"][int(index)][field]
        else:
            data["events"][int(index)][field] = value
    return json.dumps(data)


class FakeLlm:
    """Answers scene-plan requests from a script, in order, and refinement
    requests from a caption -> (query, fallback) table."""

    def __init__(
        self,
        server: HTTPServer,
        scene: list[Reply],
        refine: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.scene = list(scene)
        self.refine = REFINED if refine is None else refine
        self.requests: dict[str, list[dict[str, Any]]] = {"scene": [], "refine": []}
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self)

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        prompt = body["messages"][0]["content"]
        if '"fallback_caption"' in prompt:
            self.requests["refine"].append(body)
            pair = next((v for k, v in self.refine.items() if k in prompt), None)
            reply: Reply = (
                "not json"
                if pair is None
                else json.dumps({"query": pair[0], "fallback_caption": pair[1]})
            )
        else:
            self.requests["scene"].append(body)
            reply = self.scene.pop(0)
        if isinstance(reply, Response):  # before callable(): a Response is a WSGI app
            return reply
        if callable(reply):
            return reply(request)
        return Response(json.dumps(completion(reply)), content_type="application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    # our own on 127.0.0.1, one per module: each stop() waits out a 0.5 s poll
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def httpserver(server: HTTPServer) -> Iterator[HTTPServer]:
    yield server
    server.clear()


@pytest.fixture
def make_cfg(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Config]:
    monkeypatch.setenv(KEY_ENV, CANARY)

    def make(*overrides: str) -> Config:
        return load_config(
            overrides=[
                f"cache.directory={tmp_path / 'cache'}",
                "planner.mode=llm",
                f"llm.base_url={httpserver.url_for('/v1')}",
                "llm.model=test-model",
                f"llm.api_key_env={KEY_ENV}",
                "llm.max_retries=0",
                "llm.timeout_s=10",
                "planner.max_replans=2",
                "planner.temperature=0.7",
                *overrides,
            ]
        )

    return make


@pytest.fixture
def no_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    # caplog.text is per phase (empty here in teardown): read the test's own records
    records = caplog.get_records("call")
    assert records  # the check below saw something
    assert not [r for r in records if CANARY in logging.Formatter().format(r)]
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert not [p for p in files if CANARY.encode() in p.read_bytes()]


def test_valid_plan_is_refined_then_served_from_the_cache(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None, tmp_path: Path
) -> None:
    fake = FakeLlm(httpserver, ["```json\n" + json.dumps(SCENE) + "\n```"])
    planner = make_planner(make_cfg())
    assert isinstance(planner, LlmPlanner)
    plan = planner.plan(BRIEF, "stream-7", seed=42)
    assert isinstance(plan, ScenePlan), plan
    assert (plan.stream_id, plan.ability, plan.subtask, plan.seed) == (
        "stream-7",
        "proactive_response",
        "hazard_alert",
        42,
    )
    assert plan.setting == "a kitchen in the morning" and plan.instruction == ""
    assert [e.event_id for e in plan.events] == ["e0", "e1", "e2", "e3"]
    assert [(e.query, e.fallback_caption) for e in plan.events] == list(REFINED.values())
    assert [e.trigger for e in plan.events] == [False, True, False, False]
    assert plan.events[0].emotion is None and plan.events[1].emotion == "urgent"
    assert plan.events[3].duration_s == 20.0 and plan.events[3].kind == "noise"
    assert len(fake.requests["scene"]) == 1 and len(fake.requests["refine"]) == 4

    body = fake.requests["scene"][0]
    assert body["response_format"] == {"type": "json_object"}
    assert (body["model"], body["temperature"], body["seed"]) == ("test-model", 0.7, 42)
    prompt = body["messages"][0]["content"]
    assert BRIEF.description in prompt and BRIEF.trigger_hint in prompt and "<!--" not in prompt
    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {CANARY}"  # the key was really used
    assert planner.stats()["calls"] == 5 and planner.stats()["plans"] == 1

    again = LlmPlanner(make_cfg()).plan(BRIEF, "stream-7", seed=42)
    assert again == plan
    assert len(httpserver.log) == 5  # a re-run makes no calls
    assert len(list((tmp_path / "cache" / "llm").rglob("*.bin"))) == 5
    assert CANARY not in plan.to_json()


def test_a_new_seed_is_a_new_call(make_cfg: Callable[..., Config], httpserver: HTTPServer) -> None:
    fake = FakeLlm(httpserver, [json.dumps(SCENE), json.dumps(SCENE)])
    planner = LlmPlanner(make_cfg())
    assert isinstance(planner.plan(BRIEF, "a", seed=1), ScenePlan)
    assert isinstance(planner.plan(BRIEF, "a", seed=1), ScenePlan)
    assert isinstance(planner.plan(BRIEF, "a", seed=2), ScenePlan)
    assert len(fake.requests["scene"]) == 2
    assert planner.stats()["cache_hits"] == 5


def test_malformed_json_is_replanned_once(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    fake = FakeLlm(httpserver, ['{"setting": "a kitchen", "events": [', json.dumps(SCENE)])
    planner = LlmPlanner(make_cfg())
    assert isinstance(planner.plan(BRIEF, "s", seed=3), ScenePlan)
    assert planner.stats()["replans"] == 1
    second = fake.requests["scene"][1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert "not valid JSON" in second[2]["content"]


def test_schema_violations_are_replanned_then_dropped(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    two_events = json.dumps({**SCENE, "events": SCENE["events"][:2]})
    fake = FakeLlm(
        httpserver,
        [two_events, scene_with(**{"0__role": "protagonist"}), scene_with(**{"1__trigger": None})],
    )
    planner = LlmPlanner(make_cfg())
    result = planner.plan(BRIEF, "s", seed=4)
    assert isinstance(result, Drop) and result.reason == "plan_invalid"
    assert "3 attempts" in result.detail and "events.1.trigger: Field required" in result.detail
    feedback = [body["messages"][-1]["content"] for body in fake.requests["scene"][1:]]
    assert "has 2 events; it needs 3 to 6" in feedback[0]
    assert "events.0.role" in feedback[1]
    assert not fake.requests["refine"]
    assert planner.stats()["replans"] == 2 and planner.stats()["plan_invalid"] == 1


@pytest.mark.parametrize(
    ("change", "feedback"),
    [
        ({"2__kind": "speech"}, "kind 'speech' is not allowed"),
        ({"1__emotion": "scared"}, "e1: emotion must be one of"),
        ({"1__response": ""}, "e1: a trigger needs a response"),
        (
            {"2__trigger": True, "2__response": "Hm.", "2__emotion": "normal"},
            "only foreground events may trigger",
        ),
    ],
)
def test_rule_breaking_plans_are_replanned(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, change: dict[str, Any], feedback: str
) -> None:
    fake = FakeLlm(httpserver, [scene_with(**change), json.dumps(SCENE)])
    assert isinstance(LlmPlanner(make_cfg()).plan(BRIEF, "s", seed=5), ScenePlan)
    assert feedback in fake.requests["scene"][1]["messages"][-1]["content"]


def test_unusable_refinement_falls_back_to_the_caption(
    make_cfg: Callable[..., Config], httpserver: HTTPServer
) -> None:
    FakeLlm(httpserver, [json.dumps(SCENE)], refine={k: v for k, v in REFINED.items() if k != DOG})
    planner = LlmPlanner(make_cfg())
    plan = planner.plan(BRIEF, "s", seed=6)
    assert isinstance(plan, ScenePlan)
    assert plan.events[2].query == caption_query(DOG) == "dog barking in the next room"
    assert DOG.rstrip(".") in plan.events[2].fallback_caption
    assert plan.events[0].query == "kettle whistling"
    assert planner.stats()["refine_fallbacks"] == 1


def test_rate_limit_is_retried_by_the_client(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    # openai 3.x ignores Retry-After: 0 (backs off 0.375-0.5 s); retry-after-ms: 1 is 1 ms
    fake = FakeLlm(httpserver, [error(429, {"retry-after-ms": "1"}), json.dumps(SCENE)])
    planner = LlmPlanner(make_cfg("llm.max_retries=1"))
    assert isinstance(planner.plan(BRIEF, "s", seed=7), ScenePlan)
    assert len(fake.requests["scene"]) == 2 and planner.stats()["replans"] == 0
    assert httpserver.log[1][0].headers["x-stainless-retry-count"] == "1"


def test_rate_limit_beyond_the_retries_is_a_retry(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    limited = error(429, {"retry-after-ms": "1"})
    FakeLlm(httpserver, [limited, limited])
    planner = LlmPlanner(make_cfg("llm.max_retries=1"))
    assert planner.plan(BRIEF, "s", seed=8) == Retry("llm_rate_limited", "HTTP 429 after 1 retries")
    assert len(httpserver.log) == 2 and planner.stats()["rate_limited"] == 1


def test_server_error_is_a_retry_and_not_cached(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None, tmp_path: Path
) -> None:
    FakeLlm(httpserver, [error(500)])
    result = LlmPlanner(make_cfg()).plan(BRIEF, "s", seed=9)
    assert result == Retry("llm_unavailable", "HTTP 500")
    assert not list((tmp_path / "cache").rglob("*.bin"))


def test_timeout_is_a_retry(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5.0)  # released below, so the server thread is free for teardown
        return Response(json.dumps(completion(json.dumps(SCENE))), content_type="application/json")

    FakeLlm(httpserver, [stall])
    planner = LlmPlanner(make_cfg("llm.timeout_s=0.5"))
    start = time.monotonic()
    try:
        result = planner.plan(BRIEF, "s", seed=10)
    finally:
        release.set()
    assert isinstance(result, Retry) and result.reason == "llm_unavailable"
    assert time.monotonic() - start < 3.0
    assert planner.stats()["unavailable"] == 1


def test_connection_refused_is_a_retry(make_cfg: Callable[..., Config], no_leak: None) -> None:
    cfg = make_cfg("llm.base_url=http://127.0.0.1:9/v1")  # discard port: nothing listens
    result = LlmPlanner(cfg).plan(BRIEF, "s", seed=11)
    assert isinstance(result, Retry) and result.reason == "llm_unavailable"


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_a_config_error_without_the_key(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None, status: int
) -> None:
    FakeLlm(httpserver, [error(status)])
    with pytest.raises(StageError) as info:
        LlmPlanner(make_cfg()).plan(BRIEF, "s", seed=12)
    assert KEY_ENV in str(info.value) and str(status) in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert CANARY not in "".join(traceback.format_exception(info.value))


def test_unknown_model_is_a_config_error(
    make_cfg: Callable[..., Config], httpserver: HTTPServer
) -> None:
    FakeLlm(httpserver, [error(404)])
    with pytest.raises(StageError, match=r"llm\.model"):
        LlmPlanner(make_cfg()).plan(BRIEF, "s", seed=13)


def test_a_rejected_request_is_dropped(
    make_cfg: Callable[..., Config], httpserver: HTTPServer, no_leak: None
) -> None:
    FakeLlm(httpserver, [error(400)])
    assert LlmPlanner(make_cfg()).plan(BRIEF, "s", seed=14) == Drop("llm_rejected", "HTTP 400")


def test_make_planner_only_in_llm_mode(
    make_cfg: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert make_planner(load_config()) is None
    assert make_planner(make_cfg("planner.mode=offline")) is None
    with pytest.raises(StageError, match=r"llm\.base_url"):
        make_planner(load_config(overrides=["planner.mode=llm", "llm.model=m"]))
    with pytest.raises(StageError, match=r"llm\.base_url and llm\.model"):
        make_planner(load_config(overrides=["planner.mode=llm"]))
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(StageError, match=KEY_ENV):
        make_planner(make_cfg())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is:\n{"a": {"b": 2}}\nEnjoy.', {"a": {"b": 2}}),
    ],
)
def test_parse_json_object(content: str, expected: dict[str, Any]) -> None:
    assert parse_json_object(content) == expected


@pytest.mark.parametrize("content", ["", "[1, 2]", "{not json}", "```json\n```"])
def test_parse_json_object_refuses(content: str) -> None:
    with pytest.raises(ValueError):
        parse_json_object(content)
