#!/usr/bin/env bash
# What metrics and logging cost: a throwaway leadvaultd takes a fixed number of
# CreateLead calls (leadvault-bench load --create-count) with observability
# on or off, and the two are timed against each other pair by pair:
#   scripts/bench-ops.sh compare [CREATES] [on|on-calls]  # farm-bench: it vs off
#   scripts/bench-ops.sh on|on-calls|off [CREATES]        # one run, its throughput
# "on": every call counted (/metrics on a loopback port, scraped once a second
# meanwhile) and the log as JSON lines in a file (refusals and events);
# "on-calls": the same, and a log line for every call (log.calls); "off":
# neither metrics nor a log file.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
MODE=${1:-compare}
CREATES=${2:-20000}
if [[ $MODE == compare ]]; then
  SKIP_BUILD=1 BUILD_DIR=$BUILD_DIR scripts/build.sh >/dev/null
  exec farm-bench -n 7 --timeout 1800 --vs "scripts/bench-ops.sh off $CREATES" -- \
    scripts/bench-ops.sh "${3:-on}" "$CREATES"
fi
DAEMON=$BUILD_DIR/api/leadvaultd
CTL=$BUILD_DIR/tools/leadvaultctl
BENCH=$BUILD_DIR/tools/leadvault-bench
source scripts/daemon-lib.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-bench-ops.XXXXXX")
case $MODE in
  on) DAEMON_ARGS="--metrics-listen 127.0.0.1:0 --log-format json --log-file $WORK/log" ;;
  on-calls)
    DAEMON_ARGS="--metrics-listen 127.0.0.1:0 --log-format json --log-file $WORK/log --log-calls"
    ;;
  off)
    printf '[metrics]\nlisten = ""\n' >"$WORK/off.toml"
    DAEMON_ARGS="--config $WORK/off.toml"
    ;;
  *) echo "usage: $0 compare [CREATES] [on|on-calls] | on|on-calls|off [CREATES]" >&2; exit 2 ;;
esac
start_daemon "$DAEMON"
make_principal "$CTL" "$WORK/desk" --name "bench desk" --role capture --role intake \
  --service-line orthopedics
SCRAPER=
if [[ $MODE != off ]]; then
  port=$(grep -o 'readyz on 127.0.0.1:[0-9]*' "$WORK/log" | grep -o '[0-9]*$')
  (while sleep 1; do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" || exit 0; done) &
  SCRAPER=$!
fi
"$BENCH" load --server "$ADDR" --token-file "$WORK/desk" --concurrency 64 --fill "$CREATES" \
  | tail -n 3
[[ -n $SCRAPER ]] && kill "$SCRAPER" 2>/dev/null || true
stop_daemon
