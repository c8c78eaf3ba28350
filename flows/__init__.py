"""Prefect flows around the StreamAudio library: the library never imports Prefect."""

import os

# Before Prefect is imported, since it reads its settings once at import. A flow with no
# PREFECT_API_URL starts its own ephemeral server, which Prefect gives 20 s; on a busy
# 2-core machine it has taken longer, and the whole build then failed at its first line.
# A user's own setting wins.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
