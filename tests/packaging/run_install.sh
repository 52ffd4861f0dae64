#!/usr/bin/env bash
# The installed tree and the .deb work on their own (ctest label
# `packaging`, tests/packaging/CMakeLists.txt):
#
#   run_install.sh BUILD_DIR SOURCE_DIR VERSION CMAKE CPACK CXX LIBDIR WITH_MAN
#
#   1. `cmake --install BUILD_DIR --prefix TMP/prefix`; the installed
#      procactor, with no LD_LIBRARY_PATH, loads the installed library
#      (ldd), prints VERSION for --version, validates the installed
#      primes.toml and launches it with its dashboard (`--http`, served by
#      the module libprocactor_dashboard.so): the sink's total is the
#      primes below 20,000,000 (1270607), the figure example-primes prints;
#      the modules (launcher/module.hpp) are installed beside the library
#      and every library they need resolves;
#   2. the man page (when WITH_MAN is 1: help2man was found) and the bash
#      completion are in the tree, and the completion offers the
#      subcommands `procactor --help` lists and a subcommand's options;
#   3. a consumer project (tests/packaging/consumer) configured with
#      find_package(procactor 0.1 REQUIRED) against TMP/prefix, built, run:
#      it spawns an actor and gets its ask answered ("answer: 42"); then
#      the same program built with `pkg-config --cflags --libs procactor`;
#   4. `cpack -G DEB` into TMP; `dpkg-deb -I` shows a Depends line;
#      `dpkg-deb -x` into a fresh root, whose procactor launches its own
#      primes.toml with its dashboard and the same total.
#
# Every procactor command runs with PROCACTOR_STATE_DIR, XDG_STATE_HOME and
# XDG_RUNTIME_DIR in TMP, without LD_LIBRARY_PATH or PROCACTOR_PLUGIN_PATH.
# TMP is removed at the end, whatever happened; the script kills nothing
# (each command it starts runs in the foreground under `timeout`), and it
# fails if a shared memory segment of a run it started is left in /dev/shm.
# Exit 77 (skip) when dpkg-deb, dpkg-shlibdeps, `file` or pkg-config is
# missing, after every part that could run has passed.
set -uo pipefail

if [[ $# -ne 8 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR VERSION CMAKE CPACK CXX LIBDIR WITH_MAN" >&2
  exit 2
fi
build=$1 source=$2 version=$3 cmake=$4 cpack=$5 cxx=$6 libdir=$7 with_man=$8
primes_below_20M=1270607

tmp=$(mktemp -d "${TMPDIR:-/tmp}/procactor-packaging.XXXXXX") || exit 1
shm_before=$(ls /dev/shm 2>/dev/null | sort)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
skipped=""
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
step() { echo "== $*"; }

# The environment of every procactor command and program this test runs.
mkdir -m 700 "$tmp/runtime"
run_env=(env -u LD_LIBRARY_PATH -u PROCACTOR_PLUGIN_PATH
  PROCACTOR_STATE_DIR="$tmp/state" XDG_STATE_HOME="$tmp/state-home" XDG_RUNTIME_DIR="$tmp/runtime" NO_COLOR=1)
run() { "${run_env[@]}" timeout -k 10 "$@"; }

# ldd EXE: where it loads libprocactor.so.0 from must be under DIR.
check_loads_from() {
  local exe=$1 dir=$2 resolved
  resolved=$("${run_env[@]}" ldd "$exe" | awk '/libprocactor\.so\.0/ { print $3 }')
  case $resolved in
    "$dir"/*) echo "$exe loads $resolved" ;;
    *) fail "$exe loads libprocactor.so.0 from '${resolved:-nowhere}', not from $dir" ;;
  esac
}

# launch GRAPH with procactor EXE: exit 0 and the sink's total.
# The dashboard on any free loopback port: its module loads from the tree.
check_primes_launch() {
  local exe=$1 graph=$2 log=$3
  if ! run 300 "$exe" launch --http 127.0.0.1:0 "$graph" >"$log" 2>&1; then
    fail "$exe launch $graph failed:"
    tail -n 30 "$log" >&2
  elif ! grep -q "^sink.0 | total: $primes_below_20M\$" "$log"; then
    fail "$exe launch $graph did not print 'sink.0 | total: $primes_below_20M':"
    tail -n 30 "$log" >&2
  elif ! grep -q "^procactor | dashboard at http://127.0.0.1:[0-9]*/ " "$log"; then
    fail "$exe launch --http $graph served no dashboard:"
    tail -n 30 "$log" >&2
  else
    grep -E "^sink.0 \| total|finished in|dashboard at" "$log"
  fi
}

# check_modules DIR: the modules this build made (launcher/module.hpp) are
# in DIR, and every library each needs resolves.
check_modules() {
  local dir=$1 module missing
  for module in libprocactor_dashboard.so libprocactor_mpi.so; do
    [[ -e $build/lib/$module ]] || continue
    if [[ ! -e $dir/$module ]]; then
      fail "not installed: $dir/$module"
      continue
    fi
    missing=$("${run_env[@]}" ldd "$dir/$module" | grep "not found")
    [[ -z $missing ]] || fail "$dir/$module needs what is not there: $missing"
  done
}

# --- 1. cmake --install --------------------------------------------------
prefix=$tmp/prefix
step "cmake --install $build --prefix $prefix"
if ! "$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log" >&2
  fail "cmake --install failed"
  exit 1
fi
procactor=$prefix/bin/procactor
graphs=$prefix/share/procactor/examples/graphs
for f in "$procactor" "$prefix/$libdir/libprocactor.so.0" "$prefix/$libdir/libprocactor.so" \
  "$prefix/$libdir/libprocactor_examples.so" "$prefix/include/procactor/procactor.hpp" \
  "$prefix/$libdir/cmake/procactor/procactorConfig.cmake" \
  "$prefix/$libdir/cmake/procactor/procactorConfigVersion.cmake" \
  "$prefix/$libdir/cmake/procactor/procactorTargets.cmake" "$prefix/$libdir/pkgconfig/procactor.pc" \
  "$graphs/primes.toml" "$graphs/wordcount.toml" "$graphs/crashy.toml" "$graphs/primes-cluster.toml" \
  "$prefix/share/doc/procactor/README.md" "$prefix/share/doc/procactor/docs/design.md" \
  "$prefix/share/doc/procactor/docs/RELIABILITY.md" "$prefix/share/doc/procactor/launcher/README.md" \
  "$prefix/share/bash-completion/completions/procactor"; do
  [[ -e $f ]] || fail "not installed: ${f#"$tmp"/}"
done

step "the installed docs: every relative link resolves"
while IFS= read -r -d '' md; do
  while IFS= read -r link; do
    [[ -e $(dirname "$md")/$link ]] || fail "${md#"$prefix"/} links $link, which is not installed"
  done < <(grep -o '](\([^)# ]*\)[)#]' "$md" | sed 's/^](//; s/[)#]$//' | grep -v -E '^(https?|mailto):|^$' | sort -u)
done < <(find "$prefix/share/doc/procactor" -name '*.md' -print0)

step "the installed procactor, no LD_LIBRARY_PATH"
check_loads_from "$procactor" "$prefix"
check_modules "$prefix/$libdir"
out=$(run 30 "$procactor" --version 2>&1)
[[ $out == "$version" ]] || fail "procactor --version printed '$out', not '$version'"
echo "procactor --version: $out"
out=$(run 60 "$procactor" validate "$graphs/primes.toml" 2>&1)
if [[ $out != *": ok (3 actors, 2 routes)"* ]]; then
  fail "validate of the installed primes.toml: $out"
fi
echo "$out"
for example in wordcount crashy primes-cluster; do
  run 60 "$procactor" validate "$graphs/$example.toml" >/dev/null 2>"$tmp/validate.err" ||
    fail "validate of the installed $example.toml: $(cat "$tmp/validate.err")"
done
run 60 "$procactor" graph "$graphs/primes.toml" >/dev/null 2>"$tmp/graph.err" ||
  fail "graph of the installed primes.toml: $(cat "$tmp/graph.err")"
check_primes_launch "$procactor" "$graphs/primes.toml" "$tmp/launch-installed.log"

# --- 2. man page and completion ------------------------------------------
step "man page and bash completion"
man_page=$prefix/share/man/man1/procactor.1
if [[ $with_man == 1 ]]; then
  if [[ ! -s $man_page ]]; then
    fail "help2man was found but $man_page is not installed"
  elif ! grep -q '^\.TH PROCACTOR "1"' "$man_page" || ! grep -q 'procactor launch' "$man_page"; then
    fail "$man_page is not procactor's man page"
  else
    echo "man page: ${man_page#"$prefix"/} ($(wc -c <"$man_page") bytes)"
  fi
else
  echo "help2man was not found at configure time: no man page to check"
fi
completion=$prefix/share/bash-completion/completions/procactor
if [[ -f $completion ]]; then
  subcommands=$(run 30 "$procactor" --help | awk '/^Subcommands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort | tr '\n' ' ')
  offered=$(PATH="$prefix/bin:$PATH" "${run_env[@]}" bash -c '
    source "$1"
    COMP_WORDS=(procactor ""); COMP_CWORD=1; _procactor; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
    printf "|"
    COMP_WORDS=(procactor launch --); COMP_CWORD=2; _procactor; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
  ' completion "$completion")
  if [[ -z $subcommands || ${offered%%|*} != "$subcommands" ]]; then
    fail "the completion offers '${offered%%|*}' as subcommands; procactor --help lists '$subcommands'"
  fi
  [[ ${offered#*|} == *--dry-run* ]] || fail "the completion of 'procactor launch --' is '${offered#*|}'"
  echo "completion: subcommands ${offered%%|*}| launch options ${offered#*|}"
fi

# --- 3. consumer projects --------------------------------------------------
step "a consumer project: find_package(procactor 0.1 REQUIRED)"
if ! "$cmake" -S "$source/tests/packaging/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DPROCACTOR_EXAMPLE_PLUGIN_DIR="$prefix/share/procactor/examples/plugin" \
  >"$tmp/consumer-configure.log" 2>&1; then
  cat "$tmp/consumer-configure.log" >&2
  fail "the consumer project does not configure against the installed tree"
elif ! grep -q "from $prefix/" "$tmp/consumer-configure.log"; then
  grep "procactor" "$tmp/consumer-configure.log" >&2
  fail "the consumer project found procactor elsewhere than in $prefix"
elif ! "$cmake" --build "$tmp/consumer" >"$tmp/consumer-build.log" 2>&1; then
  tail -n 40 "$tmp/consumer-build.log" >&2
  fail "the consumer project does not build"
else
  grep "procactor .* from" "$tmp/consumer-configure.log"
  check_loads_from "$tmp/consumer/consumer" "$prefix"
  out=$(run 120 "$tmp/consumer/consumer" 2>&1)
  [[ $out == *"answer: 42"* ]] || fail "the find_package consumer printed: $out"
  echo "consumer (find_package): $out"
  # The example plugin built from its installed source runs a graph that
  # names it, with the installed procactor.
  cat >"$tmp/own-plugin.toml" <<EOF
version = 1
[graph]
name = "own-plugin"
plugins = ["$tmp/consumer/libmy_examples.so"]
[actors.source]
type = "examples.RangeSource"
params = { from = 2, to = 10000, chunk = 1000 }
[actors.worker]
type = "examples.PrimeCounter"
replicas = 2
[actors.sink]
type = "examples.Sum"
[[routes]]
from = "source"
to = "worker"
[[routes]]
from = "worker"
to = "sink"
EOF
  out=$(run 120 "$procactor" launch --no-color "$tmp/own-plugin.toml" 2>&1)
  [[ $out == *"sink.0 | total: 1229"* ]] || fail "a graph with the example plugin built from its installed source: $out"
  echo "the example plugin built from share/procactor/examples/plugin: $(grep -o 'total: [0-9]*' <<<"$out")"
fi

step "a consumer built with pkg-config"
if ! command -v pkg-config >/dev/null; then
  echo "pkg-config not found: skipped"
  skipped+=" pkg-config"
else
  export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
  if ! flags=$(pkg-config --cflags --libs "procactor >= $version"); then
    fail "pkg-config does not find procactor $version in $PKG_CONFIG_PATH"
  else
    pc_libdir=$(pkg-config --variable=libdir procactor)
    echo "pkg-config --cflags --libs procactor: $flags"
    [[ $(cd "$pc_libdir" 2>/dev/null && pwd -P) == $(cd "$prefix/$libdir" && pwd -P) ]] ||
      fail "procactor.pc's libdir is $pc_libdir, not $prefix/$libdir"
    # shellcheck disable=SC2086 # the flags are words
    if ! "$cxx" -std=c++20 "$source/tests/packaging/consumer/main.cpp" $flags -Wl,-rpath,"$pc_libdir" \
      -o "$tmp/consumer-pc" >"$tmp/consumer-pc.log" 2>&1; then
      tail -n 40 "$tmp/consumer-pc.log" >&2
      fail "the consumer does not build with pkg-config's flags"
    else
      out=$(run 120 "$tmp/consumer-pc" 2>&1)
      [[ $out == *"answer: 42"* ]] || fail "the pkg-config consumer printed: $out"
      echo "consumer (pkg-config): $out"
    fi
  fi
  unset PKG_CONFIG_PATH
fi

# --- 4. the .deb -------------------------------------------------------------
step "cpack -G DEB"
missing=""
for tool in dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || missing+=" $tool"
done
if [[ -n $missing ]]; then
  echo "not installed:$missing (Debian: dpkg-dev, file): the .deb is not checked"
  skipped+="$missing"
else
  mkdir "$tmp/cpack"
  if ! (cd "$tmp/cpack" && "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/cpack") \
    >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    fail "cpack -G DEB failed"
  else
    deb=$(find "$tmp/cpack" -maxdepth 1 -name "procactor_${version}_*.deb" | head -n 1)
    if [[ -z $deb ]]; then
      cat "$tmp/cpack.log" >&2
      fail "cpack made no procactor_${version}_*.deb"
    else
      echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"
      dpkg-deb -I "$deb" >"$tmp/deb-info.txt"
      depends=$(grep '^ Depends: ' "$tmp/deb-info.txt")
      [[ $depends == *libc6* ]] || fail "the .deb's Depends is '$depends'"
      grep -E '^ (Package|Version|Maintainer|Section|Depends|Suggests): ' "$tmp/deb-info.txt"
      dpkg-deb -c "$deb" >"$tmp/deb-contents.txt"
      for f in ./usr/bin/procactor ./usr/share/bash-completion/completions/procactor \
        ./usr/share/procactor/examples/graphs/primes.toml ./usr/include/procactor/procactor.hpp; do
        grep -q " $f\$" "$tmp/deb-contents.txt" || fail "the .deb has no $f"
      done
      if [[ $with_man == 1 ]] && ! grep -q " ./usr/share/man/man1/procactor.1" "$tmp/deb-contents.txt"; then
        fail "the .deb has no man page"
      fi
      root=$tmp/root
      mkdir "$root"
      if ! dpkg-deb -x "$deb" "$root"; then
        fail "dpkg-deb -x failed"
      else
        step "the .deb's tree, extracted: procactor launch"
        check_loads_from "$root/usr/bin/procactor" "$root"
        check_modules "$(dirname "$(find "$root" -name libprocactor.so.0 | head -n 1)")"
        check_primes_launch "$root/usr/bin/procactor" "$root/usr/share/procactor/examples/graphs/primes.toml" \
          "$tmp/launch-deb.log"
      fi
    fi
  fi
fi

# --- nothing left behind ---------------------------------------------------
# New segments whose run is gone (its arena's flock is free): ours, leaked.
leftovers=""
for segment in $(comm -13 <(echo "$shm_before") <(ls /dev/shm 2>/dev/null | sort) | grep -E '^procactor-[0-9]+-[0-9a-f]{16}' || true); do
  arena=$(echo "$segment" | grep -oE '^procactor-[0-9]+-[0-9a-f]{16}')
  if [[ ! -e /dev/shm/$arena ]] || flock -n "/dev/shm/$arena" true; then
    leftovers+=" $segment"
  fi
done
[[ -z $leftovers ]] || fail "shared memory left in /dev/shm:$leftovers"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
if [[ -n $skipped ]]; then
  echo "passed, but not checked for want of:$skipped"
  exit 77
fi
echo "all packaging checks passed"
