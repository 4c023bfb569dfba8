"""dsr: dynamical-systems reconstruction with PLRNN-family models.

The public API (``__all__``) is imported on first use, so that ``import dsr`` (and
``dsr --help``) stays light; ``dir(dsr)`` lists it, and type checkers see it through the
imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_API = {
    "fit": "dsr.fitting",
    "resume": "dsr.fitting",
    "load_run": "dsr.run",
    "evaluate_run": "dsr.run",
    "Run": "dsr.run",
    "analyze": "dsr.run_analysis",
    "FitConfig": "dsr.training.config",
    "import_file": "dsr.importers",
    "load": "dsr.data",
    "TimeSeries": "dsr.data",
    "DsrError": "dsr.errors",
}

__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from dsr.run_analysis import analyze
    from dsr.data import TimeSeries, load
    from dsr.errors import DsrError
    from dsr.fitting import fit, resume
    from dsr.importers import import_file
    from dsr.run import Run, evaluate_run, load_run
    from dsr.training.config import FitConfig


def __getattr__(name: str) -> Any:
    """The public names of ``_API``, imported from their modules on first use."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'dsr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
