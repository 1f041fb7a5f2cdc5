#!/usr/bin/env bash
# Benchmark: Plugboard tools/call against a raw Hummingbird route doing the same JSON-RPC
# decode/encode, and against the official Python MCP SDK, all measured in the same run with wrk
# on loopback. Not part of the test suite. Usage: bench/run.sh [seconds-per-run] [runs] [pinned]
# pinned: every server on CPU 0 and wrk on CPU 1 (taskset), so that load generator and server do
# not compete for a core. Runs with hypervisor steal above STEAL_LIMIT (5) % are discarded and
# counted; the table has medians of the runs kept and the server's CPU µs per call.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SECONDS_PER_RUN=${1:-10}
RUNS=${2:-3}
PINNED=${3:-}
SERVER_PREFIX=
if [ "$PINNED" = pinned ]; then
  [ "$(nproc)" -ge 2 ] || { echo "pinned mode needs two CPUs" >&2; exit 1; }
  SERVER_PREFIX="taskset -c 0"
  WRK_PREFIX="taskset -c 1"
elif [ -n "$PINNED" ]; then
  echo "usage: bench/run.sh [seconds-per-run] [runs] [pinned]" >&2
  exit 1
fi
CONNECTIONS=16
mkdir -p bench/results
OUT="bench/results/$(date -u +%Y%m%dT%H%M%SZ).txt"

[ -x .venv/bin/python ] || scripts/setup-venv
echo "building release binaries"
swift build -c release 2>&1 | grep -E "error|Build complete" | tail -2

cat > "$WORK/config.yaml" <<YAML
server: { listen: 127.0.0.1:8090 }
auth: { mode: none, local_owner: bench }
plugins: { folder: $PWD/Plugins, library_path: [$PWD/.build/release], state_dir: $WORK/state }
logging: { level: warning }
YAML
# The same plugins behind the built-in OAuth server: every call carries a bearer token.
sed -e 's/8090/8097/' -e 's/auth: .*/auth: { mode: oauth }/' -e 's|state_dir: \(.*\) }|state_dir: \1-oauth }|' "$WORK/config.yaml" > "$WORK/oauth.yaml"
echo "database: { url: \"sqlite:$WORK/oauth.db\" }" >> "$WORK/oauth.yaml"
# The same plugins, isolated in worker processes, to measure what isolation costs per call.
sed -e 's/8090/8093/' -e 's|state_dir: \(.*\) }|state_dir: \1-isolated, isolation: { demo: process, echo_c: process } }|' "$WORK/config.yaml" > "$WORK/isolated.yaml"

# taskset execs the command, so $! is the server itself, whose CPU time measure() reads from /proc
# (isolated-*: the host process only, not its workers).
$SERVER_PREFIX .build/release/plugboard serve --config "$WORK/config.yaml" > "$WORK/plugboard.log" 2>&1 & PIDS+=($!); PLUGBOARD_PID=$!
SERVER_PID[plugboard-swift]=$! SERVER_PID[plugboard-c]=$!
$SERVER_PREFIX .build/release/plugboard serve --config "$WORK/isolated.yaml" > "$WORK/isolated.log" 2>&1 & PIDS+=($!)
SERVER_PID[isolated-swift]=$! SERVER_PID[isolated-c]=$!
$SERVER_PREFIX .build/release/plugboard serve --config "$WORK/oauth.yaml" > "$WORK/oauth.log" 2>&1 & PIDS+=($!)
SERVER_PID[plugboard-oauth]=$!
$SERVER_PREFIX .build/release/bench-raw-route 8091 > "$WORK/raw.log" 2>&1 & PIDS+=($!)
SERVER_PID[raw-hummingbird]=$!
$SERVER_PREFIX .venv/bin/python bench/python_peer.py 8092 > "$WORK/python.log" 2>&1 & PIDS+=($!)
SERVER_PID[python-sdk]=$!
for port in 8090 8091 8092 8093 8097; do wait_for "$port"; done
echo "bench-password" | .build/release/plugboard user add bench --password-stdin --config "$WORK/oauth.yaml" > /dev/null
AUTHORIZATION[plugboard-oauth]="Bearer $(.build/release/plugboard token create --user bench --scopes "mcp projects:read meetings:read" --config "$WORK/oauth.yaml" 2> /dev/null)"
RSS_REST=$(rss_kb "$PLUGBOARD_PID")

HELLO='{"text":"hello"} "hello"'
TARGETS=(
  "plugboard-swift http://127.0.0.1:8090/mcp say $HELLO"
  "plugboard-oauth http://127.0.0.1:8097/mcp say $HELLO"
  "plugboard-c http://127.0.0.1:8090/mcp echo $HELLO"
  "isolated-swift http://127.0.0.1:8093/mcp say $HELLO"
  "isolated-c http://127.0.0.1:8093/mcp echo $HELLO"
  "raw-hummingbird http://127.0.0.1:8091/mcp say $HELLO"
  "python-sdk http://127.0.0.1:8092/mcp say $HELLO"
)
measure "$CONNECTIONS" "$SECONDS_PER_RUN" "$RUNS" "$OUT" "${TARGETS[@]}"
RSS_LOAD=$(rss_kb "$PLUGBOARD_PID")
{
  echo
  echo "tools/call, $CONNECTIONS connections, ${RUNS}x${SECONDS_PER_RUN}s per target, medians of the runs kept ($(nproc) cores${PINNED:+, pinned: server CPU 0, wrk CPU 1}, runs with steal > $STEAL_LIMIT% dropped, $(date -u +%F)); baseline raw-hummingbird"
  table raw-hummingbird plugboard-swift plugboard-oauth plugboard-c isolated-swift isolated-c raw-hummingbird python-sdk
  echo "plugboard-oauth vs plugboard-swift (the cost of verifying a bearer token): $(awk -v a="$(echo "${RPS[plugboard-oauth]:-}" | median)" -v b="$(echo "${RPS[plugboard-swift]:-}" | median)" 'BEGIN {if (b > 0) printf "%.0f%%", 100*a/b; else printf "-"}')"
  echo "plugboard RSS: $RSS_REST kB at rest, $RSS_LOAD kB after the runs"
} | tee -a "$OUT"
echo "full wrk output: $OUT"
