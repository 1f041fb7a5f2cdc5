#!/usr/bin/env bash
# Hot-reload benchmark: how long a reload takes from trigger to the new generation serving,
# requests/s during a reload storm against steady state, and RSS after 100 reloads (each of a
# distinct library build, the worst case: every one is mapped for good), in process and isolated.
# Usage: bench/reload.sh   (release build; not part of the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
swift build -c release 2>&1 | grep -E "error|Build complete" | tail -1
BIN=$PWD/.build/release

# start NAME PORT ISOLATION: a server with the demo plugin and `versioned` (library next to its manifest).
start() {
  local name=$1 port=$2 isolation=$3 dir="$WORK/$1"
  mkdir -p "$dir/plugins/versioned" "$dir/plugins/demo"
  cp Plugins/demo/manifest.yaml "$dir/plugins/demo/"
  cp "$BIN/libfixture_versioned_v1.so" "$dir/plugins/versioned/libversioned.so"
  cat > "$dir/plugins/versioned/manifest.yaml" <<YAML
plugin: versioned
library: libversioned.so
isolation: $isolation
tools:
  - { name: answer, handler: versioned.answer, description: Says which build answers. }
YAML
  cat > "$dir/config.yaml" <<YAML
server: { listen: 127.0.0.1:$port }
plugins: { folder: $dir/plugins, library_path: [$BIN], state_dir: $dir/state }
logging: { level: warning }
YAML
  "$BIN/plugboard" serve --config "$dir/config.yaml" > "$dir/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
}

# Distinct builds, made up front so the measurements do not pay for them: the v1/v2 library plus
# N trailing bytes (ignored by the loader) is a new digest, so a new image to map.
mkdir -p "$WORK/builds"
for i in $(seq 1 299); do
  { cat "$BIN/libfixture_versioned_v$(( i % 2 + 1 )).so"; printf '%08d' "$i"; } > "$WORK/builds/$i.so"
done

# install NAME N: drop build N in the way users should: next to the target, then rename.
install() {
  local dir="$WORK/$1/plugins/versioned"
  cp "$WORK/builds/$2.so" "$dir/.libversioned.so.tmp"
  mv "$dir/.libversioned.so.tmp" "$dir/libversioned.so"
}

reload_ms() { "$BIN/plugboard" reload --json --config "$WORK/$1/config.yaml" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["applied"], d; print(d["duration_ms"])'; }

start inproc 8190 in_process
start isolated 8191 process
INPROC_PID=${PIDS[0]}
ISOLATED_PID=${PIDS[1]}

echo "== reload latency (trigger to new generation serving, debounce excluded), 40 reloads each"
for kind in inproc isolated; do
  for i in $(seq 40); do install $kind $i; reload_ms $kind; done > "$WORK/$kind.latency"
  printf "%-9s changed library: median %s ms, max %s ms\n" $kind "$(median < "$WORK/$kind.latency")" "$(sort -g "$WORK/$kind.latency" | tail -1)"
done
for i in $(seq 20); do reload_ms inproc; done > "$WORK/unchanged.latency"
echo "inproc    nothing changed (all carried over): median $(median < "$WORK/unchanged.latency") ms"

echo "== requests/s on 'say' (demo, carried over) during a reload storm, 16 connections, 10 s each"
steady=$(TOOL=say wrk -t2 -c16 -d10s -s bench/tools_call.lua http://127.0.0.1:8190/mcp | awk '/Requests\/sec/ {print $2}')
# A new build every 250 ms, reloaded by SIGHUP (no CLI process competing for the two cores).
( for i in $(seq 100 139); do install inproc $i; kill -HUP "$INPROC_PID"; sleep 0.25; done ) &
STORM=$!
storm_report=$(TOOL=say wrk -t2 -c16 -d10s -s bench/tools_call.lua http://127.0.0.1:8190/mcp)
wait $STORM
storm=$(awk '/Requests\/sec/ {print $2}' <<<"$storm_report")
failures=$(awk '/^failures:/ {print $2}' <<<"$storm_report")
echo "steady $steady req/s; during reloads every ~250 ms $storm req/s ($(awk -v a="$storm" -v b="$steady" 'BEGIN {printf "%.0f", 100*a/b}')%); failed responses during the storm: $failures"

echo "== RSS after 100 more reloads of distinct builds"
for kind in inproc isolated; do
  pid=$([ $kind = inproc ] && echo "$INPROC_PID" || echo "$ISOLATED_PID")
  before=$(rss_kb "$pid")
  for i in $(seq 200 299); do install $kind "$i"; reload_ms $kind > /dev/null; done
  sleep 1
  after=$(rss_kb "$pid")
  echo "$kind: host RSS ${before} kB -> ${after} kB: $(( (after - before) / 100 )) kB per reload"
done
