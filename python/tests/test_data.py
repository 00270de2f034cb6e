"""Reading files: samples as NumPy arrays with coordinates, the reader's
strides, ranges and splits, and inspect."""
import numpy as np
import pytest

import fno
from conftest import DARCY, DATA


def test_samples_come_with_their_grid_at_the_strides_asked():
    full = fno.open(DARCY)
    half = fno.open(DARCY, reduced_resolution=2)
    assert len(full) == len(half) == 16
    s = half[3]
    assert s["index"] == 3
    assert s["frames"].dtype == np.float32 and s["frames"].shape == (1, 1, 32, 32)
    assert s["input"].shape == (1, 32, 32)
    np.testing.assert_array_equal(s["frames"], full[3]["frames"][:, :, ::2, ::2])
    coords = half.coordinates
    assert coords["x"].shape == coords["y"].shape == (32,)
    np.testing.assert_allclose(coords["x"], full.coordinates["x"][::2])
    assert half.info["num_samples"] == 16 and half.info["spatial_shape"] == [64, 64]


def test_iteration_range_stride_and_split():
    assert [s["index"] for s in fno.open(DARCY, range=(2, 8), reduced_batch=3)] == [2, 5]
    train = fno.open(DARCY, split="train")
    test = fno.open(DARCY, split="test")
    assert sorted(train.indices + test.indices) == list(range(16))
    # PDEBench holds out the first 10% of a single-array file.
    assert test.indices == [0]
    assert fno.open(DARCY, split="test", test_at="end").indices == [15]
    assert fno.open(DARCY)[-1]["index"] == 15
    with pytest.raises(IndexError):
        fno.open(DARCY)[16]


def test_time_stride_on_a_trajectory():
    f = fno.open(DATA / "1D_Advection_Sols_beta0.4.hdf5", reduced_resolution_t=20)
    assert f[0]["frames"].shape == (11, 1, 256)
    assert f.coordinates["t"].shape == (11,)
    assert f[0]["input"] is None


def test_inspect_is_the_cli_report():
    report = fno.inspect(DARCY, stat_samples=4)
    assert report["num_samples"] == 16 and report["spatial_shape"] == [64, 64]
    assert report["stats_samples"] == 4
    assert {s["name"] for s in report["stats"]} >= {"nu"}
    assert fno.inspect(DARCY, all=True)["stats_samples"] == 16


def test_reader_options_outside_their_meaning_are_value_errors():
    with pytest.raises(ValueError, match="reduced_batch"):
        fno.open(DARCY, reduced_batch=0)
    with pytest.raises(ValueError, match="split"):
        fno.open(DARCY, split="validation")
    with pytest.raises(ValueError, match="range"):
        fno.open(DARCY, range=(10, 40))
