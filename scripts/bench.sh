#!/usr/bin/env bash
# Runs leadvault's benchmarks against a throwaway daemon: builds (scripts/build.sh),
# starts build/api/leadvaultd on a temporary data dir, runs the crypto
# micro-benchmarks, then the load generator with the given arguments, e.g.
#   scripts/bench.sh --concurrency 64 --duration-seconds 10
#   scripts/bench.sh --fill 1000000
# The daemon is stopped and the data dir removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
DAEMON=$BUILD_DIR/api/leadvaultd
BENCH=$BUILD_DIR/tools/leadvault-bench

# Ninja rebuilds only what changed; SKIP_BUILD=1 uses the binaries as they are.
if [[ ${SKIP_BUILD:-0} != 1 || ! -x $DAEMON || ! -x $BENCH ]]; then
  BUILD_DIR=$BUILD_DIR scripts/build.sh
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-bench.XXXXXX")
DAEMON_PID=
cleanup() {
  if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$DAEMON" --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
  --admin-token-file "$WORK/token" >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON_PID=$!

for _ in $(seq 1 300); do  # at most 30 s
  [[ -s $WORK/ready ]] && break
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    echo "bench.sh: leadvaultd exited during start-up:" >&2
    cat "$WORK/daemon.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -s $WORK/ready ]]; then
  echo "bench.sh: leadvaultd did not become ready within 30 s" >&2
  exit 1
fi
ADDR=$(head -n1 "$WORK/ready")
echo "bench.sh: leadvaultd (pid $DAEMON_PID) serving on $ADDR"

"$BENCH" crypto --benchmark_min_time=0.2
"$BENCH" load --server "$ADDR" --token-file "$WORK/token" --daemon-pid "$DAEMON_PID" "$@"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || { echo "bench.sh: leadvaultd exited with status $?" >&2; exit 1; }
DAEMON_PID=
