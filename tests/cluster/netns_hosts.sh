#!/usr/bin/env bash
# Hosts for the multi-host tests on one machine: each "host" is a network
# namespace, so that traffic between the nodes of a run really crosses an
# interface, and a link can be taken down to make a partition (tests/cluster/
# run_netns.sh, tests/cluster/CMakeLists.txt).
#
#   netns_hosts.sh up N PREFIX     hosts PREFIX0 .. PREFIX<N-1>, and PREFIXsw
#   netns_hosts.sh down PREFIX     removes all of it; idempotent
#   netns_hosts.sh cut PREFIX I    host I's cable out: its switch port down
#   netns_hosts.sh heal PREFIX I   and back in
#   netns_hosts.sh run PREFIX I COMMAND [ARG...]
#                                  COMMAND in host I, with hostname PREFIX<I>
#   netns_hosts.sh names PREFIX    the namespaces that exist under PREFIX
#
# Layout: host I has one interface, net0, address 10.250.0.<I+1>/24 and lo;
# net0 is one end of a veth pair whose other end, p<I>, is a port of the
# bridge br0 in a namespace of its own, PREFIXsw (the switch). Why a
# bridge, not veth pairs between every two hosts: one interface and one
# address per host, as on a real LAN, so Open MPI sees one network, and
# cutting a host is one port going down, cutting it off from every peer at
# once. Why the switch has its own namespace rather than the root one:
# nothing of a run lives in the machine's own network (no bridge or veth
# next to eth0, no firewall or bridge-netfilter rule of the host applies),
# the same addresses serve parallel runs without clashing, and deleting
# the namespaces deletes every veth and the bridge with them: `down` cannot
# leave an interface behind.
#
# Names: PREFIX is the caller's, unique per run (run_netns.sh puts its pid
# in it) and also the start of each hostname, so letters, digits and '-'
# only (no '.': Open MPI would cut a hostname at the first dot).
set -euo pipefail

readonly subnet=10.250.0
readonly bridge=br0
readonly iface=net0

die() {
  echo "netns_hosts.sh: $*" >&2
  exit 2
}

check_prefix() {
  [[ "$1" =~ ^[A-Za-z][A-Za-z0-9-]{0,40}$ ]] || die "bad PREFIX '$1' (letters, digits, '-'; 41 at most)"
}

check_index() {
  [[ "$1" =~ ^[0-9]+$ ]] || die "bad host index '$1'"
}

# The namespaces of PREFIX that exist now: its hosts and its switch.
names() {
  local name
  # `ip netns list` prints "NAME" or "NAME (id: N)".
  ip netns list | while read -r name _; do
    if [[ "$name" =~ ^$1([0-9]+|sw)$ ]]; then echo "$name"; fi
  done
}

down() {
  local prefix=$1 ns pid pids deadline
  # A namespace stays alive, unnamed and with its veth, as long as a
  # process is in it: kill what a run left there (a leftover the driver
  # reports as a failure before it calls us), by pid, and wait until the
  # namespace is empty (a killed process leaves it when it exits, before
  # it is reaped: `ip netns pids` does not list zombies), then delete it.
  for ns in $(names "$prefix"); do
    deadline=$((SECONDS + 10))
    while pids=$(ip netns pids "$ns" 2>/dev/null) && [[ -n "$pids" ]]; do
      ((SECONDS < deadline)) || die "down $prefix: processes $(echo $pids) stay in $ns"
      for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
      sleep 0.05
    done
    ip netns delete "$ns" 2>/dev/null || true
  done
  if [[ -n "$(names "$prefix")" ]]; then
    die "down $prefix: could not delete $(names "$prefix" | tr '\n' ' ')"
  fi
}

up() {
  local n=$1 prefix=$2 i sw="${2}sw"
  [[ "$n" =~ ^[1-9][0-9]?$ && "$n" -le 200 ]] || die "bad host count '$n'"
  [[ -z "$(names "$prefix")" ]] || die "up: namespaces of $prefix exist already"
  # All or nothing: a failure half-way removes what was made.
  trap 'down "$prefix"' ERR
  ip netns add "$sw"
  ip -n "$sw" link add "$bridge" type bridge
  # No spanning tree and no forwarding delay: ports forward as soon as they are up.
  ip -n "$sw" link set "$bridge" type bridge stp_state 0 forward_delay 0
  ip -n "$sw" link set "$bridge" up
  for ((i = 0; i < n; i++)); do
    ip netns add "$prefix$i"
    ip -n "$prefix$i" link set lo up
    ip -n "$sw" link add "p$i" type veth peer name "$iface" netns "$prefix$i"
    ip -n "$sw" link set "p$i" master "$bridge" up
    ip -n "$prefix$i" addr add "$subnet.$((i + 1))/24" dev "$iface"
    ip -n "$prefix$i" link set "$iface" up
  done
  trap - ERR
}

port() {
  local prefix=$1 i=$2 state=$3
  ip -n "${prefix}sw" link set "p$i" "$state"
}

run() {
  local prefix=$1 i=$2
  shift 2
  # A UTS namespace of its own, so that the process (and Open MPI in it)
  # sees the host's own name; the machine's hostname is untouched.
  exec ip netns exec "$prefix$i" unshare --uts -- /bin/sh -c 'hostname "$0" && exec "$@"' "$prefix$i" "$@"
}

[[ $# -ge 1 ]] || die "usage: up N PREFIX | down PREFIX | cut PREFIX I | heal PREFIX I | run PREFIX I CMD... | names PREFIX"
command=$1
shift
case "$command" in
  up)
    [[ $# -eq 2 ]] || die "usage: up N PREFIX"
    check_prefix "$2"
    up "$1" "$2"
    ;;
  down)
    [[ $# -eq 1 ]] || die "usage: down PREFIX"
    check_prefix "$1"
    down "$1"
    ;;
  cut | heal)
    [[ $# -eq 2 ]] || die "usage: $command PREFIX I"
    check_prefix "$1"
    check_index "$2"
    port "$1" "$2" "$([[ "$command" == cut ]] && echo down || echo up)"
    ;;
  run)
    [[ $# -ge 3 ]] || die "usage: run PREFIX I COMMAND [ARG...]"
    check_prefix "$1"
    check_index "$2"
    run "$@"
    ;;
  names)
    [[ $# -eq 1 ]] || die "usage: names PREFIX"
    check_prefix "$1"
    names "$1"
    ;;
  *)
    die "unknown command '$command'"
    ;;
esac
