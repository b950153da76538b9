#!/usr/bin/env bash
# Runs the whole tap suite and closes with a plain "N passed, N failed" line.
set -o pipefail
# The tests and benchmarks type-check as the library does (tap's loader only strips types).
if ! npx tsc -p tsconfig.test.json --noEmit; then
  echo "tests: 0 passed, 1 failed, 0 skipped (type errors above)"
  exit 1
fi
out=$(mktemp)
npx tap --reporter=tap "$@" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
line=$(grep -a -E '^# \{ total: ' "$out" | tail -1)
num() { echo "$line" | grep -oE "$1: [0-9]+" | grep -oE '[0-9]+' || echo 0; }
# A test file that registers no tests (tap: "# SKIP no tests found") tested nothing: a failure.
empty=$(grep -a -E '^ok [0-9]+ - .* # SKIP no tests found' "$out" | sed -E 's/^ok [0-9]+ - (.*) # SKIP.*/\1/')
if [ -n "$empty" ]; then
  echo "test files that registered no tests (counted as failures):"
  echo "$empty" | sed 's/^/  /'
  rc=1
fi
echo "tests: $(num pass) passed, $(( $(num fail) + $(echo -n "$empty" | grep -c .) )) failed, $(num skip) skipped"
rm -f "$out"
exit $rc
