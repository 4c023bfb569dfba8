"""Analysis kernels on plain arrays: metrics, Lyapunov spectra, dimensions, fixed points, symbolic codes.

Import the submodules you need (``from dsr.analysis import metrics``); this package imports nothing
at import time so that notebooks, Dask workers and the app stay light.
"""
