# What run_netns.sh and run_slurm.sh share for their `procactor launch`
# modes; sourced by both. The caller defines say and fail (which sets
# failed=1), now, seconds_since and less_than, and sets `out` (the launch's
# output file), `nodes` (how many), `graph_name` and `runs` (the runs root).
# Each uses `job_pid`, the background launch started by the caller.

show_output() {
  say "what procactor launch printed:"
  sed 's/^/  | /' "$out"
}

# Waits for the launch's own "procactor | N actors ready on K nodes", at
# most `limit` seconds after `launched_at`: false, saying why, when the
# launch ended first or the time ran out.
wait_for_ready() {
  local limit=$1
  until grep -qE "^procactor \| [0-9]+ actors ready on $nodes nodes in " "$out"; do
    if ! kill -0 "$job_pid" 2>/dev/null; then
      wait "$job_pid"
      say "FAIL: procactor launch ended (status $?) before every node was ready"
      job_pid=
      show_output
      return 1
    fi
    if ! less_than "$(seconds_since "$launched_at")" "$limit"; then
      say "FAIL: not ready $limit s after the launch"
      show_output
      return 1
    fi
    sleep 0.05
  done
  say "$(grep -E '^procactor \| [0-9]+ actors ready on ' "$out" | head -n 1)"
}

# Waits for the launch to end, at most `limit` seconds after `since`:
# sets `status` (its exit status) and `ended_s` (seconds since `since`);
# false when it did not end in time (the caller's cleanup stops it).
wait_for_launch_end() {
  local since=$1 limit=$2
  while kill -0 "$job_pid" 2>/dev/null; do
    less_than "$(seconds_since "$since")" "$limit" || return 1
    sleep 0.02
  done
  ended_s=$(seconds_since "$since")
  wait "$job_pid"
  status=$?
  job_pid=
}

# The primes graph `graph` counts the primes in [2, to): sets `expected`
# to what EXAMPLE_PRIMES says of that range (its "primes below TO: N");
# false, saying why, when it cannot.
expected_primes() {
  local graph=$1 example_primes=$2 range_to reference
  range_to=$(sed -nE 's/.*[{ ]to = ([0-9_]+).*/\1/p' "$graph" | head -n 1 | tr -d _)
  [[ -n "$range_to" ]] || { say "FAIL: no 'to = N' in $graph"; return 1; }
  reference=$(timeout 60 "$example_primes" "$range_to") || { say "FAIL: example-primes $range_to failed"; return 1; }
  expected=$(sed -nE "s/^primes below $range_to: ([0-9]+) .*/\1/p" <<<"$reference" | head -n 1)
  [[ -n "$expected" ]] || { say "FAIL: example-primes printed no count: $reference"; return 1; }
  say "example-primes $range_to: $expected primes"
}

# The launch of a primes graph has ended with `status`: it must have
# exited 0, the sink printed `expected` once, and every node started its
# worker (replicas go round robin over the nodes: worker.I on nI),
# finished the graph and recorded exit code 0.
check_primes_run() {
  local expected=$1 totals i
  ((status == 0)) || fail "procactor launch exited with status $status"
  totals=$(grep -c '^sink\.0 | total: ' "$out")
  ((totals == 1)) || fail "the sink printed $totals totals, not one"
  grep -qxF "sink.0 | total: $expected" "$out" || fail "the sink's total is not example-primes' $expected"
  for ((i = 0; i < nodes; i++)); do
    grep -qE "^procactor@n$i \| worker\.$i started \(pid [0-9]+\)$" "$out" || fail "worker.$i did not start on node n$i"
    grep -qF "procactor@n$i | graph $graph_name finished in " "$out" || fail "node n$i did not finish the graph"
    [[ "$(cat "$runs/$graph_name-n$i/exit" 2>/dev/null)" == 0 ]] || fail "node n$i's run record has no exit code 0"
  done
}

# What each node's run directory recorded: its exit code (none when it was
# killed before it could write one) and the end of its run.log, which is
# all there is of a node whose output cannot reach the launch (a cut host).
show_records() {
  local i dir
  for ((i = 0; i < nodes; i++)); do
    dir="$runs/$graph_name-n$i"
    if [[ -r "$dir/exit" ]]; then
      say "node n$i's run record: exit code $(cat "$dir/exit")"
    else
      say "node n$i's run record: no exit code (the node ended before it wrote one)"
    fi
    [[ ! -r "$dir/run.log" ]] || tail -n 4 "$dir/run.log" | sed "s/^/  n$i run.log | /"
  done
}
