"""Fine-tuning, inverse problems and generation: reports and arrays."""
import inspect

import numpy as np
import pytest

import fno
from conftest import DARCY


def test_finetune_reports_and_arrays(darcy_run):
    result = fno.finetune(darcy_run, DARCY, 3, steps=2, lr=1e-4)
    assert result["sample"] == 3 and result["pde"] == "darcy"
    assert len(result["curve"]) == 3
    assert np.isfinite(result["rel_l2_after"])
    for key in ("before", "after", "truth"):
        assert result[key].shape == (1, 32, 32), key
    # Nothing of the run itself changes: a copy was fine-tuned.
    assert not (darcy_run.dir / "finetune-3").exists()


def test_finetune_defaults_are_the_cli_s():
    signature = inspect.signature(fno.finetune).parameters
    defaults = fno._fno.finetune_defaults
    assert set(defaults) == {"steps", "lr", "anchor", "w_pde", "w_ic", "warmup"}
    for name, value in defaults.items():
        assert signature[name].default == value, name


def test_inverse_reports_arrays_and_files(darcy_run, tmp_path):
    result = fno.inverse(darcy_run.dir, DARCY, 2, steps=3, out=tmp_path / "inv")
    assert result["method"] == "gradient" and result["sample"] == 2
    assert result["recovered"].shape == result["truth"].shape == (1, 32, 32)
    assert (tmp_path / "inv" / "inverse.json").exists()
    lo, hi = result["bounds"]["lo"], result["bounds"]["hi"]
    assert lo - 1e-6 <= result["recovered"].min() and result["recovered"].max() <= hi + 1e-6
    with pytest.raises(ValueError, match="not empty"):
        fno.inverse(darcy_run.dir, DARCY, 2, steps=3, out=tmp_path / "inv")
    with pytest.raises(ValueError, match="sharpen"):
        fno.inverse(darcy_run.dir, DARCY, 2, sharpen=0.5, out=tmp_path / "other")


def test_generate_writes_a_file_fno_reads(tmp_path):
    path = fno.generate("advection", samples=2, nx=32, nt=4, out=tmp_path)
    assert path.exists() and path.parent == tmp_path
    f = fno.open(path)
    assert len(f) == 2 and f[0]["frames"].shape == (5, 1, 32)
    darcy = fno.generate("darcy", samples=2, nx=16, out=tmp_path / "d")
    assert fno.open(darcy)[0]["input"].shape == (1, 16, 16)
    with pytest.raises(ValueError, match="nux"):
        fno.generate("burgers", nux=3, out=tmp_path)
    with pytest.raises(ValueError, match="pde"):
        fno.generate("heat", out=tmp_path)
