"""Loads `fno export --format neuraloperator` into neuraloperator 2.0.0's FNO
and compares its outputs with `fno predict` on the same inputs.

Steps: export the run and predict a PDEBench file with the `fno` binary;
build `FNO(**fno_kwargs.json)`, `load_state_dict(model.safetensors,
strict=True)`; read the file's inputs at the run's strides, normalise them
with normalizer.json, apply the model, decode, and compare with fno's
prediction. Two figures are printed as one JSON line:

- `max_rel_diff_as_released`: neuraloperator 2.0.0's FNO as it is, which
  applies the non-linearity twice after every block but the last when
  use_channel_mlp=False (neuraloperator issue #728);
- `max_rel_diff`: the same model with that block applying it once, which
  is the FNO fno trains (and neuraloperator's pull request #729).

With `use_channel_mlp=True` (an fno run with `model.channel_mlp_expansion`)
neuraloperator's blocks already compute fno's, so the two figures are one.

A relative difference is max |neuraloperator - fno| / max |fno| over the
whole file. The exit code is 0 when `max_rel_diff` is at most --tol.

Supported runs: one-shot tasks on Darcy files (`nu` -> `tensor`) and on
single-array files (`tensor` [sample, t, x(, y)], frame to frame).

Usage:
  python check_export.py --fno target/debug/fno --run RUN --data FILE.hdf5
  python check_export.py ... --source NAME   # one source of a multi-source run
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib

import h5py
import numpy as np
import torch
from neuralop.models import FNO


def read_safetensors(path):
    """The tensors of a safetensors file, by key (the `safetensors` package
    when installed, else its simple format read directly)."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    dtypes = {"F32": np.float32, "F64": np.float64, "C64": np.complex64}
    with open(path, "rb") as f:
        raw = f.read()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    body = raw[8 + size :]
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=dtypes[info["dtype"]])
        tensors[key] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors


def fno(binary, *args):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{binary} {' '.join(args)} failed:\n{done.stderr}")


def inputs_and_predictions(data, pred, config):
    """The model inputs read from `data` at the run's strides and fno's
    predictions read from `pred`, both [sample, channel, grid...]."""
    task = config.get("task", {})
    if task.get("kind", "one_shot") != "one_shot":
        sys.exit(f"this check supports one-shot runs, not {task.get('kind')!r}")
    s = config["data"].get("reduced_resolution", 1)
    st = config["data"].get("reduced_resolution_t", 1)
    with h5py.File(data, "r") as f, h5py.File(pred, "r") as p:
        if "nu" in f:
            dims = f["nu"].ndim - 1
            space = (slice(None),) + (slice(None, None, s),) * dims
            x = f["nu"][space][:, None]
            y = p["tensor"][:, 0][:, None]
        elif "tensor" in f:
            dims = f["tensor"].ndim - 2
            space = (slice(None, None, s),) * dims
            frames = f["tensor"][(slice(None), slice(None, None, st)) + space]
            x = frames[:, task.get("input_frame", 0)][:, None]
            y = p["tensor"][:, 1][:, None]
        else:
            sys.exit(f"{data}: this check reads Darcy and single-array files")
    return x.astype(np.float32), y.astype(np.float32)


def apply_once(blocks):
    """Makes neuraloperator's FNOBlocks apply the non-linearity once per
    block (none after the last), as fno's FNO does."""

    def forward(x, index=0, output_shape=None):
        skip = blocks.fno_skips[index](x)
        skip = blocks.convs[index].transform(skip, output_shape=output_shape)
        x = blocks.convs[index](x, output_shape=output_shape) + skip
        return blocks.non_linearity(x) if index < blocks.n_layers - 1 else x

    blocks.forward = forward


def predict(model, x, norm):
    mean_in = np.array(norm["input"]["mean"], dtype=np.float32)
    std_in = np.array(norm["input"]["std"], dtype=np.float32)
    mean_out = np.array(norm["output"]["mean"], dtype=np.float32)
    std_out = np.array(norm["output"]["std"], dtype=np.float32)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    encoded = (x - mean_in.reshape(shape)) / std_in.reshape(shape)
    with torch.no_grad():
        y = model(torch.from_numpy(encoded)).numpy()
    return y * std_out.reshape(shape) + mean_out.reshape(shape)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fno", required=True, help="the fno binary")
    parser.add_argument("--run", required=True, help="a run directory of fno train")
    parser.add_argument("--data", required=True, help="a PDEBench file to predict")
    parser.add_argument("--last", action="store_true", help="the last epoch's weights")
    parser.add_argument("--source", help="the source of a multi-source run to export and check")
    parser.add_argument("--tol", type=float, default=1e-5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    weights = ["--last"] if args.last else []
    weights += ["--source", args.source] if args.source else []
    with tempfile.TemporaryDirectory() as work:
        export = os.path.join(work, "export")
        pred = os.path.join(work, "pred.hdf5")
        fno(args.fno, "export", "--format", "neuraloperator", args.run, export, *weights)
        fno(args.fno, "predict", "--run", args.run, "--input", args.data, "--out", pred,
            "--quiet", *weights)
        with open(os.path.join(export, "fno_kwargs.json")) as f:
            kwargs = json.load(f)
        with open(os.path.join(export, "normalizer.json")) as f:
            norm = json.load(f)
        with open(os.path.join(args.run, "config.toml"), "rb") as f:
            config = tomllib.load(f)
        for source in config["data"].get("sources", []):
            if source.get("name") == args.source and "task" in source:
                config["task"] = source["task"]
        state = read_safetensors(os.path.join(export, "model.safetensors"))
        x, y_fno = inputs_and_predictions(args.data, pred, config)

    model = FNO(**kwargs)
    model.load_state_dict(state, strict=True)
    model.eval()
    scale = float(np.abs(y_fno).max())
    as_released = float(np.abs(predict(model, x, norm) - y_fno).max()) / scale
    if kwargs["use_channel_mlp"]:
        once = as_released
    else:
        apply_once(model.fno_blocks)
        once = float(np.abs(predict(model, x, norm) - y_fno).max()) / scale
    print(json.dumps({
        "run": args.run,
        "data": args.data,
        "samples": int(x.shape[0]),
        "grid": list(x.shape[2:]),
        "n_modes": kwargs["n_modes"],
        "tensors": len(state),
        "use_channel_mlp": kwargs["use_channel_mlp"],
        "max_rel_diff": once,
        "max_rel_diff_as_released": as_released,
        "tol": args.tol,
    }))
    sys.exit(0 if once <= args.tol else 1)


if __name__ == "__main__":
    main()
