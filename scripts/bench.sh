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
CTL=$BUILD_DIR/tools/leadvaultctl
BENCH=$BUILD_DIR/tools/leadvault-bench

# Ninja rebuilds only what changed; SKIP_BUILD=1 uses the binaries as they are.
source scripts/daemon-lib.sh
build_if_needed "$DAEMON" "$CTL" "$BENCH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-bench.XXXXXX")
start_daemon "$DAEMON"
echo "bench.sh: leadvaultd (pid $DAEMON_PID) serving on $ADDR"

"$BENCH" crypto --benchmark_min_time=0.2
# The load's leads are in service line "orthopedics": a front desk that creates and reads them.
make_principal "$CTL" "$WORK/desk" --name "bench desk" --role capture --role intake \
  --service-line orthopedics
"$BENCH" load --server "$ADDR" --token-file "$WORK/desk" --daemon-pid "$DAEMON_PID" "$@"
stop_daemon
