#!/usr/bin/env bash
# Data benchmark: list_projects (a 20-row page) through Plugboard's scoped path on PostgreSQL
# (row-level security, restricted role, one transaction per call), against the same query issued
# directly through PostgresNIO by a raw Hummingbird route (with PostgresNIO's `query`, and as a
# prepared statement), and through the scoped path on SQLite, all measured in the same run with
# wrk on loopback. Starts a private PostgreSQL cluster. A scoped write (an UPDATE of one of the
# caller's rows, through the hostile test fixture's write_sql tool) is measured too: it is the
# path with a per-call reset (DISCARD SEQUENCES after the COMMIT).
# With BASELINE=<a checkout of an earlier commit> in which `swift build -c release --product
# plugboard` has run, the same scoped read and write are also measured through that build (with
# that checkout's manifest of the projects plugin, this build's plugin libraries), on a database
# of its own in the same cluster, in the same run.
# Not part of the test suite. Usage: [BASELINE=dir] bench/data.sh [seconds-per-run] [runs]
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

mkdir -p "$WORK/plugins/writer"
cp -r Plugins/projects "$WORK/plugins/"
cat > "$WORK/plugins/writer/manifest.yaml" <<YAML
plugin: hostile
library: libfixture_sql.so
data:
  tables:
    projects: { owner_column: owner_id }
tools:
  - name: write_sql
    handler: sql.run
    description: Runs a write chosen by the caller.
    writes: true
    input_schema: { type: object, properties: { sql: { type: string }, params: { type: array } }, required: [sql] }
YAML
# postgres_config NAME PORT DATABASE [PLUGINS]: a scoped PostgreSQL server's config.
postgres_config() {
  cat > "$WORK/$1.yaml" <<YAML
server: { listen: 127.0.0.1:$2 }
auth: { mode: none, local_owner: alice }
plugins: { folder: ${4:-$WORK/plugins}, library_path: [$PWD/.build/release], state_dir: $WORK/state-$1 }
database:
  url: postgres://pb_owner@127.0.0.1:$PG_PORT/$3
  query_url: postgres://pb_query@127.0.0.1:$PG_PORT/$3
  superuser_url: postgres://postgres@127.0.0.1:$PG_PORT/$3
  seed: $PWD/examples/demo/postgres.sql
logging: { level: warning }
YAML
}
postgres_config postgres 8094 bench
cat > "$WORK/sqlite.yaml" <<YAML
server: { listen: 127.0.0.1:8096 }
auth: { mode: none, local_owner: alice }
plugins: { folder: $WORK/plugins, library_path: [$PWD/.build/release], state_dir: $WORK/state-sqlite }
database: { url: "sqlite:$WORK/bench.db", seed: $PWD/examples/demo/sqlite.sql }
logging: { level: warning }
YAML

.build/release/plugboard migrate --config "$WORK/postgres.yaml"
.build/release/plugboard serve --config "$WORK/postgres.yaml" > "$WORK/postgres.log" 2>&1 & PIDS+=($!); PLUGBOARD_PID=$!
if [ -n "${BASELINE:-}" ]; then
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE bench_baseline OWNER pb_owner"
  # Its own manifests: an older parser may refuse keys added since.
  mkdir -p "$WORK/plugins-baseline"
  cp -r "$BASELINE/Plugins/projects" "$WORK/plugins/writer" "$WORK/plugins-baseline/"
  postgres_config baseline 8097 bench_baseline "$WORK/plugins-baseline"
  "$BASELINE/.build/release/plugboard" migrate --config "$WORK/baseline.yaml"
  "$BASELINE/.build/release/plugboard" serve --config "$WORK/baseline.yaml" > "$WORK/baseline.log" 2>&1 & PIDS+=($!)
  wait_for 8097
fi
.build/release/plugboard serve --config "$WORK/sqlite.yaml" > "$WORK/sqlite.log" 2>&1 & PIDS+=($!)
# The direct query filters by owner itself, so it logs in as a role row-level security does not apply to.
.build/release/bench-raw-query 8095 "postgres://postgres@$PG" alice > "$WORK/raw.log" 2>&1 & PIDS+=($!)
for port in 8094 8095 8096; do wait_for "$port"; done
RSS_REST=$(rss_kb "$PLUGBOARD_PID")

PAGE='{"limit":20} "Alice project 20"'
# Arguments may hold no spaces (the target lines split on them): \u0020 in the JSON instead.
WRITE='{"sql":"UPDATE\u0020projects\u0020SET\u0020status\u0020=\u0020status\u0020WHERE\u0020id\u0020=\u00201"} "rows_affected":1'
TARGETS=(
  "plugboard-pg http://127.0.0.1:8094/mcp list_projects $PAGE"
  "raw-postgresnio http://127.0.0.1:8095/mcp list_projects $PAGE"
  "raw-prepared http://127.0.0.1:8095/mcp-prepared list_projects $PAGE"
  "plugboard-sqlite http://127.0.0.1:8096/mcp list_projects $PAGE"
  "plugboard-pg-write http://127.0.0.1:8094/mcp write_sql $WRITE"
)
SHOWN=(plugboard-pg raw-postgresnio raw-prepared plugboard-sqlite plugboard-pg-write)
if [ -n "${BASELINE:-}" ]; then
  TARGETS+=("baseline-pg http://127.0.0.1:8097/mcp list_projects $PAGE" "baseline-pg-write http://127.0.0.1:8097/mcp write_sql $WRITE")
  SHOWN+=(baseline-pg baseline-pg-write)
fi
measure "$CONNECTIONS" "$SECONDS_PER_RUN" "$RUNS" "$OUT" "${TARGETS[@]}"
RSS_LOAD=$(rss_kb "$PLUGBOARD_PID")
{
  echo
  echo "list_projects (20 rows), $CONNECTIONS connections, ${RUNS}x${SECONDS_PER_RUN}s per target, medians ($(nproc) cores, $(date -u +%F)); baseline raw-postgresnio"
  table raw-postgresnio "${SHOWN[@]}"
  echo "plugboard (PostgreSQL) RSS: $RSS_REST kB at rest, $RSS_LOAD kB after the runs"
} | tee -a "$OUT"
echo "full wrk output: $OUT"
