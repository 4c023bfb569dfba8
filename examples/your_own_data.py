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
# # Your own data: import, delay embedding, several trials, judging a fit without a known system
#
# A scientist's measurements are often one or a few channels, recorded in several trials
# (sessions, subjects), and come with no equations to compare a model with. This notebook goes
# through those steps on stand-in measurements: the x component of Lorenz-63 only, three trials
# with 2 % measurement noise, saved as the CSV and NumPy files an instrument would write.
# Everything after the first cell uses only the files.

# %%
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import dsr
from dsr.analysis import metrics
from dsr.simulate import simulate

work = Path(tempfile.mkdtemp(prefix="dsr-own-data-"))
trials = simulate("lorenz63", 8_000, dt=0.01, noise=0.02, seed=7, trials=3)["x"].sel(variable="x").values  # (3, 8000)
t = np.arange(trials.shape[1]) * 0.01
np.savetxt(work / "session1.csv", np.column_stack([t, trials[0]]), delimiter=",", header="time,voltage", comments="")
np.save(work / "sessions.npy", trials[:, :, None])  # (trial, time, channel)

# %% [markdown]
# ## 1. Import
# `dsr.import_file` (or `dsr import FILE -o OUT.zarr`) reads CSV (delimiter, header row and a
# time column are detected) and `.npy` arrays of shape (time, channel) or (trial, time, channel).

# %%
one = dsr.import_file(work / "session1.csv", work / "session1.zarr")
print(one["notes"], one["dt"])
assert one["dt"] == 0.01 and one["variables"] == ["voltage"]
many = dsr.import_file(work / "sessions.npy", work / "sessions.zarr", dt=0.01)
print(many["dims"])
assert many["dims"] == {"trial": 3, "time": 8_000, "variable": 1}

# %% [markdown]
# ## 2. Delay embedding
# One channel does not show the state. `dsr embed --auto` chooses the lag at the first minimum
# of the mutual information and the number of delays by false nearest neighbours (both on all
# trials pooled), and records the curves it chose from.

# %%
from dsr.embedding import embed

embedded = embed(work / "sessions.zarr", work / "embedded.zarr", auto=True)
lag, dim = embedded["lag"], embedded["dim"]
print(f"lag {lag} steps ({embedded['lag_method']}); dim {dim}; false-neighbour fractions {np.round(embedded['fnn_fractions'][:5], 3)}")
assert 10 <= lag <= 20 and dim == 3  # the usual lag of Lorenz-63 at dt 0.01, and its dimension

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
axes[0].plot(np.asarray(embedded["mutual_information"][0]), lw=1)
axes[0].axvline(lag, color="C3", ls="--")
axes[0].set(xlabel="lag (steps)", ylabel="I (nats)", title="mutual information")
axes[1].semilogy(range(1, len(embedded["fnn_fractions"]) + 1), np.maximum(embedded["fnn_fractions"], 1e-5), "o-")
axes[1].set(xlabel="delays", ylabel="false neighbours", title="false nearest neighbours")
vectors = dsr.load(work / "embedded.zarr").values[0]
axes[2].plot(vectors[:, 0], vectors[:, 1], lw=0.2)
axes[2].set(xlabel="x(t)", ylabel=f"x(t-{lag})", title="delay vectors")
fig.tight_layout()

# %% [markdown]
# ## 3. λ1 and dimension from the data
# With no equations, the measurements themselves are the reference: `dsr analyze` on a data
# store estimates the largest Lyapunov exponent from the series (Rosenstein et al. 1993) and the
# correlation dimension (Grassberger–Procaccia). How far to trust the λ1 estimate: the README's
# table from `benchmarks/data_lyapunov.py` (within about 10 % for 20 000 steps of Lorenz-63).

# %%
from dsr.run_analysis import Settings

small = Settings(steps=5_000, trajectory_steps=20_000, initial_conditions=2)
data_report = dsr.analyze(work / "embedded.zarr", settings=small)["data"]
data_lambda = data_report["lyapunov"]["exponents"][0]
print(f"λ1 from the data: {data_lambda:.3f} per time unit; D2 {data_report['correlation_dimension']['value']:.2f}")
assert abs(data_lambda / 0.9056 - 1) < 0.15  # Lorenz-63's λ1 (Sprott), from 3 x 8 000 noisy steps
assert 1.6 < data_report["correlation_dimension"]["value"] < 2.3  # 2.05 (Grassberger & Procaccia); one noisy trial of 8 000 steps reads low

# %% [markdown]
# ## 4. Fit with whole trials held out
# `test_trials=1` (`--test-trials 1`) holds out the last trial whole, as one would hold out a
# subject; the model trains on the other two. A short budget, to run in CI.

# %%
config = dsr.FitConfig(epochs=150, ensemble=1, eval_every=50, eval_steps=4_000, test_trials=1, seed=0, device="cpu")
run_path = dsr.fit(work / "embedded.zarr", config, out=work / "runs", name="own")
run = dsr.load_run(run_path)
metrics_best = run.attrs["final_metrics"]
print("held-out trial:", metrics_best)

# %% [markdown]
# ## 5. The data floor
# What a perfect model would score under the same protocol: the training trials against the
# held-out trial, in the fit's standardized coordinates. A model is judged by how close it gets
# to this floor, not to zero. At this notebook's budget (150 epochs, for CI) the model is still far
# from it; `dsr fit`'s defaults (1 200 epochs) are what to use on real data.

# %%
values = dsr.load(work / "embedded.zarr").values
train, held_out = values[:2].reshape(-1, dim), values[2]
standardize = lambda x: (x - train.mean(0)) / train.std(0)  # noqa: E731
floor_stsp = metrics.state_space_divergence(standardize(held_out), standardize(values[1]))
floor_h = metrics.hellinger_distance(standardize(held_out), standardize(values[1]))
print(f"model D_stsp {metrics_best['d_stsp']:.3f} against the floor {floor_stsp:.3f}; D_H {metrics_best['d_h']:.3f} against {floor_h:.3f}")
assert floor_stsp < metrics_best["d_stsp"] and floor_h < metrics_best["d_h"]
assert metrics_best["d_h"] < 0.6

# %% [markdown]
# ## 6. The model's λ1 against the data's
# `dsr analyze RUN` computes the model's spectrum and, since the data came from no known
# system, puts the data-driven λ1 in the truth column.

# %%
report = dsr.analyze(run_path, order=1, settings=small)
comparison = report["comparison"]["lambda_max"]
print(f"model λ1 {comparison['model']:.3f}, data λ1 {comparison['truth']:.3f}, relative difference {comparison['relative_error']:.0%}")
assert report["truth"]["source"] == "data" and comparison["truth"] == report["truth"]["lyapunov"]["exponents"][0]
assert np.isfinite(comparison["model"])
