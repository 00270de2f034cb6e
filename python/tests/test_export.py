"""fno.export_neuraloperator: the files and report without torch, the
refusals, and (when torch and neuraloperator 2.0.0 are importable, never
in CI) the export loaded into neuraloperator's FNO against run.predict."""
import json

import numpy as np
import pytest

import fno
from conftest import TINY


def test_export_writes_the_files_and_reports_the_kwargs(darcy_run, tmp_path):
    out = tmp_path / "export"
    report = fno.export_neuraloperator(darcy_run.dir, out)
    assert report["tensors"] > 0
    assert report["kwargs"]["n_modes"] == [8, 8]
    assert report["grid"] == [32, 32]
    for name in ["model.safetensors", "fno_kwargs.json", "normalizer.json", "export.json"]:
        assert (out / name).is_file(), name
    assert json.loads((out / "fno_kwargs.json").read_text()) == report["kwargs"]


def test_a_non_empty_directory_and_padding_are_value_errors(darcy_run, tmp_path):
    out = tmp_path / "export"
    fno.export_neuraloperator(darcy_run.dir, out)
    with pytest.raises(ValueError, match="not empty"):
        fno.export_neuraloperator(darcy_run.dir, out)
    fno.export_neuraloperator(darcy_run.dir, out, overwrite=True, last=True)
    padded = {**TINY, "model": {**TINY["model"], "padding": [0.25, 0.25]}}
    run = fno.train(padded, tmp_path / "padded", progress=False)
    with pytest.raises(ValueError, match="model.padding"):
        fno.export_neuraloperator(run.dir, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_neuraloperator_reproduces_predict(tmp_path):
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("neuralop.models")
    from safetensors.torch import load_file  # noqa: PLC0415 - optional

    gated = {**TINY, "model": {**TINY["model"], "channel_mlp_expansion": 0.5}}
    run = fno.train(gated, tmp_path / "gated", progress=False)
    report = fno.export_neuraloperator(run.dir, tmp_path / "export")
    model = models.FNO(**report["kwargs"])
    model.load_state_dict(load_file(tmp_path / "export" / "model.safetensors"), strict=True)
    norm = json.loads((tmp_path / "export" / "normalizer.json").read_text())
    x = np.random.default_rng(0).random((3, 1, 32, 32), dtype=np.float32)
    xin = (x - norm["input"]["mean"][0]) / norm["input"]["std"][0]
    with torch.no_grad():
        y = model(torch.from_numpy(xin)).numpy()
    y = y * norm["output"]["std"][0] + norm["output"]["mean"][0]
    expected = run.predict(x)
    assert np.abs(y - expected).max() <= 1e-5 * np.abs(expected).max()
