#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest): unit tests,
# the template/CLI tests and the integration tests against real processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build="${DARASA_BUILD_DIR:-build}"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 600
