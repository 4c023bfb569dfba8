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
# # Quickstart: simulate, fit, evaluate, analyse
#
# The whole workflow in Python: a Lorenz-63 series from `dsr.systems`, a short fit with
# `dsr.fit`, the held-out metrics with `dsr.evaluate_run`, the model's invariants against the
# true system's with `dsr.analyze`, and figures with matplotlib. The budget is tiny (a minute on
# two CPU cores) so that this notebook runs in CI; `dsr fit`'s defaults train for about 3.5 minutes
# and get much closer (README, "Time to quality").
#
# Open it in Jupyter with `jupytext --to ipynb examples/quickstart.py`, or run it as a script.

# %%
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; figures are saved and shown inline in Jupyter
import matplotlib.pyplot as plt
import numpy as np

import dsr
import dsr.systems as systems
from dsr.analysis import metrics
from dsr.data import to_dataset
from dsr.zarrstore import write_dataset

work = Path(tempfile.mkdtemp(prefix="dsr-quickstart-"))

# %% [markdown]
# ## 1. Simulate
# 20 000 steps of Lorenz-63 at dt = 0.01 with 5 % observation noise, written as a data store
# (the same as `dsr simulate lorenz63 -o lorenz.zarr --steps 20000 --noise 0.05`).

# %%
from dsr.simulate import simulate

data = write_dataset(simulate("lorenz63", 20_000, dt=0.01, noise=0.05, seed=1), work / "lorenz.zarr")
series = dsr.load(data)
print(series.values.shape, series.variables, series.dt)
assert series.values.shape == (1, 20_000, 3) and series.dt == 0.01

# %% [markdown]
# ## 2. Fit
# A shPLRNN (the default model) with adaptive generalized teacher forcing, one ensemble member,
# 150 epochs of 50 batches instead of the default 1 200.

# %%
config = dsr.FitConfig(epochs=150, ensemble=1, eval_every=50, eval_steps=4_000, seed=0, device="cpu")
run_path = dsr.fit(data, config, out=work / "runs", name="quick")
run = dsr.load_run(run_path)
print(run, run.attrs["final_metrics"])
assert run.status == "finished"

# %% [markdown]
# ## 3. Evaluate
# D_stsp (state-space divergence) and D_H (Hellinger distance of the power spectra) of a free run
# against the held-out last 20 %, for the best and the last checkpoint. The data floor is what a
# perfect model would score: the training part against the test part.

# %%
table = dsr.evaluate_run(run_path)
best = next(r for r in table["rows"] if r["checkpoint"] == "best")
train, test = series.values[0, :16_000], series.values[0, 16_000:]
mean, scale = train.mean(0), train.std(0)
floor_stsp = metrics.state_space_divergence((test - mean) / scale, (train[-4_000:] - mean) / scale)
floor_h = metrics.hellinger_distance((test - mean) / scale, (train[-4_000:] - mean) / scale)
print(f"best checkpoint: D_stsp {best['d_stsp']:.3f}, D_H {best['d_h']:.3f}   data floor: {floor_stsp:.3f}, {floor_h:.3f}")
# A model on the attractor, still above the floor at this budget (a model off it scores D_stsp ~ 10-16, D_H ~ 1).
assert best["d_stsp"] < 4.0 and best["d_h"] < 0.6
assert floor_stsp < best["d_stsp"] and floor_h < best["d_h"]

# %% [markdown]
# ## 4. Analyse
# The model's Lyapunov spectrum, dimensions and fixed points against the true Lorenz system's
# (the data store records the system and its parameters).

# %%
from dsr.run_analysis import Settings

report = dsr.analyze(run_path, order=1, settings=Settings(steps=10_000, trajectory_steps=20_000, initial_conditions=2))
model_lambda = np.asarray(report["model"]["lyapunov"]["exponents"])
true_lambda = np.asarray(report["truth"]["lyapunov"]["exponents"])
print("model λ:", np.round(model_lambda, 3))
print("true λ: ", np.round(true_lambda, 3), "  comparison:", report["comparison"]["lambda_max"])
assert abs(true_lambda[0] - 0.9056) < 0.1  # Sprott's λ1 of Lorenz-63
assert model_lambda[0] > 0  # the model is chaotic

# %% [markdown]
# ## 5. Figures
# The attractor of a free run against the data, the Lyapunov spectra, and the power spectra.

# %%
free = run.generate(5_000)  # data units, from the stored trajectory's end (on the attractor)
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
ax = axes[0]
ax.plot(test[:, 0], test[:, 2], lw=0.3, color="0.6", label="data (test part)")
ax.plot(free[:, 0], free[:, 2], lw=0.3, color="C3", label="model free run")
ax.set(xlabel="x", ylabel="z", title="attractor"), ax.legend(loc="upper right")
ax = axes[1]
n = len(true_lambda)
ax.bar(np.arange(n) - 0.2, true_lambda, 0.4, label="Lorenz-63")
ax.bar(np.arange(n) + 0.2, model_lambda[:n], 0.4, label="model")
ax.set(xticks=range(n), xticklabels=[f"λ{i + 1}" for i in range(n)], ylabel="per time unit", title="Lyapunov spectrum"), ax.legend()
ax = axes[2]
for x, label, color in ((test[:, 0], "data", "0.4"), (free[: len(test), 0], "model", "C3")):
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2
    freqs = np.fft.rfftfreq(len(x), d=series.dt)
    ax.semilogy(freqs[1:400], power[1:400] / power.sum(), color=color, lw=0.8, label=label)
ax.set(xlabel="frequency (1 / time unit)", ylabel="normalised power", title="power spectrum of x"), ax.legend()
fig.tight_layout()
fig.savefig(work / "quickstart.png", dpi=80)
assert (work / "quickstart.png").stat().st_size > 10_000
assert np.all(np.isfinite(free)) and free[:, 2].min() > -10  # the free run stays on a bounded attractor
