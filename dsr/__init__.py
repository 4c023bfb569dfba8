"""dsr: dynamical-systems reconstruction with PLRNN-family models."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The public API, imported on first use so that `import dsr` (and `dsr --help`) stays light.
    if name in ("fit", "resume"):
        from dsr import fitting

        return getattr(fitting, name)
    if name == "analyze":
        from dsr import analyzing

        return analyzing.analyze
    if name in ("load_run", "evaluate_run", "Run"):
        from dsr import run

        return getattr(run, name)
    raise AttributeError(f"module 'dsr' has no attribute {name!r}")
