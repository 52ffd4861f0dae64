#!/usr/bin/env bash
# tests/fuzz/make_corpus.sh [BUILD_DIR]: writes the seed corpus into
# tests/fuzz/corpus/. The binary targets' seeds come from
# procactor-fuzz-seeds (built in BUILD_DIR, default build-fuzz: `cmake
# --build build-fuzz --target procactor-fuzz-seeds`); the graph seeds are
# the repository's own graph files plus the edge cases below. Files already
# in the corpus (reproducers of fixed bugs) are kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-fuzz}

"$build/bin/procactor-fuzz-seeds" "$here/corpus"

graph=$here/corpus/fuzz-graph
mkdir -p "$graph"
for file in "$root"/examples/graphs/*.toml; do
  cp "$file" "$graph/example-$(basename "$file" .toml)"
done
for file in "$root"/tests/launcher/golden/*.toml; do
  cp "$file" "$graph/golden-$(basename "$file" .toml)"
done

# Edge cases: nesting deeper than any parser stack should follow, CRLF and a
# byte-order mark, numbers at the edges of their types, non-ASCII names.
python3 - "$graph" <<'PY'
import pathlib, sys
out = pathlib.Path(sys.argv[1])
def write(name, text):
    (out / name).write_bytes(text.encode() if isinstance(text, str) else text)
write("edge-deep-arrays", "version = 1\n[actors.a]\ntype = \"t\"\nparams = { x = " + "[" * 2000 + "]" * 2000 + " }\n")
write("edge-deep-tables", "version = 1\n" + "".join("[" + ".".join(["t"] * n) + "]\n" for n in range(1, 120)))
write("edge-crlf-bom", b"\xef\xbb\xbfversion = 1\r\n[actors.a]\r\ntype = \"x.Y\"\r\n")
write("edge-numbers", "version = 1\n[graph]\nmailbox_capacity = 18446744073709551615\nshutdown_timeout = \"9999999999999999h\"\n"
      "[actors.a]\ntype = \"x.Y\"\nreplicas = -9223372036854775808\nnice = 99999999999\nmemory_limit = \"1e400 GiB\"\n"
      "cpu = [0, -1, 2147483648]\n")
write("edge-unicode", "version = 1\n[actors.\"\u00e9t\u00e9\"]\ntype = \"\u00fc.\u00df\"\n[actors.\"\U0001F600\"]\ntype = \"x.Y\"\n"
      "[[routes]]\nfrom = \"\u00e9t\u00e9\"\nto = \"\U0001F600\"\npolicy = \"key_hash\"\nkey = \"\u200b\"\n")
write("edge-routes", "version = 1\n[actors.a]\ntype = \"x.A\"\n[actors.b]\ntype = \"x.B\"\nreplicas = \"auto\"\ncpu = \"spread\"\n"
      "[[routes]]\nfrom = \"a\"\nto = \"b\"\npolicy = \"broadcast\"\n[[routes]]\nfrom = \"b\"\nto = \"a\"\n"
      "[supervisor]\nstrategy = \"rest_for_one\"\nmax_restarts = 3\nwithin = \"1m\"\nbackoff_initial = \"10ms\"\n"
      "backoff_max = \"2s\"\nmin_uptime = \"500ms\"\nstall_timeout = \"30s\"\n")
write("edge-empty", "")
PY

# The control protocol: every verb, valid and not.
control=$here/corpus/fuzz-control
mkdir -p "$control"
printf 'ping' >"$control/ping"
printf 'status\r' >"$control/status-crlf"
printf 'stop' >"$control/stop"
printf 'stop 5000000000' >"$control/stop-timeout"
printf 'restart worker' >"$control/restart"
printf 'restart worker.3' >"$control/restart-replica"
printf 'kill sink' >"$control/kill"
printf 'kill worker.1 TERM' >"$control/kill-term"
printf 'kill worker.2 SIGUSR1' >"$control/kill-sigusr1"
printf 'kill a 9' >"$control/kill-number"
printf 'kill worker.18446744073709551616 KILL' >"$control/edge-replica-overflow"
printf 'stop -1' >"$control/edge-negative-timeout"
printf 'restart  worker ' >"$control/edge-spaces"
printf 'kill w\000rker' >"$control/edge-nul"
head -c 1100 /dev/zero | tr '\0' 'x' | sed 's/^/restart /' >"$control/edge-too-long"

# The relay of a multi-node run: request lines as a node reads them, and
# the frames (0x1e first) the launching process reads from mpirun.
relay=$here/corpus/fuzz-relay
mkdir -p "$relay"
printf '1 0 status' >"$relay/status"
printf '2 0 stop 5000000000\r' >"$relay/stop-timeout-crlf"
printf '7 1 kill worker.1 TERM' >"$relay/kill-term"
printf '4 1 restart worker drain' >"$relay/restart-drain"
printf '9 0 inspect sink.0' >"$relay/inspect"
printf '12 n1 bogus' >"$relay/edge-bad-node"
printf '\036reply 3 1 ok' >"$relay/frame-reply"
printf '\036reply 5 0 {"run":"demo-n0"}\\nline\\\\two\\r' >"$relay/frame-reply-escaped"
printf '\036ready 0 4' >"$relay/frame-ready"
printf '\036reply 6 1 dangling\\' >"$relay/edge-frame-dangling"
