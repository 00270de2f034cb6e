"""Training, prediction at two resolutions, evaluation against the CLI,
and NumPy inputs of every dtype and layout."""
import json
import logging
import subprocess

import numpy as np
import pytest

import fno
from conftest import DARCY, TINY


def inputs(stride):
    f = fno.open(DARCY, reduced_resolution=stride)
    return np.stack([s["input"] for s in f])


def test_progress_reaches_the_callback(tmp_path):
    events = []
    run = fno.train(
        TINY,
        tmp_path / "run",
        overrides={"train.epochs": 1},
        progress=lambda event, details: events.append((event, details)),
    )
    names = [e for e, _ in events]
    assert names[0] == "start" and names.count("epoch") == 1 and "batch" in names
    epoch = dict(events)["epoch"]
    assert epoch["epoch"] == 0 and np.isfinite(epoch["train_loss"])
    assert run.config["train"]["epochs"] == 1
    assert (tmp_path / "run" / "metrics.jsonl").exists()


def test_logging_by_default_and_resume(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fno")
    fno.train(TINY, tmp_path / "run", overrides=["train.epochs=1"])
    assert any("epoch 0" in r.getMessage() for r in caplog.records)
    run = fno.train(None, tmp_path / "run", overrides={"train.epochs": 2}, resume=True)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1]
    assert run.config["train"]["epochs"] == 2


def test_predict_equals_the_cli_and_runs_at_two_resolutions(darcy_run, fno_bin, tmp_path):
    x32 = inputs(2)
    p32 = darcy_run.predict(x32)
    assert p32.dtype == np.float32 and p32.shape == (16, 1, 32, 32)
    out = tmp_path / "pred.hdf5"
    cli = subprocess.run(
        [fno_bin, "predict", "--run", str(darcy_run.dir), "--input", str(DARCY), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    written = np.stack([s["frames"][0] for s in fno.open(out)])
    np.testing.assert_allclose(p32, written, rtol=0, atol=1e-6)
    # Zero-shot: the 64x64 input, and the 32x32 input with a 64x64 output.
    p64 = darcy_run.predict(inputs(1))
    assert p64.shape == (16, 1, 64, 64) and np.isfinite(p64).all()
    up = darcy_run.predict(x32, resolution=64)
    assert up.shape == (16, 1, 64, 64) and np.isfinite(up).all()
    assert darcy_run.predict(x32, resolution=[48, 40]).shape == (16, 1, 48, 40)


def close(a, b, path="report"):
    """Every number of `a` within 1e-6 of `b`'s (relative beyond 1)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert abs(a - b) <= 1e-6 * max(1.0, abs(b)), f"{path}: {a} vs {b}"
    else:
        assert a == b, path


def test_evaluate_equals_the_cli_eval_json(darcy_run, fno_bin):
    report = darcy_run.evaluate(DARCY, [64])
    cli = subprocess.run(
        [fno_bin, "eval", "--run", str(darcy_run.dir), "--data", str(DARCY), "--resolution", "64"],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    written = json.loads((darcy_run.dir / "eval.json").read_text())
    assert [r["grid"] for r in report["results"]] == [[32, 32], [64, 64]]
    assert {"rmse", "nrmse", "max", "crmse", "brmse", "frmse", "relative_l2"} <= report["results"][0]["metrics"].keys()
    close(report["results"], written["results"])
    assert report["samples"] == written["samples"]


def test_any_dtype_and_layout_gives_the_same_prediction(darcy_run):
    x = inputs(2)
    expected = darcy_run.predict(x)
    np.testing.assert_array_equal(darcy_run.predict(x.astype(np.float64)), expected)
    np.testing.assert_array_equal(darcy_run.predict(np.asfortranarray(x)), expected)
    strided = inputs(1)[:, :, ::2, ::2]
    assert not strided.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(darcy_run.predict(strided), expected)
    reversed_batch = x[::-1]
    np.testing.assert_array_equal(darcy_run.predict(reversed_batch), expected[::-1])


def test_shapes_the_run_cannot_take_are_value_errors(darcy_run):
    x = inputs(2)
    with pytest.raises(ValueError, match="rank 3"):
        darcy_run.predict(x[:, 0])
    with pytest.raises(fno.FnoValueError, match="channels"):
        darcy_run.predict(np.concatenate([x, x], axis=1))
    with pytest.raises(ValueError, match="resolution"):
        darcy_run.predict(x, resolution=[64])
    with pytest.raises(ValueError, match="resolution"):
        darcy_run.evaluate(DARCY, [48])
    with pytest.raises(ValueError, match="steps"):
        darcy_run.predict(x, steps=3)


def test_load_best_and_last(darcy_run):
    last = fno.Run.load(darcy_run.dir, "last")
    assert last.dir == darcy_run.dir
    assert last.predict(inputs(2)[:2]).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="which"):
        fno.Run.load(darcy_run.dir, "middle")
