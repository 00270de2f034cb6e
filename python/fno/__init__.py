"""fno: Fourier neural operators on PDEBench files, from Python.

The package calls the same Rust library as the ``fno`` command: files,
settings, run directories, metrics and error messages are the CLI's. Long
calls release the GIL. Arrays go in and come out as NumPy arrays in
physical units, channels first: ``[batch, channels, x, (y, (z))]``.

Errors are :class:`FnoError`; a missing file is also a
``FileNotFoundError`` (:class:`FnoFileNotFoundError`), a bad setting or
argument also a ``ValueError`` (:class:`FnoValueError`) whose message
names it.
"""
from __future__ import annotations

import json
import logging
import math
import os
import pathlib
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _fno
from ._errors import FnoError, FnoFileNotFoundError, FnoValueError

__version__: str = _fno.__version__
#: Whether this build runs models on CUDA GPUs (``device="cuda:N"``).
CUDA: bool = _fno.cuda

File = _fno.File
inspect = _fno.inspect

PathLike = Union[str, "os.PathLike[str]"]
Progress = Callable[[str, Dict[str, Any]], None]

__all__ = [
    "CUDA",
    "File",
    "FnoError",
    "FnoFileNotFoundError",
    "FnoValueError",
    "Run",
    "export_neuraloperator",
    "finetune",
    "generate",
    "inspect",
    "inverse",
    "open",
    "train",
]

_log = logging.getLogger("fno")


def open(  # noqa: A001 - the natural name, as h5py.File / xarray.open_dataset
    path: PathLike,
    *,
    split: str = "all",
    reduced_resolution: int = 1,
    reduced_resolution_t: int = 1,
    reduced_batch: int = 1,
    range: Optional[Sequence[int]] = None,  # noqa: A002 - the config's name
    test_fraction: float = 0.1,
    test_at: Optional[str] = None,
) -> File:
    """Opens a PDEBench (or ``fno.generate``d) HDF5 file.

    The result is a sequence of samples: ``len(f)``, ``f[i]``, ``for s in
    f``. Each sample is a dict with ``index`` (in the file), ``frames``
    (float32 ``[T, C, x, (y, (z))]``) and ``input`` (the input field
    ``[C_in, x, ...]`` of Darcy or forced NS files, else ``None``);
    ``f.coordinates`` holds the grid (``x``, ``y``, ``z``, ``t`` arrays at
    these strides) and ``f.info`` what ``inspect`` reports of the file.

    The selection is the reader's, as in a config's ``[data]`` section:
    ``range`` (start, end) of file indices, every ``reduced_batch``-th
    sample, then the ``split`` (``"all"``, ``"train"`` or ``"test"``) with
    ``test_fraction`` held out at the ``test_at`` end (``"start"`` or
    ``"end"``; by default PDEBench's choice for the layout); samples are
    read at spatial stride ``reduced_resolution`` and time stride
    ``reduced_resolution_t``.
    """
    return _fno.File(
        path,
        split=split,
        reduced_resolution=reduced_resolution,
        reduced_resolution_t=reduced_resolution_t,
        reduced_batch=reduced_batch,
        range=None if range is None else tuple(range),
        test_fraction=test_fraction,
        test_at=test_at,
    )


def _toml_literal(value: Any) -> str:
    """A Python value as the right-hand side of a ``--set key=value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        # JSON's string escapes are valid in TOML basic strings.
        return json.dumps(os.fspath(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    raise FnoValueError(f"overrides: {value!r} is not a TOML value")


def _override_list(overrides: Union[Mapping[str, Any], Iterable[str], None]) -> list:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{k}={_toml_literal(v)}" for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def _log_progress(event: str, details: Dict[str, Any]) -> None:
    """The default progress: the ``fno`` logger, one line per epoch."""
    if event == "start":
        _log.info(
            "training %d parameters, epochs %d to %d, %d batches per epoch",
            details["params"],
            details["first_epoch"],
            details["epochs"],
            details["batches"],
        )
    elif event == "epoch":
        _log.info(
            "epoch %d  train loss %.4e  test rel-L2 %.4e  lr %.2e  %.1f s",
            details["epoch"],
            details["train_loss"],
            details["test_rel_l2"],
            details["lr"],
            details["wall_s"],
        )
    elif event == "warning":
        _log.warning("%s", details["message"])
    elif event == "no_checkpoint":
        _log.info("the run has no committed checkpoint yet: starting from the beginning")


def _run_dir(run: Union["Run", PathLike]) -> str:
    return os.fspath(run.dir if isinstance(run, Run) else run)


class Run:
    """A trained run directory, loaded with its best or last weights."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @classmethod
    def load(cls, dir: PathLike, which: str = "best", *, device: str = "cpu") -> "Run":  # noqa: A002
        """Loads the run in ``dir`` (written by ``fno.train`` or ``fno
        train``) with its ``"best"`` (lowest test loss) or ``"last"``
        weights, on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:N"``)."""
        return cls(_fno.Run.load(dir, which, device=device))

    @property
    def dir(self) -> pathlib.Path:
        """The run directory."""
        return pathlib.Path(self._native.dir)

    @property
    def config(self) -> Dict[str, Any]:
        """The run's resolved configuration: the sections and keys of its
        ``config.toml``."""
        return self._native.config

    def predict(
        self,
        input: Any,  # noqa: A002 - the model's input
        resolution: Union[int, Sequence[int], None] = None,
        *,
        steps: int = 1,
    ) -> np.ndarray:
        """Predicts from a batch ``[B, C_in, x, (y, (z))]`` in physical
        units, on any grid (a Darcy run: the coefficient ``[B, 1, x, y]``).

        With ``resolution=None`` the output is on the input's grid; with an
        int ``N`` it is on a grid of ``N`` points along x (other spatial
        axes scaled alike), or one size per spatial axis: the model's
        Fourier layers are evaluated there (zero-shot super-resolution).
        Autoregressive runs roll out ``steps`` frames, returned as
        ``[B, steps * C, ...]``.

        Any real dtype and memory layout is accepted; the array is copied
        to float32 C order only when it is not already. Returns float32.
        """
        array = np.ascontiguousarray(input, dtype=np.float32)
        return self._native.predict(array, resolution, steps)

    def evaluate(
        self,
        data: PathLike,
        resolutions: Sequence[int] = (),
        *,
        samples: Optional[int] = None,
        plots: bool = False,
    ) -> Dict[str, Any]:
        """PDEBench metrics (RMSE, nRMSE, max, cRMSE, bRMSE, fRMSE bands)
        and relative L2 of the run on ``data`` (its test split if it is the
        training file) at the training grid and at each grid size in
        ``resolutions``; the dict ``fno eval --json`` prints (one entry of
        ``results`` per grid). ``plots=True`` also writes the plots into
        the run directory."""
        return self._native.evaluate(data, list(resolutions), samples=samples, plots=plots)

    def __repr__(self) -> str:
        return f"fno.Run({str(self.dir)!r})"


def train(
    config: Union[PathLike, Mapping[str, Any], None],
    run_dir: PathLike,
    *,
    overrides: Union[Mapping[str, Any], Iterable[str], None] = None,
    data: Optional[PathLike] = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str = "cpu",
    progress: Union[Progress, bool, None] = None,
) -> Run:
    """Trains a model into ``run_dir`` and returns the run (best weights).

    ``config`` is a TOML file (``configs/``) or a dict of the same sections
    and keys; ``overrides`` are ``fno train --set`` overrides, as
    ``"section.key=value"`` strings or a dict ``{"train.epochs": 5}``;
    ``data`` is shorthand for ``data.train``. ``resume=True`` continues the
    run in ``run_dir`` from its last checkpoint (``config`` may then be
    ``None``: the run's own); ``overwrite=True`` replaces an earlier run.

    ``progress`` is called as ``progress(event, details)`` for the events
    ``"start"``, ``"batch"``, ``"epoch"`` (the ``metrics.jsonl`` record),
    ``"warning"`` and ``"no_checkpoint"``; by default epochs and warnings
    go to the ``logging`` logger ``"fno"``; ``False`` reports nothing.
    ``train.threads`` has no effect here: set ``RAYON_NUM_THREADS`` before
    importing fno.
    """
    sets = _override_list(overrides)
    if data is not None:
        sets.append(f"data.train={_toml_literal(data)}")
    if progress is None or progress is True:
        callback: Optional[Progress] = _log_progress
    elif progress is False:
        callback = None
    else:
        callback = progress
    if isinstance(config, Mapping):
        config = dict(config)
    native = _fno.train(config, run_dir, sets, resume, overwrite, device, callback)
    return Run(native)


def finetune(
    run: Union[Run, PathLike],
    data: PathLike,
    sample: int,
    *,
    steps: int = 500,
    lr: float = 1e-3,
    anchor: float = 0.1,
    w_pde: float = 1.0,
    w_ic: float = 10.0,
    pde_resolution: Optional[Sequence[int]] = None,
    warmup: int = 20,
    device: str = "cpu",
) -> Dict[str, Any]:
    """Test-time physics fine-tuning of a copy of the run's best model on
    sample ``sample`` of ``data`` (``fno finetune``): PDE and
    initial-condition losses only, plus ``anchor * mean((G(a) - G0(a))^2)``;
    the defaults are ``fno finetune``'s (residual 4x finer in time for
    space-time runs, ``pde_resolution`` overrides it).

    Returns the report ``finetune.json`` holds (``rel_l2_before``,
    ``rel_l2_after``, ``residual_before``, ``residual_after``, ``curve``,
    ...) with the arrays ``before`` (pretrained prediction), ``after``
    (fine-tuned) and ``truth``, each ``[C, x, ...]`` (space-time runs:
    ``[C, x, ..., T]``). Nothing is written.
    """
    return _fno.finetune(
        _run_dir(run),
        data,
        sample,
        steps,
        lr,
        anchor,
        w_pde,
        w_ic,
        None if pde_resolution is None else list(pde_resolution),
        warmup,
        device,
    )


def inverse(
    run: Union[Run, PathLike],
    data: PathLike,
    sample: int,
    *,
    observe: str = "full",
    noise: float = 0.0,
    steps: int = 500,
    lbfgs_steps: int = 0,
    lr: float = 0.05,
    sharpen: float = 16.0,
    reg: Optional[str] = None,
    reg_weight: Optional[float] = None,
    pde_weight: float = 0.0,
    pde_output: str = "predicted",
    seed: int = 0,
    out: Optional[PathLike] = None,
    overwrite: bool = False,
    device: str = "cpu",
) -> Dict[str, Any]:
    """Recovers the input of sample ``sample`` of ``data`` (a Darcy
    coefficient, or a one-shot run's initial condition) from observations
    of its output, by Adam (+ L-BFGS) through the run's frozen operator:
    ``fno inverse`` (docs/inverse.md explains each option).

    ``observe`` is ``"full"``, ``"sparse:FRACTION"`` or ``"points:FILE"``;
    ``reg`` ``"tv"``, ``"h1"`` or ``"none"``. The plots, ``history.jsonl``
    and ``inverse.json`` go to ``out`` (default ``RUN/inverse-I``; a
    non-empty one is refused unless ``overwrite``). Returns the report of
    ``inverse.json`` with the arrays ``recovered`` and ``truth``
    (``[C, x, ...]``, physical units).
    """
    if not (math.isfinite(sharpen) and sharpen >= 1.0):
        raise FnoValueError(f"sharpen {sharpen}: must be a finite number >= 1 (1 turns sharpening off)")
    if steps + lbfgs_steps == 0:
        raise FnoValueError("steps: 0 with lbfgs_steps 0: the recovery needs at least one step")
    return _fno.inverse(
        _run_dir(run),
        data,
        sample,
        observe,
        noise,
        steps,
        lbfgs_steps,
        lr,
        sharpen,
        reg,
        reg_weight,
        pde_weight,
        pde_output,
        seed,
        out,
        overwrite,
        device,
    )


_PDES = {
    "advection": "advection",
    "burgers": "burgers",
    "diffusion-reaction": "diffusion_reaction",
    "diffusion_reaction": "diffusion_reaction",
    "reacdiff": "diffusion_reaction",
    "darcy": "darcy",
    "ns": "navier_stokes",
    "navier-stokes": "navier_stokes",
    "navier_stokes": "navier_stokes",
}


def generate(pde: str, *, out: PathLike = ".", **settings: Any) -> pathlib.Path:
    """Solves ``pde`` (``"advection"``, ``"burgers"``,
    ``"diffusion-reaction"``, ``"darcy"`` or ``"ns"``) for random inputs and
    writes a PDEBench-layout HDF5 file into the directory ``out``, as
    ``fno generate``; returns the file's path.

    ``settings`` are the PDE's settings (``samples``, ``nx``, ``nt``,
    ``tmax``, ``seed``, ``beta``, ``nu``, ``rho``, ``convention``,
    ``coefficient``, ``problem``, ``cfl``, ``refine``, ...; see
    datasets/generated.md); those not given take the PDE's defaults, and
    Darcy's ``ny`` follows ``nx``. An unknown one is a ``ValueError``
    naming it.
    """
    name = _PDES.get(pde)
    if name is None:
        raise FnoValueError(f"pde: `{pde}` is not one of {', '.join(sorted(set(_PDES)))}")
    if name == "darcy" and "nx" in settings and "ny" not in settings:
        settings["ny"] = settings["nx"]
    spec = json.dumps({"pde": name, **settings})
    return pathlib.Path(_fno.generate(spec, out))


def export_neuraloperator(
    run: PathLike,
    out: PathLike,
    *,
    last: bool = False,
    grid: Optional[Sequence[int]] = None,
    overwrite: bool = False,
    source: Optional[str] = None,
) -> Dict[str, Any]:
    """Writes the run in ``run`` into the directory ``out`` as
    neuraloperator 2.0.0's ``FNO``, as ``fno export --format
    neuraloperator``: ``model.safetensors`` (a state dict that
    ``FNO(**kwargs).load_state_dict`` takes with ``strict=True``),
    ``fno_kwargs.json``, ``normalizer.json`` and ``export.json``
    (docs/neuraloperator-export.md). ``last`` exports the last epoch's
    weights instead of the best; ``grid`` is the grid on which the
    coordinate channels agree exactly (default: the training grid). A
    setting neuraloperator cannot reproduce (``model.padding``, an
    activation other than GELU), or a non-empty ``out`` without
    ``overwrite``, is a ``ValueError`` naming it. A run trained on several
    sources (``data.sources``) needs ``source``: the shared blocks are
    exported with that source's lifting, projection and normalisers.
    Returns the report: ``dir``, ``tensors``, ``grid`` and the ``kwargs``.
    """
    return _fno.export_neuraloperator(
        os.fspath(run),
        os.fspath(out),
        last,
        None if grid is None else list(grid),
        overwrite,
        source,
    )
