#!/usr/bin/env bash
# Sets everything up and runs leadvaultd on its embedded default: data dir
# ./leadvault-data (created, with a generated 0600 master key), 127.0.0.1:7443.
# On the first start it prints the one-time admin token and a leadvaultctl call to try.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/api/leadvaultd --data-dir "${LEADVAULT_DATA_DIR:-./leadvault-data}" \
  --listen "${LEADVAULT_LISTEN:-127.0.0.1:7443}" "$@"
