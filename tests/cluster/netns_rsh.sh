#!/usr/bin/env bash
# Open MPI's remote shell for namespace hosts (tests/cluster/netns_hosts.sh):
# mpirun, given `--mca plm_rsh_agent` this script, calls it as ssh,
#
#   netns_rsh.sh [ssh options] HOST COMMAND...
#
# to start its daemon (orted) on HOST. Here HOST is a network namespace on
# this machine: the command runs in it, with a UTS namespace of its own
# whose hostname is HOST, so that the daemon and the ranks it starts see
# the name mpirun knows them by and Open MPI treats them as another host.
# As ssh does, the words of COMMAND are joined with spaces and given to a
# shell (Open MPI quotes for that: it sets PATH and LD_LIBRARY_PATH in front
# of orted's command line). stdin, stdout and stderr are the caller's, and
# the exit status is the command's, or 255 for an error of our own (ssh's
# convention, which Open MPI reads as "could not reach the host").
set -euo pipefail

# Options an ssh-like agent may be given (plm_rsh_args, or what Open MPI
# adds for an agent it recognises); none changes anything here.
while [[ $# -gt 0 ]]; do
  case "$1" in
    -[1246AaCfgKkMNnqsTtVvXxYy]) shift ;;
    -[BbcDEeFIiJLlmOoPpQRSWw])
      [[ $# -ge 2 ]] || { echo "netns_rsh.sh: option $1 needs a value" >&2; exit 255; }
      shift 2
      ;;
    --) shift; break ;;
    -*) echo "netns_rsh.sh: unknown option $1" >&2; exit 255 ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then
  echo "usage: netns_rsh.sh [options] HOST COMMAND..." >&2
  exit 255
fi
host=$1
shift
if [[ ! "$host" =~ ^[A-Za-z0-9-]+$ ]] || [[ ! -e "/run/netns/$host" ]]; then
  echo "netns_rsh.sh: no namespace host '$host' (see tests/cluster/netns_hosts.sh)" >&2
  exit 255
fi
# As over ssh, the command gets a login's environment, not the caller's:
# what a node needs from the launching shell (PROCACTOR_STATE_DIR, ...) must
# reach it through mpirun (-x), as it must on a real cluster.
exec env -i PATH="${PATH:-/usr/bin:/bin}" HOME="${HOME:-/}" ip netns exec "$host" unshare --uts -- \
  /bin/sh -c 'hostname "$0" || exit 255; exec /bin/sh -c "$1"' "$host" "$*"
