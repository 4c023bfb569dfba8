"""Reading and atomically writing Zarr stores through xarray.

One policy for every store the project writes (Zarr specification v3, zarr-specs.readthedocs.io):
Zarr format 3, unconsolidated metadata (consolidated v3 metadata is a zarr-python
extension and goes stale when groups are added later), spec codecs from ``zarr.codecs``.
Writes go to a temporary sibling that is renamed into place, so a crash never leaves a
half-written store under the final name.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import ZstdCodec

from dsr.errors import DsrError

_COMPRESSORS = (ZstdCodec(level=3),)


def is_zarr_store(path: Path) -> bool:
    """Whether ``path`` is the root of a Zarr store of format 3 or 2."""
    return path.is_dir() and any(
        (path / marker).exists() for marker in ("zarr.json", ".zgroup", ".zarray")
    )


def require_store(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is a Zarr store, else raise a one-line DsrError."""
    path = Path(path)
    if not path.exists():
        raise DsrError(f"{path}: no such file or directory; check the path")
    if not is_zarr_store(path):
        hint = (
            f"convert it with `dsr import {path} -o {path.stem}.zarr`"
            if path.suffix.lower() in (".npy", ".csv")
            else "pass a store written by `dsr simulate`, `dsr import` or xarray's to_zarr"
        )
        raise DsrError(f"{path} is not a Zarr store (no zarr.json or .zgroup); {hint}")
    return path


def require_separate(output: str | os.PathLike, inputs: list[str | os.PathLike | None]) -> None:
    """Refuse an output path that is, contains or lies inside one of the inputs (links resolved)."""
    out = Path(output).resolve()
    for source in filter(None, inputs):
        src = Path(source).resolve()
        relation = "is" if out == src else "lies inside" if src in out.parents else "contains" if out in src.parents else None
        if relation:
            raise DsrError(f"the output {output} {relation} the input {source}; choose an output path outside the inputs")


def open_store(path: str | os.PathLike, group: str | None = None) -> xr.Dataset:
    """Open a Zarr store (format 3 or 2) or one of its groups lazily."""
    path = require_store(path)
    with warnings.catch_warnings():
        # A v2 store without .zmetadata makes xarray warn about speed; harmless here.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return xr.open_zarr(path, group=group, consolidated=False)
        except (FileNotFoundError, KeyError) as err:
            where = f"group '{group}' of {path}" if group else str(path)
            raise DsrError(f"{where} cannot be read as a dataset ({err}); is it a dsr store?") from err
        except ValueError as err:
            if "conflicting sizes for dimension" in str(err):
                # xarray refuses to open stores whose arrays disagree on a shared dim,
                # e.g. inputs recorded over a different time span than the data.
                raise DsrError(
                    f"{path}: {err}; data and inputs must share the same time (and trial) axis"
                ) from err
            raise DsrError(f"{path} is not a readable Zarr store ({err}); rewrite it with xarray's to_zarr") from err
        except (TypeError, zarr.errors.BaseZarrError) as err:
            raise DsrError(f"{path} is not a readable Zarr store ({err}); rewrite it with xarray's to_zarr") from err


def read_values(da: xr.DataArray, path: str | os.PathLike) -> np.ndarray:
    """The values of ``da`` (a variable of the store at ``path``); a chunk that cannot be decoded is a DsrError."""
    try:
        return np.asarray(da.values)
    except MemoryError:
        raise
    except Exception as err:  # zstd, zarr and numpy each raise their own type for a damaged chunk
        raise _damaged(path, f"a chunk of '{da.name}'", err) from err


def load_store(path: str | os.PathLike) -> xr.Dataset:
    """Open the store (or group) at ``path`` and read it into memory; a chunk that cannot be decoded is a DsrError."""
    ds = open_store(path)
    try:
        return ds.load()
    except MemoryError:
        raise
    except Exception as err:
        raise _damaged(path, "a chunk", err) from err


def _damaged(path: str | os.PathLike, what: str, err: Exception) -> DsrError:
    return DsrError(f"{path}: {what} cannot be read ({type(err).__name__}: {err}); the store is truncated or damaged, rewrite it")


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    return {name: {"compressors": _COMPRESSORS} for name in ds.data_vars}


@contextlib.contextmanager
def atomic_directory(final: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success rename it to ``final``.

    On an exception the temporary directory is removed and ``final`` is untouched.
    With ``overwrite`` an existing ``final`` is replaced only after the new content
    is complete.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise DsrError(f"{final} already exists; choose another output path or pass --overwrite")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = sibling(final, "tmp")
    try:
        yield tmp
        move_into_place(tmp, final)
    finally:
        remove_path(tmp)


def sibling(final: Path, kind: str) -> Path:
    """A hidden, unique sibling name of ``final`` of the given kind (``tmp`` or ``old``)."""
    return final.with_name(f".{final.name}.{kind}-{uuid.uuid4().hex[:8]}")


_LEFTOVER = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}$")


def move_into_place(src: Path, final: Path) -> None:
    """Rename the complete ``src`` to ``final``; an existing ``final`` (file or folder) is moved aside first and deleted."""
    if final.exists() or final.is_symlink():
        trash = sibling(final, "old")
        os.replace(final, trash)
        os.replace(src, final)
        remove_path(trash)
    else:
        os.replace(src, final)


def remove_path(path: Path) -> None:
    """Delete a file, link or folder if it exists (a symlink itself, never its target)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def remove_leftovers(folder: Path, name: str | None = None) -> None:
    """Delete the temporary and replaced siblings (``.<name>.tmp-*``, ``.<name>.old-*``) that interrupted writes left in ``folder``.

    Only call this while no other process writes there (under the run's lock): a live writer's
    temporary sibling looks the same.
    """
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if _LEFTOVER.match(entry.name) and (name is None or entry.name.startswith(f".{name}.")):
            remove_path(entry)


def portable_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose dataset and variable attributes are strict JSON that keeps every value.

    zarr writes a float NaN or infinity attribute as a bare ``NaN`` / ``Infinity``, which is not
    JSON and which other readers (JavaScript, jq, strict parsers) reject; they are stored as the
    strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` instead (:func:`dsr.jsonable.portable`),
    which ``float()`` reads back (a training state's best score starts at infinity).
    """
    from dsr.jsonable import portable

    ds = ds.copy(deep=False)
    ds.attrs = portable(ds.attrs)
    for variable in ds.variables.values():
        variable.attrs = portable(variable.attrs)
    return ds


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``ds`` as a new Zarr v3 store at ``path`` atomically, attributes as strict JSON; return the path."""
    path = Path(path)
    ds = portable_attrs(ds)
    with atomic_directory(path, overwrite=overwrite) as tmp:
        ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False, encoding=_encoding(ds))
    return path
