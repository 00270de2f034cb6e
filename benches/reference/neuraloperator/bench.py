"""Times neuraloperator's FNO on the configurations of `fno bench`.

The counterpart of

    fno bench --dims 2 --size 64 --batch 20 --width 32 --modes 12 --layers 4 --steps 20 --threads 2 --json
    fno bench --dims 1 --size 1024 --batch 20 --width 64 --modes 16 --layers 4 --steps 20 --threads 2 --json
    fno bench --dims 2 --size 64 --width 32 --modes 12 --layers 4 --steps 50 --device cuda --json --batch B

Usage:
    python bench.py {1d,2d} [--device cpu|cuda] [--batch B] [--threads T]
                    [--warmup W] [--steps S] [--tf32] [--default-blocks]
                    [--precision full|mixed]

The model is built like fno's: four Fourier blocks without a channel MLP,
a linear skip, GELU, lifting and projection of ratio 2, grid channels, no
padding. neuraloperator's `n_modes` counts every kept frequency of an axis,
fno's `--modes m` keeps -m..m, so fno's 12 and 16 are 24 and 32 here.
`--default-blocks` keeps neuraloperator's default block (with a channel MLP).
`--precision mixed` (CUDA) is neuraloperator's mixed precision as its
trainer runs it: `fno_block_precision="mixed"` (half-precision spectral
convolutions) inside `torch.autocast` (float16), without a gradient scaler.

Timed: the forward pass under `torch.no_grad()`, and the training step
(zero_grad, forward, MSE loss, backward, AdamW step with lr 1e-3 and torch's
other defaults), each `--warmup` times untimed and then `--steps` times; the
medians are printed. On CUDA every repetition ends in a synchronisation and
TF32 stays off unless `--tf32` (candle does not use TF32 either).

Prints one JSON line: impl, torch, config, device, batch, default_blocks,
tf32, precision, params, forward_ms, train_step_ms and (on Linux) peak_rss_mb.
"""

import argparse
import json
import statistics
import time

import torch
import neuralop
from neuralop.models import FNO

# (neuraloperator n_modes, hidden width, grid) of the two bench configurations.
CONFIGS = {
    "1d": ((32,), 64, (1024,)),
    "2d": ((24, 24), 32, (64, 64)),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", choices=sorted(CONFIGS))
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (default 2, as fno bench --threads 2)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed repetitions (default 3 on the CPU, 10 on CUDA)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed repetitions (default 20 on the CPU, 50 on CUDA)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA")
    parser.add_argument("--default-blocks", action="store_true",
                        help="neuraloperator's default blocks (with a channel MLP)")
    parser.add_argument("--precision", choices=["full", "mixed"], default="full",
                        help="fno_block_precision, with autocast when mixed (default full)")
    args = parser.parse_args()
    on_gpu = args.device.startswith("cuda")
    if args.warmup is None:
        args.warmup = 10 if on_gpu else 3
    if args.steps is None:
        args.steps = 50 if on_gpu else 20
    return args


def peak_rss_mb():
    """Peak resident memory of this process (VmHWM), MiB; None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def median_ms(run, warmup, steps, sync):
    """Median wall time of `run` in ms over `steps` calls after `warmup` calls."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    args = parse_args()
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    if on_gpu:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        sync = torch.cuda.synchronize
    else:
        torch.set_num_threads(args.threads)
        sync = lambda: None  # noqa: E731 - CPU work is synchronous
    torch.manual_seed(0)

    n_modes, width, grid = CONFIGS[args.config]
    blocks = {} if args.default_blocks else {"use_channel_mlp": False}
    model = FNO(n_modes=n_modes, in_channels=1, out_channels=1, hidden_channels=width,
                n_layers=4, lifting_channel_ratio=2, projection_channel_ratio=2,
                fno_block_precision=args.precision, **blocks).to(device)
    mixed = args.precision == "mixed"
    x = torch.randn(args.batch, 1, *grid, device=device)
    y = torch.randn(args.batch, 1, *grid, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def forward():
        with torch.no_grad(), torch.autocast(device.type, enabled=mixed):
            model(x)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=mixed):
            loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()

    forward_ms = median_ms(forward, args.warmup, args.steps, sync)
    train_step_ms = median_ms(train_step, args.warmup, args.steps, sync)
    print(json.dumps({
        "impl": "neuraloperator " + neuralop.__version__,
        "torch": torch.__version__,
        "config": args.config,
        "device": str(device),
        "batch": args.batch,
        "default_blocks": args.default_blocks,
        "tf32": args.tf32 if on_gpu else None,
        "precision": args.precision,
        # numel() counts a complex weight once; fno counts it as two reals.
        "params": sum(p.numel() for p in model.parameters()),
        "forward_ms": forward_ms,
        "train_step_ms": train_step_ms,
        "peak_rss_mb": peak_rss_mb(),
    }))


if __name__ == "__main__":
    main()
