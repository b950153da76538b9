#!/usr/bin/env bash
# Runs the whole tap suite and closes with a plain "N passed, N failed" line.
set -o pipefail
out=$(mktemp)
npx tap --reporter=tap "$@" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
line=$(grep -a -E '^# \{ total: ' "$out" | tail -1)
num() { echo "$line" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
echo "tests: $(num pass) passed, $(num fail) failed, $(num skip) skipped"
rm -f "$out"
exit $rc
