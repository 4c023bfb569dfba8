"""Analysis kernels on plain arrays: metrics, Lyapunov spectra, dimensions, fixed points, symbolic codes.

Import the submodules you need; this package imports nothing at import time so that notebooks,
Dask workers and the app stay light. None of them imports torch or xarray.

- ``metrics``: D_stsp, D_H, PE(n).
- ``pwl``: the Numba face of every PLRNN-family model (``from_params``), one normal form.
- ``lyapunov`` (kernels in ``tangent``): Lyapunov spectra of systems and models.
- ``dimensions``: Kaplan–Yorke and correlation dimension.
- ``cycles`` (kernels in ``scyfi``): fixed points and k-cycles of PWL models, exhaustive or SCYFI.
- ``fixed_points``: fixed points of smooth ``dsr.systems`` by Newton's method.
- ``symbolic``: region codes, transitions, entropy rate, topology of PWL models.
- ``stability``, ``linalg``: shared helpers.
"""
