"""Plain Python values for JSON output and store attributes (no numpy import needed)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any


def plain(obj: Any) -> Any:
    """numpy arrays and scalars -> Python lists and numbers, recursively (NaN stays a float)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and numpy scalars
        return plain(obj.tolist())
    return obj


def _finite(obj: Any, replace: Callable[[float], Any]) -> Any:
    """:func:`plain`, with each NaN or infinity replaced by ``replace(value)``."""
    obj = plain(obj)
    if isinstance(obj, dict):
        return {k: _finite(v, replace) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v, replace) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return replace(obj)
    return obj


def strict(obj: Any) -> Any:
    """:func:`plain`, with NaN and infinities as null: strict JSON."""
    return _finite(obj, lambda value: None)


_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def portable(obj: Any) -> Any:
    """:func:`plain`, with NaN and infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    Strict JSON that keeps the value: the spelling of the Zarr v3 spec for such floats, which
    ``float()`` and ``numpy.asarray(..., dtype=float)`` read back.
    """
    return _finite(obj, lambda value: _NONFINITE[str(value)])


def dumps(obj: Any) -> str:
    """One strict JSON document."""
    return json.dumps(strict(obj), allow_nan=False)
