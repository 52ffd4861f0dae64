#!/usr/bin/python3
"""The primes speedup against the number of workers, as an SVG, from one JSON
object of `procactor-bench --json`.

Run it with Debian's own interpreter, /usr/bin/python3, where Debian's
python3-matplotlib is installed (apt-get install python3-matplotlib): the
`python3` first on PATH may be another one (a pyenv or venv interpreter)
that has no matplotlib. procactor-bench runs it that way for `--plot
FILE.svg`; by hand:

  build/bin/procactor-bench --only primes --json > primes.json
  /usr/bin/python3 tests/bench/plot_speedup.py primes.json primes-speedup.svg

Every workload of the JSON that carries a scaling curve (`curve_workers`,
`curve_speedup`, and `curve_speedup_min` / `_max` for its range over the
rounds) is one line: the `Pool` of `primes` and the graph of `primes_graph`
as the benchmark runs them now. `curve_linear_speedup` is the dashed line
they are judged against. The title names the machine as the JSON does
(CPUs, CPU model, a virtual machine or not, the load average around the
run).

The SVG is the same bytes for the same JSON and matplotlib version (a fixed
hash salt, no date), so regenerating a committed picture changes it only
when the figures do. It is written next to its final name and renamed, so a
failed run leaves no half-written file.

Exit codes: 0 written; 1 the input cannot be plotted (no such file, not
JSON, no curves in it) or the SVG cannot be written; 2 usage; 3 matplotlib
is missing. `--check` only checks that matplotlib loads.
"""

import argparse
import json
import math
import os
import sys

PROG = "plot_speedup.py"

# What each known workload's line says; any other workload with a curve is
# plotted under its own key.
LABELS = {
    "primes": "procactor::Pool, one process per worker",
    "primes_graph": "the primes graph, procactor launch",
}


class InputError(Exception):
    """The JSON cannot be plotted; the message names the file and why."""


def fail(message, code=1):
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def load_matplotlib():
    """matplotlib with the Agg backend (no display), or None when it is
    missing. Imported only once the input has been read, so that a bad
    input is reported on a machine without it too."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        return None
    return matplotlib, pyplot


def missing_matplotlib():
    return fail(f"matplotlib is not installed for {sys.executable} "
                "(on Debian: apt-get install python3-matplotlib, then run this "
                "script with /usr/bin/python3)", 3)


def number(value):
    """A JSON number or null as a float (null -> nan, which matplotlib leaves
    out of a line)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def numbers(workload, key, name, length=None):
    values = workload.get(key)
    if not isinstance(values, list):
        raise InputError(f"workload '{name}' has no list '{key}'")
    try:
        out = [number(v) for v in values]
    except ValueError as e:
        raise InputError(f"workload '{name}', '{key}': {e}") from None
    if length is not None and len(out) != length:
        raise InputError(f"workload '{name}': '{key}' has {len(out)} values for "
                         f"{length} points of 'curve_workers'")
    return out


def read_report(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not JSON: it is not UTF-8 text") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path} is not JSON: {e.msg} at line {e.lineno}, "
                         f"column {e.colno}") from None
    if not isinstance(report, dict) or not isinstance(report.get("workloads"), dict):
        raise InputError(f"{path} is JSON but not procactor-bench's: it has no "
                         "'workloads' object (run procactor-bench --json)")
    return report


def curves_of(report, path):
    """[(key, workers, median, low, high)] for each workload with a curve,
    and the linear speedup's points (workers, speedup) or None."""
    curves = []
    linear = None
    for key, workload in report["workloads"].items():
        if not isinstance(workload, dict) or "curve_speedup" not in workload:
            continue
        workers = numbers(workload, "curve_workers", key)
        if not workers or any(math.isnan(w) for w in workers):
            raise InputError(f"workload '{key}': 'curve_workers' is empty or has a null")
        median = numbers(workload, "curve_speedup", key, len(workers))
        # The range is there for every curve the benchmark writes; a hand-made
        # file without it still plots, without the band.
        low = (numbers(workload, "curve_speedup_min", key, len(workers))
               if "curve_speedup_min" in workload else median)
        high = (numbers(workload, "curve_speedup_max", key, len(workers))
                if "curve_speedup_max" in workload else median)
        curves.append((key, workers, median, low, high))
        if linear is None and "curve_linear_speedup" in workload:
            linear = (workers, numbers(workload, "curve_linear_speedup", key, len(workers)))
    if not curves:
        present = ", ".join(report["workloads"]) or "none"
        raise InputError(f"{path} has no speedup curve (no workload with 'curve_workers' "
                         f"and 'curve_speedup'; its workloads: {present}): run "
                         "procactor-bench with the primes workloads, e.g. --only primes")
    if all(math.isnan(v) for _, _, median, _, _ in curves for v in median):
        raise InputError(f"{path}: every point of its speedup curves is null "
                         "(nothing was measured; its 'notes' say why)")
    return curves, linear


def limit_text(workload):
    """'8 M' for a limit of 8,000,000."""
    limit = workload.get("limit")
    if not isinstance(limit, (int, float)) or isinstance(limit, bool):
        return None
    if limit >= 1e6:
        return f"{limit / 1e6:g} M"
    return f"{limit:g}"


def machine_text(report):
    machine = report.get("machine") if isinstance(report.get("machine"), dict) else {}
    cpus = machine.get("cpus")
    parts = []
    if isinstance(cpus, int):
        parts.append(f"{cpus} CPU" + ("" if cpus == 1 else "s"))
    model = machine.get("cpu_model")
    if isinstance(model, str) and model and model != "unknown":
        parts.append(model)
    if machine.get("virtual_machine") is True:
        parts.append("virtual machine")
    # Before only: the load after the run is mostly the benchmark's own
    # processes, while the load before says how quiet the machine was.
    before = machine.get("load_average_before")
    if isinstance(before, (int, float)) and not isinstance(before, bool):
        parts.append(f"load average {before:.2f} before the run")
    return ", ".join(parts) if parts else "an unknown machine"


def plot(report, curves, linear, out_path, matplotlib, pyplot):
    # Deterministic SVG: the ids matplotlib makes up are hashed from this salt
    # instead of a random one, and text stays text (no glyph paths, whose
    # ids would be salted too; smaller, and searchable).
    matplotlib.rcParams["svg.hashsalt"] = "procactor-bench"
    matplotlib.rcParams["svg.fonttype"] = "none"
    figure, axes = pyplot.subplots(figsize=(7.5, 4.8), dpi=100)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]
    # Curves close to each other (on 2 CPUs both reach ~1.9) must stay
    # apart: a marker shape each, and each value written on its own side.
    markers = ["o", "s", "^", "D", "v"]
    top = 1.0
    for i, (key, workers, median, low, high) in enumerate(curves):
        colour = colours[i % len(colours)]
        workload = report["workloads"][key]
        label = LABELS.get(key, key)
        limit = limit_text(workload)
        if limit:
            label += f" (primes below {limit})"
        # Later curves get bigger hollow markers, drawn beneath the earlier
        # ones: a point under another still shows as a ring around it.
        (line,) = axes.plot(workers, median, marker=markers[i % len(markers)], markersize=6 + 3 * i,
                            markerfacecolor=colour if i == 0 else "none", color=colour, label=label,
                            zorder=3 - 0.1 * i)
        # Named in the SVG (<g id="speedup-primes_graph">), for the test and
        # for anyone reading the file.
        line.set_gid(f"speedup-{key}")
        if low != median or high != median:
            band = axes.fill_between(workers, low, high, color=colour, alpha=0.15, linewidth=0)
            band.set_gid(f"speedup-range-{key}")
        for x, y in zip(workers, median):
            if not math.isnan(y):
                axes.annotate(f"{y:.2f}", (x, y), textcoords="offset points", xytext=(9, -4 - 12 * i),
                              va="top", fontsize=8, color=colour, zorder=4,
                              bbox={"boxstyle": "round,pad=0.1", "facecolor": "white",
                                    "edgecolor": "none", "alpha": 0.8})
        top = max([top] + [v for v in high + median if not math.isnan(v)])
    if linear is not None:
        (line,) = axes.plot(linear[0], linear[1], linestyle="--", color="#555555",
                            label="linear speedup (= workers)")
        line.set_gid("speedup-linear")
        top = max([top] + [v for v in linear[1] if not math.isnan(v)])

    all_workers = sorted({w for _, workers, _, _, _ in curves for w in workers})
    axes.set_xticks(all_workers)
    axes.set_xticklabels([f"{w:g}" for w in all_workers])
    axes.set_xlim(0.5 if all_workers[0] >= 1 else 0, all_workers[-1] + 0.5)
    axes.set_ylim(0, top * 1.12)
    axes.set_xlabel("workers (processes counting primes)")
    axes.set_ylabel("speedup (serial time / parallel time)")
    rounds = sorted({report["workloads"][key].get("rounds") for key, *_ in curves
                     if isinstance(report["workloads"][key].get("rounds"), int)})
    rounds_text = (f"median of {rounds[0]} rounds" if len(rounds) == 1 else "median of the rounds")
    run = "procactor-bench --quick" if report.get("quick") is True else "procactor-bench"
    axes.set_title(f"Counting primes: speedup against workers\n"
                   f"{machine_text(report)}\n{run}, {rounds_text}, band: min to max",
                   fontsize=10)
    axes.grid(True, color="#dddddd", linewidth=0.8)
    axes.legend(loc="upper left", fontsize=9)
    figure.tight_layout()

    directory = os.path.dirname(os.path.abspath(out_path))
    temporary = os.path.join(directory, f".{os.path.basename(out_path)}.{os.getpid()}.tmp")
    try:
        # No date in the file; the creator (matplotlib's version) stays.
        figure.savefig(temporary, format="svg", metadata={"Date": None})
        os.replace(temporary, out_path)
    except OSError as e:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise InputError(f"cannot write {out_path}: {e.strerror}") from None
    finally:
        pyplot.close(figure)


def main(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Plot the primes speedup against the number of workers from "
                    "procactor-bench --json output, as an SVG. Run it with "
                    "/usr/bin/python3 (Debian's python3-matplotlib).")
    parser.add_argument("json", nargs="?", help="procactor-bench --json output")
    parser.add_argument("svg", nargs="?", help="the SVG file to write")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing when the SVG is written (procactor-bench says it)")
    parser.add_argument("--check", action="store_true",
                        help="only check that matplotlib loads (exit 0, or 3 with a message)")
    args = parser.parse_args(argv)
    if args.check:
        if args.json or args.svg:
            parser.error("--check takes no files")
        return 0 if load_matplotlib() else missing_matplotlib()
    if not args.json or not args.svg:
        parser.error("give the JSON file and the SVG file to write")
    try:
        report = read_report(args.json)
        curves, linear = curves_of(report, args.json)
        loaded = load_matplotlib()
        if loaded is None:
            return missing_matplotlib()
        plot(report, curves, linear, args.svg, *loaded)
    except InputError as e:
        return fail(str(e))
    if not args.quiet:
        print(f"{PROG}: wrote {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
