"""flows/ gives Prefect's ephemeral server a startup timeout a busy machine can meet,
and a user's own setting wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = ("import flows.build\n"
         "from prefect.settings import get_current_settings\n"
         "s = get_current_settings().server\n"
         "print(s.ephemeral.startup_timeout_seconds, s.analytics_enabled)\n")


def _probe(extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
                        "PREFECT_SERVER_ANALYTICS_ENABLED")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env={**env, **extra},
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_the_ephemeral_server_gets_two_minutes_to_start() -> None:
    assert _probe({}) == "120 False"


def test_a_users_own_timeout_wins() -> None:
    assert _probe({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "7"}) == "7 False"
