#!/usr/bin/env bash
# Measures the audit log's export and offline verification on a real daemon:
# builds, starts build/api/leadvaultd on a temporary data dir, fills it with N
# leads (one audit entry each; default 300000), then times
#   leadvaultctl audit export -o FILE        (entries/s written to a file)
#   leadvaultctl audit verify FILE --pubkey  (entries/s verified offline)
# and runs the verifier micro-benchmark on a 1,000,000-entry export.
#   scripts/bench-audit.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300000}
BUILD_DIR=${BUILD_DIR:-build}
DAEMON=$BUILD_DIR/api/leadvaultd
CTL=$BUILD_DIR/tools/leadvaultctl
BENCH=$BUILD_DIR/tools/leadvault-bench
# Ninja rebuilds only what changed; SKIP_BUILD=1 uses the binaries as they are.
source scripts/daemon-lib.sh
build_if_needed "$DAEMON" "$CTL" "$BENCH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-bench-audit.XXXXXX")
start_daemon "$DAEMON"

make_principal "$CTL" "$WORK/desk" --name "bench desk" --role capture
make_principal "$CTL" "$WORK/officer" --name "bench officer" --role compliance
"$BENCH" load --server "$ADDR" --token-file "$WORK/desk" --fill "$N" | tail -n 3
ctl() { "$CTL" --server "$ADDR" --token-file "$WORK/officer" "$@"; }
ctl audit pubkey >"$WORK/log.pub"

rate() {  # label, entries, start time, end time (seconds since the epoch)
  awk -v l="$1" -v n="$2" -v a="$3" -v b="$4" \
    'BEGIN { s = b - a; printf "%-8s %9d entries in %6.3f s: %9.0f entries/s\n", l, n, s, n / s }'
}
t0=$(date +%s.%N)
ctl audit export -o "$WORK/audit.jsonl" 2>"$WORK/export.err"
t1=$(date +%s.%N)
ENTRIES=$(($(wc -l <"$WORK/audit.jsonl") - 2))
ctl audit verify "$WORK/audit.jsonl" --pubkey "$WORK/log.pub" >"$WORK/verify.out" 2>&1
t2=$(date +%s.%N)
cat "$WORK/verify.out"
echo "export file: $(du -h "$WORK/audit.jsonl" | cut -f1)"
rate export "$ENTRIES" "$t0" "$t1"
rate verify "$ENTRIES" "$t1" "$t2"

stop_daemon
"$BENCH" audit --benchmark_filter=Verify --benchmark_min_time=2
