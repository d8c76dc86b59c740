#!/usr/bin/env bash
# The test command behind `make test`: starts dynalite on loopback, runs the
# lint gate, every Go test of every package under the race detector (unit,
# scenario, randomized, dynalite, emulator, conformance, CDK), the full
# randomized storms without it, and short fuzz runs; then prints the slowest
# packages and how long each phase took.
#
# Each package's tests run once, with -race: every package with goroutines
# (store, steps, rebuild, alas, e2e, conformance, simhttp, cmd/kaizen, ...)
# is covered, and one a change gives goroutines later is too. The race
# detector slows the randomized storms in shared/steps about tenfold, so
# that run does RACE_STORM_SEEDS of them (default 30); all 1000 run after,
# without -race.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PWD/bin:$PATH"

if ! command -v gcc >/dev/null 2>&1; then
  echo "gcc not found: the race detector needs cgo: run \`make deps\` (apt-get install gcc libc6-dev)" >&2
  exit 1
fi
export CGO_ENABLED=1

# shellcheck source=scripts/dynalite.sh
. scripts/dynalite.sh
logs=$(mktemp -d "${TMPDIR:-/tmp}/kaizen-test-XXXXXX")
phases=()
phase_start=$SECONDS
phase() { # records how long the phase just finished took
  phases+=("$1 $((SECONDS - phase_start))s")
  phase_start=$SECONDS
}

# summary prints the slowest packages of the go test runs (from their
# closing `ok`/`FAIL` lines) and the phases' times. A failed run repeats its
# FAIL lines after it, so the output still ends with them.
summary() {
  local rc=$?
  stop_dynalite
  if compgen -G "$logs/*" >/dev/null; then
    echo
    echo "slowest packages:"
    awk '($1 == "ok" || $1 == "FAIL") && $3 ~ /^[0-9.]+s$/ {
        run = FILENAME; sub(/.*\//, "", run)
        printf "%8.1fs  %-4s %-55s (%s)\n", $3 + 0, $1, $2, run
      }' "$logs"/* | sort -rn | head -n "${SLOWEST:-10}"
  fi
  echo "phases: ${phases[*]:-none} (total $((SECONDS))s)"
  if [[ $rc -ne 0 ]]; then
    cat "$logs"/* 2>/dev/null | grep -E '^(FAIL|--- FAIL|panic:)' || true
    echo "FAIL"
  fi
  rm -rf "$logs"
  exit $rc
}
trap summary EXIT

start_dynalite

scripts/lint.sh
phase lint

KAIZEN_STORM_SEEDS=${RACE_STORM_SEEDS:-30} \
  go test -race -count=1 -timeout 20m ./... "$@" 2>&1 | tee "$logs/race"
phase "tests (-race)"

echo "randomized storms, all seeds, without -race:"
env -u KAIZEN_STORM_SEEDS \
  go test -count=1 -timeout 10m -run '^TestRandomizedSequences$' ./shared/steps 2>&1 | tee "$logs/storms"
phase storms

scripts/fuzz.sh
phase fuzz
