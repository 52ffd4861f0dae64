#!/usr/bin/python3
"""ctest bench-plot-speedup-*: plot_speedup.py on the committed fixture
(made-up figures in the shape of procactor-bench --json) and on bad inputs.

  test_plot_speedup.py plot SCRIPT FIXTURE       the SVG is written, is
      well-formed XML, has a line per curve with a vertex per measured point,
      names the machine, and is the same bytes when drawn again; skips (77)
      when this interpreter has no matplotlib
  test_plot_speedup.py bad-input SCRIPT FIXTURE  a missing file, a file that
      is not JSON, JSON that is not the benchmark's and JSON without curves
      each exit 1 with a message naming the file and the problem, and write
      no SVG (these are found before matplotlib loads: no skip)

Run by ctest with /usr/bin/python3, where Debian's python3-matplotlib is;
the script under test is run with the same interpreter. Everything it
writes goes to a temporary directory removed at the end.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree

SVG = "{http://www.w3.org/2000/svg}"
SKIP = 77


def run(script, *args):
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=90)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def vertices(path_d):
    """How many points a path's d draws (M and L commands)."""
    return len(re.findall(r"[ML]\s", path_d))


def line_path(root, gid):
    """The d of the path under <g id=gid>: a line's is its direct child, a
    band's (a collection) sits in the group's <defs>."""
    group = next((g for g in root.iter(f"{SVG}g") if g.get("id") == gid), None)
    check(group is not None, f"no <g id=\"{gid}\"> in the SVG")
    path = group.find(f"{SVG}path")
    if path is None:
        path = next(group.iter(f"{SVG}path"), None)
    check(path is not None and path.get("d"), f"<g id=\"{gid}\"> has no path")
    return path.get("d")


def test_plot(script, fixture):
    try:
        import matplotlib  # noqa: F401  (only whether it loads)
    except ImportError:
        print(f"skipped: no matplotlib for {sys.executable} (apt-get install python3-matplotlib)")
        return SKIP
    with open(fixture, encoding="utf-8") as f:
        report = json.load(f)
    with tempfile.TemporaryDirectory(prefix="procactor-plot-test-") as tmp:
        out = os.path.join(tmp, "speedup.svg")
        result = run(script, fixture, out)
        check(result.returncode == 0, f"exit {result.returncode}: {result.stderr}")
        check(os.path.isfile(out), "no SVG written")
        with open(out, "rb") as f:
            first = f.read()
        root = ElementTree.fromstring(first)  # raises on malformed XML
        check(root.tag == f"{SVG}svg", f"the root element is {root.tag}, not svg")

        # A vertex per measured point: the graph's curve has a null, which
        # matplotlib leaves out of the line.
        for key in ("primes", "primes_graph"):
            measured = [v for v in report["workloads"][key]["curve_speedup"] if v is not None]
            drawn = vertices(line_path(root, f"speedup-{key}"))
            check(drawn == len(measured), f"{key}: {drawn} points drawn, {len(measured)} measured")
            line_path(root, f"speedup-range-{key}")
        check(vertices(line_path(root, "speedup-linear")) == 4, "the linear speedup is not 4 points")
        # A workload without a curve draws nothing.
        check(not any(g.get("id", "").endswith("primes_graph_busy") for g in root.iter(f"{SVG}g")),
              "primes_graph_busy has no curve but was drawn")

        text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
        for expected in ("6 CPUs", "Made-up CPU", "--quick", "median of 3 rounds", "workers"):
            check(expected in text, f"'{expected}' is not in the SVG's text: {text}")
        check(b"<dc:date>" not in first, "the SVG carries a date")

        # Drawn again: the same bytes, so a regenerated picture changes only
        # when its figures do.
        result = run(script, fixture, out)
        check(result.returncode == 0, f"second run: exit {result.returncode}: {result.stderr}")
        with open(out, "rb") as f:
            check(f.read() == first, "drawing the same JSON twice gave different SVGs")
        check(sorted(os.listdir(tmp)) == ["speedup.svg"], f"left behind: {os.listdir(tmp)}")
    print("ok: plot")
    return 0


def test_bad_input(script, fixture):
    with tempfile.TemporaryDirectory(prefix="procactor-plot-test-") as tmp:
        out = os.path.join(tmp, "out.svg")
        not_json = os.path.join(tmp, "table.txt")
        with open(not_json, "w", encoding="utf-8") as f:
            f.write("procactor-bench on 2 CPUs (the table, not --json)\n")
        not_ours = os.path.join(tmp, "list.json")
        with open(not_ours, "w", encoding="utf-8") as f:
            f.write("[1, 2, 3]\n")
        no_curves = os.path.join(tmp, "stream-only.json")
        with open(fixture, encoding="utf-8") as f:
            report = json.load(f)
        report["workloads"] = {"stream": report["workloads"]["stream"]}
        with open(no_curves, "w", encoding="utf-8") as f:
            json.dump(report, f)
        missing = os.path.join(tmp, "missing.json")

        cases = [
            (missing, [f"{missing}: no such file"]),
            (not_json, [f"{not_json} is not JSON", "line 1, column 1"]),
            (not_ours, [f"{not_ours} is JSON but not procactor-bench's"]),
            (no_curves, [f"{no_curves} has no speedup curve", "stream", "--only primes"]),
        ]
        for path, expected in cases:
            result = run(script, path, out)
            check(result.returncode == 1, f"{path}: exit {result.returncode}, not 1: {result.stderr}")
            for words in expected:
                check(words in result.stderr, f"{path}: '{words}' not in the message: {result.stderr}")
            check(result.stderr.startswith("plot_speedup.py: "), f"{path}: unnamed message: {result.stderr}")
            check(not os.path.exists(out), f"{path}: an SVG was written")

        # Usage: the files missing.
        result = run(script, fixture)
        check(result.returncode == 2, f"one argument: exit {result.returncode}, not 2")
        leftovers = sorted(set(os.listdir(tmp)) - {"table.txt", "list.json", "stream-only.json"})
        check(not leftovers, f"left behind: {leftovers}")
    print("ok: bad-input")
    return 0


def main(argv):
    if len(argv) != 3 or argv[0] not in ("plot", "bad-input"):
        print("usage: test_plot_speedup.py plot|bad-input PLOT_SCRIPT FIXTURE_JSON", file=sys.stderr)
        return 2
    test = test_plot if argv[0] == "plot" else test_bad_input
    try:
        return test(argv[1], argv[2])
    except AssertionError as e:
        print(f"FAILED ({argv[0]}): {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
