"""Trains neuraloperator's FNO the way an `fno train` run is configured.

The counterpart of the accuracy comparison in BENCHMARKS.md ("Accuracy
against neuraloperator"): the same PDEBench-layout file, split, model size,
epochs, batch size, optimiser, schedule and normalisation as the fno run.

Usage:
    python train.py FILE {darcy,burgers} [--stride S] [--frame F] [--modes M]
                    [--width W] [--layers L] [--batch B] [--epochs E] [--lr LR]
                    [--step STEP] [--gamma G] [--wd WD] [--seed SEED] [--threads T]
                    [--channel-mlp] [--augment] [--consistency W] [--average]
                    [--ema D]

- Task: `darcy` maps `nu` [N, X, Y] to `tensor` [N, 1, X, Y]; `burgers` maps
  frame 0 of `tensor` [N, T, X] to frame `--frame` (one-shot).
- Split (PDEBench's, fno's default): the first floor(10%) samples are the
  test set, the rest the training set; `--stride` subsamples every spatial
  axis (fno's `reduced_resolution`).
- Normalisation: one mean and std per channel (input and target each have
  one channel), fitted on the training set.
- Model: `FNO(n_modes = 2 * modes per axis, use_channel_mlp=False)`, lifting
  and projection ratio 2, GELU, grid channels, no padding (fno's `--modes m`
  keeps -m..m, neuraloperator counts every kept frequency); with
  `--channel-mlp`, neuraloperator's default block instead
  (`use_channel_mlp=True`, expansion 0.5, soft-gating skip). Note that
  neuraloperator 2.0.0 applies GELU twice per block without the channel
  MLP (its issue #728).
- Training: AdamW (lr, weight decay), StepLR(step, gamma) stepped once per
  epoch, loss = mean per-sample relative L2 on the normalised tensors,
  shuffled batches.
- `--augment`: the symmetry fno's `train.augment` applies, drawn per
  sample and step with probability 1/2 (from the shuffle's generator), on
  physical values before normalisation: `darcy` transposes the two axes
  (`["transpose"]`), `burgers` reverses x and negates u
  (`["odd_reflection"]`).
- `--consistency W`: fno's `train.resolution_consistency = W`: each step
  adds W times the loss of the input refined 2x by repeating each point,
  its prediction read at the original points, against the same target.
- `--average`: also reports the test errors of the prediction averaged
  over the task's symmetry (`*_averaged`), as fno's
  `inference.symmetries`: `darcy` the mean of the prediction and the
  transposed prediction of the transposed input (`["transpose"]`),
  `burgers` of the prediction and the reflected prediction of the
  reflected, negated input (`["odd_reflection"]`), in physical units.
- `--ema D`: scores an exponential moving average of the weights (decay
  `D` per step, from the initial weights) instead of the last weights, and
  reports the last weights' error as `raw_test_rel_l2`.
- Metric: mean per-sample relative L2 in physical units on the test set
  after the last epoch, at the training stride and (when it is above 1) at
  stride 1, i.e. zero-shot at the file's resolution.

Prints one JSON line with the metric, the wall time and the sizes.
"""

import argparse
import copy
import json
import time

import h5py
import numpy as np
import torch
import neuralop
from neuralop.models import FNO


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("task", choices=["darcy", "burgers"])
    for name, kind, default in [
        ("stride", int, 1), ("frame", int, -1), ("modes", int, 12), ("width", int, 32),
        ("layers", int, 4), ("batch", int, 20), ("epochs", int, 50), ("lr", float, 1e-3),
        ("step", int, 100), ("gamma", float, 0.5), ("wd", float, 1e-4), ("seed", int, 0),
        ("threads", int, 2),
    ]:
        parser.add_argument("--" + name, type=kind, default=default)
    parser.add_argument("--augment", action="store_true",
                        help="transform each training sample by the task's symmetry with "
                             "probability 1/2, against fno's train.augment")
    parser.add_argument("--consistency", type=float, default=0.0,
                        help="weight of the resolution-consistency term, against fno's "
                             "train.resolution_consistency")
    parser.add_argument("--average", action="store_true",
                        help="also report the test error of the prediction averaged over the "
                             "task's symmetry, against fno's inference.symmetries")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="score a moving average of the weights with this decay per step")
    parser.add_argument("--channel-mlp", action="store_true",
                        help="neuraloperator's default block (use_channel_mlp=True, "
                             "soft-gating skip), against fno's model.channel_mlp_expansion = 0.5")
    return parser.parse_args()


def load(path, task, frame):
    """Inputs and targets [N, 1, ...] as float32 arrays."""
    with h5py.File(path, "r") as f:
        if task == "darcy":
            inputs = f["nu"][:][:, None]
            targets = f["tensor"][:]
        else:
            series = f["tensor"]
            inputs = series[:, 0][:, None]
            targets = series[:, frame][:, None]
    return inputs.astype(np.float32), targets.astype(np.float32)


def strided(array, stride):
    """Every `stride`-th point along each spatial axis of [N, C, ...]."""
    spatial = array.ndim - 2
    return array[(slice(None), slice(None)) + (slice(None, None, stride),) * spatial]


class Normaliser:
    """One mean and standard deviation, fitted on the training set."""

    def __init__(self, data):
        self.mean, self.std = float(data.mean()), float(data.std())

    def encode(self, data):
        if isinstance(data, torch.Tensor):
            return (data - self.mean) / self.std
        return torch.from_numpy((data - self.mean) / self.std)

    def decode(self, tensor):
        return tensor * self.std + self.mean


def relative_l2(prediction, truth):
    """Per-sample ||prediction - truth|| / ||truth||."""
    n = truth.shape[0]
    error = torch.linalg.norm((prediction - truth).reshape(n, -1), dim=1)
    return error / torch.linalg.norm(truth.reshape(n, -1), dim=1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    inputs, targets = load(args.file, args.task, args.frame)
    n_test = int(inputs.shape[0] * 0.1)
    train_x = strided(inputs[n_test:], args.stride)
    train_y = strided(targets[n_test:], args.stride)
    x_norm, y_norm = Normaliser(train_x), Normaliser(train_y)
    train_x, train_y = x_norm.encode(train_x), y_norm.encode(train_y)

    spatial = inputs.ndim - 2
    model = FNO(n_modes=(2 * args.modes,) * spatial, in_channels=1, out_channels=1,
                hidden_channels=args.width, n_layers=args.layers,
                lifting_channel_ratio=2, projection_channel_ratio=2,
                use_channel_mlp=args.channel_mlp)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step, gamma=args.gamma)

    def symmetry(data):
        """The task's symmetry on physical [N, 1, ...] values (its own inverse)."""
        if args.task == "darcy":
            return data.transpose(-1, -2)
        return -data.flip(-1)

    def test_error(stride, average=False):
        x = torch.from_numpy(strided(inputs[:n_test], stride))
        y = torch.from_numpy(strided(targets[:n_test], stride))
        model.eval()

        def predict(x):
            with torch.no_grad():
                batches = [y_norm.decode(model(x_norm.encode(x[i:i + args.batch])))
                           for i in range(0, n_test, args.batch)]
            return torch.cat(batches)

        prediction = predict(x)
        if average:
            prediction = (prediction + symmetry(predict(symmetry(x)))) / 2
        return relative_l2(prediction, y).mean().item()

    averaged = copy.deepcopy(model) if args.ema > 0 else None
    shuffle = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    last_loss = float("nan")
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(train_x.shape[0], generator=shuffle)
        total = 0.0
        for first in range(0, len(order), args.batch):
            batch = order[first:first + args.batch]
            optimizer.zero_grad(set_to_none=True)
            bx, by = train_x[batch], train_y[batch]
            if args.augment:
                bx, by = x_norm.decode(bx), y_norm.decode(by)
                pick = torch.rand(len(batch), generator=shuffle) < 0.5
                if args.task == "darcy":
                    bx = torch.where(pick[:, None, None, None], bx.transpose(-1, -2), bx)
                    by = torch.where(pick[:, None, None, None], by.transpose(-1, -2), by)
                else:
                    bx = torch.where(pick[:, None, None], -bx.flip(-1), bx)
                    by = torch.where(pick[:, None, None], -by.flip(-1), by)
                bx, by = x_norm.encode(bx), y_norm.encode(by)
            loss = relative_l2(model(bx), by).mean()
            if args.consistency > 0:
                fine = bx
                for axis in range(2, bx.ndim):
                    fine = fine.repeat_interleave(2, dim=axis)
                spatial = (slice(None, None, 2),) * (bx.ndim - 2)
                coarse_of_fine = model(fine)[(slice(None), slice(None)) + spatial]
                loss = loss + args.consistency * relative_l2(coarse_of_fine, by).mean()
            loss.backward()
            optimizer.step()
            if averaged is not None:
                with torch.no_grad():
                    for kept, weight in zip(averaged.parameters(), model.parameters()):
                        kept.mul_(args.ema).add_(weight, alpha=1 - args.ema)
            total += loss.item() * len(batch)
        schedule.step()
        last_loss = total / len(order)
    wall = time.perf_counter() - start

    raw = {}
    if averaged is not None:
        raw["raw_test_rel_l2"] = test_error(args.stride)
        model = averaged
    result = {
        "impl": "neuraloperator " + neuralop.__version__,
        "torch": torch.__version__,
        "params": sum(p.numel() for p in model.parameters()),
        "train_samples": int(train_x.shape[0]),
        "test_samples": n_test,
        "grid": list(train_x.shape[2:]),
        "test_rel_l2": test_error(args.stride),
        "wall_s": wall,
        "final_train_loss": last_loss,
        **raw,
    }
    if args.stride > 1:
        result["test_rel_l2_full"] = test_error(1)
    if args.average:
        result["test_rel_l2_averaged"] = test_error(args.stride, average=True)
        if args.stride > 1:
            result["test_rel_l2_full_averaged"] = test_error(1, average=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
