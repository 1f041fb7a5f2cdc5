#!/usr/bin/env bash
# Instructions per call of a call's deadline (bench/DeadlineTimers): DeadlineQueue, the one
# CallRegistry uses, against a Task.sleep child per call. Counted by callgrind on a stripped binary
# (valgrind cannot read this toolchain's debug info), as the difference between two call counts so
# that start-up cancels out. Usage: bench/deadline_timers.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${1:-100000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
swiftc -O -module-name DeadlineTimers Sources/PlugboardPlugins/Channel/DeadlineQueue.swift bench/DeadlineTimers/main.swift -o "$WORK/deadline-timers" 2>&1 | grep -v warning || true
strip "$WORK/deadline-timers"
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$WORK/out" "$WORK/deadline-timers" "$1" "$2" > /dev/null 2> "$WORK/log"
  awk '/^summary:/ {print $2}' "$WORK/out"
}
printf "%-6s %18s\n" mode "instructions/call"
for mode in none queue task; do
  small=$(instructions "$mode" 1000)
  large=$(instructions "$mode" $((CALLS + 1000)))
  printf "%-6s %18.0f\n" "$mode" "$(awk -v a="$small" -v b="$large" -v n="$CALLS" 'BEGIN {print (b - a) / n}')"
done
