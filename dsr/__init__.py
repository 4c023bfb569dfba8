"""dsr: dynamical-systems reconstruction with PLRNN-family models."""

__version__ = "0.1.0"
