#!/usr/bin/env bash
# Configures and builds darasa into build/ (or $DARASA_BUILD_DIR).
# Extra arguments go to cmake's configure step (e.g. -DDARASA_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${DARASA_BUILD_DIR:-build}"
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$build/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
