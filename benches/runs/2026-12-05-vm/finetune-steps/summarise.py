"""Markdown summary of fine-tuning results: python3 summarise.py LABEL GLOB [LABEL GLOB ...]."""
import glob, json, sys
args = sys.argv[1:]
for label, pattern in zip(args[::2], args[1::2]):
    rows = []
    for p in glob.glob(pattern):
        d = json.load(open(p))
        rows.append((d["sample"], d["rel_l2_before"], d["rel_l2_after"], max(c["rel_l2"] for c in d["curve"]), d["steps"]))
    rows.sort()
    b = sum(r[1] for r in rows) / len(rows); a = sum(r[2] for r in rows) / len(rows)
    ratios = [r[2] / r[1] for r in rows]
    worst = max(range(len(rows)), key=lambda i: ratios[i])
    best = min(ratios)
    n5 = sum(1 for x in ratios if x > 1.05)
    print(f"| {label} | {len(rows)} | {rows[0][4]} | {b:.4f} → {a:.4f} | {a/b:.2f}× | {best:.2f}×, {ratios[worst]:.3f}× (sample {rows[worst][0]}) | {n5} | {max(r[3] for r in rows):.3f} |")
