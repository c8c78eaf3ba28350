"""Keeping secrets out of messages: a service URL shown without its credentials or
query string, and a known secret (an API key) replaced wherever it appears. Every
backend that talks to a service uses these before text reaches an exception."""

from __future__ import annotations

import httpx

REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """scheme://host[:port]/path: no user, password or query string in messages."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def scrub_secret(text: str, secret: str, replacement: str = REDACTED) -> str:
    """`text` with every occurrence of `secret` replaced (an empty secret hides nothing)."""
    return text.replace(secret, replacement) if secret else text
