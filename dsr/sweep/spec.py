"""The sweep specification: which fits a sweep runs, read from TOML and checked against ``FitConfig``.

A spec names the data and the values of ``FitConfig`` fields::

    data = "lorenz.zarr"          # relative to the spec file
    test = "lorenz_test.zarr"     # optional held-out store, as `dsr fit --test`

    [fit]                         # options of every fit
    epochs = 200

    [grid]                        # every combination of these values
    hidden = [50, 100]
    seed = [0, 1, 2]

    [random]                      # `samples` draws (generator seeded by `seed`), each combined with every grid point
    samples = 8
    seed = 0
    lr_start = { log_uniform = [1e-4, 1e-2] }
    noise = { uniform = [0.0, 0.1] }
    relus = { int = [2, 10] }     # inclusive
    forcing = { choice = ["agtf", "stf"] }

Every fit's configuration is validated when the spec is read, so a wrong field, an empty range or a
value of the wrong type is a one-line error before any fit starts.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsr.errors import DsrError
from dsr.training.config import FitConfig, resolve_config

TOP_LEVEL = ("data", "test", "fit", "grid", "random")
RANDOM_SETTINGS = ("samples", "seed")
DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, list], Any]] = {
    "uniform": lambda rng, bounds: float(rng.uniform(bounds[0], bounds[1])),
    "log_uniform": lambda rng, bounds: float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))),
    "int": lambda rng, bounds: int(rng.integers(bounds[0], bounds[1], endpoint=True)),
    "choice": lambda rng, values: values[int(rng.integers(len(values)))],
}


@dataclass(frozen=True)
class SweepSpec:
    """The fits of a sweep: data, optional test store and one configuration per fit (field -> value)."""

    data: Path
    test: Path | None
    configs: tuple[dict[str, Any], ...]
    varied: tuple[str, ...]
    """The fields that differ between fits (the sweep table's configuration columns)."""
    text: str
    """The spec as read, stored in the sweep store."""

    def digest(self) -> str:
        """A fingerprint of the fits (data, test, configurations): a resumed sweep must have the same."""
        content = json.dumps([str(self.data), str(self.test), list(self.configs)], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()[:16]


def _fail(path: Path, problem: str) -> DsrError:
    return DsrError(f"sweep spec {path}: {problem}")


def _fields(path: Path, table: str, values: dict, extra: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(values) - set(FitConfig.model_fields) - set(extra))
    if unknown:
        raise _fail(path, f"unknown field(s) {', '.join(unknown)} in [{table}]; valid fields: {', '.join(FitConfig.model_fields)}")


def _grid(path: Path, grid: dict) -> list[dict]:
    for name, values in grid.items():
        if not isinstance(values, list):
            raise _fail(path, f"[grid] {name} = {values!r} is not a list; give the values as [a, b, ...] (or put a single value in [fit])")
        if not values:
            raise _fail(path, f"[grid] {name} is an empty list; give at least one value")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]


def _distribution(path: Path, name: str, spec: Any) -> tuple[str, list]:
    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in DISTRIBUTIONS):
        raise _fail(path, f"[random] {name} = {spec!r} is not a distribution; write {{ {' | '.join(DISTRIBUTIONS)} = [...] }}")
    kind, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise _fail(path, f"[random] {name}: {kind} needs a non-empty list, got {args!r}")
    if kind == "choice":
        return kind, args
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise _fail(path, f"[random] {name}: {kind} needs two numbers [low, high], got {args!r}")
    low, high = args
    if kind == "int" and not all(isinstance(a, int) for a in args):
        raise _fail(path, f"[random] {name}: int needs two integers [low, high], got {args!r}")
    if high < low or (kind != "int" and high == low):
        raise _fail(path, f"[random] {name}: the range [{low}, {high}] is empty; give low < high")
    if kind == "log_uniform" and low <= 0:
        raise _fail(path, f"[random] {name}: log_uniform needs positive bounds, got [{low}, {high}]")
    return kind, args


def _draws(path: Path, random: dict) -> list[dict]:
    if not random:
        return [{}]
    samples, seed = random.get("samples"), random.get("seed", 0)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise _fail(path, f"[random] samples = {samples!r}; give the number of draws as a positive integer")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise _fail(path, f"[random] seed = {seed!r}; give a non-negative integer")
    distributions = {name: _distribution(path, name, spec) for name, spec in random.items() if name not in RANDOM_SETTINGS}
    if not distributions:
        raise _fail(path, "[random] names no field to draw; add e.g. lr_start = { log_uniform = [1e-4, 1e-2] }")
    rng = np.random.default_rng(seed)
    return [{name: DISTRIBUTIONS[kind](rng, args) for name, (kind, args) in distributions.items()} for _ in range(samples)]


def _store_path(path: Path, doc: dict, key: str) -> Path | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(path, f"{key} = {value!r} must be a path (a string)")
    return (path.parent / value) if not Path(value).is_absolute() else Path(value)


def read_spec(path: str | Path, data: str | Path | None = None) -> SweepSpec:
    """Read and check the spec at ``path``; ``data`` (a path) replaces the spec's data store."""
    path = Path(path)
    if not path.is_file():
        raise DsrError(f"sweep spec {path} does not exist; check the path")
    try:
        text = path.read_text()
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _fail(path, f"not valid TOML ({err})") from None
    if unknown := sorted(set(doc) - set(TOP_LEVEL)):
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}; valid: {', '.join(TOP_LEVEL)}")
    for table in ("fit", "grid", "random"):
        if not isinstance(doc.get(table, {}), dict):
            raise _fail(path, f"{table} must be a table ([{table}])")
    fixed, grid, random = doc.get("fit", {}), doc.get("grid", {}), doc.get("random", {})
    _fields(path, "fit", fixed)
    _fields(path, "grid", grid)
    _fields(path, "random", random, RANDOM_SETTINGS)
    if both := sorted((set(fixed) & set(grid)) | (set(fixed) & set(random)) | (set(grid) & (set(random) - set(RANDOM_SETTINGS)))):
        raise _fail(path, f"field(s) {', '.join(both)} given in more than one of [fit], [grid], [random]; give each once")
    data_path = Path(data) if data is not None else _store_path(path, doc, "data")
    if data_path is None:
        raise _fail(path, 'no data store; add data = "DATA.zarr" (relative to the spec)')
    configs = []
    for point, draw in itertools.product(_grid(path, grid), _draws(path, random)):
        values = {**fixed, **point, **draw}
        try:
            resolve_config(None, **values)
        except DsrError as err:
            where = "[grid]" if set(point) & _named(err) else "[random]" if set(draw) & _named(err) else "[fit]"
            raise _fail(path, f"{where} {err}") from None
        configs.append(values)
    varied = tuple(name for name in [*grid, *(k for k in random if k not in RANDOM_SETTINGS)])
    return SweepSpec(data_path, _store_path(path, doc, "test"), tuple(configs), varied, text)


def _named(err: DsrError) -> set[str]:
    """The field names an ``invalid option NAME ...`` message mentions."""
    words = str(err).split()
    return set(words[2:3]) if words[:2] == ["invalid", "option"] else set()
