#!/usr/bin/env bash
# Runs every test darasa has, on a fresh machine too: installs what is
# missing, starts the Podman API service and builds the lab image that the
# container tests use, builds darasa, and runs ctest (unit tests, the CLI's
# black-box tests and the integration tests against real processes, SQLite
# and Podman).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/podman-service.sh
bash examples/images/build-busybox-lab.sh
# The libvirt provider's VM tests: libvirtd, and the minimal guest they boot.
bash scripts/libvirt-service.sh
bash examples/images/build-vm-guest.sh
# PostgreSQL for the state tests: a throwaway cluster in /tmp that the tests
# share (each in a database of its own); it removes itself when idle.
bash scripts/postgres-service.sh start --idle-exit 120
bash scripts/build.sh
build="${DARASA_BUILD_DIR:-build}"
# The engine was started above: container tests must fail, not skip, without it.
export DARASA_REQUIRE_ENGINE=1
ctest --test-dir "$build" --output-on-failure -j2 --timeout 900
