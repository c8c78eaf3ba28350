"""Scene planning through any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama),
as SoundFlow does: one prompt plans a scene of 3-15 events, a second refines
each event into a retrieval query and a fallback caption. Invalid plans are
re-planned with the violations fed back, then dropped. Every answer is cached,
so a re-run makes no calls. The API key lives only inside the client: it is
never logged, cached, or put in a plan or an exception message."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections import Counter
from pathlib import Path
from string import Template
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.plan.brief import MIN_GAP_S, SceneBrief, check_scene
from streamaudio.schema import EMOTIONS, EventPlan, Kind, Role, ScenePlan
from streamaudio.stage import Drop, Retry, StageError

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
PLAN_KINDS = ("sound", "music", "noise")  # speech needs text and a voice: not planned here yet
MAX_QUERY_WORDS = 12  # the prompt asks for 3-8; longer is a chatty answer
MAX_FEEDBACK = 12  # violations shown to the model per re-plan
# used when the catalog has no scene grammar
SETTINGS = ("a kitchen in the morning", "an open-plan office", "a rainy street", "a busy cafe")
STATS = ("calls", "cache_hits", "replans", "plans", "plan_invalid", "refine_fallbacks")
STATS += ("rate_limited", "unavailable", "rejected")  # transport failures
_FENCE = re.compile(r"\A\s*```[A-Za-z]*\s*\n?(.*?)\n?\s*```\s*\Z", re.S)
_HEADER = re.compile(r"\A\s*<!--.*?-->\s*", re.S)
_Reply = str | Retry | Drop


def load_prompt(name: str) -> Template:
    """A prompt template without its leading <!-- documentation --> comment."""
    return Template(_HEADER.sub("", (PROMPTS / name).read_text(encoding="utf-8"), count=1))


def parse_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a model's answer: code fences and chatter around the
    outermost braces are tolerated. Raises ValueError."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the answer is not valid JSON") from None
        try:
            value = json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            raise ValueError("the answer is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("the answer must be one JSON object")
    return value


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")  # models add fields; we take what we asked


class _EventOut(_Out):
    role: Role
    kind: Kind
    caption: str
    duration_s: float | None = None  # missing is reported by check_scene
    trigger: bool
    response: str | None = ""
    emotion: str | None = None


class _SceneOut(_Out):
    setting: str
    instruction: str | None = ""
    events: list[_EventOut]


class _RefineOut(_Out):
    query: str
    fallback_caption: str


def _violations(exc: ValidationError, prefix: str = "") -> list[str]:
    out = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        text = error["msg"].removeprefix("Value error, ")
        out.append(f"{prefix}{where}: {text}" if where else f"{prefix}{text}")
    return out


def caption_query(caption: str) -> str:
    """A retrieval query from a caption: its first clause, without a leading article."""
    clause = re.split(r"[,;:.!?]", caption.strip(), maxsplit=1)[0]
    words = clause.lower().split()
    if words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words[:8])


def caption_fallback(caption: str, setting: str) -> str:
    return f"A realistic, clean recording: {caption.strip().rstrip('.')}, in {setting}."


def _event(event_id: str, raw: _EventOut, setting: str) -> EventPlan | list[str]:
    """One planned event, with caption-derived query and fallback until refined."""
    emotion = (raw.emotion or "").strip().lower() or None
    if raw.kind not in PLAN_KINDS:
        kinds = ", ".join(PLAN_KINDS)
        return [f"event {event_id}: kind {raw.kind!r} is not allowed here; use one of {kinds}"]
    if raw.trigger and emotion not in EMOTIONS:
        return [f"event {event_id}: emotion must be one of {', '.join(EMOTIONS)}"]
    caption = raw.caption.strip()
    try:
        return EventPlan(
            event_id=event_id,
            role=raw.role,
            kind=raw.kind,
            caption=caption,
            query=caption_query(caption),
            fallback_caption=caption_fallback(caption, setting),
            trigger=raw.trigger,
            duration_s=raw.duration_s,
            # models often tag every event; only triggers carry these
            response=(raw.response or "").strip() if raw.trigger else "",
            emotion=emotion if raw.trigger else None,
        )
    except ValidationError as exc:
        return _violations(exc, f"event {event_id}: ")


def _setting_suggestions(catalog_dir: Path) -> tuple[str, ...]:
    # the scene grammar's settings suit the installed catalog best
    try:
        data = yaml.safe_load((Path(catalog_dir) / "scenes.yaml").read_text(encoding="utf-8"))
        found = tuple(str(s["description"]) for s in data["settings"] if s.get("description"))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        found = ()
    return found or SETTINGS


class LlmPlanner:
    def __init__(self, cfg: Config, store: ContentStore | None = None, client: Any = None) -> None:
        llm = cfg.llm
        if not llm.model or not llm.base_url:
            raise StageError("planner.mode=llm needs llm.base_url and llm.model")
        if client is None:
            from openai import OpenAI  # heavy import: only when an LLM is configured

            api_key = os.environ.get(llm.api_key_env)
            if not api_key:
                raise StageError(f"set the environment variable {llm.api_key_env} to the LLM key")
            client = OpenAI(
                base_url=llm.base_url,
                api_key=api_key,
                timeout=llm.timeout_s,
                max_retries=llm.max_retries,
            )
        self._client = client
        self._key_env = llm.api_key_env
        self.model = llm.model
        self.max_retries = llm.max_retries
        self.timeout_s = llm.timeout_s
        self.temperature = cfg.planner.temperature
        self.max_replans = cfg.planner.max_replans
        self.store = store or ContentStore(Path(cfg.cache.directory), "llm")
        self.plan_template = load_prompt("scene_plan.md")
        self.refine_template = load_prompt("refine_event.md")
        self.settings = _setting_suggestions(cfg.catalog.directory)
        self._stats: Counter[str] = Counter({name: 0 for name in STATS})
        self._lock = threading.Lock()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def _count(self, name: str) -> None:
        with self._lock:
            self._stats[name] += 1

    def suggest_setting(self, brief: SceneBrief, seed: int) -> str:
        digest = input_key({"subtask": brief.subtask, "seed": seed})
        return self.settings[int(digest[:8], 16) % len(self.settings)]

    def prompt(self, brief: SceneBrief, setting: str) -> str:
        if brief.verified_silent or brief.triggers == "none":
            rule = "false on every event: nothing in this scene calls for a response."
        else:
            count = "exactly one" if brief.triggers == "one" else "one or more"
            hint = f" ({brief.trigger_hint})" if brief.trigger_hint else ""
            rule = f"true on {count} {brief.trigger_role} event{hint}; false on all others."
        instruction = (
            f"{brief.instruction_hint} Write it as the listener would say it."
            if brief.instruction_hint
            else 'none for this subtask; use "".'
        )
        return self.plan_template.substitute(
            subtask=brief.subtask,
            ability=brief.ability,
            description=brief.description,
            setting=setting,
            min_events=brief.min_events,
            max_events=brief.max_events,
            kinds=", ".join(PLAN_KINDS),
            trigger_rule=rule,
            instruction_rule=instruction,
            max_total_s=f"{brief.max_total_s:g}",
            gap_s=f"{MIN_GAP_S:g}",
            emotions=", ".join(EMOTIONS),
        )

    def plan(
        self, brief: SceneBrief, stream_id: str, seed: int, setting_hint: str | None = None
    ) -> ScenePlan | Drop | Retry:
        setting = setting_hint or self.suggest_setting(brief, seed)
        messages = [{"role": "user", "content": self.prompt(brief, setting)}]
        problems: list[str] = []
        for attempt in range(self.max_replans + 1):
            if attempt:
                self._count("replans")
            content = self._complete(messages, seed, "scene-plan")
            if isinstance(content, Retry | Drop):
                return content
            result = self._scene(content, brief, stream_id, seed)
            if isinstance(result, ScenePlan):
                return self._refined(result, seed)
            problems = result
            feedback = "\n".join(f"- {problem}" for problem in problems[:MAX_FEEDBACK])
            messages = [
                *messages,
                {"role": "assistant", "content": content},
                {
                    "role": "user",
                    "content": f"Your answer broke these rules:\n{feedback}\n"
                    "Answer again with the corrected scene as JSON only, in the same shape.",
                },
            ]
        self._count("plan_invalid")
        detail = f"{self.max_replans + 1} attempts; last: " + "; ".join(problems[:MAX_FEEDBACK])
        return Drop("plan_invalid", detail[:1000])

    def _scene(
        self, content: str, brief: SceneBrief, stream_id: str, seed: int
    ) -> ScenePlan | list[str]:
        """The plan in an answer, or the rules it breaks."""
        try:
            out = _SceneOut.model_validate(parse_json_object(content))
        except ValidationError as exc:
            return _violations(exc)
        except ValueError as exc:
            return [str(exc)]
        setting = out.setting.strip()
        built = [_event(f"e{index}", raw, setting) for index, raw in enumerate(out.events)]
        problems = [problem for item in built if isinstance(item, list) for problem in item]
        if problems:
            return problems
        events = [item for item in built if isinstance(item, EventPlan)]
        fields: dict[str, Any] = {
            "stream_id": stream_id,
            "ability": brief.ability,
            "subtask": brief.subtask,
            "setting": setting,
            "seed": seed,
            "verified_silent": brief.verified_silent,
            # an instruction the subtask does not take would change its labels: dropped
            "instruction": (out.instruction or "").strip() if brief.instruction_hint else "",
            "events": events,
        }
        problems = check_scene(ScenePlan.model_construct(**fields), brief)
        if problems:
            return problems
        try:
            return ScenePlan(**fields)
        except ValidationError as exc:
            return _violations(exc)

    def _refined(self, plan: ScenePlan, seed: int) -> ScenePlan | Drop | Retry:
        events = []
        for event in plan.events:
            refined = self._refine(event, plan.setting, seed)
            if isinstance(refined, Retry | Drop):
                return refined  # the scene answer is cached: a retry costs only the rest
            events.append(refined)
        self._count("plans")
        return ScenePlan(**{**dict(plan), "events": events})

    def _refine(self, event: EventPlan, setting: str, seed: int) -> EventPlan | Drop | Retry:
        prompt = self.refine_template.substitute(
            caption=event.caption,
            setting=setting,
            role=event.role,
            kind=event.kind,
            duration_s=f"{event.duration_s:g}" if event.duration_s else "a few",
        )
        content = self._complete([{"role": "user", "content": prompt}], seed, "refine-event")
        if isinstance(content, Retry | Drop):
            return content
        try:
            out = _RefineOut.model_validate(parse_json_object(content))
            query = " ".join(out.query.split()).strip(".")
            fallback = " ".join(out.fallback_caption.split())
            if not query or len(query.split()) > MAX_QUERY_WORDS or not fallback:
                raise ValueError("empty or overlong refinement")
        except ValueError:  # includes ValidationError: keep the caption-derived texts
            self._count("refine_fallbacks")
            log.info("LLM refinement of %s unusable; using its caption", event.event_id)
            return event
        return event.model_copy(update={"query": query, "fallback_caption": fallback})

    def _complete(self, messages: list[dict[str, str]], seed: int, purpose: str) -> _Reply:
        key = input_key(
            {
                "kind": f"llm-{purpose}",
                "messages": messages,
                "model": self.model,
                "temperature": self.temperature,
                "seed": seed,
                "response_format": "json_object",
            }
        )
        cached = self.store.get_json(key)
        if cached is not None:
            self._count("cache_hits")
            return str(cached["content"])
        reply = self._ask(messages, seed)
        if isinstance(reply, str):  # failures are not cached: a later run may succeed
            self.store.put_json(key, {"content": reply})
        return reply

    def _ask(self, messages: list[dict[str, str]], seed: int) -> _Reply:
        import openai

        self._count("calls")
        refused: int | None = None
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                seed=seed,
                response_format={"type": "json_object"},
            )
            return (response.choices[0].message.content if response.choices else None) or ""
        except (
            openai.AuthenticationError,
            openai.PermissionDeniedError,
            openai.NotFoundError,
        ) as exc:
            refused = exc.status_code
        except openai.RateLimitError:
            return self._failed(
                Retry("llm_rate_limited", f"HTTP 429 after {self.max_retries} retries"),
                "rate_limited",
            )
        except openai.APITimeoutError:
            return self._failed(
                Retry("llm_unavailable", f"no answer in {self.timeout_s:g} s"), "unavailable"
            )
        except openai.APIStatusError as exc:
            # messages and requests may echo the key: report the status only
            if exc.status_code >= 500:
                return self._failed(
                    Retry("llm_unavailable", f"HTTP {exc.status_code}"), "unavailable"
                )
            return self._failed(Drop("llm_rejected", f"HTTP {exc.status_code}"), "rejected")
        except openai.OpenAIError as exc:  # connection errors, unreadable responses
            return self._failed(Retry("llm_unavailable", type(exc).__name__), "unavailable")
        # raised outside the except block so the client's exception (whose request
        # carries the Authorization header) is not chained to ours
        if refused == 404:
            raise StageError(
                "the LLM endpoint has no such model or path (HTTP 404): "
                "check llm.base_url and llm.model"
            )
        raise StageError(f"the LLM endpoint refused the key in ${self._key_env} (HTTP {refused})")

    def _failed(self, outcome: Retry | Drop, counter: str) -> Retry | Drop:
        self._count(counter)
        log.warning("LLM planner call failed: %s (%s)", outcome.reason, outcome.detail)
        return outcome


def make_planner(cfg: Config) -> LlmPlanner | None:
    """The LLM planner when planner.mode is llm, else None (the offline planner)."""
    if cfg.planner.mode != "llm":
        return None
    missing = [name for name in ("base_url", "model") if not getattr(cfg.llm, name)]
    if missing:
        raise StageError(
            f"planner.mode=llm needs {' and '.join(f'llm.{name}' for name in missing)} set"
        )
    return LlmPlanner(cfg)
