"""Last, best and mean-of-last-5 test relative L2 and seconds per epoch of
every curve in this directory (python3 analyse.py, from here)."""
import glob
import json


def curve(path):
    rows = [json.loads(line) for line in open(path)]
    rows = [r for r in rows if "epoch" in r]
    if "wall_s" in rows[0]:  # fno metrics.jsonl: per-epoch wall
        total = sum(r["wall_s"] for r in rows)
    else:  # reference: cumulative t, including its per-epoch test pass
        total = rows[-1]["t"]
    return [r["test_rel_l2"] for r in rows], total / len(rows)


for path in sorted(glob.glob("*.metrics.jsonl")) + sorted(glob.glob("ref-*.jsonl")):
    errs, per_epoch = curve(path)
    best = min(range(len(errs)), key=errs.__getitem__)
    print(f"{path:34s} last {errs[-1]:.4f}  best {errs[best]:.4f} (epoch {best})  "
          f"mean(last 5) {sum(errs[-5:]) / 5:.4f}  {per_epoch:.2f} s/epoch")
