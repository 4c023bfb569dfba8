"""The run store: the one contract between fitting, analysis and the app.

One Zarr (format 3) store per fit, laid out as::

    <run>.zarr/
        zarr.json                 root attrs: schema_version, dsr_store="run", status,
                                  config (resolved, JSON), versions, device, seed,
                                  data_path, data_hash, created/updated timestamps
        params/<name>/            checkpoints ("best", "last", ...): the model's parameters
                                  as an xarray Dataset, model kind in its attrs
        state/<name>/             resumable training state (optimizer moments, RNG states)
        history/                  per-epoch loss, alpha, learning rate, gradient norm, metrics
        trajectory/               a long free run of the best model
        metrics/                  final metrics
        analysis/<name>/          one group per analysis, settings in its attrs

Every reader and writer goes through this module. Each group is written whole to a
temporary sibling directory and renamed into place, and root attributes are replaced by
an atomic rename of ``zarr.json``, so a crash never leaves a half-written group.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

import xarray as xr

from dsr.errors import DsrError
from dsr.zarrstore import atomic_directory, open_store, require_store, write_dataset

SCHEMA_VERSION = 1
STORE_KIND = "run"
STATUSES = ("running", "finished", "failed", "interrupted")

PARAMS = "params"
STATE = "state"
HISTORY = "history"
TRAJECTORY = "trajectory"
METRICS = "metrics"
ANALYSIS = "analysis"
_PARENT_GROUPS = (PARAMS, STATE, ANALYSIS)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _group_json(attrs: dict) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attrs}


def _write_json_atomic(path: Path, content: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(content, indent=2))
    os.replace(tmp, path)


def create(path: str | os.PathLike, attrs: dict, overwrite: bool = False) -> Path:
    """Create an empty run store with status ``running`` and the given root attrs."""
    path = Path(path)
    root = {"schema_version": SCHEMA_VERSION, "dsr_store": STORE_KIND, "status": "running", "created": _now(), **attrs}
    with atomic_directory(path, overwrite=overwrite) as tmp:
        tmp.mkdir()
        _write_json_atomic(tmp / "zarr.json", _group_json(root))
        for group in _PARENT_GROUPS:
            (tmp / group).mkdir()
            _write_json_atomic(tmp / group / "zarr.json", _group_json({}))
    return path


def require_run(path: str | os.PathLike) -> Path:
    """Return ``path`` if it is a run store, else raise a one-line DsrError."""
    path = require_store(path)
    if read_attrs(path).get("dsr_store") != STORE_KIND:
        raise DsrError(f"{path} is a Zarr store but not a dsr run store; pass a store written by `dsr fit`")
    return path


def read_attrs(path: str | os.PathLike) -> dict:
    """The root attributes of a store."""
    meta = json.loads((Path(path) / "zarr.json").read_text())
    return meta.get("attributes", {})


def update_attrs(path: str | os.PathLike, **attrs) -> None:
    """Merge ``attrs`` into the root attributes (atomic replacement of ``zarr.json``)."""
    if "status" in attrs and attrs["status"] not in STATUSES:
        raise ValueError(f"status {attrs['status']!r} is not one of {STATUSES}")
    path = Path(path)
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"] = {**meta.get("attributes", {}), **attrs, "updated": _now()}
    _write_json_atomic(path / "zarr.json", meta)


def write_group(path: str | os.PathLike, group: str, ds: xr.Dataset) -> None:
    """Write ``ds`` as group ``group`` (e.g. ``"params/best"``), replacing it atomically."""
    path = Path(path)
    parent = group.rpartition("/")[0]
    if parent and not (path / parent / "zarr.json").exists():
        (path / parent).mkdir(parents=True, exist_ok=True)
        _write_json_atomic(path / parent / "zarr.json", _group_json({}))
    write_dataset(ds, path / group, overwrite=True)


def read_group(path: str | os.PathLike, group: str) -> xr.Dataset:
    """Read group ``group`` of a run store into memory."""
    path = Path(path)
    if not (path / group / "zarr.json").exists():
        raise DsrError(f"{path} has no group '{group}'; was the run finished (see `dsr info {path}`)?")
    return open_store(path / group).load()


def list_groups(path: str | os.PathLike, parent: str) -> list[str]:
    """Names of the groups directly under ``parent`` (e.g. the checkpoints under ``params``)."""
    folder = Path(path) / parent
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "zarr.json").exists() and not p.name.startswith("."))


def remove_group(path: str | os.PathLike, group: str) -> None:
    """Delete a group (e.g. an analysis that is to be recomputed)."""
    shutil.rmtree(Path(path) / group, ignore_errors=True)
