"""Type stubs of the public API of ``fno`` (see ``__init__.py`` for the
documentation of each function)."""
import os
import pathlib
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._errors import FnoError as FnoError
from ._errors import FnoFileNotFoundError as FnoFileNotFoundError
from ._errors import FnoValueError as FnoValueError

PathLike = Union[str, os.PathLike[str]]
Progress = Callable[[str, Dict[str, Any]], None]
Sample = Dict[str, Any]  # index: int, frames: float32 [T, C, x..], input: float32 [C_in, x..] | None

__version__: str
CUDA: bool

class File:
    """The samples of a PDEBench file chosen by a range, a stride and a
    split, read at the given strides (``fno.open``)."""

    def __init__(
        self,
        path: PathLike,
        *,
        split: str = "all",
        reduced_resolution: int = 1,
        reduced_resolution_t: int = 1,
        reduced_batch: int = 1,
        range: Optional[Tuple[int, int]] = None,
        test_fraction: float = 0.1,
        test_at: Optional[str] = None,
    ) -> None: ...
    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> Sample: ...
    def __iter__(self) -> Iterator[Sample]: ...
    @property
    def indices(self) -> List[int]:
        """File indices of the selected samples, in order."""
    @property
    def path(self) -> pathlib.Path:
        """The file's path."""
    @property
    def info(self) -> Dict[str, Any]:
        """What the file holds (layout, PDE, parameters, shapes, datasets)."""
    @property
    def coordinates(self) -> Dict[str, npt.NDArray[np.float64]]:
        """Grid coordinates at the strides: ``x``, ``y``, ``z`` and ``t``."""

def open(
    path: PathLike,
    *,
    split: str = "all",
    reduced_resolution: int = 1,
    reduced_resolution_t: int = 1,
    reduced_batch: int = 1,
    range: Optional[Sequence[int]] = None,
    test_fraction: float = 0.1,
    test_at: Optional[str] = None,
) -> File:
    """Opens a PDEBench (or generated) HDF5 file as a sequence of samples."""

def inspect(path: PathLike, *, stat_samples: int = 8, all: bool = False) -> Dict[str, Any]:
    """``fno inspect FILE --json`` as a dict."""

class Run:
    """A trained run directory, loaded with its best or last weights."""

    @classmethod
    def load(cls, dir: PathLike, which: str = "best", *, device: str = "cpu") -> Run:
        """Loads the run in ``dir`` with its ``"best"`` or ``"last"`` weights."""
    @property
    def dir(self) -> pathlib.Path:
        """The run directory."""
    @property
    def config(self) -> Dict[str, Any]:
        """The run's resolved configuration."""
    def predict(
        self,
        input: npt.ArrayLike,
        resolution: Union[int, Sequence[int], None] = None,
        *,
        steps: int = 1,
    ) -> npt.NDArray[np.float32]:
        """Predicts from ``[B, C_in, x, (y, (z))]`` in physical units, on the
        input's grid or on ``resolution``."""
    def evaluate(
        self,
        data: PathLike,
        resolutions: Sequence[int] = (),
        *,
        samples: Optional[int] = None,
        plots: bool = False,
    ) -> Dict[str, Any]:
        """PDEBench metrics at the training grid and each resolution."""

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
    """Trains a model into ``run_dir`` and returns the run (best weights)."""

def finetune(
    run: Union[Run, PathLike],
    data: PathLike,
    sample: int,
    *,
    steps: int = 200,
    lr: float = 1e-3,
    anchor: float = 0.1,
    w_pde: float = 1.0,
    w_ic: float = 10.0,
    pde_resolution: Optional[Sequence[int]] = None,
    warmup: int = 20,
    device: str = "cpu",
) -> Dict[str, Any]:
    """Test-time physics fine-tuning of one sample: report and arrays."""

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
    """Recovers a sample's input through the run's frozen operator."""

def generate(pde: str, *, out: PathLike = ".", **settings: Any) -> pathlib.Path:
    """Solves ``pde`` for random inputs and writes a PDEBench-layout file."""

def export_neuraloperator(
    run: PathLike,
    out: PathLike,
    *,
    last: bool = ...,
    grid: Optional[Sequence[int]] = ...,
    overwrite: bool = ...,
    source: Optional[str] = ...,
) -> Dict[str, Any]:
    """Writes the run as neuraloperator 2.0.0's FNO (state dict, kwargs, normalisers)."""
