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
if [[ ${SKIP_BUILD:-0} != 1 || ! -x $DAEMON || ! -x $CTL || ! -x $BENCH ]]; then
  BUILD_DIR=$BUILD_DIR scripts/build.sh
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-bench-audit.XXXXXX")
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
for _ in $(seq 1 300); do
  [[ -s $WORK/ready ]] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/daemon.err" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(head -n1 "$WORK/ready")

"$BENCH" load --server "$ADDR" --token-file "$WORK/token" --fill "$N" | tail -n 3
LEADVAULT_TOKEN=$(cat "$WORK/token") "$CTL" --server "$ADDR" principal create \
  --name "bench officer" --role compliance | grep -o 'lv_[0-9a-f]*_[0-9a-f]*' >"$WORK/officer"
chmod 600 "$WORK/officer"
ctl() { "$CTL" --server "$ADDR" --token-file "$WORK/officer" "$@"; }
ctl audit pubkey >"$WORK/log.pub"

rate() {  # label, entries, seconds
  awk -v l="$1" -v n="$2" -v s="$3" 'BEGIN { printf "%-8s %9d entries in %6.3f s: %9.0f entries/s\n", l, n, s, n / s }'
}
t0=$(date +%s.%N)
ctl audit export -o "$WORK/audit.jsonl" 2>"$WORK/export.err"
t1=$(date +%s.%N)
ENTRIES=$(($(wc -l <"$WORK/audit.jsonl") - 2))
ctl audit verify "$WORK/audit.jsonl" --pubkey "$WORK/log.pub" >"$WORK/verify.out" 2>&1
t2=$(date +%s.%N)
cat "$WORK/verify.out"
echo "export file: $(du -h "$WORK/audit.jsonl" | cut -f1)"
rate export "$ENTRIES" "$(echo "$t1 - $t0" | bc -l)"
rate verify "$ENTRIES" "$(echo "$t2 - $t1" | bc -l)"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=
"$BENCH" audit --benchmark_filter=Verify --benchmark_min_time=2
