"""`fno.Run.predict` on 64 Darcy inputs at 64x64, timed as benches/predict.rs
times the same library call in Rust, on the run and data that bench made:

    cargo bench --bench predict -- DIR        # makes DIR/data, DIR/run; times Rust
    python python/benches/predict_speed.py DIR  # times Python (release build of fno)

Prints the median, minimum and maximum of 20 timed calls after 3 untimed
ones; each call converts nothing (the input is float32 C order already)
and returns a new NumPy array.
"""
import pathlib
import sys
import time

import numpy as np

import fno

BATCH, WARMUP, TIMED = 64, 3, 20


def main(directory: str) -> None:
    root = pathlib.Path(directory)
    data = next((root / "data").iterdir())
    run = fno.Run.load(root / "run")
    f = fno.open(data)
    x = np.stack([f[i]["input"] for i in range(BATCH)])
    seconds = []
    for call in range(WARMUP + TIMED):
        start = time.perf_counter()
        run.predict(x)
        if call >= WARMUP:
            seconds.append(time.perf_counter() - start)
    seconds.sort()
    print(
        f"python predict {x.shape[0]}x{x.shape[2]}x{x.shape[3]}: median {seconds[TIMED // 2] * 1e3:.2f} ms, "
        f"min {seconds[0] * 1e3:.2f} ms, max {seconds[-1] * 1e3:.2f} ms ({TIMED} calls)"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/predict-bench")
