# Sourced by the benchmark scripts: a throwaway leadvaultd on a temporary data dir.
# build_if_needed BINARY...: builds (scripts/build.sh, into $BUILD_DIR) unless
# SKIP_BUILD=1 and every BINARY exists already.
build_if_needed() {
  local missing=0
  for b in "$@"; do [[ -x $b ]] || missing=1; done
  if [[ ${SKIP_BUILD:-0} != 1 || $missing == 1 ]]; then
    BUILD_DIR=$BUILD_DIR scripts/build.sh
  fi
}

# start_daemon DAEMON starts it in $WORK (which the caller created), waits until
# it serves, and sets DAEMON_PID and ADDR; the EXIT trap stops it and removes $WORK.
DAEMON_PID=
cleanup() {
  if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [[ -n ${WORK:-} ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Extra daemon flags come from $DAEMON_ARGS (split on spaces).
start_daemon() {
  # shellcheck disable=SC2086
  "$1" --data-dir "$WORK/data" --listen 127.0.0.1:0 --ready-file "$WORK/ready" \
    --admin-token-file "$WORK/token" ${DAEMON_ARGS:-} >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
  DAEMON_PID=$!
  for _ in $(seq 1 300); do  # at most 30 s
    [[ -s $WORK/ready ]] && break
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      echo "leadvaultd exited during start-up:" >&2
      cat "$WORK/daemon.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [[ ! -s $WORK/ready ]]; then
    echo "leadvaultd did not become ready within 30 s" >&2
    exit 1
  fi
  ADDR=$(head -n1 "$WORK/ready")
}

# make_principal CTL FILE ARGS...: creates a principal with the admin token
# (leadvaultctl principal create ARGS) and writes its token to FILE (0600).
make_principal() {
  local ctl=$1 file=$2
  shift 2
  LEADVAULT_TOKEN=$(cat "$WORK/token") "$ctl" --server "$ADDR" principal create "$@" |
    grep -o 'lv_[0-9a-f]*_[0-9a-f]*' >"$file"
  chmod 600 "$file"
}

# Stops the daemon with SIGTERM; fails if it does not exit cleanly.
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || { echo "leadvaultd exited with status $?" >&2; exit 1; }
  DAEMON_PID=
}
