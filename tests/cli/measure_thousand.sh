#!/usr/bin/env bash
# What 1,000 idle actor instances cost on this host: launch-to-ready time,
# RSS and PSS per actor (from /proc/PID/smaps_rollup), the supervisor's RSS
# and open descriptors. Runs the CLI tests' thousand-instance graph in a
# private runs directory, measures once it has been idle for a few seconds,
# stops it and checks that nothing is left.
#
#   tests/cli/measure_thousand.sh [BUILD_DIR]     (default: build)
#
# Run it as the user who will run graphs: the numbers are for this kernel,
# this build type and this machine's load.
set -euo pipefail

build=${1:-build}
procactor=$build/bin/procactor
graph=$build/tests/cli/graphs/thousand.toml
for file in "$procactor" "$graph"; do
  [ -e "$file" ] || { echo "missing $file: build the tree first" >&2; exit 2; }
done

runs=$(mktemp -d)
export PROCACTOR_STATE_DIR=$runs/state
export NO_COLOR=1
run_dir=$PROCACTOR_STATE_DIR/thousand
cleanup() {
  "$procactor" stop thousand >/dev/null 2>&1 || true
  rm -rf "$runs"
}
trap cleanup EXIT

"$procactor" launch --detach "$graph" >/dev/null
# The ready line is the launcher's own measure, from before the first spawn
# to the last instance running.
for _ in $(seq 1800); do
  grep -q ' actors ready in ' "$run_dir/run.log" 2>/dev/null && break
  sleep 0.5
done
ready=$(grep -o '[0-9]* actors ready in [0-9.]* ms' "$run_dir/run.log") || { echo "never ready" >&2; exit 1; }
sleep 5

supervisor=$(cat "$run_dir/supervisor.pid")
pids=$("$procactor" status thousand --json | python3 -c '
import json, sys
print(" ".join(str(r["pid"]) for r in json.load(sys.stdin)["actors"] if r["pid"] > 0))')

# kB per actor, from each one's smaps_rollup: min / median / mean / max.
python3 - $pids <<'PY'
import statistics, sys
rss, pss = [], []
for pid in sys.argv[1:]:
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                fields[parts[0]] = int(parts[1])
    rss.append(fields["Rss:"])
    pss.append(fields["Pss:"])
def line(name, values):
    print(f"{name:<21}min {min(values)} kB, median {statistics.median(values):.0f} kB, "
          f"mean {statistics.mean(values):.0f} kB, max {max(values)} kB")
print(f"actors measured:     {len(rss)}")
line("RSS per actor:", rss)
line("PSS per actor:", pss)
print(f"PSS of all actors:   {sum(pss) / 1024:.1f} MiB")
PY
echo "launch to ready:     $ready"
echo "supervisor RSS:      $(awk '/^VmRSS:/ {print $2, $3}' "/proc/$supervisor/status")"
echo "supervisor PSS:      $(awk '/^Pss:/ {print $2, $3}' "/proc/$supervisor/smaps_rollup")"
echo "supervisor open fds: $(ls "/proc/$supervisor/fd" | wc -l)"
echo "supervisor threads:  $(awk '/^Threads:/ {print $2}' "/proc/$supervisor/status")"

"$procactor" stop thousand >/dev/null
# `stop` returns once the supervisor has exited; zombies waiting for their
# reaper are not left over.
alive=$(ps -o stat= -p "$supervisor,${pids// /,}" 2>/dev/null | grep -vc '^Z' || true)
left=$(ls /dev/shm | grep -c "^procactor-$supervisor-" || true)
echo "left after stop:     $alive processes, $left /dev/shm segments"
