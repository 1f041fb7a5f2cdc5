# Shared by the benchmark scripts (sourced): tools, process bookkeeping, wrk runs and the table.

command -v wrk >/dev/null || { echo "installing wrk"; apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }

WORK=$(mktemp -d)
PIDS=()
CLEANUPS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for step in "${CLEANUPS[@]}"; do eval "$step"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; printf "%.2f", v}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for PORT: until something answers HTTP there (10 s at most).
wait_for() {
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done
  echo "nothing answers on port $1" >&2
  exit 1
}

# measure CONNECTIONS SECONDS RUNS OUT TARGET...: each target is "name url TOOL ARGUMENTS EXPECT"
# (ARGUMENTS without spaces). Warms every target up, then interleaves the runs so drift hits every
# target alike. Fills RPS, P50 and P99 (space-separated samples per target name); stops on any
# failed response.
# AUTHORIZATION[name] is the Authorization header sent to that target, if any.
declare -A RPS P50 P99 AUTHORIZATION
measure() {
  local connections=$1 seconds=$2 runs=$3 out=$4
  shift 4
  local target name url tool arguments expect report failures
  for target in "$@"; do
    read -r name url tool arguments expect <<<"$target"
    TOOL=$tool ARGUMENTS=$arguments EXPECT=$expect wrk -t2 -c"$connections" -d2s -s bench/tools_call.lua "$url" > /dev/null
  done
  for run in $(seq "$runs"); do
    for target in "$@"; do
      read -r name url tool arguments expect <<<"$target"
      report=$(AUTHORIZATION=${AUTHORIZATION[$name]:-} TOOL=$tool ARGUMENTS=$arguments EXPECT=$expect wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/tools_call.lua "$url")
      { echo "== $name run $run"; echo "$report"; } >> "$out"
      failures=$(awk '/^failures:/ {print $2}' <<<"$report")
      [ "$failures" = "0" ] || { echo "$name: $failures failed responses (see $out)"; exit 1; }
      RPS[$name]+="$(awk '/Requests\/sec/ {print $2}' <<<"$report") "
      P50[$name]+="$(awk '$1 == "50%" {print $2}' <<<"$report") "
      P99[$name]+="$(awk '$1 == "99%" {print $2}' <<<"$report") "
    done
  done
}

# table BASELINE NAME...: medians per target and the ratio of requests/s to BASELINE's.
table() {
  local baseline name rps p50 p99
  baseline=$(echo "${RPS[$1]}" | median)
  shift
  printf "%-17s %12s %10s %10s %14s\n" target "req/s" "p50 ms" "p99 ms" "vs baseline"
  for name in "$@"; do
    rps=$(echo "${RPS[$name]}" | median)
    p50=$(for v in ${P50[$name]}; do echo "$v" | to_ms; echo; done | median)
    p99=$(for v in ${P99[$name]}; do echo "$v" | to_ms; echo; done | median)
    printf "%-17s %12.0f %10s %10s %13.0f%%\n" "$name" "$rps" "$p50" "$p99" "$(awk -v a="$rps" -v b="$baseline" 'BEGIN {print 100*a/b}')"
  done
}
