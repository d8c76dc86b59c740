#!/usr/bin/env bash
# Mutation testing behind `make mutate` (not part of CI): Gremlins changes one
# operator or condition at a time in the packages below and runs the
# package's tests against each change (a mutant). A mutant the tests let
# through has "lived": a bug of that shape would go unnoticed. Prints the
# efficacy (killed / (killed + lived)) per package and fails when one is below
# MUTATE_MIN percent.
#
#   MUTATE_PACKAGES     packages to mutate (default: release config steps envfile)
#   MUTATE_STORM_SEEDS  randomized storms per steps test run (default 50; CI runs 1000)
#   MUTATE_MIN          lowest efficacy accepted, in percent (default 90)
#   MUTATE_WORKERS      mutants tested at once (default: the number of CPUs)
#   MUTATE_TIMEOUT_COEF a mutant's test run may take this many times the first
#                       (coverage) run before it counts as timed out (default 10: with a
#                       warm build cache the first run is far faster than a
#                       mutant's, which must compile)
#   MUTATE_OUT          directory for the per-package reports (default: a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:$root/bin:$PATH"
command -v gremlins >/dev/null || { echo "gremlins not found: run \`make bin/.gremlins\`" >&2; exit 1; }

read -r -a pkgs <<<"${MUTATE_PACKAGES:-shared/release shared/config shared/steps shared/envfile}"
min=${MUTATE_MIN:-90}
# The steps tests include 1000 randomized storms (~35 s); every mutant runs
# the package's tests, so fewer storms here.
export KAIZEN_STORM_SEEDS=${MUTATE_STORM_SEEDS:-50}

work=$(mktemp -d "${TMPDIR:-/tmp}/kaizen-mutate-XXXXXX")
out=${MUTATE_OUT:-$work/reports}
mkdir -p "$out"
# shellcheck source=scripts/dynalite.sh
. scripts/dynalite.sh
trap 'stop_dynalite; rm -rf "$work"' EXIT
start_dynalite # the steps tests' DynamoDB store runs against it

# Gremlins copies the whole module once per worker: give it the sources
# only, not node_modules, build output and tools (~800 MB).
mkdir "$work/src"
tar -C "$root" --exclude=./node_modules --exclude=./build --exclude=./bin \
  --exclude=./cdk.out --exclude=./.git -cf - . | tar -C "$work/src" -xf -

flags=(--timeout-coefficient "${MUTATE_TIMEOUT_COEF:-10}")
[[ -n "${MUTATE_WORKERS:-}" ]] && flags+=(--workers "$MUTATE_WORKERS")

results=()
status=0
for p in "${pkgs[@]}"; do
  name=${p//\//-}
  echo "== gremlins: $p (storm seeds: $KAIZEN_STORM_SEEDS)"
  start=$SECONDS
  # -S lt: list the mutants that lived or timed out (the ones to look at).
  if ! (cd "$work/src" && gremlins unleash "${flags[@]}" -S lt -o "$out/$name.json" "$work/src/$p") 2>&1 | tee "$out/$name.log"; then
    results+=("$(printf '%-16s gremlins failed (see above)' "$p")")
    status=1
    continue
  fi
  eff=$(grep -oE 'Test efficacy: [0-9.]+%' "$out/$name.log" | tail -1 | grep -oE '[0-9.]+' || true)
  cov=$(grep -oE 'Mutator coverage: [0-9.]+%' "$out/$name.log" | tail -1 | grep -oE '[0-9.]+' || true)
  counts=$(grep -oE 'Killed: [0-9]+, Lived: [0-9]+, Not covered: [0-9]+' "$out/$name.log" | tail -1 || true)
  tout=$(grep -oE 'Timed out: [0-9]+' "$out/$name.log" | tail -1 || true)
  results+=("$(printf '%-16s efficacy %6s%%  mutant coverage %6s%%  (%s; %s; %ds)' "$p" "${eff:-?}" "${cov:-?}" "$counts" "$tout" $((SECONDS - start)))")
  if [[ -z "$eff" ]] || awk -v e="$eff" -v m="$min" 'BEGIN { exit !(e < m) }'; then
    status=1
  fi
done

echo
echo "mutation testing (efficacy = killed / (killed + lived); goal ≥ $min%):"
printf '  %s\n' "${results[@]}"
[[ -n "${MUTATE_OUT:-}" ]] && echo "reports in $out"
if [[ $status -ne 0 ]]; then
  echo "FAIL: a package is below $min% efficacy (or gremlins failed): add tests that kill its lived mutants"
fi
exit $status
