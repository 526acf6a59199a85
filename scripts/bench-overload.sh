#!/usr/bin/env bash
# Overload: CreateLead and a load balancer's health probe at many concurrent streams.
# usage: scripts/bench-overload.sh [BUILD_DIR] [bench load args...]
#   e.g. scripts/bench-overload.sh build --concurrency 2000 --connections 8 --duration-seconds 10
# Runs `leadvault-bench load` (health, create, get phases: 2 s warm-up + 10 s each) against
# a fresh daemon and, in separate processes, a health probe over the create window and one
# over the get window, so the probe does not measure the load generator's own queues.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; shift || true
DAEMON=$BUILD/api/leadvaultd CTL=$BUILD/tools/leadvaultctl BENCH=$BUILD/tools/leadvault-bench
source scripts/daemon-lib.sh
WORK=$(mktemp -d /tmp/lv-overload.XXXXXX)
start_daemon "$DAEMON"
make_principal "$CTL" "$WORK/desk" --name "bench desk" --role capture --role intake --service-line orthopedics
"$BENCH" probe --server "$ADDR" --warmup-seconds 14 --duration-seconds 10 >"$WORK/probe-create" &
P1=$!
"$BENCH" probe --server "$ADDR" --warmup-seconds 26 --duration-seconds 10 >"$WORK/probe-get" &
P2=$!
"$BENCH" load --server "$ADDR" --token-file "$WORK/desk" --daemon-pid "$DAEMON_PID" "$@"
wait $P1 $P2
echo "health probe during create:"; tail -1 "$WORK/probe-create"
echo "health probe during get:"; tail -1 "$WORK/probe-get"
stop_daemon
