"""The Dash dashboard over run and data stores: ``dsr.app.serve(ROOT)``.

``import dsr.app`` stays light: Dash, plotly and the store readers load when ``serve`` or
``create_app`` is first used. The app never imports torch.
"""

from __future__ import annotations

__all__ = ["create_app", "serve"]


def __getattr__(name: str):
    if name in __all__:
        from dsr.app import server

        return getattr(server, name)
    raise AttributeError(f"module 'dsr.app' has no attribute {name!r}")
