"""Errors as Python exceptions with the CLI's messages; the package's
version is the crate's."""
import pathlib
import re

import pytest

import fno
from conftest import ROOT, TINY


def test_missing_files_are_file_not_found_errors(tmp_path):
    for call in (
        lambda: fno.open(tmp_path / "missing.h5"),
        lambda: fno.inspect(tmp_path / "missing.h5"),
        lambda: fno.Run.load(tmp_path / "no-run"),
        lambda: fno.train(tmp_path / "missing.toml", tmp_path / "run"),
    ):
        with pytest.raises(FileNotFoundError) as caught:
            call()
        assert isinstance(caught.value, fno.FnoError)
        assert "missing" in str(caught.value) or "no-run" in str(caught.value)


def test_bad_settings_are_value_errors_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="train.lr") as caught:
        fno.train(TINY, tmp_path / "a", overrides={"train.lr": -1.0})
    assert isinstance(caught.value, fno.FnoError)
    with pytest.raises(ValueError, match="colour"):
        fno.train({**TINY, "model": {**TINY["model"], "colour": 3}}, tmp_path / "b")
    with pytest.raises(ValueError, match="model.modes"):
        fno.train(TINY, tmp_path / "c", overrides=["model.modes=[40, 40]"])
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_devices(darcy_run):
    if not fno.CUDA:
        with pytest.raises(ValueError, match="built without CUDA"):
            fno.Run.load(darcy_run.dir, device="cuda:0")
    with pytest.raises(ValueError, match="expected cpu, cuda or cuda:N"):
        fno.Run.load(darcy_run.dir, device="gpu")


def test_a_malformed_file_is_an_fno_error(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not HDF5 at all")
    with pytest.raises(fno.FnoError, match="not a readable HDF5 file") as caught:
        fno.open(bad)
    assert not isinstance(caught.value, (ValueError, FileNotFoundError))


def test_version_is_the_crates():
    text = (ROOT / "Cargo.toml").read_text()
    workspace = text[text.index("[workspace.package]"):]
    version = re.search(r'version\s*=\s*"([^"]+)"', workspace).group(1)
    assert fno.__version__ == version
