#!/usr/bin/env bash
# A few seconds of each fuzz target, so CI exercises them on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZTIME:-5s}
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | while read -r f; do
  pkg=./$(dirname "${f#./}")
  for fn in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$f" | awk '{print $2}'); do
    echo "fuzz $pkg $fn ($secs)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$secs" "$pkg"
  done
done
