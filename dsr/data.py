"""The data format of dsr, and the validation of a data store.

A data store is a Zarr store (format 3, or 2 for reading) that ``xarray.open_zarr``
reads, holding one data variable with dims ``(time, variable)`` or
``(trial, time, variable)``; several variables are allowed when ``var`` names the one
to use. Optional external inputs are a variable with dims ``(time, input)`` or
``(trial, time, input)``. The sampling interval is the ``dt`` attribute (of the
variable or the dataset), else the spacing of a numeric ``time`` coordinate, else 1.

:func:`load` validates everything a fit needs and returns a :class:`TimeSeries` of
plain float64 arrays with an explicit trial axis; every problem is a one-line
:class:`~dsr.errors.DsrError` naming the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import xarray as xr

from dsr.errors import DsrError
from dsr.zarrstore import open_store, read_values

DATA_DIMS = (("time", "variable"), ("trial", "time", "variable"))
INPUT_DIMS = (("time", "input"), ("trial", "time", "input"))


@dataclass(frozen=True)
class TimeSeries:
    """Validated observations ``values[trial, time, variable]`` and optional inputs.

    ``inputs[trial, time, input]`` (or None) are external signals aligned with ``values``.
    """

    values: np.ndarray
    dt: float
    variables: tuple[str, ...]
    inputs: np.ndarray | None = None
    input_names: tuple[str, ...] = ()
    source: str = ""
    attrs: dict = field(default_factory=dict)

    @property
    def n_trials(self) -> int:
        return self.values.shape[0]

    @property
    def n_time(self) -> int:
        return self.values.shape[1]

    @property
    def n_variables(self) -> int:
        return self.values.shape[2]

    def split(self, test_fraction: float) -> tuple[TimeSeries, TimeSeries]:
        """Split every trial in time: the first part trains, the last ``test_fraction`` tests."""
        if not 0.0 < test_fraction < 1.0:
            raise DsrError(f"test fraction {test_fraction} must lie strictly between 0 and 1")
        cut = int(round(self.n_time * (1.0 - test_fraction)))

        def part(sl: slice) -> TimeSeries:
            inputs = None if self.inputs is None else self.inputs[:, sl]
            return replace(self, values=self.values[:, sl], inputs=inputs)

        return part(slice(0, cut)), part(slice(cut, None))

    def hold_out_trials(self, count: int) -> tuple[TimeSeries, TimeSeries]:
        """Split by trials: the first trials train, the last ``count`` test (whole trials, e.g. subjects)."""
        if not 0 < count < self.n_trials:
            raise DsrError(
                f"cannot hold out {count} of {self.n_trials} trials; --test-trials needs at least one trial "
                "left for training (or use --test-fraction to split every trial in time)"
            )

        def part(sl: slice) -> TimeSeries:
            inputs = None if self.inputs is None else self.inputs[sl]
            return replace(self, values=self.values[sl], inputs=inputs)

        return part(slice(0, self.n_trials - count)), part(slice(self.n_trials - count, None))

    def require_length(self, length: int, what: str = "sequence length") -> None:
        """Raise if a window of ``length`` steps does not fit into the series."""
        if length > self.n_time:
            raise DsrError(
                f"{what} {length} is longer than the series ({self.n_time} time steps"
                f"{' per trial' if self.n_trials > 1 else ''}); choose a shorter {what}"
            )


def _select_variable(ds: xr.Dataset, var: str | None, path: Path, exclude: str | None) -> str:
    names = sorted(str(name) for name in ds.data_vars if name != exclude)
    if var is not None:
        if var not in ds.data_vars:
            raise DsrError(f"{path} has no variable '{var}'; choose one of: {', '.join(sorted(map(str, ds.data_vars)))}")
        return var
    if not names:
        raise DsrError(f"{path} holds no data variables; write the series as a variable with dims (time, variable)")
    if len(names) > 1:
        raise DsrError(f"{path} holds several variables ({', '.join(map(str, names))}); choose one with --var")
    return str(names[0])


def _check_dims(da: xr.DataArray, allowed: tuple[tuple[str, ...], ...], role: str, path: Path) -> None:
    if da.dims in allowed:
        return
    want = " or ".join(f"({', '.join(d)})" for d in allowed)
    have = f"({', '.join(map(str, da.dims))})"
    if da.ndim not in {len(d) for d in allowed}:
        raise DsrError(f"{role} '{da.name}' in {path} has {da.ndim} dims {have}; expected {want}")
    raise DsrError(f"{role} '{da.name}' in {path} has dims {have}; expected {want} (rename the dims)")


def _check_numeric(da: xr.DataArray, role: str, path: Path) -> None:
    if not (np.issubdtype(da.dtype, np.floating) or np.issubdtype(da.dtype, np.integer)):
        raise DsrError(f"{role} '{da.name}' in {path} has non-numeric dtype {da.dtype}; store numbers (float)")


def _check_finite(values: np.ndarray, name: str, dims: tuple[str, ...]) -> None:
    bad = ~np.isfinite(values)
    count = int(bad.sum())
    if count:
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = ", ".join(f"{d}={i}" for d, i in zip(dims, first))
        raise DsrError(
            f"'{name}' has {count} NaN or infinite values (first at {where}); "
            "remove or interpolate them before fitting"
        )


def _check_not_constant(values: np.ndarray, variables: tuple[str, ...], name: str) -> None:
    """Refuse an empty series, values whose standardization overflows, and constant variables."""
    if values.shape[1] < 2 or values.shape[2] < 1:
        raise DsrError(
            f"'{name}' has {values.shape[1]} time steps and {values.shape[2]} variables; a fit needs at least 2 steps of 1 variable"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        flat = values.reshape(-1, values.shape[-1])
        mean, std = flat.mean(axis=0), flat.std(axis=0)
    huge = [v for v, m, s in zip(variables, mean, std) if not (np.isfinite(m) and np.isfinite(s))]
    if huge:
        raise DsrError(f"'{name}' has values too large to standardize ({', '.join(huge)}: the std overflows float64); rescale them")
    constant = [v for v, s in zip(variables, std) if not s > 0]
    if constant:
        raise DsrError(
            f"'{name}' has constant variable(s) {', '.join(constant)} that cannot be standardized; drop them"
        )


def _with_trial_axis(da: xr.DataArray, path: Path) -> np.ndarray:
    values = read_values(da, path).astype(np.float64)
    return values[None] if "trial" not in da.dims else values


def sampling_interval(ds: xr.Dataset, da: xr.DataArray) -> float:
    """The sampling interval: attr ``dt`` of the variable or dataset, else ``time`` spacing, else 1."""
    for attrs in (da.attrs, ds.attrs):
        if "dt" in attrs:
            try:
                dt = float(attrs["dt"])
            except (TypeError, ValueError):
                dt = float("nan")  # refused just below
            if not (np.isfinite(dt) and dt > 0):
                raise DsrError(f"attribute dt={attrs['dt']} must be a positive number; fix the store's dt attr")
            return dt
    if "time" in ds.coords and np.issubdtype(ds["time"].dtype, np.number) and ds.sizes["time"] > 1:
        return time_step(ds["time"].values, "the time coordinate", "set attr dt")
    return 1.0


def time_step(times: np.ndarray, what: str, alternative: str) -> float:
    """The constant spacing of increasing ``times``; a DsrError naming ``what`` if it is uneven."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
        raise DsrError(f"{what} is not evenly spaced and increasing; resample the series or {alternative}")
    return float(steps[0])


def _labels(da: xr.DataArray, dim: str) -> tuple[str, ...]:
    if dim in da.coords:
        return tuple(str(v) for v in da[dim].values)
    return tuple(f"{dim}{i}" for i in range(da.sizes[dim]))


def load(
    path: str | os.PathLike,
    var: str | None = None,
    inputs: str | None = None,
) -> TimeSeries:
    """Open, validate and load a data store (see the module docstring for the format)."""
    path = Path(path)
    ds = open_store(path)
    name = _select_variable(ds, var, path, exclude=inputs)
    da = ds[name]
    _check_dims(da, DATA_DIMS, "variable", path)
    _check_numeric(da, "variable", path)
    values = _with_trial_axis(da, path)
    _check_finite(values, name, ("trial", "time", "variable"))
    variables = _labels(da, "variable")
    if len(set(variables)) < len(variables):
        raise DsrError(f"'{name}' in {path} names variables twice ({', '.join(variables)}); give each variable its own name")
    _check_not_constant(values, variables, name)

    input_values, input_names = None, ()
    if inputs is not None:
        if inputs not in ds.data_vars:
            raise DsrError(f"{path} has no inputs variable '{inputs}'; choose one of: {', '.join(sorted(map(str, ds.data_vars)))}")
        u = ds[inputs]
        _check_dims(u, INPUT_DIMS, "inputs", path)
        _check_numeric(u, "inputs", path)
        input_values = _with_trial_axis(u, path)
        if "trial" not in u.dims:
            # One input signal shared by every trial.
            input_values = np.broadcast_to(input_values, (values.shape[0], *input_values.shape[1:])).copy()
        if input_values.shape[:2] != values.shape[:2]:
            raise DsrError(
                f"inputs '{inputs}' have {input_values.shape[1]} time steps x {input_values.shape[0]} trials "
                f"but the data have {values.shape[1]} x {values.shape[0]}; align them on the same time axis"
            )
        _check_finite(input_values, inputs, ("trial", "time", "input"))
        input_names = _labels(u, "input")

    return TimeSeries(
        values=values,
        dt=sampling_interval(ds, da),
        variables=variables,
        inputs=input_values,
        input_names=input_names,
        source=str(path),
        attrs=dict(ds.attrs),
    )


def to_dataset(
    values: np.ndarray,
    dt: float,
    variables: tuple[str, ...] | list[str] | None = None,
    name: str = "x",
    attrs: dict | None = None,
    dtype: type = np.float32,
    start: float = 0.0,
) -> xr.Dataset:
    """Build a data store's Dataset from ``values`` of shape (time, variable) or (trial, time, variable).

    The ``time`` coordinate runs from ``start`` in steps of ``dt``.
    """
    values = np.asarray(values)
    if values.ndim not in (2, 3):
        raise DsrError(f"array has shape {values.shape}; expected (time, variable) or (trial, time, variable)")
    if values.size == 0 or not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise DsrError(f"array of shape {values.shape} and dtype {values.dtype} holds no real numbers to fit; pass a non-empty real array")
    dims = DATA_DIMS[values.ndim - 2]
    n_time, n_var = values.shape[-2:]
    if variables is None:
        variables = [f"x{i}" for i in range(n_var)]
    if len(variables) != n_var:
        raise DsrError(f"{len(variables)} variable names for {n_var} variables; give one name per column")
    coords = {
        "time": ("time", float(start) + np.arange(n_time) * float(dt), {"long_name": "time", "units": "1"}),
        # Object strings: zarr 3.1 has no stable v3 spec for fixed-width unicode.
        "variable": ("variable", np.array([str(v) for v in variables], dtype=object)),
    }
    if values.ndim == 3:
        coords["trial"] = ("trial", np.arange(values.shape[0]))
    ds = xr.Dataset({name: (dims, values.astype(dtype))}, coords=coords)
    ds.attrs = {"dt": float(dt), **(attrs or {})}
    return ds
