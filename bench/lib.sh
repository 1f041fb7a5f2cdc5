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

# median: of the whitespace-separated numbers on stdin; empty when there are none (all runs dropped).
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END {if (NR > 0) print a[int((NR+1)/2)]}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; printf "%.2f", v}'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for PORT: until something answers HTTP there (10 s at most).
wait_for() {
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done
  echo "nothing answers on port $1" >&2
  exit 1
}

# steal_sample: "steal total" in jiffies, summed over all CPUs (/proc/stat; guest time is already
# counted in user time, so fields 2-9 are the total).
steal_sample() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print $9, t}' /proc/stat; }
# cpu_ticks PID: the process's utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
CLOCK_TICKS=$(getconf CLK_TCK)

# measure CONNECTIONS SECONDS RUNS OUT TARGET...: each target is "name url TOOL ARGUMENTS EXPECT"
# (ARGUMENTS without spaces). Warms every target up, then interleaves the runs so drift hits every
# target alike. Fills RPS, P50 and P99 (space-separated samples per target name); stops on any
# failed response. A run during which the hypervisor stole more than STEAL_LIMIT % of the CPU time
# is discarded (counted in DROPPED). With SERVER_PID[name] set, CPU_US gets the server's CPU time
# per request, in µs.
# AUTHORIZATION[name] is the Authorization header sent to that target, if any; WRK_PREFIX runs
# wrk under a command (the pinned mode's taskset).
declare -A RPS P50 P99 AUTHORIZATION SERVER_PID CPU_US DROPPED
STEAL_LIMIT=${STEAL_LIMIT:-5}
WRK_PREFIX=${WRK_PREFIX:-}
measure() {
  local connections=$1 seconds=$2 runs=$3 out=$4
  shift 4
  local target name url tool arguments expect report failures steal_before steal_after steal cpu_before cpu_after requests pid
  for target in "$@"; do
    read -r name url tool arguments expect <<<"$target"
    TOOL=$tool ARGUMENTS=$arguments EXPECT=$expect $WRK_PREFIX wrk -t2 -c"$connections" -d2s -s bench/tools_call.lua "$url" > /dev/null
  done
  for run in $(seq "$runs"); do
    for target in "$@"; do
      read -r name url tool arguments expect <<<"$target"
      pid=${SERVER_PID[$name]:-}
      steal_before=$(steal_sample)
      [ -z "$pid" ] || cpu_before=$(cpu_ticks "$pid")
      report=$(AUTHORIZATION=${AUTHORIZATION[$name]:-} TOOL=$tool ARGUMENTS=$arguments EXPECT=$expect $WRK_PREFIX wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/tools_call.lua "$url")
      [ -z "$pid" ] || cpu_after=$(cpu_ticks "$pid")
      steal_after=$(steal_sample)
      steal=$(awk -v a="$steal_before" -v b="$steal_after" 'BEGIN {split(a, x, " "); split(b, y, " "); d = y[2] - x[2]; printf "%.1f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}')
      { echo "== $name run $run (steal $steal%)"; echo "$report"; } >> "$out"
      failures=$(awk '/^failures:/ {print $2}' <<<"$report")
      [ "$failures" = "0" ] || { echo "$name: $failures failed responses (see $out)"; exit 1; }
      if awk -v s="$steal" -v l="$STEAL_LIMIT" 'BEGIN {exit !(s > l)}'; then
        echo "$name run $run: discarded, the hypervisor stole $steal% of the CPU time" | tee -a "$out"
        DROPPED[$name]=$((${DROPPED[$name]:-0} + 1))
        continue
      fi
      RPS[$name]+="$(awk '/Requests\/sec/ {print $2}' <<<"$report") "
      P50[$name]+="$(awk '$1 == "50%" {print $2}' <<<"$report") "
      P99[$name]+="$(awk '$1 == "99%" {print $2}' <<<"$report") "
      if [ -n "$pid" ]; then
        requests=$(awk '/requests in/ {print $1}' <<<"$report")
        CPU_US[$name]+="$(awk -v t=$((cpu_after - cpu_before)) -v hz="$CLOCK_TICKS" -v n="$requests" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}') "
      fi
    done
  done
}

# table BASELINE NAME...: medians (of the runs kept) per target, the ratio of requests/s to
# BASELINE's, the server's CPU µs per call when measured, and the runs kept and discarded.
table() {
  local baseline name rps p50 p99 cpu kept
  baseline=$(echo "${RPS[$1]:-}" | median)
  shift
  printf "%-17s %12s %10s %10s %14s %12s %14s\n" target "req/s" "p50 ms" "p99 ms" "vs baseline" "cpu µs/call" "kept/dropped"
  for name in "$@"; do
    kept=$(echo "${RPS[$name]:-}" | wc -w)
    if [ "$kept" = 0 ]; then
      printf "%-17s %12s %10s %10s %14s %12s %14s\n" "$name" - - - - - "0/${DROPPED[$name]:-0}"
      continue
    fi
    rps=$(echo "${RPS[$name]}" | median)
    p50=$(for v in ${P50[$name]}; do echo "$v" | to_ms; echo; done | median)
    p99=$(for v in ${P99[$name]}; do echo "$v" | to_ms; echo; done | median)
    cpu=$(echo "${CPU_US[$name]:-}" | median)
    printf "%-17s %12.0f %10s %10s %13.0f%% %12s %14s\n" "$name" "$rps" "$p50" "$p99" "$(awk -v a="$rps" -v b="${baseline:-0}" 'BEGIN {print (b > 0 ? 100*a/b : 0)}')" \
      "${cpu:--}" "$kept/${DROPPED[$name]:-0}"
  done
}
