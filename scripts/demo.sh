#!/usr/bin/env bash
# The quick start: installs what is missing, builds darasa, provisions the demo
# cohort (5 trainees) on the embedded local provider and prints their credentials.
# Clean up afterwards with: build/cli/darasa down demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
darasa=build/cli/darasa
"$darasa" apply examples/demo/demo.yaml
"$darasa" up demo
"$darasa" creds demo
echo
echo "Log in as a trainee, e.g.: build/cli/darasa creds demo --trainee t01 -o json  (key file and port)"
echo "Tear the labs down with:  build/cli/darasa down demo"
