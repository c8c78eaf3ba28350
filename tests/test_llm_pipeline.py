"""A corpus planned by an LLM (a local OpenAI-compatible server on 127.0.0.1),
grounded by retrieval over the real catalogs, and validated."""

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.retrieve.catalog import load_catalogs
from streamaudio.shards.reader import iter_streams
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus

CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"
CANARY = "sk-canary-0123456789abcdef"
SCENE = {
    "setting": "a busy kitchen in the morning",
    "instruction": "",
    "events": [
        {"role": "foreground", "kind": "sound", "caption": "A wooden door opens.",
         "duration_s": 1.5, "trigger": False},
        {"role": "background", "kind": "sound", "caption": "Footsteps on a hard floor.",
         "duration_s": 0.6, "trigger": False},
        {"role": "foreground", "kind": "sound", "caption": "A glass falls and shatters.",
         "duration_s": 1.0, "trigger": True, "emotion": "urgent",
         "response": "Something made of glass just broke. Careful with the pieces."},
        {"role": "foreground", "kind": "sound", "caption": "A clock ticks on the wall.",
         "duration_s": 2.0, "trigger": False},
    ],
}
QUERIES = {"door": "wooden door opening", "Footsteps": "footsteps on a hard floor",
           "glass": "glass shattering", "clock": "clock ticking"}


def _answer(request: Request) -> Response:
    prompt = json.loads(request.get_data())["messages"][0]["content"]
    if '"fallback_caption"' in prompt:  # the refinement prompt
        query = next(q for key, q in QUERIES.items() if key in prompt.split("Setting:")[-1])
        content = json.dumps({"query": query, "fallback_caption": f"a recording of {query}"})
    else:
        content = json.dumps(SCENE)
    return Response(json.dumps({
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    }), content_type="application/json")


def test_llm_planned_hazard_streams_build_and_validate(
        httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if len(load_catalogs(CATALOGS).filter_installed()[0]) < 100:
        pytest.skip("the recording packages are not installed (run `make setup`)")
    monkeypatch.setenv("TEST_LLM_KEY", CANARY)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        _answer)
    cfg = load_config(overrides=[
        "planner.mode=llm", f"llm.base_url={httpserver.url_for('/v1')}", "llm.model=m",
        "llm.api_key_env=TEST_LLM_KEY", f"cache.directory={tmp_path / 'cache'}"])
    root = tmp_path / "corpus"
    report = build_corpus(root, [get_subtask("hazard_alert")], 2, 0, cfg)
    assert report.manifest["totals"]["streams"] == 2, report.manifest["drops"]
    checked, failures = validate_corpus(root)
    assert checked == 2 and failures == []
    for record in iter_streams(root):
        assert record.setting == SCENE["setting"]
        (response,) = [text for text in record.responses if text]
        assert response.startswith("Something made of glass")
    grounding = report.manifest["totals"]["grounding"]
    assert grounding["retrieval_hit_rate"] > 0
    for path in [*root.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
