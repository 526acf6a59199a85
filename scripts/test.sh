#!/usr/bin/env bash
# Sets everything up, builds, and runs every test through ctest.
# BUILD_DIR picks the build directory; extra arguments go to cmake's configure
# step (e.g. -DLEADVAULT_SANITIZE=ON for the ASan+UBSan build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh "$@"
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" --timeout 900
