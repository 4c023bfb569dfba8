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
# # Symbolic dynamics of an AL-RNN
#
# An AL-RNN (Brenner et al., NeurIPS 2024) is linear except for P ReLU units, so its state space
# falls into at most 2^P linear regions, each with one affine map. Which region the state is in,
# step after step, is a symbolic code of the dynamics; the regions' fixed points and the
# transitions between regions are a coarse, readable picture of the attractor.
#
# This notebook loads `data/alrnn_lorenz63.zarr`, an AL-RNN with M = 20 units and P = 2 ReLUs
# trained on the sample Lorenz-63 data by `examples/make_alrnn_run.py`, and works on its
# parameters with the Numba kernels of `dsr.analysis` (no torch): the linear regions a free run
# visits, the transition graph between them, fixed points and 2-cycles, and the three-region
# picture of the Lorenz attractor that the paper describes: one region per lobe, whose fixed
# point is the lobe's centre, and one region for the switching between the lobes.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import dsr
import dsr.systems as systems
from dsr.analysis import cycles, symbolic
from dsr.numba_face import numba_face

root = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "data" / "alrnn_lorenz63.zarr").exists())
run = dsr.load_run(root / "data" / "alrnn_lorenz63.zarr")
face = numba_face(run.params("best"), run.best_member)
print(run, "| latent", face.dim, "| regions possible:", face.possible_regions(), "| held-out metrics", run.attrs["final_metrics"])
assert face.possible_regions() == 4

# %% [markdown]
# ## Linear regions visited by a free run
# 20 000 steps from the end of the run's stored trajectory (on the attractor). The model
# observes its first three units (identity observation), in the fit's standardized coordinates.

# %%
z0 = run.trajectory["z"].values[-1]
Z = face.trajectory(20_000, z0)
x = run.unstandardize(Z[:, :3])  # data units
code = symbolic.symbolic_code(face.pattern(Z), possible=face.possible_regions())
for label in range(code.used):
    bits = "".join(map(str, code.patterns[label]))
    print(f"region {label} (ReLU pattern {bits}): {100 * code.frequencies[label]:5.1f} % of the time, mean dwell {code.dwell[label]:.1f} steps")
print(f"entropy rate {code.entropy_rate:.3f} nats per step")
# Three regions carry the attractor; the fourth is visited rarely, if at all.
assert code.used >= 3 and code.frequencies[:3].sum() > 0.98

# %% [markdown]
# ## Fixed points of each region and the transition graph
# Each region's affine map z ↦ A_r z + h_r has one fixed point; it is *real* when it lies inside
# its own region. The transition graph counts the switches between successive distinct regions.

# %%
fixed = cycles.region_fixed_points(face, code.patterns[: code.used])
centres = []
for label, fp in enumerate(fixed):
    point = run.unstandardize(fp.points[0, :3]) if fp is not None else None
    centres.append(point)
    print(f"region {label}: fixed point {'real' if fp is not None and fp.real else 'virtual'} {fp.type if fp else ''} at {np.round(point, 2)}")
sources, targets, counts, probabilities = code.edges()
for s, t, p in zip(sources, targets, probabilities):
    print(f"  {s} -> {t}: P = {p:.2f}")

# Lorenz-63's non-trivial fixed points C± = (±√(β(ρ−1)), ±√(β(ρ−1)), ρ−1): the lobes' centres.
lorenz = systems.get("lorenz63")
c = np.sqrt(lorenz.params["beta"] * (lorenz.params["rho"] - 1))
true_centres = np.array([[c, c, lorenz.params["rho"] - 1], [-c, -c, lorenz.params["rho"] - 1]])
lobes = [int(np.argmin([np.linalg.norm(p - t) if p is not None else np.inf for p in centres])) for t in true_centres]
switching = ({0, 1, 2} - set(lobes)).pop()
distances = [float(np.linalg.norm(centres[r] - t)) for r, t in zip(lobes, true_centres)]
print(f"lobe regions {lobes} (fixed points {np.round(distances, 2)} from C±), switching region {switching}")
assert len(set(lobes)) == 2 and max(distances) < 4.0  # the lobes' regions are centred near C± (attractor ~40 wide)
edge = {(int(s), int(t)): float(p) for s, t, p in zip(sources, targets, probabilities)}
# The three-region picture: the lobes never switch directly; every switch goes through the third region.
assert (lobes[0], lobes[1]) not in edge and (lobes[1], lobes[0]) not in edge
assert edge.get((lobes[0], switching), 0) > 0.5 and edge.get((lobes[1], switching), 0) > 0.5

# %% [markdown]
# ## Fixed points and 2-cycles of the whole model
# `cycles.find_cycles` solves every region sequence exactly (4 regions: exhaustive search) and
# keeps the solutions that lie in their own regions.

# %%
search = cycles.find_cycles(face, 2)
for cyc in search.cycles:
    print(f"order {cyc.order}: {cyc.type}, max |eigenvalue| {cyc.max_abs_eigenvalue:.3f}, regions {[''.join(map(str, r)) for r in cyc.regions]}")
order_one = [cyc for cyc in search.cycles if cyc.order == 1 and cyc.real]
assert len(order_one) >= 3 and all(not cyc.stable for cyc in order_one)  # saddles, like Lorenz-63's three

# %% [markdown]
# ## The picture
# The free run coloured by region, the regions' fixed points (crosses) against Lorenz-63's
# (circles), and the transition graph drawn between the fixed points.

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 5))
ax = axes[0]
for label in range(code.used):
    mask = code.labels == label
    ax.scatter(x[mask, 0], x[mask, 2], s=0.3, label=f"region {label}")
for point in centres:
    if point is not None:
        ax.plot(point[0], point[2], "kx", ms=10, mew=2)
ax.plot(true_centres[:, 0], true_centres[:, 2], "ko", mfc="none", ms=12)
ax.set(xlabel="x", ylabel="z", title="free run by linear region"), ax.legend(markerscale=20, loc="upper right")
ax = axes[1]
names = {lobes[0]: "lobe C+", lobes[1]: "lobe C−", switching: "switching"}
where = {lobes[0]: (1.0, 0.0), lobes[1]: (-1.0, 0.0), switching: (0.0, 0.8)}
for s, t, p in zip(sources, targets, probabilities):
    if int(s) in where and int(t) in where:
        (x0, y0), (x1, y1) = where[int(s)], where[int(t)]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "lw": 1 + 3 * p, "connectionstyle": "arc3,rad=0.2"})
        ax.text((x0 + x1) / 2 + 0.1 * (y1 - y0), (y0 + y1) / 2 - 0.1 * (x1 - x0), f"{p:.2f}", ha="center")
for r, (px, py) in where.items():
    ax.text(px, py, f"{names[r]}\n{100 * code.frequencies[r]:.0f} %", ha="center", va="center", bbox={"boxstyle": "round", "fc": f"C{r}", "alpha": 0.4})
ax.set(xlim=(-1.5, 1.5), ylim=(-0.5, 1.2), title="transition graph (P(next region | leaving))"), ax.axis("off")
fig.tight_layout()
