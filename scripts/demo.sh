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
echo "Log in as trainee t01 (password or key, as in the table):"
"$darasa" creds demo --trainee t01 -o json | sed -n 's/.*"ssh": "\(.*\)".*/  \1/p'
echo "Tear the labs down with:  $darasa down demo"
