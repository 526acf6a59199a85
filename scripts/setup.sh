#!/usr/bin/env bash
# Installs what leadvault needs to build and test, from Debian 12 packages only.
# Idempotent: packages already present are skipped, so a second run does nothing.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ pkg-config
  librocksdb-dev libsodium-dev libssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libphonenumber-dev libjemalloc-dev
  libtomlplusplus-dev libsystemd-dev libcpp-httplib-dev
  curl
  openssl
  python3 python3-cryptography python3-grpcio python3-grpc-tools
  chromium zlib1g-dev
  clang-14 libfuzzer-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The Node.js client example's test (examples/node) needs node and npm; a machine
# that already has them (e.g. from NodeSource) keeps its own, which Debian's npm
# package would conflict with.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
