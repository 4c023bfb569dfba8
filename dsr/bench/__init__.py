"""``dsr bench``: every model family fitted on the same data under the same wall-clock budget, and a leaderboard.

- :mod:`~dsr.bench.runner`: the fits (a ``dsr sweep`` of family × seed on the Dask executor, so it
  resumes and records failures as sweeps do) and then the leaderboard.
- :mod:`~dsr.bench.leaderboard`: the leaderboard store's layout, its per-fit table and per-family summary.
- :mod:`~dsr.bench.invariants`: λ1 and the Kaplan–Yorke dimension of a fitted model (PWL or zoo).
"""
