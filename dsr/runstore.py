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
        metrics/                  final metrics (the fit's own evaluation; root attr final_metrics)
        evaluations/<name>/       later evaluations (`dsr evaluate`), named after their settings
        analysis/<name>/          one group per analysis, settings in its attrs
        .checkpoint/              transient: a committed checkpoint being moved into place
    .<run>.zarr.lock              beside the store: the write lock of a fit or resume (:func:`locked`)

Every reader and writer goes through this module. Each group is written whole to a
temporary sibling directory and renamed into place, and root attributes are replaced by
an atomic rename of ``zarr.json``, so a crash never leaves a half-written group.

A checkpoint (``params/last``, ``state/last``, ``params/best`` and ``history`` of one epoch)
is one unit (:func:`write_checkpoint`): its groups are written into a hidden staging folder
with a ``manifest.json`` naming them, the folder is renamed to ``.checkpoint`` (the commit
point), and only then are the groups moved into place one by one. Readers take a group from
a committed ``.checkpoint`` where it is still there, so they see the whole new checkpoint or
the whole old one; :func:`recover` (run by the next writer) finishes moving a committed
checkpoint and deletes uncommitted ones and the leftovers of interrupted writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import xarray as xr

from dsr.errors import DsrError
from dsr.jsonable import strict
from dsr.zarrstore import (
    atomic_directory, load_store, move_into_place, remove_leftovers, remove_path, require_store, sibling,
    write_dataset,
)

SCHEMA_VERSION = 1
STORE_KIND = "run"
STATUSES = ("running", "finished", "failed", "interrupted")

PARAMS = "params"
STATE = "state"
HISTORY = "history"
TRAJECTORY = "trajectory"
METRICS = "metrics"
EVALUATIONS = "evaluations"
ANALYSIS = "analysis"
_PARENT_GROUPS = (PARAMS, STATE, ANALYSIS)
CHECKPOINT = ".checkpoint"
"""The committed checkpoint whose groups are being moved into place (see the module doc)."""
MANIFEST = "manifest.json"


def now() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _group_json(attrs: dict) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attrs}


def _write_json_atomic(path: Path, content: dict) -> None:
    tmp = sibling(path, "tmp")
    try:
        tmp.write_text(json.dumps(strict(content), indent=2, allow_nan=False))  # strict JSON: NaN as null
        os.replace(tmp, path)
    finally:
        remove_path(tmp)  # left only if writing failed (a full disk)


def create(path: str | os.PathLike, attrs: dict, overwrite: bool = False) -> Path:
    """Create an empty run store with status ``running`` and the given root attrs (under its lock)."""
    path = Path(path)
    remove_leftovers(path.parent, path.name)
    root = {"schema_version": SCHEMA_VERSION, "dsr_store": STORE_KIND, "status": "running", "created": now(), **attrs}
    with atomic_directory(path, overwrite=overwrite) as tmp:
        tmp.mkdir()
        _write_json_atomic(tmp / "zarr.json", _group_json(root))
        for group in _PARENT_GROUPS:
            (tmp / group).mkdir()
            _write_json_atomic(tmp / group / "zarr.json", _group_json({}))
    return path


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of run store ``path``: a hidden sibling, so that it exists before the store does."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"process {info['pid']} on {info['host']} ({info['command']}, since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def locked(path: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold the write lock of run store ``path`` for ``command`` (e.g. ``"dsr fit"``) for the duration of the block.

    The lock is an exclusive ``flock`` on :func:`lock_path`, which names its holder (PID, host,
    command, start time). The kernel releases it when the holder dies, so a lock file left by a
    killed process is stale: it is taken over and reported on stderr. A second writer gets a
    one-line DsrError naming the holder.
    """
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
            os.close(fd)
            raise DsrError(
                f"{path} is being written by {holder}; wait until it ends or stop it, then run this again"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder released and deleted the file between our open and flock: try again
    try:
        stale = os.pread(fd, 4096, 0).decode(errors="replace")
        if stale:
            print(f"dsr: note: {path} had a stale lock of {_holder(stale)}, which ended without releasing it; taken over",
                  file=sys.stderr)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "since": now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        # Deleted before the unlock: a process waiting on this file finds it gone and retries.
        lock.unlink(missing_ok=True)
        os.close(fd)


def require_run(path: str | os.PathLike) -> Path:
    """Return ``path`` if it is a run store, else raise a one-line DsrError."""
    path = require_store(path)
    if read_attrs(path).get("dsr_store") != STORE_KIND:
        raise DsrError(f"{path} is a Zarr store but not a dsr run store; pass a store written by `dsr fit`")
    return path


def read_attrs(path: str | os.PathLike) -> dict:
    """The root attributes of a store of Zarr format 3 or 2, read through zarr ({} for a lone array)."""
    import zarr

    try:
        node = zarr.open(zarr.storage.LocalStore(path, read_only=True), mode="r")
    except (OSError, ValueError, zarr.errors.BaseZarrError) as err:  # ValueError: zarr.json is not JSON
        raise DsrError(f"{path} is not a readable Zarr store ({err}); rewrite it with xarray's to_zarr") from None
    return node.attrs.asdict() if isinstance(node, zarr.Group) else {}


def read_results_store(path: str | os.PathLike, name: str, kind: str, missing: str) -> xr.Dataset:
    """The results store ``name`` of a folder (``path`` is the folder or the store itself), in memory, when its
    attrs mark it ``dsr_store: kind`` (a sweep's table, a bench's leaderboard); else the one-line DsrError
    ``missing``, formatted with ``folder``."""
    from dsr.zarrstore import load_store

    path = Path(path)
    path = path if path.name == name else path / name
    if not (path / "zarr.json").exists() or read_attrs(path).get("dsr_store") != kind:
        raise DsrError(missing.format(folder=path.parent))
    return load_store(path)


def update_attrs(path: str | os.PathLike, **attrs) -> None:
    """Merge ``attrs`` into the root attributes (atomic replacement of ``zarr.json``)."""
    if "status" in attrs and attrs["status"] not in STATUSES:
        raise ValueError(f"status {attrs['status']!r} is not one of {STATUSES}")
    path = Path(path)
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"] = {**meta.get("attributes", {}), **attrs, "updated": now()}
    _write_json_atomic(path / "zarr.json", meta)


def _ensure_parent(path: Path, group: str) -> None:
    parent = group.rpartition("/")[0]
    if parent and not (path / parent / "zarr.json").exists():
        (path / parent).mkdir(parents=True, exist_ok=True)
        _write_json_atomic(path / parent / "zarr.json", _group_json({}))


def write_group(path: str | os.PathLike, group: str, ds: xr.Dataset) -> None:
    """Write ``ds`` as group ``group`` (e.g. ``"params/best"``), replacing it atomically."""
    path = Path(path)
    _ensure_parent(path, group)
    write_dataset(ds, path / group, overwrite=True)


def write_checkpoint(path: str | os.PathLike, groups: dict[str, xr.Dataset], **info) -> None:
    """Write ``groups`` (name -> Dataset) as one checkpoint: all of them become visible, or none.

    ``info`` (e.g. the epoch) goes into the manifest. Staged under a temporary name, committed
    by renaming the staging folder to :data:`CHECKPOINT`, then applied by :func:`_apply_checkpoint`.
    """
    path = Path(path)
    _apply_checkpoint(path)  # an earlier save of this process that an interrupt cut short
    with atomic_directory(path / CHECKPOINT) as staging:
        staging.mkdir()
        for group, ds in groups.items():
            write_dataset(ds, staging / group)
        # Written last: a staging folder is complete exactly when it has its manifest.
        _write_json_atomic(staging / MANIFEST, {"groups": list(groups), **info})
    _apply_checkpoint(path)


def _apply_checkpoint(path: Path) -> None:
    """Move the groups of a committed checkpoint into place (those not moved yet), then drop it."""
    committed = path / CHECKPOINT
    if not (committed / MANIFEST).exists():
        return
    for group in json.loads((committed / MANIFEST).read_text())["groups"]:
        if (committed / group).exists():
            _ensure_parent(path, group)
            move_into_place(committed / group, path / group)
    remove_path(committed)


def recover(path: str | os.PathLike) -> None:
    """Finish a committed checkpoint and delete what interrupted writes left (call under the run's lock)."""
    path = Path(path)
    _apply_checkpoint(path)
    remove_path(path / CHECKPOINT)  # without a manifest: what is left of a removal that was cut short
    remove_leftovers(path.parent, path.name)
    for folder in (path, *(path / group for group in (*_PARENT_GROUPS, HISTORY))):
        remove_leftovers(folder)


def _located(path: Path, group: str) -> Path:
    """Where ``group`` is read from: the committed checkpoint while it still holds the group, else its place."""
    staged = path / CHECKPOINT / group
    if (path / CHECKPOINT / MANIFEST).exists() and (staged / "zarr.json").exists():
        return staged
    return path / group


def has_group(path: str | os.PathLike, group: str) -> bool:
    """Whether the run store has group ``group``."""
    return (_located(Path(path), group) / "zarr.json").exists()


def read_group(path: str | os.PathLike, group: str) -> xr.Dataset:
    """Read group ``group`` of a run store into memory."""
    path = Path(path)
    if not has_group(path, group):
        raise DsrError(f"{path} has no group '{group}'; was the run finished (see `dsr info {path}`)?")
    return load_store(_located(path, group))


def list_groups(path: str | os.PathLike, parent: str) -> list[str]:
    """Names of the groups directly under ``parent`` (e.g. the checkpoints under ``params``)."""
    path = Path(path)
    names = set()
    for folder in (path / parent, path / CHECKPOINT / parent):
        if folder.is_dir():
            names |= {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    return sorted(name for name in names if has_group(path, f"{parent}/{name}"))


def remove_group(path: str | os.PathLike, group: str) -> None:
    """Delete a group (e.g. an analysis that is to be recomputed)."""
    shutil.rmtree(Path(path) / group, ignore_errors=True)
