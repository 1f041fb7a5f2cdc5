#!/usr/bin/env bash
# Data benchmark: list_projects (a 20-row page) through Plugboard's scoped path on PostgreSQL
# (row-level security, restricted role, one transaction per call), against the same query issued
# directly through PostgresNIO by a raw Hummingbird route (with PostgresNIO's `query`, and as a
# prepared statement), and through the scoped path on SQLite, all measured in the same run with
# wrk on loopback. Starts a private PostgreSQL cluster.
# Not part of the test suite. Usage: bench/data.sh [seconds-per-run] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SECONDS_PER_RUN=${1:-10}
RUNS=${2:-3}
CONNECTIONS=16
mkdir -p bench/results
OUT="bench/results/data-$(date -u +%Y%m%dT%H%M%SZ).txt"

echo "building release binaries"
swift build -c release 2>&1 | grep -E "error|Build complete" | tail -2

PG_PORT=$(free_port)
PG_DIR=$(mktemp -d /tmp/plugboard-pg.XXXXXX)  # its own: the postgres user cannot enter $WORK
CLEANUPS+=("scripts/postgres stop '$PG_DIR'; rm -rf '$PG_DIR'")
scripts/postgres start "$PG_DIR" "$PG_PORT"
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE bench OWNER pb_owner"
PG="127.0.0.1:$PG_PORT/bench"

mkdir -p "$WORK/plugins"
cp -r Plugins/projects "$WORK/plugins/"
cat > "$WORK/postgres.yaml" <<YAML
server: { listen: 127.0.0.1:8094 }
auth: { mode: none, local_owner: alice }
plugins: { folder: $WORK/plugins, library_path: [$PWD/.build/release], state_dir: $WORK/state-pg }
database:
  url: postgres://pb_owner@$PG
  query_url: postgres://pb_query@$PG
  superuser_url: postgres://postgres@$PG
  seed: $PWD/examples/demo/postgres.sql
logging: { level: warning }
YAML
cat > "$WORK/sqlite.yaml" <<YAML
server: { listen: 127.0.0.1:8096 }
auth: { mode: none, local_owner: alice }
plugins: { folder: $WORK/plugins, library_path: [$PWD/.build/release], state_dir: $WORK/state-sqlite }
database: { url: "sqlite:$WORK/bench.db", seed: $PWD/examples/demo/sqlite.sql }
logging: { level: warning }
YAML

.build/release/plugboard migrate --config "$WORK/postgres.yaml"
.build/release/plugboard serve --config "$WORK/postgres.yaml" > "$WORK/postgres.log" 2>&1 & PIDS+=($!); PLUGBOARD_PID=$!
.build/release/plugboard serve --config "$WORK/sqlite.yaml" > "$WORK/sqlite.log" 2>&1 & PIDS+=($!)
# The direct query filters by owner itself, so it logs in as a role row-level security does not apply to.
.build/release/bench-raw-query 8095 "postgres://postgres@$PG" alice > "$WORK/raw.log" 2>&1 & PIDS+=($!)
for port in 8094 8095 8096; do wait_for "$port"; done
RSS_REST=$(rss_kb "$PLUGBOARD_PID")

PAGE='{"limit":20} "Alice project 20"'
TARGETS=(
  "plugboard-pg http://127.0.0.1:8094/mcp list_projects $PAGE"
  "raw-postgresnio http://127.0.0.1:8095/mcp list_projects $PAGE"
  "raw-prepared http://127.0.0.1:8095/mcp-prepared list_projects $PAGE"
  "plugboard-sqlite http://127.0.0.1:8096/mcp list_projects $PAGE"
)
measure "$CONNECTIONS" "$SECONDS_PER_RUN" "$RUNS" "$OUT" "${TARGETS[@]}"
RSS_LOAD=$(rss_kb "$PLUGBOARD_PID")
{
  echo
  echo "list_projects (20 rows), $CONNECTIONS connections, ${RUNS}x${SECONDS_PER_RUN}s per target, medians ($(nproc) cores, $(date -u +%F)); baseline raw-postgresnio"
  table raw-postgresnio plugboard-pg raw-postgresnio raw-prepared plugboard-sqlite
  echo "plugboard (PostgreSQL) RSS: $RSS_REST kB at rest, $RSS_LOAD kB after the runs"
} | tee -a "$OUT"
echo "full wrk output: $OUT"
