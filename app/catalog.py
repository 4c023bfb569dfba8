"""The stores the app may show: discovery under ROOT and the one gate from names to paths.

Every store the app opens on behalf of a URL or a callback is named by its path relative to
ROOT and goes through :func:`resolve`, which refuses anything that would land outside ROOT
(``..``, absolute paths, symlinks pointing out, stores holding such symlinks). The only other
path the app reads is a run's own declared input (its ``data_path`` attribute), which comes from
the store; it too is read only if it and its links lie inside ROOT (:func:`require_inside`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from dsr import runstore
from dsr.errors import DsrError
from dsr.bench.leaderboard import STORE_KIND as LEADERBOARD_KIND
from dsr.sweep.store import STORE_KIND as SWEEP_KIND
from dsr.zarrstore import is_zarr_store

MAX_DEPTH = 4
"""How deep below ROOT stores are looked for (runs are usually ROOT/name.zarr)."""


class Refused(DsrError):
    """A requested store name the app will not open (outside ROOT, not a store, or the wrong kind)."""


@dataclass(frozen=True)
class StoreEntry:
    """A store found under ROOT: its name (path relative to ROOT), path and kind."""

    name: str
    path: Path
    kind: str  # "run", "sweep" (a sweep's table), "leaderboard" (a bench's), "data" or "unreadable"
    error: str = ""


def resolve(root: Path, name: str) -> Path:
    """The store ``name`` (relative to ``root``, URL-quoted or not) as a path inside ``root``.

    Raises :class:`Refused` for absolute names, ``..`` components, names that resolve
    (through symlinks) outside ``root``, names that are not Zarr stores, and groups inside stores.
    """
    text = unquote(name or "").replace("\\", "/")
    parts = PurePosixPath(text).parts
    if not parts or text.startswith("/") or ".." in parts or ":" in parts[0]:
        raise Refused(f"'{text}' is not a store name under the served folder")
    root = root.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or path == root:
        raise Refused(f"'{text}' lies outside the served folder")
    if not is_zarr_store(path) or any(is_zarr_store(p) for p in path.parents if p.is_relative_to(root) and p != root):
        raise Refused(f"'{text}' is not a store under the served folder")
    return require_inside(root, path, f"'{text}'")


def require_inside(root: Path, path: Path, what: str) -> Path:
    """``path`` resolved, if it and every symlink inside it lead to places under ``root``; else :class:`Refused`.

    Links are checked, not followed (so a link loop costs nothing).
    """
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise Refused(f"{what} lies outside the served folder")
    for folder, dirs, files in os.walk(resolved):
        for entry in (*dirs, *files):
            link = Path(folder, entry)
            if link.is_symlink() and not link.resolve().is_relative_to(root):
                raise Refused(f"{what} holds a link ({link.relative_to(resolved)}) to outside the served folder")
    return resolved


def _kind(path: Path) -> tuple[str, str]:
    try:
        attrs = runstore.read_attrs(path) if (path / "zarr.json").exists() else {}
    except (OSError, ValueError) as err:  # ValueError: DsrError and json's decode error
        return "unreadable", f"zarr.json cannot be read ({err})"
    kind = attrs.get("dsr_store")
    known = {runstore.STORE_KIND: "run", SWEEP_KIND: "sweep", LEADERBOARD_KIND: "leaderboard"}
    return known.get(kind, "data"), ""


def scan(root: Path) -> list[StoreEntry]:
    """All stores under ``root`` (not inside other stores, not hidden temporaries), sorted by name."""
    root = root.resolve()
    found: list[StoreEntry] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return
        for child in children:
            # Hidden names are the atomic writers' temporaries (.name.tmp-xxxx); symlinks out of
            # ROOT are not listed, since resolve() would refuse to open them.
            if child.name.startswith(".") or not child.is_dir() or not child.resolve().is_relative_to(root):
                continue
            if is_zarr_store(child):
                try:
                    kind, error = _kind(require_inside(root, child, child.name))
                except Refused as err:
                    kind, error = "unreadable", str(err)
                found.append(StoreEntry(child.relative_to(root).as_posix(), child, kind, error))
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(root, 1)
    return found


def stamp(path: Path) -> int:
    """The newest modification time among a store and its top-level entries (0 if unreadable).

    Groups are replaced by renames, which touch their parent directory, and root attributes by
    a rename of ``zarr.json``; so this changes whenever a fit or an analysis writes.
    """
    try:
        return max([path.stat().st_mtime_ns, *(child.stat().st_mtime_ns for child in path.iterdir())])
    except OSError:
        return 0


def signature(entries: list[StoreEntry]) -> list[tuple[str, int]]:
    """A cheap fingerprint of the stores' state: what the overview compares before redrawing."""
    return [(entry.name, stamp(entry.path)) for entry in entries]


def display_path(root: Path, name: str) -> str:
    """How a store is named in hints such as ``dsr analyze RUN``: its full path, valid from any folder."""
    return str(root / name)
