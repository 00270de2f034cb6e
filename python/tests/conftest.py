"""Shared fixtures: the repository's PDEBench-layout files and one tiny
run trained once per session. tests/python.rs runs this suite after
building the package into the test venv; FNO_BIN names the `fno` binary
the CLI comparisons call."""
import os
import pathlib

import pytest

import fno

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "pdebench"
DARCY = DATA / "2D_DarcyFlow_beta1.0_Train.hdf5"

#: A model small enough to train in seconds on the 64x64 Darcy fixture
#: read at stride 2 (32x32).
TINY = {
    "data": {"train": str(DARCY), "reduced_resolution": 2},
    "task": {"kind": "one_shot"},
    "model": {"modes": [4, 4], "width": 8, "layers": 2},
    "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3},
}


@pytest.fixture(scope="session")
def fno_bin() -> str:
    return os.environ["FNO_BIN"]


@pytest.fixture(scope="session")
def darcy_run(tmp_path_factory) -> fno.Run:
    return fno.train(TINY, tmp_path_factory.mktemp("runs") / "darcy", progress=False)
