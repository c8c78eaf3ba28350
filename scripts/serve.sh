#!/usr/bin/env bash
# Scheduled builds on this machine: a Prefect server, the process work pool, the
# deployments of prefect.yaml and a worker, all in the background.
#
#   scripts/serve.sh start    # `make serve`: server, pool, deploy, worker (idempotent)
#   scripts/serve.sh stop     # `make serve-stop`: SIGTERM, wait, then SIGKILL
#   scripts/serve.sh status
#
# State, pid files and logs live under STREAMAUDIO_PREFECT_HOME (default .prefect/ in the
# repo): prefect's own home (database, profiles), run/{server,worker}.pid and
# logs/{server,worker,deploy}.log. Each process starts in its own session (setsid), and
# stop signals the whole session, so flow runs a worker started go with it.
# SERVE_HOST / SERVE_PORT (127.0.0.1:4200) and SERVE_POOL (streamaudio-process) override
# the defaults; the pool name must match prefect.yaml's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac
PREFECT=$VENV/bin/prefect
PY=$VENV/bin/python

HOST=${SERVE_HOST:-127.0.0.1}
PORT=${SERVE_PORT:-4200}
POOL=${SERVE_POOL:-streamaudio-process}
STATE=${STREAMAUDIO_PREFECT_HOME:-$ROOT/.prefect}
RUN_DIR=$STATE/run
LOG_DIR=$STATE/logs
STOP_WAIT=${SERVE_STOP_WAIT:-15}      # seconds between SIGTERM and SIGKILL
HEALTH_WAIT=${SERVE_HEALTH_WAIT:-180} # seconds for the server to answer /api/health

export PREFECT_HOME=$STATE
export PREFECT_API_URL=http://$HOST:$PORT/api
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export DO_NOT_TRACK=1
export PREFECT_CLI_PROMPT=false

say() { echo "serve: $*"; }
die() { echo "serve: $*" >&2; exit 1; }

# The pid in run/NAME.pid if that process is alive and is one of ours (a prefect
# command line), else nothing: a stale file after a reboot names someone else's pid.
live_pid() {
  local file=$RUN_DIR/$1.pid pid cmd
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  if [[ $cmd == *prefect* ]]; then echo "$pid"; fi
}

# Start "$@" in a new session, output to logs/NAME.log, pid to run/NAME.pid.
launch() {
  local name=$1; shift
  # setsid does not fork here (a script's background job is no group leader), so $!
  # is the process itself and its pid is its session and process-group id
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

healthy() {
  "$PY" - "$PREFECT_API_URL/health" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# Every process of the sessions led by the pids given (the launched process and all it started
# that did not start a session of its own), zombies aside.
session_pids() {
  ps -eo pid=,sid=,stat= | awk -v sids=" $* " 'index(sids, " " $2 " ") && $3 !~ /^Z/ { print $1 }'
}

# SIGTERM to every named process's session at once, wait until they are gone (at most
# STOP_WAIT seconds), then SIGKILL what is left. The server exits on SIGTERM in a few
# seconds; prefect 3.8's worker turns SIGTERM into a SIGINT to itself and then often
# hangs in shutdown, so it usually needs the SIGKILL (its flow runs, in its process
# group, get the SIGTERM directly and report themselves crashed).
stop() {
  local name pid left sessions=() waited=0
  for name in "$@"; do
    pid=$(live_pid "$name")
    if [ -n "$pid" ]; then
      say "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || true
      sessions+=("$pid")
    else
      say "$name not running"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
  ((${#sessions[@]})) || return 0
  while left=$(session_pids "${sessions[@]}") && [ -n "$left" ] && ((waited < STOP_WAIT * 10))
  do
    sleep 0.1
    waited=$((waited + 1))
  done
  left=$(session_pids "${sessions[@]}")
  if [ -n "$left" ]; then
    say "still running after ${STOP_WAIT}s, SIGKILL: $(echo $left)"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    waited=0
    while [ -n "$(session_pids "${sessions[@]}")" ] && ((waited < 50)); do
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  say "stopped"
}

start() {
  [ -x "$PREFECT" ] || die "no $PREFECT: run make setup first"
  mkdir -p "$RUN_DIR" "$LOG_DIR"

  local server waited=0
  server=$(live_pid server)
  if [ -n "$server" ]; then
    say "server already running (pid $server)"
  else
    say "starting the Prefect server on $HOST:$PORT (log: $LOG_DIR/server.log)"
    launch server "$PREFECT" server start --host "$HOST" --port "$PORT" --analytics-off
    server=$(cat "$RUN_DIR/server.pid")
  fi
  until healthy; do
    if ! kill -0 "$server" 2>/dev/null; then
      tail -n 20 "$LOG_DIR/server.log" >&2 || true
      rm -f "$RUN_DIR/server.pid"
      die "the server exited (is port $PORT taken?); see $LOG_DIR/server.log"
    fi
    ((waited < HEALTH_WAIT * 2)) || die "no answer from $PREFECT_API_URL/health after ${HEALTH_WAIT}s"
    sleep 0.5
    waited=$((waited + 1))
  done
  say "server healthy at $PREFECT_API_URL"

  if "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1; then
    say "work pool $POOL exists"
  else
    say "creating process work pool $POOL"
    "$PREFECT" work-pool create "$POOL" --type process >>"$LOG_DIR/deploy.log" 2>&1 \
      || die "could not create work pool $POOL; see $LOG_DIR/deploy.log"
  fi

  say "deploying prefect.yaml (log: $LOG_DIR/deploy.log)"
  "$PREFECT" deploy --all --prefect-file "$ROOT/prefect.yaml" >>"$LOG_DIR/deploy.log" 2>&1 \
    || { tail -n 30 "$LOG_DIR/deploy.log" >&2; die "prefect deploy failed"; }

  local worker
  worker=$(live_pid worker)
  if [ -n "$worker" ]; then
    say "worker already running (pid $worker)"
  else
    say "starting a worker on $POOL (log: $LOG_DIR/worker.log)"
    launch worker "$PREFECT" worker start --pool "$POOL" --type process \
      --name "streamaudio-$(hostname)"
  fi
  say "ready: PREFECT_API_URL=$PREFECT_API_URL; UI at http://$HOST:$PORT"
}

status() {
  local name pid
  for name in server worker; do
    pid=$(live_pid "$name")
    if [ -n "$pid" ]; then say "$name running (pid $pid)"; else say "$name not running"; fi
  done
  if healthy; then say "API healthy at $PREFECT_API_URL"; else say "no API at $PREFECT_API_URL"; fi
}

case ${1:-} in
  start) start ;;
  stop) stop worker server ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
