#!/usr/bin/env bash
# Runs the W3C trace-context harness (the test/ folder of w3c/trace-context,
# not part of this repository) against w3c_service, Level 2, strict.
#   run_harness.sh <w3c_service binary> <harness folder> [test names...]
# Exits with the harness's status; 77 (skipped) without python3 + aiohttp.
set -euo pipefail
svc=$1
dir=$2
shift 2
py=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import aiohttp' 2>/dev/null; then
    py=$p
    break
  fi
done
if [ -z "$py" ]; then
  echo "python3 with aiohttp not found (Debian: python3-aiohttp): skipped"
  exit 77
fi
out=$(mktemp)
"$svc" --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' "$out" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$out")
[ -n "$url" ] || { echo "w3c_service did not start"; exit 1; }
hport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$dir"
SPEC_LEVEL=2 STRICT_LEVEL=2 HARNESS_HOST=127.0.0.1 HARNESS_PORT=$hport \
  "$py" test.py "$url" "$@"
