"""Runs bench.py where neuraloperator's import-time dependencies are only
partly installed: a GPU machine with PyTorch but no network, given the
pure-Python packages (neuraloperator, tensorly, tensorly-torch, opt_einsum)
on PYTHONPATH.

neuraloperator and tensorly import scipy and wandb at module level for
their trainer, decompositions and logging; the FNO's forward and backward
never call them. If those packages (or the ones named in
OFFLINE_STAND_INS, comma-separated) cannot be imported from what is
installed, empty stand-ins take their place, and their names are printed
to stderr so a reader of the figures knows. Real modules always win: the
stand-in finder is consulted last, and only for those names.

Usage: python offline.py BENCH_ARGS...   (the arguments of bench.py)
"""

import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import types

STOOD_IN = []
ROOTS = {"scipy", "wandb"} | {
    name for name in os.environ.get("OFFLINE_STAND_INS", "").split(",") if name
}


class _Anything:
    """A callable, subclassable placeholder returned for any attribute."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getattr__(self, name):
        return _Anything()


class _StandIn(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in ROOTS:
            return None
        STOOD_IN.append(fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _StandIn(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def main():
    sys.meta_path.append(_StandInFinder())
    bench = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.py")
    sys.argv = [bench] + sys.argv[1:]
    try:
        runpy.run_path(bench, run_name="__main__")
    finally:
        if STOOD_IN:
            roots = sorted({name.split(".")[0] for name in STOOD_IN})
            print("offline.py: stood in for " + ", ".join(roots), file=sys.stderr)


if __name__ == "__main__":
    main()
