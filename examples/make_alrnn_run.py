"""Train the small AL-RNN run that `symbolic_dynamics.py` loads: data/alrnn_lorenz63.zarr.

Run once from the repository root (about 3 minutes on 2 CPU cores):  python examples/make_alrnn_run.py

An AL-RNN with M = 20 units of which P = 2 are ReLUs (2² = 4 linear regions), trained on the
sample Lorenz-63 data with the settings of Brenner et al. (NeurIPS 2024) for Lorenz-63 (sparse
teacher forcing τ = 16, noise 0.05, learning rate 1e-3 → 1e-5), one member, a shortened budget.
Fits are deterministic for a seed on the CPU, so this script remakes the same store.
"""

from __future__ import annotations

from pathlib import Path

import dsr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "lorenz63.zarr"

if __name__ == "__main__":
    config = dsr.FitConfig(
        model="alrnn", latent=20, relus=2, forcing="stf", tau=16, noise=0.05, lr_start=1e-3, lr_end=1e-5,
        epochs=800, ensemble=1, seed=0, device="cpu", eval_steps=5_000,
    )
    path = dsr.fit(DATA, config, out=ROOT / "data", name="alrnn_lorenz63", overwrite=True)
    print(path, dsr.load_run(path).attrs["final_metrics"])
