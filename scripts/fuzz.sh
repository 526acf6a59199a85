#!/usr/bin/env bash
# libFuzzer targets (fuzz/) in a clang ASan+UBSan build in build-fuzz/ (or $BUILD_DIR).
#   scripts/fuzz.sh TARGET SECONDS  run one target (e.g. verifier) for that long on a
#                                   temporary copy of fuzz/corpus/TARGET (the repo is not
#                                   modified); a crash input lands in $BUILD_DIR/artifacts/
#   scripts/fuzz.sh --ci            build everything in the clang build (-Wthread-safety
#                                   -Werror), then run every target on its corpus and
#                                   $FUZZ_CI_RUNS inputs (the verifier fewer); fails on
#                                   any crash
#   scripts/fuzz.sh --list          the targets
# JOBS sets the build's parallelism (default: every core).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
CI_RUNS=${FUZZ_CI_RUNS:-50000}
# The verifier reads each input through its 4 MiB read-ahead batches and
# threads: about 100 inputs a second under ASan, so fewer of them.
CI_RUNS_VERIFIER=${FUZZ_CI_RUNS_VERIFIER:-2000}
SCRATCH=()  # removed on exit, however the script ends
trap 'rm -rf "${SCRATCH[@]}"' EXIT
TARGETS=()
for f in fuzz/*_fuzzer.cc; do
  f=${f#fuzz/}
  TARGETS+=("${f%_fuzzer.cc}")
done

usage() {
  echo "usage: scripts/fuzz.sh TARGET SECONDS | --ci | --list" >&2
  exit 2
}

configure() {
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    local launcher=()
    if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
      -DLEADVAULT_FUZZ=ON -DLEADVAULT_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
  fi
}

# run TARGET ARGS...: the target on a scratch copy of its corpus.
run() {
  local target=$1
  shift
  local corpus
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/leadvault-fuzz-$target.XXXXXX")
  SCRATCH+=("$corpus")
  cp -r "fuzz/corpus/$target/." "$corpus/"
  mkdir -p "$BUILD_DIR/artifacts"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/.ci/lsan.supp} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$BUILD_DIR/fuzz/${target}_fuzzer" -print_final_stats=1 \
    -artifact_prefix="$BUILD_DIR/artifacts/$target-" "$@" "$corpus"
}

case "${1:-}" in
  --list)
    printf '%s\n' "${TARGETS[@]}"
    ;;
  --ci)
    [[ $# -eq 1 ]] || usage
    scripts/setup.sh
    configure
    # Every library and tool, not only the fuzzers: the clang build is also the
    # -Wthread-safety check.
    cmake --build "$BUILD_DIR" -j"$JOBS"
    log=$(mktemp "${TMPDIR:-/tmp}/leadvault-fuzz-log.XXXXXX")
    SCRATCH+=("$log")
    for t in "${TARGETS[@]}"; do
      runs=$CI_RUNS
      if [[ $t == verifier ]]; then runs=$CI_RUNS_VERIFIER; fi
      if ! run "$t" -runs="$runs" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz: $t found a crash (input saved in $BUILD_DIR/artifacts/)" >&2
        exit 1
      fi
      echo "-- $t: $(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    done
    ;;
  -* | "")
    usage
    ;;
  *)
    [[ $# -eq 2 && $2 =~ ^[0-9]+$ ]] || usage
    [[ -f fuzz/${1}_fuzzer.cc ]] || { echo "fuzz: no target $1 (--list)" >&2; exit 2; }
    configure
    cmake --build "$BUILD_DIR" -j"$JOBS" --target "${1}_fuzzer"
    run "$1" -max_total_time="$2"
    ;;
esac
