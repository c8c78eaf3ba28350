"""Secrets out of messages: URL credentials and query strings, and a known key."""

from __future__ import annotations

from streamaudio.redact import redact_url, scrub_secret


def test_a_url_loses_its_credentials_and_query() -> None:
    shown = redact_url("https://user:hunter2@tts.example:8443/v1/inference?token=abc#x")
    assert shown == "https://tts.example:8443/v1/inference"
    assert redact_url("http://127.0.0.1/") == "http://127.0.0.1/"


def test_a_secret_is_replaced_wherever_it_appears() -> None:
    text = "401 for key sk-123 (sk-123 expired)"
    assert scrub_secret(text, "sk-123") == "401 for key [redacted] ([redacted] expired)"
    assert scrub_secret(text, "sk-123", "<key>") == "401 for key <key> (<key> expired)"
    assert scrub_secret(text, "") == text
