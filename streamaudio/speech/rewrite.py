"""LLM rewrites of sentences that fail the TTS -> ASR round trip, through any
OpenAI-compatible endpoint. The API key lives only inside the client: it is
never logged, cached, or put in an exception message."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from string import Template
from typing import Any

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.stage import StageError

log = logging.getLogger(__name__)

PROMPT_PATH = Path(__file__).resolve().parents[2] / "prompts" / "rewrite_for_tts.md"
LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}
PARAMS = {"temperature": 0.0, "max_tokens": 200}  # deterministic: the answer is cached
_QUOTES = "\"'“”‘’「」『』«»` "


def clean_answer(answer: str | None, original: str) -> str | None:
    """First non-empty line without wrapping quotes; None when empty or absurdly
    long (a chatty answer, not a sentence)."""
    lines = [line.strip() for line in (answer or "").splitlines() if line.strip()]
    if not lines:
        return None
    sentence = lines[0].strip(_QUOTES)
    if not sentence or len(sentence) > 3 * len(original) + 60:
        return None
    return sentence


class LlmRewriter:
    def __init__(self, cfg: Config, store: ContentStore | None = None) -> None:
        from openai import OpenAI  # heavy import: only when an LLM is configured

        llm = cfg.llm
        if not llm.model or not llm.base_url:
            raise StageError("llm.model and llm.base_url must be set for LLM rewrites")
        api_key = os.environ.get(llm.api_key_env)
        if not api_key:
            raise StageError(f"set the environment variable {llm.api_key_env} to the LLM API key")
        self.model = llm.model
        self.store = store or ContentStore(Path(cfg.cache.directory), "llm")
        self.template = Template(PROMPT_PATH.read_text(encoding="utf-8"))
        self._client = OpenAI(
            base_url=llm.base_url,
            api_key=api_key,
            timeout=llm.timeout_s,
            max_retries=llm.max_retries,
        )
        self._key_env = llm.api_key_env

    def prompt(self, text: str, language: str, heard: str | None = None) -> str:
        hint = f'\nThe recogniser heard: "{heard}"' if heard else ""
        name = LANGUAGE_NAMES.get(language.split("-")[0], language)
        return self.template.substitute(text=text, language=name, heard=hint)

    def rewrite(self, text: str, language: str = "en", heard: str | None = None) -> str | None:
        messages = [{"role": "user", "content": self.prompt(text, language, heard)}]
        key = input_key(
            {"kind": "llm-rewrite", "messages": messages, "model": self.model, "params": PARAMS}
        )
        cached = self.store.get_json(key)
        if cached is None:
            content = self._ask(messages)
            if content is None:
                return None  # a failed call is not cached: a later run may succeed
            cached = {"content": content}
            self.store.put_json(key, cached)
        return clean_answer(cached["content"], text)

    def _ask(self, messages: list[dict[str, Any]]) -> str | None:
        import openai

        refused = None
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, **PARAMS
            )
            return response.choices[0].message.content or ""
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            refused = exc.status_code
        except openai.OpenAIError as exc:
            # the message and the request may echo the key: log the type and status only
            status = getattr(exc, "status_code", None)
            log.warning(
                "LLM rewrite failed: %s%s",
                type(exc).__name__,
                f" (HTTP {status})" if status else "",
            )
            return None
        # raised outside the except block so the client's exception (whose request
        # carries the Authorization header) is not chained to ours
        raise StageError(f"the LLM endpoint refused the key in ${self._key_env} (HTTP {refused})")


def make_rewriter(cfg: Config) -> LlmRewriter | None:
    """An LLM rewriter when an endpoint is configured, else None (no rewrites)."""
    if not cfg.llm.model or not cfg.llm.base_url:
        return None
    return LlmRewriter(cfg)
