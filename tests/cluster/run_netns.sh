#!/usr/bin/env bash
# The cluster tests across "hosts" that are network namespaces on this
# machine (tests/cluster/netns_hosts.sh, netns_rsh.sh), run by ctest
# (tests/cluster/CMakeLists.txt):
#
#   run_netns.sh hosts N MPIEXEC TEST_CLUSTER [MPIEXEC_FLAG...]
#       test-cluster's default cases, one rank on each of N hosts
#   run_netns.sh partition MPIEXEC TEST_CLUSTER [MPIEXEC_FLAG...]
#       2 hosts; host 1's link is taken down while the ranks exchange
#       data: each rank's link must fail naming the other within 10 s of
#       the cut, and mpirun must end, non-zero, within 10 s of it
#   run_netns.sh launch N PROCACTOR GRAPH EXAMPLE_PRIMES
#       `procactor launch GRAPH` (a primes graph placed on nodes n0..n<N-1>,
#       tests/cluster/graphs) from host 0, each node on its own host: it
#       must exit 0, every node finish, and the sink print the count of
#       EXAMPLE_PRIMES for the graph's range
#   run_netns.sh launch-node-killed PROCACTOR GRAPH
#   run_netns.sh launch-link-down PROCACTOR GRAPH
#       `procactor launch GRAPH` (an endless graph on n0 and n1) from host
#       0; once both nodes are ready, node n1's `procactor node` is killed
#       with SIGKILL, or host 1's link is taken down: `procactor launch`
#       must end, non-zero, within 30 s (the seconds it took are printed,
#       with the targets: 5 s and 10 s)
#
# In GRAPH, @HOST_PREFIX@ stands for this run's hosts' prefix (a host is
# @HOST_PREFIX@<I>); the run uses a copy with it replaced.
#
# Exit status 77 (the tests' SKIP_RETURN_CODE) where namespaces cannot be
# made: not root, no `ip` or `unshare`, or `ip netns add` refused (a
# container without CAP_SYS_ADMIN). Whatever happens, the namespaces and
# what ran in them are gone when this script ends (trap on EXIT, INT and
# TERM; ctest's timeout is SIGKILL, which no trap sees, so every run keeps
# within a deadline of its own, shorter than the test's TIMEOUT, and a run
# starts by removing what a killed run left). A leftover of the run's own
# (a process in its namespaces once mpirun ended, an Open MPI session
# directory of its hosts in /tmp, a segment in /dev/shm named after its
# hosts or, for the launch modes, after one of its node supervisors) fails
# the test.
set -uo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly hosts_sh="$here/netns_hosts.sh"
# show_output, wait_for_ready, wait_for_launch_end, expected_primes,
# check_primes_run, show_records (which read out, nodes, graph_name, runs,
# job_pid).
source "$here/launch_checks.sh"
readonly skip_status=77
readonly lost_peer_exit=3  # tests/cluster/cluster_test.hpp
# Unique per run, so that parallel runs do not collide; the start of every
# namespace's name and hostname (hence Open MPI's session directories).
readonly prefix="pnet$$-"

say() { echo "run_netns.sh: $*"; }
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
seconds_since() { echo "$(now) - $1" | bc; }
less_than() { [[ "$(echo "$1 < $2" | bc)" == 1 ]]; }

usage() {
  echo "usage: run_netns.sh hosts N MPIEXEC TEST_CLUSTER [MPIEXEC_FLAG...]" >&2
  echo "       run_netns.sh partition MPIEXEC TEST_CLUSTER [MPIEXEC_FLAG...]" >&2
  echo "       run_netns.sh launch N PROCACTOR GRAPH EXAMPLE_PRIMES" >&2
  echo "       run_netns.sh launch-node-killed PROCACTOR GRAPH" >&2
  echo "       run_netns.sh launch-link-down PROCACTOR GRAPH" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
mode=$1
shift
case "$mode" in
  hosts | launch)
    [[ $# -ge 1 && "$1" =~ ^[1-9]$ ]] || usage
    nhosts=$1
    shift
    ;;
  partition | launch-node-killed | launch-link-down) nhosts=2 ;;
  *) usage ;;
esac
case "$mode" in
  hosts | partition)
    [[ $# -ge 2 ]] || usage
    mpiexec=$1
    test_cluster=$2
    shift 2
    mpiexec_flags=("$@")
    ;;
  launch)
    [[ $# -eq 3 ]] || usage
    procactor=$1
    graph_template=$2
    example_primes=$3
    ;;
  *)
    [[ $# -eq 2 ]] || usage
    procactor=$1
    graph_template=$2
    ;;
esac
if [[ -n "${graph_template:-}" && ! -r "$graph_template" ]]; then
  say "FAIL: no graph $graph_template"
  exit 1
fi

# --- Can this machine make namespaces? --------------------------------------
[[ "$(id -u)" == 0 ]] || skip "network namespaces need root (CI runs these tests as root)"
command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
command -v unshare >/dev/null || skip "no 'unshare' command (util-linux)"
command -v bc >/dev/null || skip "no 'bc' command (the timings)"
if ! probe_error=$(ip netns add "${prefix}probe" 2>&1); then
  skip "'ip netns add' is not permitted here: $probe_error"
fi
uts_error=$(ip netns exec "${prefix}probe" unshare --uts true 2>&1)
uts_status=$?
ip netns delete "${prefix}probe"
((uts_status == 0)) || skip "'unshare --uts' is not permitted here: $uts_error"

# --- What a run killed by SIGKILL (ctest's timeout) left ----------------------
# Namespaces pnet<PID>-* whose driver is gone: deleted, with what runs in them.
for owner in $(ip netns list | sed -nE 's/^pnet([0-9]+)-([0-9]+|sw|probe)( .*)?$/\1/p' | sort -u); do
  if [[ "$owner" != $$ ]] && ! tr '\0' ' ' 2>/dev/null <"/proc/$owner/cmdline" | grep -q run_netns.sh; then
    say "removing namespaces left by a killed run (pid $owner)"
    "$hosts_sh" down "pnet$owner-" || true
    ip netns delete "pnet$owner-probe" 2>/dev/null
    rm -rf /tmp/ompi."pnet$owner"-* /dev/shm/*"pnet$owner"-* /tmp/procactor-netns."pnet$owner"-*
  fi
done

# The pids of the run's node supervisors (`procactor node`), from their run
# directories (launch modes: the runs root is in workdir, see below).
node_pids() {
  [[ -n "$workdir" ]] || return 0
  cat "$workdir"/procactor-*/*/supervisor.pid 2>/dev/null
}

# --- Cleanup, whatever happens ------------------------------------------------
# The background job of the run: `timeout` running mpirun (hosts,
# partition) or `procactor launch` (the launch modes) in host 0.
job_pid=
workdir=
cleanup() {
  local status=$? ns pids
  trap - EXIT INT TERM
  if [[ -n "$job_pid" ]] && kill -0 "$job_pid" 2>/dev/null; then
    # Interrupted: mpirun (or `procactor launch`, which passes it on as
    # the nodes' stop signal), told by `timeout` (whose pid this is), ends
    # the job; 10 s for it, then `down` kills what is left.
    say "stopping the job"
    kill -TERM "$job_pid" 2>/dev/null
    local deadline=$((SECONDS + 10))
    while kill -0 "$job_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  fi
  # Anything still in our namespaces is killed by `down`; it is a leftover
  # when the run itself ended well.
  for ns in $("$hosts_sh" names "$prefix"); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [[ -n "$pids" ]]; then
      ((status != 0)) || status=1
      say "leftover processes in $ns: $(ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" | cut -c1-160 | tr '\n' ';')"
      # Their TCP connections, with timers: a connection to a host that is
      # gone, with data unacknowledged, waits in retransmission ("on"),
      # where keepalive ("keepalive") no longer runs.
      say "their TCP connections in $ns:"
      ip netns exec "$ns" ss -tnpo 2>/dev/null | sed 's/^/  /'
    fi
  done
  "$hosts_sh" down "$prefix" || status=1
  if [[ -n "$("$hosts_sh" names "$prefix")" ]]; then
    say "leftover namespaces: $("$hosts_sh" names "$prefix" | tr '\n' ' ')"
    status=1
  fi
  # Open MPI's per-host session directories (/tmp/ompi.<hostname>.<uid>)
  # and shared memory segments named after the host: ours carry the prefix.
  # Open MPI removes them when it ends well; what a killed process left is
  # removed here, and counts as a leftover only if nothing was killed.
  # A node supervisor's segments are procactor-<its pid>-... (runtime/
  # arena.cpp); its pid is in its run directory (supervisor.pid).
  local leftovers pid segments=()
  for pid in $(node_pids); do segments+=("/dev/shm/procactor-$pid-"*); done
  leftovers=$(ls -d /tmp/ompi."$prefix"* /dev/shm/*"$prefix"* "${segments[@]}" 2>/dev/null)
  if [[ -n "$leftovers" ]]; then
    if ((status == 0)); then
      say "leftover files: $(echo $leftovers)"
      status=1
    fi
    rm -rf $leftovers
  fi
  [[ -z "$workdir" ]] || rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM

# --- Hosts and Open MPI's settings for them ----------------------------------
"$hosts_sh" up "$nhosts" "$prefix" || exit 1
workdir=$(mktemp -d "/tmp/procactor-netns.${prefix}XXXXXX")
host_list=
for ((i = 0; i < nhosts; i++)); do host_list+="${host_list:+,}$prefix$i:1"; done
say "hosts: $host_list (network namespaces; 10.250.0.0/24 over a bridge)"

# In this run's environment only (the ctest ENVIRONMENT brings the root
# permission and loopback settings of PROCACTOR_MPI_TEST_ENV; the interface
# ones are replaced here). mpirun passes every OMPI_MCA_ variable on to the
# daemons it starts (plm_rsh_pass_environ_mca_params, on by default).
#  - plm_rsh_agent: how mpirun reaches another host: our agent, as ssh.
#  - btl_tcp_if_include, oob_tcp_if_include: the ranks' traffic and mpirun's
#    own channel to its daemons over the hosts' veth network only; by CIDR,
#    not by name (net0), which would also offer its IPv6 link-local address.
#  - oob_tcp_keepalive_*: mpirun's channel to each daemon is idle while the
#    ranks work, and by default (300 s idle, then 9 probes 20 s apart) a
#    partition would go unnoticed by Open MPI for 8 minutes: mpirun (and
#    a daemon cut off from it) would outlive the ranks that saw the loss.
#    1 s idle, 2 probes 1 s apart: a dead channel fails within 3 s. It has
#    to be shorter than the peer timeout of a rank on a cut-off host
#    (node_peer_timeout, 6 s, as a node has; the partition case gives it
#    to rank 1): once a rank ends, Open MPI sends on that channel, and
#    Linux stops keepalive probes on a socket with data unacknowledged,
#    leaving only TCP's retransmission timeout (tcp_retries2: about 15
#    minutes). With the link's default of 3 s the two raced.
# Which host is local mpirun decides by its own hostname, which is why it
# runs in host 0's UTS namespace under that name; the names need no DNS or
# /etc/hosts entry (the daemons call back to mpirun's address, and the
# names hold no '.', so orte_keep_fqdn_hostnames does not matter).
# The launch modes: `procactor launch` gives mpirun the keepalive settings
# itself (launcher/cluster_launch.cpp), and the root permission; they are
# not set here, so that its own line is what is tested. The remote shell
# and the interfaces belong to these hosts, not to the graph (whose
# mpi_args a user writes for a real cluster), hence the environment, as a
# site's openmpi-mca-params.conf would hold them.
export OMPI_MCA_plm_rsh_agent="$here/netns_rsh.sh"
export OMPI_MCA_btl_tcp_if_include=10.250.0.0/24
export OMPI_MCA_oob_tcp_if_include=10.250.0.0/24
case "$mode" in
  hosts | partition)
    export OMPI_MCA_oob_tcp_keepalive_time=1
    export OMPI_MCA_oob_tcp_keepalive_intvl=1
    export OMPI_MCA_oob_tcp_keepalive_probes=2
    ;;
  *)
    unset OMPI_MCA_oob_tcp_keepalive_time OMPI_MCA_oob_tcp_keepalive_intvl OMPI_MCA_oob_tcp_keepalive_probes
    unset OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
    # The run directories of the nodes (launcher/run_dir.cpp, runs_root()),
    # this run's own: every host sees this machine's file system.
    runs="$workdir/procactor-$(id -u)"
    export PROCACTOR_STATE_DIR="$runs"
    # The graph, on these hosts.
    graph="$workdir/graph.toml"
    sed "s/@HOST_PREFIX@/$prefix/g" "$graph_template" >"$graph" || exit 1
    graph_name=$(sed -nE 's/^name = "(.*)"$/\1/p' "$graph" | head -n 1)
    out="$workdir/out"
    nodes=$nhosts
    ;;
esac

# Variables mpirun is to pass on to the ranks on every host (-x).
exported=()

# Starts mpirun in host 0 in the background, within a deadline.
start_mpirun() {
  local deadline=$1
  shift
  # The deadline is `timeout`'s; its SIGTERM makes mpirun end the job
  # (and -k SIGKILL follows if it does not).
  timeout -k 5 "$deadline" "$hosts_sh" run "$prefix" 0 \
    "$mpiexec" -n "$nhosts" -H "$host_list" --map-by node "${mpiexec_flags[@]}" "${exported[@]}" "$test_cluster" "$@" &
  job_pid=$!
}

# Once mpirun ended, every process of the run must end too: polls for the
# event (our namespaces empty), at most `limit` seconds.
wait_for_empty_hosts() {
  local limit=$1 start ns busy
  start=$(now)
  for (( ; ; )); do
    busy=
    for ns in $("$hosts_sh" names "$prefix"); do
      [[ -z "$(ip netns pids "$ns" 2>/dev/null)" ]] || busy+=" $ns"
    done
    [[ -n "$busy" ]] || return 0
    less_than "$(seconds_since "$start")" "$limit" || {
      fail "processes still running in$busy $limit s after the job ended"
      return 1
    }
    sleep 0.05
  done
}

# The bytes each host received on its interface: the ranks' traffic
# crossed the veth network, not a loopback.
check_traffic() {
  local i bytes
  for ((i = 0; i < nhosts; i++)); do
    bytes=$(ip netns exec "$prefix$i" cat /sys/class/net/net0/statistics/rx_bytes)
    say "host $prefix$i received $bytes bytes on net0"
    ((bytes > 1000000)) || fail "host $prefix$i received only $bytes bytes: the ranks' traffic did not cross net0"
  done
}

# --- The launch modes ---------------------------------------------------------
# Starts `procactor launch GRAPH` in host 0 in the background, within a
# deadline; what it prints (mpirun's output, every node's lines) goes to
# $out. `timeout`'s SIGTERM is a stop request, which `procactor launch`
# passes on to every node; -k SIGKILL follows if it does not end.
start_launch() {
  local deadline=$1
  timeout -k 5 "$deadline" "$hosts_sh" run "$prefix" 0 "$procactor" launch "$graph" >"$out" 2>&1 &
  job_pid=$!
  launched_at=$(now)
}

# After a fault at `since` (what: "the kill", "the cut"): the launch must
# end, non-zero, within 30 s (target: `target` s, reported), and then
# every process of the run, on every host.
check_fault_end() {
  local since=$1 what=$2 target=$3
  if ! wait_for_launch_end "$since" 30; then
    fail "procactor launch still running 30 s after $what"
    show_output
    return
  fi
  say "procactor launch ended with status $status, $ended_s s after $what (target: under $target s)"
  show_output
  ((status != 0)) || fail "procactor launch exited with status 0 after $what"
  ((status != 124 && status != 137)) || fail "procactor launch had to be stopped (status $status)"
  less_than "$ended_s" "$target" || say "note: $ended_s s is over the target of $target s"
  show_records
  if wait_for_empty_hosts 15; then
    say "every process of the run ended $(seconds_since "$since") s after $what"
    return
  fi
  # Which they are (the cleanup kills them, and lists their connections).
  local ns pid
  for ns in $("$hosts_sh" names "$prefix"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == orted ]]; then
        say "Open MPI's daemon (orted, pid $pid) outlived the job in $ns: a known failure after a cut," \
          "see tests/cluster/CMakeLists.txt"
      fi
    done
  done
}

case "$mode" in
  hosts)
    start_mpirun 240
    wait "$job_pid"
    status=$?
    job_pid=
    ((status == 0)) || fail "mpirun exited with status $status"
    check_traffic
    wait_for_empty_hosts 10
    ;;
  partition)
    # Passed on by mpirun: the remote shell gives the other host a login's
    # environment, as ssh would (netns_rsh.sh).
    export PROCACTOR_PARTITION_DIR="$workdir"
    exported=(-x PROCACTOR_PARTITION_DIR)
    start_mpirun 60 --no-skip "--test-case=a partition*"
    # Both ranks exchanged data over the link: wait for their word.
    until [[ -e "$workdir/ready.0" && -e "$workdir/ready.1" ]]; do
      if ! kill -0 "$job_pid" 2>/dev/null; then
        wait "$job_pid"
        say "FAIL: mpirun ended (status $?) before both ranks were ready"
        job_pid=
        exit 1
      fi
      sleep 0.02
    done
    cut_at=$(now)
    "$hosts_sh" cut "$prefix" 1 || exit 1
    touch "$workdir/cut"
    say "host ${prefix}1's link is down (switch port p1)"
    wait "$job_pid"
    status=$?
    job_pid=
    mpirun_s=$(seconds_since "$cut_at")
    say "mpirun ended with status $status, $mpirun_s s after the cut"
    ((status != 0)) || fail "mpirun exited with status 0 after a partition"
    ((status != 124 && status != 137)) || fail "mpirun had to be stopped (status $status)"
    less_than "$mpirun_s" 10 || fail "mpirun took $mpirun_s s (10 s at most) to end after the cut"
    # What each rank saw, from the file it wrote when its link failed.
    # Rank 0, on the side that kept its link, must have seen the error in
    # time. Rank 1 is on the cut host (its output cannot cross to mpirun,
    # its file can); its daemon, cut off from mpirun too, may stop it
    # before its own link fails, so its file is reported, not required.
    for rank in 0 1; do
      result="$workdir/result.$rank"
      if [[ ! -e "$result" ]]; then
        if ((rank == 0)); then
          fail "rank 0 wrote no result: its link did not fail before it was stopped"
        else
          say "rank 1 wrote no result: stopped by its daemon before its link failed"
        fi
        continue
      fi
      say "rank $rank: $(cat "$result")"
      failed_at=$(sed -E 's/.* failed_at=([0-9.]+) .*/\1/' "$result")
      say "rank $rank: its link failed $(echo "$failed_at - $cut_at" | bc) s after the cut (wall clock)"
      grep -q ' ok=1 ' "$result" || fail "rank $rank: not the error expected (peer=$((1 - rank)), within 10 s of the cut)"
    done
    # The rank on the side that kept its link (host 0) ended as a node
    # that lost a peer does; mpirun reports its status when it ends first.
    if ((status != lost_peer_exit && status != 205)); then
      say "note: mpirun's status $status is neither the rank's ($lost_peer_exit) nor Open MPI's lost daemon (205)"
    fi
    # The daemon and rank on the cut host end by themselves (their link to
    # mpirun fails on its keepalive): nothing of the run stays behind.
    wait_for_empty_hosts 10 && say "every process of the run ended $(seconds_since "$cut_at") s after the cut"
    ;;
  launch)
    expected_primes "$graph" "$example_primes" || exit 1
    start_launch 180
    wait "$job_pid"
    status=$?
    job_pid=
    say "procactor launch ended with status $status, $(seconds_since "$launched_at") s after it started"
    show_output
    check_primes_run "$expected"
    for ((i = 0; i < nhosts; i++)); do
      say "host $prefix$i received $(ip netns exec "$prefix$i" cat /sys/class/net/net0/statistics/rx_bytes) bytes on net0"
    done
    wait_for_empty_hosts 10
    ;;
  launch-node-killed)
    start_launch 120
    wait_for_ready 60 || exit 1
    # Node n1's supervisor, in host 1: the pid its run directory records.
    victim=$(cat "$runs/$graph_name-n1/supervisor.pid" 2>/dev/null)
    if [[ ! "$victim" =~ ^[0-9]+$ || "$(ip netns identify "$victim" 2>/dev/null)" != "${prefix}1" ]]; then
      say "FAIL: no supervisor pid of node n1 in host ${prefix}1 (supervisor.pid: '$victim')"
      exit 1
    fi
    say "node n1: pid $victim, $(ps -o args= -p "$victim")"
    fault_at=$(now)
    kill -KILL "$victim"
    say "node n1's procactor node killed with SIGKILL"
    check_fault_end "$fault_at" "the kill" 5
    ;;
  launch-link-down)
    start_launch 120
    wait_for_ready 60 || exit 1
    fault_at=$(now)
    "$hosts_sh" cut "$prefix" 1 || exit 1
    say "host ${prefix}1's link is down (switch port p1)"
    check_fault_end "$fault_at" "the cut" 10
    ;;
esac
exit "$failed"
