"""Conversion of plain array files (``.npy``, ``.csv``) into data stores."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from dsr.errors import DsrError


def read_array_file(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """Read ``.npy`` (T×N or trials×T×N) or ``.csv`` (header row = variable names).

    Returns the array and the variable names (None when the file has none).
    """
    path = Path(path)
    if not path.is_file():
        raise DsrError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise DsrError(f"{path} is not a plain numeric .npy array ({err})") from None
        names = None
    elif suffix == ".csv":
        values, names = _read_csv(path)
    else:
        raise DsrError(f"{path}: unsupported file type '{suffix}'; give a .npy or .csv file")
    if values.ndim not in (2, 3):
        raise DsrError(f"{path} holds an array of shape {values.shape}; expected (time, variable) or (trial, time, variable)")
    if not np.issubdtype(values.dtype, np.number):
        raise DsrError(f"{path} holds dtype {values.dtype}; expected numbers")
    return values, names


def _read_csv(path: Path) -> tuple[np.ndarray, list[str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise DsrError(f"{path} needs a header row of variable names and at least one data row")
    names, body = [name.strip() for name in rows[0]], rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(names):
            raise DsrError(f"{path} line {line} has {len(row)} fields but the header has {len(names)}")
    try:
        values = np.array(body, dtype=np.float64)
    except ValueError:
        raise DsrError(f"{path} has non-numeric entries below the header; the header row must be the only text") from None
    return values, names
