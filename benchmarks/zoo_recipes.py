"""The recipe search of the zoo's gradient-trained families on the reference Lorenz-63 pair, and its table.

For each family (rnn, lstm, gru, lru, s4d, node, aaren) a few training configurations, one factor at a
time around the starting recipe (GTF α = 0.1, RAdam at 1e-3, the family's default sizes): the learning rate
raised to 5e-3, and the forcing α raised to 0.3. Every fit is a ``dsr.fit`` of E = 4 members (seed 0) on the
GTF paper's noisy training set, scored by the final evaluation of ``dsr fit`` on the clean test set (best
checkpoint's best member: D_stsp, D_H, PE(20) on all 10⁵ test points, :mod:`dsr.evaluation`). The fits
get a fixed number of iterations per family, about what one minute of training buys it on this 2-core
machine (``benchmarks/zoo_speed.py``: an iteration costs 0.29 s for rnn, 1.8 s for lru), so that the
scores do not depend on the machine's load; the learning rate is held constant over them, as a
time-budgeted ``dsr bench`` fit sees it (its rate decays over 1200 epochs it never reaches). Windows,
batches and the in-training evaluation are those of the bench recipe (``dsr.bench.runner``).
The recipe is the configuration with the lowest D_stsp (D_H breaking near-ties within 5 %); it is
set as the family's ``recipe`` in ``dsr/zoo/`` by hand from this table.

With ``--doc`` the table replaces the section of docs/zoo-recipes.md between ``<!-- zoo-recipes:begin -->``
and ``<!-- zoo-recipes:end -->``. Finished run stores of the same configuration in ``--out`` are reused.
Usage: nice -n 19 python benchmarks/zoo_recipes.py [--families rnn,lstm,...] [--jobs 2] [--out runs/zoo-recipes] [--doc] [--tables-only]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from leaderboard import REFERENCE, ROOT, stores
from sections import write as write_section

from dsr.bench.runner import ZOO_FORCING, ZOO_TRAINING

FAMILIES = ("rnn", "lstm", "gru", "lru", "s4d", "node", "aaren")
EPOCHS = {"rnn": 20, "gru": 18, "lstm": 16, "node": 6, "aaren": 4, "s4d": 4, "lru": 4}
"""Epochs of ZOO_TRAINING's batches per family: about a minute of training each (module doc); the family's recipe
evaluates every third of them (at least every second epoch)."""
CONFIGS = {
    "lr 1e-3, α 0.1": {"lr_start": 1e-3, "alpha": 0.1},
    "lr 5e-3, α 0.1": {"lr_start": 5e-3, "alpha": 0.1},
    "lr 1e-3, α 0.3": {"lr_start": 1e-3, "alpha": 0.3},
}


def fit_options(family: str, config: dict) -> dict:
    """The FitConfig fields of one search fit."""
    from dsr.zoo import ZOO

    return {**ZOO_FORCING, **ZOO_TRAINING, "eval_every": ZOO[family].recipe["eval_every"], "model": family, **config,
            "lr_end": config["lr_start"], "epochs": EPOCHS[family], "seed": 0}


def _finished(path: Path, options: dict) -> dict | None:
    from dsr import runstore

    if not (path / "zarr.json").exists():
        return None
    attrs = runstore.read_attrs(path)
    if attrs.get("status") != "finished" or any(attrs["config"].get(k) != v for k, v in options.items()):
        return None
    history = runstore.read_group(path, "history")
    return {**attrs["final_metrics"], "minutes": float(history["time"].values[-1]) / 60, "parameters": attrs["n_parameters"]}


def _fit(job: tuple) -> dict:
    train, test, options, folder, name = job
    if (done := _finished(Path(folder) / f"{name}.zarr", options)) is not None:
        return done
    import torch

    import dsr
    from dsr.training.config import FitConfig

    torch.set_num_threads(1)
    start = time.perf_counter()
    path = dsr.fit(train, FitConfig(**options), test=test, out=folder, name=name, overwrite=True)
    done = _finished(path, options)
    print(f"{name}: D_stsp {done['d_stsp']:.3g}, D_H {done['d_h']:.3g} ({(time.perf_counter() - start) / 60:.1f} min)", file=sys.stderr, flush=True)
    return done


def choose(scores: dict[str, dict | None]) -> str | None:
    """The configuration with the lowest D_stsp; among those within 5 % of it, the lowest D_H. None unless all finished."""
    if any(s is None for s in scores.values()):
        return None
    lowest = min(s["d_stsp"] for s in scores.values())
    near = [c for c, s in scores.items() if s["d_stsp"] <= 1.05 * lowest]
    return min(near, key=lambda c: scores[c]["d_h"])


def table(results: dict[str, dict[str, dict | None]]) -> str:
    """One row per family and configuration (None: not finished); the chosen one marked where the family's search is complete."""
    lines = ["| family | configuration | iterations | D_stsp | D_H | PE(20) | parameters | training min | chosen |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for family, scores in results.items():
        chosen = choose(scores)
        iterations = EPOCHS[family] * ZOO_TRAINING["batches_per_epoch"]
        for config, s in scores.items():
            if s is None:
                lines.append(f"| {family} | {config} | {iterations} | not finished | | | | | |")
                continue
            mark = "**yes**" if config == chosen else ("(search incomplete)" if chosen is None else "")
            lines.append(f"| {family} | {config} | {iterations} | {s['d_stsp']:.3g} | {s['d_h']:.3g} | {s['pe']:.3g} | {s['parameters']} "
                         f"| {s['minutes']:.1f} | {mark} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "zoo-recipes")
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--doc", action="store_true", help="write the table into docs/zoo-recipes.md")
    parser.add_argument("--tables-only", action="store_true", help="no fits: the table of the fits already finished in --out")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        sys.exit(f"unknown family {unknown[0]!r} in --families; choose from: {', '.join(FAMILIES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    train, test = stores("lorenz63", args.out, args.reference)
    jobs = {(f, c): (str(train), str(test), fit_options(f, o), str(args.out), f"{f}-{i}") for f in families for i, (c, o) in enumerate(CONFIGS.items())}
    # The fast families first: their scores come in early.
    order = sorted(jobs, key=lambda key: -EPOCHS[key[0]])
    if args.tables_only:
        done = {key: _finished(Path(job[3]) / f"{job[4]}.zarr", job[2]) for key, job in jobs.items()}
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
            done = dict(zip(order, pool.map(_fit, [jobs[k] for k in order])))
    results = {f: {c: done[(f, c)] for c in CONFIGS} for f in families}
    text = table(results)
    print(text)
    if args.doc:
        generated = f"<!-- generated by: python benchmarks/zoo_recipes.py {' '.join(sys.argv[1:])} -->"
        write_section(ROOT / "docs" / "zoo-recipes.md", "zoo-recipes", f"{generated}\n\n{text}\n")


if __name__ == "__main__":
    main()
