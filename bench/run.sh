#!/usr/bin/env bash
# Benchmark: Plugboard tools/call against a raw Hummingbird route doing the same JSON-RPC
# decode/encode, and against the official Python MCP SDK, all measured in the same run with wrk
# on loopback. Not part of the test suite. Usage: bench/run.sh [seconds-per-run] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
RUNS=${2:-3}
CONNECTIONS=16
RESULTS=bench/results
mkdir -p "$RESULTS"
OUT="$RESULTS/$(date -u +%Y%m%dT%H%M%SZ).txt"

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q -r Tests/e2e/requirements.txt
fi

echo "building release binaries"
swift build -c release 2>&1 | grep -E "error|Compiling|Build complete" | tail -2

WORK=$(mktemp -d)
cat > "$WORK/config.yaml" <<YAML
server: { listen: 127.0.0.1:8090 }
auth: { mode: none, local_owner: bench }
plugins: { folder: $PWD/Plugins, library_path: [$PWD/.build/release], state_dir: $WORK/state }
logging: { level: warning }
YAML

# The same plugins, isolated in worker processes, to measure what isolation costs per call.
sed -e 's/8090/8093/' -e 's|state_dir: \(.*\) }|state_dir: \1-isolated, isolation: { demo: process, echo_c: process } }|' "$WORK/config.yaml" > "$WORK/isolated.yaml"

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
.build/release/plugboard serve --config "$WORK/config.yaml" > "$WORK/plugboard.log" 2>&1 & PIDS+=($!); PLUGBOARD_PID=$!
.build/release/plugboard serve --config "$WORK/isolated.yaml" > "$WORK/isolated.log" 2>&1 & PIDS+=($!)
.build/release/bench-raw-route 8091 > "$WORK/raw.log" 2>&1 & PIDS+=($!)
.venv/bin/python bench/python_peer.py 8092 > "$WORK/python.log" 2>&1 & PIDS+=($!)
for port in 8090 8091 8092 8093; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
RSS_REST=$(rss "$PLUGBOARD_PID")

# name url tool
TARGETS=(
  "plugboard-swift http://127.0.0.1:8090/mcp say"
  "plugboard-c http://127.0.0.1:8090/mcp echo"
  "isolated-swift http://127.0.0.1:8093/mcp say"
  "isolated-c http://127.0.0.1:8093/mcp echo"
  "raw-hummingbird http://127.0.0.1:8091/mcp say"
  "python-sdk http://127.0.0.1:8092/mcp say"
)
declare -A RPS P50 P99
for target in "${TARGETS[@]}"; do  # warm up every server once
  read -r name url tool <<<"$target"
  TOOL=$tool wrk -t2 -c$CONNECTIONS -d2s -s bench/tools_call.lua "$url" > /dev/null
done
for run in $(seq "$RUNS"); do      # interleave the runs so drift hits every target alike
  for target in "${TARGETS[@]}"; do
    read -r name url tool <<<"$target"
    report=$(TOOL=$tool wrk -t2 -c$CONNECTIONS -d"${SECONDS_PER_RUN}s" --latency -s bench/tools_call.lua "$url")
    echo "== $name run $run" >> "$OUT"
    echo "$report" >> "$OUT"
    failures=$(awk '/^failures:/ {print $2}' <<<"$report")
    [ "$failures" = "0" ] || { echo "$name: $failures failed responses (see $OUT)"; exit 1; }
    RPS[$name]+="$(awk '/Requests\/sec/ {print $2}' <<<"$report") "
    P50[$name]+="$(awk '$1 == "50%" {print $2}' <<<"$report") "
    P99[$name]+="$(awk '$1 == "99%" {print $2}' <<<"$report") "
  done
done
RSS_LOAD=$(rss "$PLUGBOARD_PID")

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; printf "%.2f", v}'; }
RAW=$(echo "${RPS[raw-hummingbird]}" | median)
{
  echo
  echo "tools/call, $CONNECTIONS connections, ${RUNS}x${SECONDS_PER_RUN}s per target, medians ($(nproc) cores, $(date -u +%F))"
  printf "%-17s %12s %10s %10s %14s\n" target "req/s" "p50 ms" "p99 ms" "vs raw route"
  for target in "${TARGETS[@]}"; do
    read -r name _ _ <<<"$target"
    rps=$(echo "${RPS[$name]}" | median)
    p50=$(for v in ${P50[$name]}; do echo "$v" | to_ms; echo; done | median)
    p99=$(for v in ${P99[$name]}; do echo "$v" | to_ms; echo; done | median)
    printf "%-17s %12.0f %10s %10s %13.0f%%\n" "$name" "$rps" "$p50" "$p99" "$(awk -v a="$rps" -v b="$RAW" 'BEGIN {print 100*a/b}')"
  done
  echo "plugboard RSS: $RSS_REST at rest, $RSS_LOAD after the runs"
} | tee -a "$OUT"
echo "full wrk output: $OUT"
