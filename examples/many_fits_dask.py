# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Many fits at once with Dask
#
# Seeds, hyperparameter grids and one model per subject all mean many fits. `dsr sweep` runs them on a
# `dask.distributed` cluster: a local one by default (one process per core), or an existing cluster
# with `--scheduler tcp://HOST:PORT`. Every fit writes its own run store, as `dsr fit` does, and the
# sweep keeps a table of configuration × metrics. A sweep that stops can be started again: finished
# fits are skipped.
#
# Here: a grid of 2 seeds × 2 hidden sizes on the Lorenz-63 sample, with a budget small enough for CI
# (the fits are far from converged). The same from the shell: `dsr sweep seeds.toml -o sweeps/seeds`.

# %%
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import dsr
from dsr.sweep.command import sweep

work = Path(tempfile.mkdtemp(prefix="dsr-sweep-"))
data = (Path("..") / "data" / "lorenz63.zarr").resolve()

# %% [markdown]
# ## The sweep specification
#
# `[fit]` holds the options every fit shares (any `dsr fit` option, by its `FitConfig` name), `[grid]`
# the values to combine; a `[random]` table would draw configurations instead. The spec is checked
# against `FitConfig` before anything runs.

# %%
spec = work / "seeds.toml"
spec.write_text(f"""data = "{data}"

[fit]
epochs = 15
batches_per_epoch = 10
eval_every = 5
eval_steps = 2000
ensemble = 2

[grid]
seed = [0, 1]
hidden = [20, 50]
""")
print(spec.read_text())

# %% [markdown]
# ## Run it on a local cluster of 2 worker processes

# %%
start = time.perf_counter()
result = sweep(spec, work / "sweep", scheduler=None, jobs=2, quiet=True, overwrite=False)
first_run = time.perf_counter() - start
print(f"{result['finished']} of {result['fits']} fits finished in {first_run:.0f} s; best: {result['best']}")
for row in sorted(result["rows"], key=lambda r: r["d_stsp"]):
    print(f"  {row['fit']}  seed {int(row['seed'])}  hidden {int(row['hidden']):3d}  D_stsp {row['d_stsp']:6.2f}  D_H {row['d_h']:.3f}")
assert result["finished"] == 4 and result["failed"] == 0
assert all(np.isfinite(row["d_stsp"]) for row in result["rows"])

# %% [markdown]
# Each fit is a full run store: load the best one like any other run.

# %%
best = dsr.load_run(result["best_run"])
print(best.path.name, best.status, "hidden", best.config.hidden, "seed", best.config.seed)
assert best.status == "finished"
assert best.attrs["final_metrics"]["d_stsp"] == min(row["d_stsp"] for row in result["rows"])

# %% [markdown]
# ## Resume: finished fits are skipped
#
# Starting the same sweep again (after an interruption, or a worker lost on a cluster) runs only what
# is missing; here nothing is, so the table comes back unchanged and no fit is repeated.

# %%
start = time.perf_counter()
again = sweep(spec, work / "sweep", scheduler=None, jobs=2, quiet=True, overwrite=False)
print(f"second run: {again['finished']} finished in {time.perf_counter() - start:.0f} s")
assert [r["d_stsp"] for r in again["rows"]] == [r["d_stsp"] for r in result["rows"]]

# %% [markdown]
# ## Configuration against quality

# %%
fig, ax = plt.subplots(figsize=(4, 3), constrained_layout=True)
for seed in (0, 1):
    rows = sorted((r for r in result["rows"] if r["seed"] == seed), key=lambda r: r["hidden"])
    ax.plot([r["hidden"] for r in rows], [r["d_stsp"] for r in rows], "o-", label=f"seed {seed}")
ax.set_xlabel("hidden units L")
ax.set_ylabel("D_stsp (test)")
ax.legend()
plt.show()
