#!/usr/bin/env bash
# Proxy overhead: the same SOQL query straight to the sandbox and through tether's proxy, in one
# run, with wrk (32 connections). Prints req/s, p50 and p99 of both and the ratios.
#
#   benches/proxy.sh            # release build, 10 s per side
#   DURATION=30s benches/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tether-target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
TETHER_ADDR="127.0.0.1:${TETHER_PORT:-17878}"
SANDBOX_ADDR="127.0.0.1:${SANDBOX_PORT:-17879}"
QUERY="services/data/v64.0/query?q=SELECT+Id,Name+FROM+Account"

if ! command -v wrk > /dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk > /dev/null
fi
cargo build --release --quiet --bin tether
BIN="$CARGO_TARGET_DIR/release/tether"

WORK="$(mktemp -d)"
RUST_LOG=warn "$BIN" demo --listen "$TETHER_ADDR" --sandbox-listen "$SANDBOX_ADDR" > "$WORK/demo.log" 2>&1 &
DEMO_PID=$!
trap 'kill "$DEMO_PID" 2> /dev/null || true; rm -rf "$WORK"' EXIT
until curl -sf "http://$SANDBOX_ADDR/_sandbox/health" > /dev/null \
  && curl -sf "http://$TETHER_ADDR/healthz" > /dev/null; do sleep 0.2; done
KEY="$(tail -n 1 "$WORK/demo.log")"

# A connection: auto-approve in the sandbox, then the connect flow by hand.
curl -sf -X PUT "http://$SANDBOX_ADDR/_sandbox/settings" -H 'Content-Type: application/json' \
  -d '{"auto_approve": true}' > /dev/null
curl -sf -X PATCH "http://$SANDBOX_ADDR/_sandbox/apps/sandbox-client-id" -H 'Content-Type: application/json' \
  -d "{\"daily_api_limit\": 1000000000, \"callback_urls\": [\"http://$TETHER_ADDR/oauth/callback\"]}" > /dev/null
CONNECT_URL="$(curl -sf -X POST "http://$TETHER_ADDR/v1/connect-sessions" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' \
  -d '{"connector": "salesforce", "end_user_id": "bench", "redirect_to": "https://app.example/done"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["connect_url"])')"
location() { curl -s -o /dev/null -w '%{redirect_url}' "$1"; }
AUTHORIZE="$(location "$CONNECT_URL")"
CALLBACK="$(location "$AUTHORIZE")"
DONE="$(location "$CALLBACK")"
CONN="$(python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["connection_id"][0])' "$DONE")"
TOKEN="$(curl -sf -X POST "http://$TETHER_ADDR/v1/connections/$CONN/token" -H "Authorization: Bearer $KEY" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

DIRECT_URL="http://$SANDBOX_ADDR/$QUERY"
PROXY_URL="http://$TETHER_ADDR/v1/proxy/$CONN/$QUERY"
# Both answer the same body.
cmp <(curl -sf "$DIRECT_URL" -H "Authorization: Bearer $TOKEN") \
    <(curl -sf "$PROXY_URL" -H "Authorization: Bearer $KEY")

run() { wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $2" "$1"; }
# Warm both paths (connection pools, caches), then measure.
wrk -t1 -c4 -d2s -H "Authorization: Bearer $TOKEN" "$DIRECT_URL" > /dev/null
wrk -t1 -c4 -d2s -H "Authorization: Bearer $KEY" "$PROXY_URL" > /dev/null

compare() {
python3 - "$1" "$2" <<'PY'
import re, sys

def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

def parse(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return rps, p50, p99, int(errors.group(1)) if errors else 0

d, p = parse(sys.argv[1]), parse(sys.argv[2])
print(f"{'':8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
print(f"{'direct':8} {d[0]:>10.0f} {d[1]:>8.2f} {d[2]:>8.2f} {d[3]:>8}")
print(f"{'proxy':8} {p[0]:>10.0f} {p[1]:>8.2f} {p[2]:>8.2f} {p[3]:>8}")
print(f"throughput kept: {p[0] / d[0]:.1%} (loss {1 - p[0] / d[0]:.1%}); "
      f"added latency p50 {p[1] - d[1]:+.2f} ms, p99 {p[2] - d[2]:+.2f} ms")
PY
}

echo "== CPU-bound: the sandbox answers at once (tether, the sandbox and wrk share the cores)"
run "$DIRECT_URL" "$TOKEN" > "$WORK/direct.txt"
run "$PROXY_URL" "$KEY" > "$WORK/proxy.txt"
compare "$WORK/direct.txt" "$WORK/proxy.txt"

# Salesforce answers in tens to hundreds of milliseconds; the sandbox can stall each REST call.
LATENCY_MS="${LATENCY_MS:-50}"
echo "== upstream latency ${LATENCY_MS} ms per REST call (as Salesforce answers)"
curl -sf -X PUT "http://$SANDBOX_ADDR/_sandbox/faults" -H 'Content-Type: application/json' \
  -d "{\"rest_api\": {\"delay_ms\": $LATENCY_MS, \"count\": 1000000000}}" > /dev/null
run "$DIRECT_URL" "$TOKEN" > "$WORK/direct-latency.txt"
run "$PROXY_URL" "$KEY" > "$WORK/proxy-latency.txt"
compare "$WORK/direct-latency.txt" "$WORK/proxy-latency.txt"
