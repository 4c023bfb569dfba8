"""Many fits at once: sweeps over fit configurations on Dask, and model selection for new data.

- :mod:`dsr.sweep.spec`: the sweep specification (TOML), checked against ``FitConfig``;
- :mod:`dsr.sweep.executor`: runs fits on a ``dask.distributed`` cluster (local or remote);
- :mod:`dsr.sweep.store`: the sweep store, the table of configuration × metrics;
- :mod:`dsr.sweep.runner`: a whole sweep (resume, failures, progress);
- :mod:`dsr.sweep.search`: ``dsr fit --search``, a built-in sweep and the full fit of its winner.
"""
