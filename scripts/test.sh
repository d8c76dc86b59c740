#!/usr/bin/env bash
# The test command behind `make test`: starts dynalite on loopback, runs the
# lint gate, every Go test (unit, scenario, randomized, dynalite, emulator,
# CDK) and short fuzz runs, then stops dynalite.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PWD/bin:$PATH"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18567)
dynalite --host 127.0.0.1 --port "$port" >/tmp/kaizen-dynalite.log 2>&1 &
dyn=$!
trap 'kill $dyn 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  sleep 0.1
done
export KAIZEN_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
echo "dynalite on $KAIZEN_DYNAMODB_ENDPOINT"

scripts/lint.sh
go test -count=1 -timeout 20m ./... "$@"
scripts/fuzz.sh
