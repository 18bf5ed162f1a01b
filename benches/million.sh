#!/usr/bin/env bash
# A million stored connections, nothing due: what an idle `tether serve` costs, and what the
# scheduler's due queries cost, in one run (release build, SQLite).
#
#   benches/million.sh                # 1,000,000 connections, 30 s of idle CPU
#   CONNECTIONS=200000 IDLE=10 benches/million.sh
#
# The database is filled by direct inserts (python3's sqlite3) after `tether migrate`; every
# connection was refreshed a minute ago, so no keep-alive, retry or recheck is due. It prints
# the CPU the idle server used (percent of one core, from /proc), the slow-statement warnings
# it logged, and the time of each due query (the claims' SELECTs, via EXPLAIN QUERY PLAN and
# a timed run).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tether-target}"
CONNECTIONS="${CONNECTIONS:-1000000}"
IDLE="${IDLE:-30}"
ADDR="127.0.0.1:${TETHER_PORT:-17880}"

cargo build --release --quiet --bin tether
BIN="$CARGO_TARGET_DIR/release/tether"
WORK="$(mktemp -d)"
trap 'kill "${PID:-0}" 2> /dev/null || true; rm -rf "$WORK"' EXIT
DB="$WORK/tether.db"
export TETHER_MASTER_KEY="$(head -c 32 /dev/urandom | base64)"
"$BIN" migrate --database "sqlite://$DB" > /dev/null

python3 - "$DB" "$CONNECTIONS" <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
now = int(time.time() * 1000)
c = sqlite3.connect(db)
c.execute("INSERT INTO workspaces (id, name, created_at) VALUES ('ws_bench', 'bench', ?)", (now,))
c.execute("""INSERT INTO connectors (workspace_id, name, provider, client_id, client_secret,
             login_url, scopes, created_at, updated_at, generation)
             VALUES ('ws_bench', 'salesforce', 'salesforce', 'id', x'00', 'https://login.salesforce.com',
                     '[]', ?, ?, 1)""", (now, now))
def rows():
    for i in range(n):
        yield (f"conn_bench{i:012d}", f"u-{i}", now - 60_000 - i, now - 60_000, now, now + 7_200_000, now + 6_900_000)
c.executemany("""INSERT INTO connections (id, workspace_id, connector, provider, end_user_id, status,
                 instance_url, org_id, user_id, username, scopes, created_at, last_refreshed_at,
                 token_issued_at, access_token_expires_at, refresh_at, token_version, refresh_failures)
                 VALUES (?, 'ws_bench', 'salesforce', 'salesforce', ?, 'active',
                 'https://na1.my.salesforce.com', '00D', '005', 'user@example.com', '[]', ?, ?, ?, ?, ?, 1, 0)""",
              rows())
c.commit()
c.execute("ANALYZE")
c.close()
PY
echo "database: $CONNECTIONS connections, $(du -h "$DB" | cut -f1)"

RUST_LOG=info "$BIN" serve --database "sqlite://$DB" --listen "$ADDR" --public-url "http://$ADDR" > "$WORK/serve.log" 2>&1 &
PID=$!
until curl -sf "http://$ADDR/healthz" > /dev/null; do sleep 0.2; done
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ="$(getconf CLK_TCK)"
START="$(ticks)"
sleep "$IDLE"
END="$(ticks)"
python3 -c "print(f'idle tether serve over ${IDLE} s: {100 * ($END - $START) / $HZ / $IDLE:.2f}% of one core')"
echo "slow-statement warnings: $(grep -ci 'slow statement' "$WORK/serve.log" || true)"

# Every connection through the API, 1,000 a page, following next_cursor.
KEY="$("$BIN" keys create --workspace bench --database "sqlite://$DB" | tail -n 1)"
python3 - "$ADDR" "$KEY" <<'PY'
import json, sys, time, urllib.parse, urllib.request
addr, key = sys.argv[1], sys.argv[2]
cursor, pages, seen = None, 0, 0
started = time.perf_counter()
while True:
    query = "limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
    request = urllib.request.Request(f"http://{addr}/v1/connections?{query}",
                                     headers={"Authorization": f"Bearer {key}"})
    page = json.load(urllib.request.urlopen(request))
    pages += 1
    seen += len(page["connections"])
    cursor = page["next_cursor"]
    if not cursor:
        break
took = time.perf_counter() - started
print(f"paging through {seen} connections, 1,000 a page: {pages} pages in {took:.1f} s ({1000 * took / pages:.1f} ms a page)")
PY
kill "$PID"; wait "$PID" 2> /dev/null || true

python3 - "$DB" <<'PY'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
week = 7 * 86400 * 1000
queries = {
    "keep-alive": ("""SELECT id FROM connections WHERE status = 'active'
        AND COALESCE(last_refreshed_at, refresh_token_issued_at, created_at) < ?
        AND (claim_until IS NULL OR claim_until <= ?)
        ORDER BY COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id LIMIT 100""", (now - week, now)),
    "retry/recheck": ("""SELECT id FROM connections
        WHERE next_retry_at <= ? AND status IN ('degraded', 'expired')
          AND (claim_until IS NULL OR claim_until <= ?)
        ORDER BY next_retry_at, id LIMIT 100""", (now, now)),
    "connector changed": ("""SELECT c.id FROM connections c
        WHERE c.failed_connector_generation IS NOT NULL AND c.status = 'degraded'
          AND c.failed_connector_generation <> (SELECT k.generation FROM connectors k
              WHERE k.workspace_id = c.workspace_id AND k.name = c.connector)
          AND (c.claim_until IS NULL OR c.claim_until <= ?)
        LIMIT 100""", (now,)),
}
for name, (sql, args) in queries.items():
    plan = "; ".join(row[3] for row in c.execute("EXPLAIN QUERY PLAN " + sql, args))
    runs = 100
    started = time.perf_counter()
    for _ in range(runs):
        c.execute(sql, args).fetchall()
    took = (time.perf_counter() - started) / runs * 1000
    print(f"{name} due query: {took:.3f} ms ({plan})")
PY
