"""Conversion of plain array files (``.npy``, ``.csv``) into data stores.

CSV files are read with pandas after detecting what varies between them:

- the delimiter (comma, semicolon, tab, bar or whitespace), from the first 50 lines;
  a semicolon file whose numbers use a decimal comma (``1,5;2,25``) is read as such;
- the header row: the first row is taken as variable names when one of its fields is not
  a number, else every row is data and the columns are named ``x0, x1, ...``
  (``header=True/False`` overrides the detection);
- a time column: ``time_column`` (a name, or a 0-based index), or else a column named
  ``time`` or ``t``, becomes the time coordinate instead of a variable; its spacing gives dt.

Missing and non-numeric entries are errors naming the first one's line and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dsr.errors import DsrError

_DELIMITERS = ",;\t|"
_WHITESPACE = r"\s+"
_MISSING = ("", "nan", "na", "n/a", "null")
_TIME_NAMES = ("time", "t")


@dataclass(frozen=True)
class ImportedArray:
    """An array read from a file: ``values`` (time, variable) or (trial, time, variable).

    ``names`` are the variable names (None when the file has none), ``time`` the values of
    the file's time column (None without one), and ``notes`` say in words what was detected.
    """

    values: np.ndarray
    names: list[str] | None = None
    time: np.ndarray | None = None
    time_column: str | None = None
    notes: list[str] = field(default_factory=list)


def read_array_file(path: Path, header: bool | None = None, time_column: str | None = None) -> ImportedArray:
    """Read ``.npy`` (T×N or trials×T×N) or ``.csv`` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DsrError(f"{path}: no such file; check the path")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if time_column is not None or header is not None:
            raise DsrError(f"--time-column and --header apply to .csv files; {path} is a .npy array (pass --dt)")
        try:
            result = ImportedArray(np.load(path, allow_pickle=False))
        except ValueError as err:
            raise DsrError(f"{path} is not a plain numeric .npy array ({err})") from None
    elif suffix == ".csv":
        result = _read_csv(path, header, time_column)
    else:
        raise DsrError(f"{path}: unsupported file type '{suffix}'; give a .npy or .csv file")
    values = result.values
    if values.ndim not in (2, 3):
        raise DsrError(f"{path} holds an array of shape {values.shape}; expected (time, variable) or (trial, time, variable)")
    if not np.issubdtype(values.dtype, np.number):
        raise DsrError(f"{path} holds dtype {values.dtype}; expected numbers")
    return result


def _is_number(text: str) -> bool:
    try:
        float(text.strip().replace(",", "."))
    except ValueError:
        return False
    return True


def _sniff(lines: list[str]) -> str:
    """The delimiter of non-empty CSV ``lines``: one of ``,;\\t|`` found equally often in every line,
    else whitespace if it splits every line alike, else the most frequent one in the first line
    (whitespace if none; ``,`` for a single column)."""
    for delimiter in _DELIMITERS:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return delimiter
    widths = {len(line.split()) for line in lines}
    if len(widths) == 1 and widths.pop() > 1:
        return _WHITESPACE
    best = max(_DELIMITERS, key=lines[0].count)
    if lines[0].count(best):
        return best
    return _WHITESPACE if len(lines[0].split()) > 1 else ","


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == _WHITESPACE:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


def _read_csv(path: Path, header: bool | None, time_column: str | None) -> ImportedArray:
    import pandas as pd

    text = path.read_text()
    lines = text.splitlines()
    filled = [line for line in lines if line.strip()]
    if not filled:
        raise DsrError(f"{path} is empty; give a CSV file with one column per variable")
    delimiter = _sniff(filled[:50])
    fields = _split(filled[0], delimiter)
    _check_widths(path, lines, delimiter, len(fields))
    decimal_comma = delimiter == ";" and "," in filled[-1]
    if header is None:
        header = not all(_is_number(f) for f in fields)
    shown = "whitespace" if delimiter == _WHITESPACE else repr(delimiter)
    notes = [f"delimiter {shown}" + (", decimal comma" if decimal_comma else "")]
    frame = pd.read_csv(
        io.StringIO(text), sep=delimiter, header=0 if header else None, dtype=str, keep_default_na=False,
        skip_blank_lines=False, skipinitialspace=True, engine="python" if delimiter == _WHITESPACE else "c",
    )
    if header:
        names = [str(c).strip() for c in frame.columns]
        notes.append(f"header row: {', '.join(names)}")
    else:
        names = [f"x{i}" for i in range(frame.shape[1])]
        frame.columns = names
        notes.append(f"no header row (the first row is numeric): columns named {', '.join(names)}; pass --header if it is one")
    # Trailing empty lines are not rows.
    while len(frame) and all(not str(v).strip() for v in frame.iloc[-1].fillna("")):
        frame = frame.iloc[:-1]
    values = _numbers(frame, path, first_line=2 if header else 1, decimal_comma=decimal_comma)
    column = _time_column(names, time_column, path)
    if column is None:
        return ImportedArray(values, names, notes=notes)
    j = names.index(column)
    notes.append(f"column '{column}' taken as the time coordinate")
    keep = [i for i in range(len(names)) if i != j]
    if not keep:
        raise DsrError(f"{path} has only the time column '{column}'; it needs at least one variable column")
    return ImportedArray(values[:, keep], [names[i] for i in keep], values[:, j], column, notes)


def _check_widths(path: Path, lines: list[str], delimiter: str, width: int) -> None:
    """Raise if a line has more fields than the first row (pandas would fail or misalign it)."""
    for number, line in enumerate(lines, start=1):
        count = len(_split(line, delimiter)) if line.strip() else 0
        if count > width:
            raise DsrError(f"{path} line {number} has {count} fields but the first row has {width}; fix that line")


def _numbers(frame, path: Path, first_line: int, decimal_comma: bool) -> np.ndarray:
    """The frame's strings as float64; an error naming the first missing or non-numeric entry."""
    import pandas as pd

    raw = frame.fillna("").apply(lambda col: col.astype(str).str.strip())
    text = raw.apply(lambda col: col.str.replace(",", ".", regex=False)) if decimal_comma else raw
    values = text.apply(lambda col: pd.to_numeric(col, errors="coerce")).to_numpy(dtype=np.float64)
    missing = np.isin(np.char.lower(raw.to_numpy(dtype=str)), _MISSING)
    for what, bad, fix in (
        ("missing", missing, "fill or drop those rows before importing"),
        ("non-numeric", np.isnan(values) & ~missing, "only a header row may hold text (see --header)"),
    ):
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            entry = "" if what == "missing" else f" '{raw.iat[row, col]}'"
            raise DsrError(
                f"{path} has {int(bad.sum())} {what} entr{'y' if bad.sum() == 1 else 'ies'} "
                f"(first{entry} at line {first_line + row}, column '{frame.columns[col]}'); {fix}"
            )
    return values


def _time_column(names: list[str], wanted: str | None, path: Path) -> str | None:
    """The column to take as time: ``wanted`` (a name or 0-based index), else one named time or t."""
    if wanted is None:
        return next((n for n in names if n.strip().lower() in _TIME_NAMES), None)
    if wanted in names:
        return wanted
    if wanted.isdigit() and int(wanted) < len(names):
        return names[int(wanted)]
    raise DsrError(f"--time-column {wanted}: {path} has no such column; choose one of {', '.join(names)} (or a 0-based index)")


def import_file(
    path: str | Path,
    out: str | Path,
    *,
    dt: float | None = None,
    header: bool | None = None,
    time_column: str | None = None,
    name: str = "x",
    overwrite: bool = False,
) -> dict:
    """Convert ``path`` (.npy or .csv) into the data store ``out``; return a summary with notes.

    dt is ``dt`` if given, else the spacing of the file's time column, else 1 (and the notes say so).
    A given ``dt`` that disagrees with the time column is an error.
    """
    from dsr.data import time_step, to_dataset
    from dsr.zarrstore import require_separate, write_dataset

    path, out = Path(path), Path(out)
    require_separate(out, [path])
    if dt is not None and not dt > 0:
        raise DsrError(f"--dt {dt} must be positive")
    imported = read_array_file(path, header=header, time_column=time_column)
    notes, start = list(imported.notes), 0.0
    if imported.time is not None and len(imported.time) > 1:
        column_dt = time_step(imported.time, f"time column '{imported.time_column}' of {path}", "pass --dt and drop the column")
        if dt is not None and not np.isclose(dt, column_dt, rtol=1e-6):
            raise DsrError(f"--dt {dt} disagrees with time column '{imported.time_column}' (spacing {column_dt:g}); drop --dt")
        dt, start = column_dt, float(imported.time[0])
        notes.append(f"dt {dt:g} from time column '{imported.time_column}'")
    elif dt is None:
        dt = 1.0
        notes.append("no --dt given and no time column: dt = 1 (one time unit per sample); pass --dt to set it")
    values = imported.values
    ds = to_dataset(
        values, dt, variables=imported.names, name=name, attrs={"source": f"imported from {path.name}"},
        dtype=values.dtype, start=start,
    )
    write_dataset(ds, out, overwrite=overwrite)
    return {"path": str(out), "dims": dict(ds.sizes), "dt": dt, "variables": [str(v) for v in ds["variable"].values], "notes": notes}
