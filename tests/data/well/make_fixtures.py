"""Writes the Well-layout test fixtures of this directory with h5py.

The files follow The Well's own description of its format
(docs/data_format.md and scripts/check_thewell_formatting.py in
PolymathicAI/the_well), not fno's writer. Every stored value is a small
integer-valued float32 given by a closed formula (see `value`), so a reader
can be checked exactly against the same formula. Run from anywhere:

    python tests/data/well/make_fixtures.py

It rewrites every file below this directory deterministically.
"""

import os
import shutil

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def value(field, b, t, i, j, c=0):
    """The stored value of component c of `field` at trajectory b, frame t,
    grid point (i, j): exact in float32."""
    return field * 10000 + b * 1000 + t * 100 + i * 10 + j + c * 0.5


def flagged(dset, sample_varying, time_varying, dim_varying=None):
    dset.attrs["sample_varying"] = sample_varying
    dset.attrs["time_varying"] = time_varying
    if dim_varying is not None:
        dset.attrs["dim_varying"] = np.array(dim_varying, dtype=bool)


def root(f, name, n_traj, params):
    f.attrs["dataset_name"] = name
    f.attrs["grid_type"] = "cartesian"
    f.attrs["n_spatial_dims"] = 2
    f.attrs["n_trajectories"] = n_traj
    f.attrs["simulation_parameters"] = list(params)
    for key, v in params.items():
        f.attrs[key] = v


def dimensions(f, nt, nx, ny, dt):
    g = f.create_group("dimensions")
    g.attrs["spatial_dims"] = ["x", "y"]
    t = g.create_dataset("time", data=np.arange(nt, dtype=np.float32) * dt)
    flagged(t, False, True)
    x = g.create_dataset("x", data=(np.arange(nx, dtype=np.float32) + 0.5) / nx)
    flagged(x, False, False)
    y = g.create_dataset("y", data=np.linspace(0.0, 2.0, ny, dtype=np.float32))
    flagged(y, False, False)


def boundary(f, name, bc_type, dim, n):
    g = f.require_group("boundary_conditions").create_group(name)
    g.attrs["associated_dims"] = [dim]
    g.attrs["associated_fields"] = []
    g.attrs["bc_type"] = bc_type
    g.attrs["sample_varying"] = False
    g.attrs["time_varying"] = False
    mask = np.zeros(n, dtype=bool)
    mask[0] = mask[-1] = True
    g.create_dataset("mask", data=mask)
    if bc_type.lower() == "wall":
        g.create_dataset("values", data=np.zeros(2, dtype=np.float32))


def scalars(f, params, nt, varying=None):
    g = f.create_group("scalars")
    names = list(params) + ([varying] if varying else [])
    g.attrs["field_names"] = names
    for key, v in params.items():
        d = g.create_dataset(key, data=np.array(v, dtype=np.float32))
        flagged(d, False, False)
    if varying:
        d = g.create_dataset(varying, data=np.arange(nt, dtype=np.float32) * 0.25)
        flagged(d, False, True)


def field_group(f, order, names):
    g = f.create_group(f"t{order}_fields")
    g.attrs["field_names"] = names
    return g


def shear_file(path, first_b, n_traj, nt=5, nx=8, ny=6):
    """2D, x periodic, y walls: t0 `tracer` [B, T, X, Y]; t0 `pressure`
    varying along x only [B, T, X]; t0 `ambient` shared by all trajectories
    [T, X, Y]. `first_b` numbers the trajectories across files."""
    params = {"Reynolds": 100.0, "Schmidt": 0.5}
    with h5py.File(path, "w") as f:
        root(f, "shear_mini", n_traj, params)
        dimensions(f, nt, nx, ny, 0.1)
        boundary(f, "x_periodic", "periodic", "x", nx)
        boundary(f, "y_wall", "WALL", "y", ny)
        scalars(f, params, nt, varying="kinetic_energy")
        g = field_group(f, 0, ["tracer", "pressure", "ambient"])
        b, t, i, j = np.meshgrid(
            np.arange(n_traj) + first_b,
            np.arange(nt),
            np.arange(nx),
            np.arange(ny),
            indexing="ij",
        )
        d = g.create_dataset("tracer", data=value(1, b, t, i, j).astype(np.float32))
        flagged(d, True, True, [True, True])
        d = g.create_dataset(
            "pressure", data=value(2, b, t, i, 0)[..., 0].astype(np.float32)
        )
        flagged(d, True, True, [True, False])
        d = g.create_dataset(
            "ambient", data=value(3, 0, t, i, j)[0].astype(np.float32)
        )
        flagged(d, False, True, [True, True])
        field_group(f, 1, [])
        field_group(f, 2, [])


def vector_file(path, n_traj=2, nt=4, nx=6, ny=4):
    """2D, x open, y periodic: t0 `obstacle` constant in time and shared
    by all trajectories [X, Y]; t1 `velocity` [B, T, X, Y, 2]."""
    params = {"Mach": 0.25}
    with h5py.File(path, "w") as f:
        root(f, "vector_mini", n_traj, params)
        dimensions(f, nt, nx, ny, 0.5)
        boundary(f, "x_open", "OPEN", "x", nx)
        boundary(f, "y_periodic", "PERIODIC", "y", ny)
        scalars(f, params, nt)
        g = field_group(f, 0, ["obstacle"])
        i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        d = g.create_dataset("obstacle", data=value(4, 0, 0, i, j).astype(np.float32))
        flagged(d, False, False, [True, True])
        g = field_group(f, 1, ["velocity"])
        b, t, i, j, c = np.meshgrid(
            np.arange(n_traj),
            np.arange(nt),
            np.arange(nx),
            np.arange(ny),
            np.arange(2),
            indexing="ij",
        )
        d = g.create_dataset("velocity", data=value(5, b, t, i, j, c).astype(np.float32))
        flagged(d, True, True, [True, True])
        field_group(f, 2, [])


def bad_files(directory):
    """A file whose t0_fields lacks `field_names`, one whose field's shape
    contradicts its flags (time_varying false, but a time axis), one with a
    NaN, and a folder of two files on different grids."""
    os.makedirs(directory)
    nan = os.path.join(directory, "nan_value.hdf5")
    shear_file(nan, 0, 2)
    with h5py.File(nan, "a") as f:
        f["t0_fields/pressure"][1, 2, 3] = np.nan
    disagree = os.path.join(directory, "disagreeing_grids")
    os.makedirs(disagree)
    shear_file(os.path.join(disagree, "a.hdf5"), 0, 1)
    shear_file(os.path.join(disagree, "b.hdf5"), 1, 1, nx=4)
    missing = os.path.join(directory, "missing_field_names.hdf5")
    shear_file(missing, 0, 1)
    with h5py.File(missing, "a") as f:
        del f["t0_fields"].attrs["field_names"]
    contradicting = os.path.join(directory, "shape_contradicts_flags.hdf5")
    shear_file(contradicting, 0, 1)
    with h5py.File(contradicting, "a") as f:
        f["t0_fields/tracer"].attrs["time_varying"] = False


def vector_stats(path):
    """A hand-written stats.yaml for vector_mini: a vector field's entries
    as yaml.dump writes lists (items at the key's indentation)."""
    with open(path, "w") as out:
        out.write(
            "mean:\n  obstacle: 4.0250E+04\n  velocity:\n  - 5.0780E+04\n  - 5.0781E+04\n"
            "std:\n  obstacle: 1.5000E+01\n  velocity:\n  - 6.0000E+02\n  - 6.0000E+02\n"
        )


def stats_yaml(path, train_files):
    """mean/std (and their _delta) per field over the training files, as
    the Well's scripts/compute_statistics.py pools them, written in the
    layout yaml.dump gives (block mappings and lists, 4-digit mantissas)."""
    data = {"tracer": [], "pressure": [], "ambient": []}
    for p in train_files:
        with h5py.File(p, "r") as f:
            for name in data:
                data[name].append(f["t0_fields"][name][:].astype(np.float64))
    lines = {key: [] for key in ("mean", "mean_delta", "std", "std_delta")}
    for name, parts in data.items():
        flat = np.concatenate([a.ravel() for a in parts])
        # Time is axis 1 of sample-varying fields and axis 0 otherwise.
        axis = 1 if parts[0].ndim == 4 or name == "pressure" else 0
        deltas = np.concatenate([np.diff(a, axis=axis).ravel() for a in parts])
        for key, v in (
            ("mean", flat.mean()),
            ("std", flat.std()),
            ("mean_delta", deltas.mean()),
            ("std_delta", deltas.std()),
        ):
            lines[key].append(f"  {name}: {v:.4E}")
    with open(path, "w") as out:
        for key in sorted(lines):
            out.write(f"{key}:\n")
            for line in sorted(lines[key]):
                out.write(line + "\n")


def main():
    for name in ("shear_mini", "bad", "vector_mini"):
        shutil.rmtree(os.path.join(HERE, name), ignore_errors=True)
    dataset = os.path.join(HERE, "shear_mini")
    splits = {
        "train": [("shear_mini_a.hdf5", 0, 2), ("shear_mini_b.hdf5", 2, 1)],
        "valid": [("shear_mini_valid.hdf5", 3, 1)],
        "test": [("shear_mini_test.hdf5", 4, 1)],
    }
    for split, files in splits.items():
        folder = os.path.join(dataset, "data", split)
        os.makedirs(folder)
        for name, first_b, n_traj in files:
            shear_file(os.path.join(folder, name), first_b, n_traj)
    train = [os.path.join(dataset, "data", "train", n) for n, _, _ in splits["train"]]
    stats_yaml(os.path.join(dataset, "stats.yaml"), train)
    os.makedirs(os.path.join(HERE, "vector_mini"))
    vector_file(os.path.join(HERE, "vector_mini", "vector_mini.hdf5"))
    vector_stats(os.path.join(HERE, "vector_mini", "stats.yaml"))
    bad_files(os.path.join(HERE, "bad"))


if __name__ == "__main__":
    main()
