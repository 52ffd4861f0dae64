#!/usr/bin/env bash
# `procactor launch` of a graph whose [cluster] says launcher = "srun", on
# a private Slurm cluster of one node (this machine) that this script
# starts and stops itself, run by ctest (tests/cluster/CMakeLists.txt):
#
#   run_slurm.sh launch PROCACTOR GRAPH EXAMPLE_PRIMES
#       a primes graph on nodes n0 and n1 (tests/cluster/graphs/
#       primes_srun.toml.in): `procactor launch` must exit 0, the sink print
#       the count of EXAMPLE_PRIMES for the graph's range, each node finish
#       the graph and record exit code 0 in its run directory
#   run_slurm.sh interrupt PROCACTOR GRAPH
#       an endless graph on n0 and n1 (endless_srun.toml.in); once it is
#       ready, `procactor status RUN --json` must show its 4 instances
#       running, 2 on each node; then SIGINT to `procactor launch` (a
#       Ctrl-C): it must exit 0, both nodes having stopped the graph, and no
#       actor ended by a signal (srun must not have signalled the actors:
#       the launcher passes the stop to node 0 as a request)
#   run_slurm.sh node-killed PROCACTOR GRAPH
#       the endless graph; once it is ready, node n1's `procactor node` is
#       killed with SIGKILL: `procactor launch` must end, non-zero, within
#       30 s (the seconds it took are printed, with the target: 5 s)
#
# In GRAPH, @HOST@ stands for this machine's short hostname (`hostname -s`),
# the one node of the private Slurm; the run uses a copy with it replaced.
#
# The private Slurm: its own munged (own socket and a fresh key), slurmctld
# and slurmd on free ports, its configuration, state, spool, logs and
# TmpFS all in a temporary directory, as is the runs' PROCACTOR_STATE_DIR and
# TMPDIR; its job ids start at this script's pid, so that what PMIx and
# Open MPI name after the job (vader_segment.* in /dev/shm) differs from
# another Slurm's on this host. Nothing of it is exported to this script's
# own environment (each command gets its variables), so that any process
# whose environment or command line names that directory is one of this
# run's. A Slurm already running on this machine is neither used nor
# touched.
#
# Exit status 77 (the tests' SKIP_RETURN_CODE) where the private Slurm
# cannot be had: not root (slurmd runs the tasks as their user, and a
# SlurmUser other than root needs one set up), srun, slurmctld, slurmd or
# munged not installed, or the cluster not up within 30 s (the daemons'
# logs are printed then). Whatever happens, the daemons are stopped and
# the directory removed when this script ends (trap on EXIT, INT and TERM;
# ctest's timeout is SIGKILL, which no trap sees, so the script keeps
# within a deadline of its own, shorter than the test's TIMEOUT, and a run
# starts by removing what a killed run left). A leftover of the run's own
# (a `procactor node`, an actor, a slurmstepd or srun once `procactor
# launch` ended, a segment in /dev/shm of one of its node supervisors)
# fails the test.
set -uo pipefail

readonly skip_status=77
# Below the tests' TIMEOUT (180 s), with room for the cleanup.
readonly script_deadline=150
readonly tmp_base=/tmp/procactor-slurm
readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { echo "run_slurm.sh: $*"; }
skip() {
  say "SKIP: $*"
  exit "$skip_status"
}
fail() {
  say "FAIL: $*"
  failed=1
}
failed=0
now() { date +%s.%N; }
seconds_since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# show_output, wait_for_ready, wait_for_launch_end, expected_primes,
# check_primes_run, show_records (which read out, nodes, graph_name, runs,
# job_pid).
source "$here/launch_checks.sh"

usage() {
  echo "usage: run_slurm.sh launch PROCACTOR GRAPH EXAMPLE_PRIMES" >&2
  echo "       run_slurm.sh interrupt PROCACTOR GRAPH" >&2
  echo "       run_slurm.sh node-killed PROCACTOR GRAPH" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
mode=$1
shift
case "$mode" in
  launch)
    [[ $# -eq 3 ]] || usage
    example_primes=$3
    ;;
  interrupt | node-killed) [[ $# -eq 2 ]] || usage ;;
  *) usage ;;
esac
procactor=$1
graph_template=$2
[[ -x "$procactor" ]] || { say "FAIL: no procactor at $procactor"; exit 1; }
[[ -r "$graph_template" ]] || { say "FAIL: no graph $graph_template"; exit 1; }

# --- Can this machine run a private Slurm? -----------------------------------
[[ "$(id -u)" == 0 ]] || skip "a private Slurm (slurmd, SlurmUser=root) needs root (CI runs these tests as root)"
missing=
for tool in srun sinfo squeue slurmctld slurmd munged; do
  command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || missing+=" $tool"
done
[[ -z "$missing" ]] || skip "Slurm or MUNGE not installed (no$missing; Debian: slurmd slurmctld slurm-client munge)"
for tool in ss awk python3 hostname; do
  command -v "$tool" >/dev/null || skip "no '$tool' command"
done
PATH="$PATH:/usr/sbin:/sbin"
host=$(hostname -s)
[[ -n "$host" ]] || skip "no short hostname"

# The processes whose environment or command line name `needle` (a
# directory of a run, with its trailing /): this script's own commands are
# never among them, as it exports nothing that names it (and the grep
# here has it from a pipe, not on its command line).
pids_naming() {
  grep -lsaF -f <(printf '%s\n' "$1") /proc/[0-9]*/cmdline /proc/[0-9]*/environ |
    sed -nE 's|^/proc/([0-9]+)/.*|\1|p' | sort -un
}

# "comm xN, ..." of some processes.
summarize() {
  [[ $# -gt 0 ]] || return 0
  ps -o comm= -p "$(echo "$@" | tr ' ' ,)" 2>/dev/null | sort | uniq -c |
    awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'
}

# The files in /dev/shm that some processes map or hold open (a node's
# arena, Open MPI's vader_segment.*): what killing them leaves there.
shm_of() {
  local pid
  for pid in "$@"; do
    sed -nE 's|^.* (/dev/shm/[^ ]+)( \(deleted\))?$|\1|p' "/proc/$pid/maps" 2>/dev/null
    find "/proc/$pid/fd" -lname '/dev/shm/*' -printf '%l\n' 2>/dev/null
  done | sort -u
}

describe() {
  [[ $# -gt 0 ]] || return 0
  ps -o pid=,ppid=,comm=,args= -p "$(echo "$@" | tr ' ' ,)" 2>/dev/null | cut -c1-200 | sed 's/^/  /'
}

# The node supervisors' pids, from their run directories (runs root: see
# below); a node's segments are /dev/shm/procactor-<its pid>-... (runtime/
# arena.cpp).
node_pids() {
  cat "$1"/xdg/procactor-*/*-n[0-9]*/supervisor.pid 2>/dev/null
}
node_segments() {
  local pid
  for pid in $(node_pids "$1"); do
    [[ "$pid" =~ ^[0-9]+$ ]] && ls -d "/dev/shm/procactor-$pid-"* 2>/dev/null
  done
}

# --- What a run killed by SIGKILL (ctest's timeout) left ----------------------
# Directories /tmp/procactor-slurm.<PID>.* whose script is gone: every
# process naming them (its daemons, its run) killed, its node supervisors'
# segments and the directory removed.
for dir in "$tmp_base".*; do
  [[ -d "$dir" ]] || continue
  owner=${dir#"$tmp_base".}
  owner=${owner%%.*}
  if [[ "$owner" =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$owner/cmdline" | grep -q run_slurm.sh; then
    continue
  fi
  say "removing what a killed run left: $dir"
  pids=$(pids_naming "$dir/")
  segments=$(node_segments "$dir")
  if [[ -n "$pids" ]]; then
    describe $pids
    segments+=" $(shm_of $pids)"
    kill -KILL $pids 2>/dev/null
  fi
  rm -rf $segments "$dir"
done

# --- Cleanup, whatever happens ------------------------------------------------
tmp=
watchdog=
job_pid=         # `timeout` running `procactor launch`, in the background
munged_pid=
ctld_pid=
slurmd_pid=

# The run's processes: those naming the directory, less the daemons of the
# private Slurm (slurmctld's slurmscriptd is its child).
run_pids() {
  local pid parent
  for pid in $(pids_naming "$tmp/"); do
    [[ "$pid" != "$munged_pid" && "$pid" != "$ctld_pid" && "$pid" != "$slurmd_pid" ]] || continue
    parent=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')
    [[ -z "$ctld_pid" || "$parent" != "$ctld_pid" ]] || continue
    echo "$pid"
  done
}

# Ends a daemon: SIGTERM, then SIGKILL after `grace` seconds.
stop_daemon() {
  local name=$1 pid=$2 grace=$3 deadline
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) did not end on SIGTERM within $grace s: killed"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}

cleanup() {
  local status=$? pids leftovers deadline
  trap '' INT TERM
  trap - EXIT
  if [[ -n "$watchdog" ]]; then
    kill $(ps -o pid= --ppid "$watchdog" 2>/dev/null) "$watchdog" 2>/dev/null
    wait "$watchdog" 2>/dev/null
  fi
  if [[ -n "$job_pid" ]] && kill -0 "$job_pid" 2>/dev/null; then
    # Interrupted: `timeout` passes SIGTERM on to `procactor launch`, a
    # stop request; 15 s for it, then what is left is killed below.
    say "stopping procactor launch"
    kill -TERM "$job_pid" 2>/dev/null
    deadline=$((SECONDS + 15))
    while kill -0 "$job_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -0 "$job_pid" 2>/dev/null && kill -KILL "$job_pid" 2>/dev/null
  fi
  if [[ -n "$tmp" ]]; then
    # Anything of the run still there is killed; it is a leftover when the
    # run itself ended well (the modes wait for the run to end first).
    # Interrupted, what was ending (a slurmstepd) gets 10 s more first.
    if ((status != 0)); then
      deadline=$((SECONDS + 10))
      while [[ -n "$(run_pids)" ]] && ((SECONDS < deadline)); do sleep 0.2; done
    fi
    pids=$(run_pids)
    leftovers=
    if [[ -n "$pids" ]]; then
      ((status != 0)) || status=1
      say "leftover processes of the run:"
      describe $pids
      leftovers=$(shm_of $pids | grep -v '^/dev/shm/procactor-')
      kill -KILL $pids 2>/dev/null
      sleep 0.2
      [[ -z "$leftovers" ]] || { say "removing what they had in /dev/shm: $(echo $leftovers)"; rm -f $leftovers; }
    fi
    leftovers=$(node_segments "$tmp")
    if [[ -n "$leftovers" ]]; then
      ((status != 0)) || status=1
      say "leftover segments in /dev/shm: $(echo $leftovers)"
      rm -f $leftovers
    fi
    # The private Slurm, then MUNGE, which the daemons use to the last.
    stop_daemon slurmd "$slurmd_pid" 10
    stop_daemon slurmctld "$ctld_pid" 10
    stop_daemon munged "$munged_pid" 5
    pids=$(pids_naming "$tmp/")
    if [[ -n "$pids" ]]; then
      ((status != 0)) || status=1
      say "processes of the private Slurm still running after it was stopped:"
      describe $pids
      kill -KILL $pids 2>/dev/null
    fi
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# The deadline of the whole script: SIGTERM to itself, which the trap
# turns into the cleanup. The watchdog ends by itself once the script is
# gone (killed: it is then no longer its parent), never signalling a pid
# that may have been reused.
(
  for ((left = script_deadline; left > 0; left--)); do
    sleep 1
    [[ "$(ps -o ppid= -p "$BASHPID" | tr -d ' ')" == "$$" ]] || exit 0
  done
  echo "run_slurm.sh: FAIL: still running after $script_deadline s"
  kill -TERM $$
) &
watchdog=$!

# --- The private Slurm ----------------------------------------------------------
tmp=$(mktemp -d "$tmp_base.$$.XXXXXX") || exit 1
chmod 700 "$tmp"
mkdir -m 700 "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/tmpfs" "$tmp/xdg" "$tmp/tmp"
conf="$tmp/slurm.conf"

# Two free TCP ports: none listening there now (on any address).
listening=" $(ss -Htln | awk '{ n = split($4, a, ":"); printf "%s ", a[n] }')"
ports=()
for ((port = 20000 + RANDOM % 20000; ${#ports[@]} < 2; port++)); do
  [[ "$listening" == *" $port "* ]] || ports+=("$port")
done

# MUNGE, with a key of its own, on a socket of its own.
head -c 1024 /dev/urandom >"$tmp/munge.key" && chmod 400 "$tmp/munge.key" || exit 1
munged --foreground --force --socket="$tmp/munge.sock" --pid-file="$tmp/munged.pid" \
  --seed-file="$tmp/munge.seed" --log-file="$tmp/log/munged.log" --key-file="$tmp/munge.key" \
  >>"$tmp/log/munged.log" 2>&1 &
munged_pid=$!

cat >"$conf" <<EOF
ClusterName=ptest$$
FirstJobId=$$
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$tmp/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
TmpFS=$tmp/tmpfs
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF

# What every Slurm command here runs with: this configuration, and none of
# the variables of a Slurm job this script might run inside of.
slurm_env=(env $(env | sed -nE 's/^(SLURM_[A-Za-z0-9_]*)=.*/-u \1/p') SLURM_CONF="$conf")
"${slurm_env[@]}" slurmctld -D -f "$conf" >>"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
"${slurm_env[@]}" slurmd -D -f "$conf" >>"$tmp/log/slurmd.out" 2>&1 &
slurmd_pid=$!

# Waits for the node to be idle, at most `limit` seconds; false, with
# the daemons' logs and `why`, when it is not.
slurm_up_within() {
  local limit=$1 start state name pid
  start=$SECONDS
  why="it did not come up within $limit s"
  for (( ; ; )); do
    state=$("${slurm_env[@]}" timeout 5 sinfo -h -o %t 2>/dev/null)
    [[ "$state" != idle ]] || return 0
    ((SECONDS - start < limit)) || break
    for name in munged:$munged_pid slurmctld:$ctld_pid slurmd:$slurmd_pid; do
      pid=${name#*:}
      if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        why="${name%:*} exited (status $?) after $((SECONDS - start)) s"
        break 2
      fi
    done
    sleep 0.2
  done
  say "the node's state: '${state:-none}'"
  for log in "$tmp"/log/*; do
    say "the end of $(basename "$log"):"
    tail -n 15 "$log" | sed 's/^/  | /'
  done
  return 1
}
slurm_up_within 30 || skip "the private Slurm cannot be had: $why (node $host, ports ${ports[*]})"
say "private Slurm up: node $host, slurmctld port ${ports[0]}, slurmd port ${ports[1]} ($tmp)"

# --- The run ----------------------------------------------------------------
# Its own runs root (launcher/run_dir.cpp: runs_root()) and TMPDIR (Open
# MPI's session directories), passed on by srun to the nodes.
runs="$tmp/xdg/procactor-$(id -u)"
run_env=("${slurm_env[@]}" PROCACTOR_STATE_DIR="$runs" XDG_RUNTIME_DIR="$tmp/xdg" TMPDIR="$tmp/tmp")
# The launch mode runs as in a job of `sbatch --export=NONE`, which leaves
# SLURM_EXPORT_ENV=NONE to its steps: the nodes must still get the
# settings above (their records are looked for in $runs).
[[ "$mode" != launch ]] || run_env+=(SLURM_EXPORT_ENV=NONE)
graph="$tmp/graph.toml"
sed "s/@HOST@/$host/g" "$graph_template" >"$graph" || exit 1
graph_name=$(sed -nE 's/^name = "(.*)"$/\1/p' "$graph" | head -n 1)
out="$tmp/out"
nodes=2

# Starts `procactor launch GRAPH` in the background, within a deadline;
# what it prints goes to $out. `timeout`'s SIGTERM is a stop request
# (-k: SIGKILL if it does not end).
start_launch() {
  local deadline=$1
  shm_before=$(ls /dev/shm | sort)
  timeout -k 5 "$deadline" "${run_env[@]}" "$procactor" launch "$graph" >"$out" 2>&1 &
  job_pid=$!
  launched_at=$(now)
}

# `procactor launch`'s own pid (not `timeout`'s): its run directory's.
launch_pid() {
  local pid
  pid=$(cat "$runs/$graph_name/supervisor.pid" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == procactor ]] && echo "$pid"
}

# The pids the run told of, alive: its nodes' (their run directories) and
# its actors' ("procactor@nI | NAME started (pid N)").
known_pids_alive() {
  local pid
  for pid in $(node_pids "$tmp") $(sed -nE 's/^procactor@n[0-9]+ \| .* started \(pid ([0-9]+)\)$/\1/p' "$out"); do
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  done
}

# Once the launch ended, every process of the run (srun, its slurmstepd,
# the nodes, their actors) must end too, and the nodes' segments go:
# polls, at most `limit` seconds.
wait_for_nothing_left() {
  local limit=$1 start pids segments jobs
  start=$(now)
  for ((n = 0; ; n++)); do
    pids=$({ run_pids; known_pids_alive; } | sort -un)
    segments=$(node_segments "$tmp")
    [[ -n "$pids$segments" ]] || break
    if ((n == 0)); then
      say "still ending as procactor launch ended: $(summarize $pids)${segments:+; segments: $(echo $segments)}"
    fi
    if ! less_than "$(seconds_since "$start")" "$limit"; then
      [[ -z "$pids" ]] || { fail "processes of the run still there $limit s after procactor launch ended:"; describe $pids; }
      [[ -z "$segments" ]] || fail "segments still in /dev/shm $limit s after procactor launch ended: $(echo $segments)"
      return 1
    fi
    sleep 0.1
  done
  say "nothing of the run left $(seconds_since "$start") s after procactor launch ended"
  # Open MPI's own segments (vader_segment.*) are not named after the run:
  # what is new in /dev/shm is reported, not failed (another test may own it).
  local new
  new=$(comm -13 <(echo "$shm_before") <(ls /dev/shm | sort) | grep -v '^procactor-')
  [[ -z "$new" ]] || say "note: new in /dev/shm since the launch (not the run's nodes'): $(echo $new)"
  # Slurm's view: the job completes once its steps' slurmstepd are gone.
  for ((i = 0; i < 50; i++)); do
    jobs=$("${slurm_env[@]}" timeout 5 squeue -h -o '%i %T' 2>/dev/null)
    [[ -n "$jobs" ]] || return 0
    sleep 0.1
  done
  say "note: Slurm still lists job(s): $jobs"
}

# The supervisor pid of node `i` and a check that it is that node.
node_pid() {
  local i=$1 pid
  pid=$(cat "$runs/$graph_name-n$i/supervisor.pid" 2>/dev/null)
  [[ "$pid" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- " node --node n$i " &&
    echo "$pid"
}

case "$mode" in
  launch)
    expected_primes "$graph" "$example_primes" || exit 1
    start_launch 90
    wait "$job_pid"
    status=$?
    job_pid=
    say "procactor launch ended with status $status, $(seconds_since "$launched_at") s after it started"
    show_output
    check_primes_run "$expected"
    wait_for_nothing_left 15
    ;;
  interrupt)
    start_launch 100
    wait_for_ready 60 || exit 1
    say "the run's processes: $(summarize $(run_pids))"
    # Every instance running, 2 on each node, as `status` gathers them.
    status_json=$(timeout 20 "${run_env[@]}" "$procactor" status "$graph_name" --json 2>&1)
    status_rc=$?
    say "procactor status $graph_name --json: status $status_rc"
    # Its rows (name, node, state, pid), then the counts to check.
    counts=$(python3 -c '
import json, sys
actors = json.loads(sys.stdin.read())["actors"]
for a in actors:
    print("  %-10s %-4s %-10s %s" % (a.get("name"), a.get("node"), a.get("state"), a.get("pid")))
running = [a for a in actors if a.get("state") == "running"]
print(len(actors), len(running), sum(a.get("node") == "n0" for a in running), sum(a.get("node") == "n1" for a in running))
' <<<"$status_json" 2>&1)
    if (($(wc -l <<<"$counts") < 2)); then
      say "its output: $status_json"
      say "not read: $counts"
    else
      sed '$d' <<<"$counts"
      counts=$(tail -n 1 <<<"$counts")
    fi
    say "instances, running, running on n0, running on n1: $counts"
    [[ "$counts" == "4 4 2 2" ]] || fail "procactor status: not 4 instances running, 2 on n0 and 2 on n1"
    launcher=$(launch_pid)
    if [[ -z "$launcher" ]]; then
      say "FAIL: no pid of procactor launch in $runs/$graph_name/supervisor.pid"
      exit 1
    fi
    interrupted_at=$(now)
    kill -INT "$launcher"
    say "SIGINT to procactor launch (pid $launcher)"
    if ! wait_for_launch_end "$interrupted_at" 30; then
      fail "procactor launch still running 30 s after SIGINT"
      show_output
      exit 1
    fi
    say "procactor launch ended with status $status, $ended_s s after SIGINT"
    show_output
    ((status == 0)) || fail "procactor launch exited with status $status after SIGINT"
    for i in 0 1; do
      grep -qF "procactor@n$i | graph $graph_name stopped after " "$out" || fail "node n$i did not stop the graph"
    done
    if grep -qF 'exited (signal' "$out"; then
      fail "actors ended by a signal: $(grep -F 'exited (signal' "$out" | tr '\n' ';')"
    fi
    show_records
    wait_for_nothing_left 15
    ;;
  node-killed)
    start_launch 100
    wait_for_ready 60 || exit 1
    say "the run's processes: $(summarize $(run_pids))"
    victim=$(node_pid 1)
    if [[ -z "$victim" ]]; then
      say "FAIL: no supervisor pid of node n1 (supervisor.pid: '$(cat "$runs/$graph_name-n1/supervisor.pid" 2>/dev/null)')"
      exit 1
    fi
    say "node n1: pid $victim, $(tr '\0' ' ' <"/proc/$victim/cmdline")"
    fault_at=$(now)
    kill -KILL "$victim"
    say "node n1's procactor node killed with SIGKILL"
    if ! wait_for_launch_end "$fault_at" 30; then
      fail "procactor launch still running 30 s after the kill"
      show_output
      exit 1
    fi
    say "procactor launch ended with status $status, $ended_s s after the kill (target: under 5 s)"
    show_output
    ((status != 0)) || fail "procactor launch exited with status 0 after the kill"
    ((status != 124 && status != 137)) || fail "procactor launch had to be stopped (status $status)"
    less_than "$ended_s" 5 || say "note: $ended_s s is over the target of 5 s"
    show_records
    wait_for_nothing_left 15
    ;;
esac
exit "$failed"
