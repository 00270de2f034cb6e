"""Where a GPU run's kernel time goes: sums Nsight Compute's
`gpu__time_duration.sum` per kernel name from the CSV that

    ncu --metrics gpu__time_duration.sum --csv fno bench ... > run.csv

prints, and writes a Markdown table of the kernels by total time (share of
all kernel time, launches, mean per launch). Kernel names lose their
argument lists and template arguments, so one kernel instantiated for
several shapes is one row. Lines ncu prints that are not CSV rows
(`==PROF==` and the program's own output) are skipped.

Usage: python benches/ncu_summary.py run.csv [--top N]
"""

import argparse
import csv
import re
from collections import defaultdict

# Nanoseconds per unit ncu may report the duration in.
UNITS = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9}


def short_name(name):
    """`void fno_mix_f32(float const*, ...)` -> `fno_mix_f32`;
    `void cutlass::Kernel<...>(...)` -> `cutlass::Kernel`."""
    name = re.sub(r"\(.*\)$", "", name.strip())
    depth, out = 0, []
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    name = "".join(out).strip()
    return name.split(" ")[-1] or name


def read(path):
    """{kernel: [total ns, launches]} from ncu's CSV."""
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    totals = defaultdict(lambda: [0.0, 0])
    for row in csv.DictReader(lines):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        ns = value * UNITS.get(row.get("Metric Unit", "nsecond"), 1.0)
        entry = totals[short_name(row["Kernel Name"])]
        entry[0] += ns
        entry[1] += 1
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    totals = read(args.csv)
    if not totals:
        raise SystemExit(f"{args.csv}: no gpu__time_duration.sum rows")
    all_ns = sum(t for t, _ in totals.values())
    launches = sum(n for _, n in totals.values())
    print(f"{all_ns / 1e6:.3f} ms of kernel time in {launches} launches\n")
    print("| kernel | time | share | launches | per launch |")
    print("|---|---|---|---|---|")
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])
    for name, (ns, n) in ranked[: args.top]:
        print(f"| `{name}` | {ns / 1e3:.1f} µs | {100 * ns / all_ns:.1f}% | {n} | {ns / n / 1e3:.2f} µs |")
    rest = ranked[args.top:]
    if rest:
        ns = sum(t for _, (t, _) in rest)
        n = sum(c for _, (_, c) in rest)
        print(f"| {len(rest)} others | {ns / 1e3:.1f} µs | {100 * ns / all_ns:.1f}% | {n} | |")


if __name__ == "__main__":
    main()
