#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [TARGET...]: runs each built fuzz target (or
# the ones named) for SECONDS (default 60) on a scratch copy of its corpus,
# so the committed corpus never grows. Builds nothing: build the targets
# first (tests/fuzz/CMakeLists.txt). Fails if any target crashes, leaks,
# times out on one input or allocates more than the malloc limit; the input
# that did it is kept under BUILD/fuzz-artifacts/TARGET/ and the log under
# BUILD/fuzz-logs/.
#
# BUILD is $PROCACTOR_FUZZ_BUILD, default build-fuzz at the repository root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${PROCACTOR_FUZZ_BUILD:-$root/build-fuzz}
seconds=${1:-60}
shift || true

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for bin in "$build"/bin/fuzz-*; do
    [ -x "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run.sh: no fuzz targets in $build/bin; build them first (cmake --build $build --target procactor-fuzz)" >&2
  exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/procactor-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/fuzz-logs"

failed=()
for name in "${targets[@]}"; do
  bin=$build/bin/$name
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not built" >&2
    failed+=("$name")
    continue
  fi
  corpus=$scratch/$name
  mkdir -p "$corpus"
  if [ -d "$here/corpus/$name" ]; then cp -R "$here/corpus/$name/." "$corpus/"; fi
  artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$artifacts"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64
           -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "$here/$name.dict" ]; then options+=(-dict="$here/$name.dict"); fi
  log=$build/fuzz-logs/$name.log
  echo "== $name: ${seconds}s on $(ls "$corpus" | wc -l) seed(s)"
  rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$bin" "${options[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|DONE' "$log" | tail -3 || true
  echo "   corpus grew to $(ls "$corpus" | wc -l) input(s) in the scratch copy"
  if [ $rc -ne 0 ]; then
    echo "!! $name failed (exit $rc); log $log; its last lines:" >&2
    tail -n 40 "$log" >&2
    ls -1 "$artifacts" >&2 || true
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} target(s), ${seconds}s each, no crash"
