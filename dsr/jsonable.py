"""Plain Python values for JSON output and store attributes (no numpy import needed)."""

from __future__ import annotations

import json
import math
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


def strict(obj: Any) -> Any:
    """:func:`plain`, with NaN and infinities as null: strict JSON."""
    obj = plain(obj)
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any) -> str:
    """One strict JSON document."""
    return json.dumps(strict(obj), allow_nan=False)
