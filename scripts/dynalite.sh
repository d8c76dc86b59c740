# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/mutate.sh: start_dynalite starts
# dynalite (from the pinned npm packages) on a free loopback port and exports
# KAIZEN_DYNAMODB_ENDPOINT; stop_dynalite stops it. A missing dynalite fails
# with the command that installs it.

dynalite_pid=""

start_dynalite() {
  local root port
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [[ ! -x "$root/node_modules/.bin/dynalite" ]]; then
    echo "dynalite not found in $root/node_modules/.bin: run \`make deps\` (npm ci)" >&2
    return 1
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18567)
  "$root/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" >"${TMPDIR:-/tmp}/kaizen-dynalite-$$.log" 2>&1 &
  dynalite_pid=$!
  for _ in $(seq 100); do
    if (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
      export KAIZEN_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
      echo "dynalite on $KAIZEN_DYNAMODB_ENDPOINT"
      return 0
    fi
    sleep 0.1
  done
  echo "dynalite did not listen on 127.0.0.1:$port within 10s; its log:" >&2
  cat "${TMPDIR:-/tmp}/kaizen-dynalite-$$.log" >&2
  return 1
}

stop_dynalite() {
  if [[ -n "$dynalite_pid" ]]; then
    kill "$dynalite_pid" 2>/dev/null || true
    wait "$dynalite_pid" 2>/dev/null || true
    dynalite_pid=""
  fi
}
