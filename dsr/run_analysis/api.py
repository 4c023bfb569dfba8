"""The public entry points: `analyze` (a run store or a built-in system) and the `dsr analyze` command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dsr import runstore
from dsr.run_analysis.groups import datasets
from dsr.run_analysis.invariants import data_invariants, ground_truth, system_invariants
from dsr.run_analysis.model import analyze_model, load_model
from dsr.run_analysis.printing import print_report
from dsr.run_analysis.report import comparison, cycle_report, symbolic_report
from dsr.run_analysis.settings import Settings
from dsr.errors import DsrError
from dsr.jsonable import dumps, plain
from dsr.run import Run
from dsr.standardization import Standardization


def analyze(
    target: str | Path,
    *,
    order: int | None = None,
    params: dict[str, float] | None = None,
    checkpoint: str = "best",
    member: int | None = None,
    settings: Settings | None = None,
    write: bool = True,
    var: str | None = None,
) -> dict[str, Any]:
    """Analyse a run store, a data store or a built-in system; return the report (a JSON-able dict).

    ``target``: a run store, a data store (its variable ``var``), or a system name of
    ``dsr.systems`` (``params`` override its parameters). Data: λ1 and the correlation
    dimension estimated from the series (`invariants.data_invariants`), nothing written. Runs: ``checkpoint`` and ``member`` choose the model (default: best, the run's
    best member), cycles up to ``order`` (default 2) are searched, and with ``write`` the groups
    of the package docstring (`dsr.run_analysis`) are written into the store. Systems: spectrum,
    dimensions and fixed points; ``order`` must be None or 1, since cycle search needs a
    piecewise-linear model.
    Bad input raises a one-line DsrError.
    """
    base = settings or Settings()
    if Path(target).exists():
        if params:
            raise DsrError("--param sets a built-in system's parameters; drop it for a run store")
        if runstore.read_attrs(target).get("dsr_store") != runstore.STORE_KIND:
            if order is not None:
                raise DsrError(f"--order searches a model's cycles; {target} is a data store: drop --order")
            return _analyze_data(Path(target), var, base.checked())
        chosen = Settings(**{**asdict(base), "order": 2 if order is None else int(order)}).checked()
        return _analyze_run(Path(target), checkpoint, member, chosen, write)
    from dsr import systems

    if str(target) not in systems.names():
        raise DsrError(f"{target} is neither a run store nor a built-in system (systems: {', '.join(systems.names())})")
    if order is not None and order < 1:
        raise DsrError(f"--order {order} must be at least 1")
    if order is not None and order > 1:
        raise DsrError(
            f"{target} is a smooth system: cycles of order > 1 are searched for piecewise-linear models only "
            "(its fixed points are always computed); drop --order"
        )
    chosen = Settings(**{**asdict(base), "order": 1}).checked()
    try:
        system = systems.get(str(target), **(params or {}))
    except ValueError as err:
        raise DsrError(str(err)) from None
    truth = system_invariants(system, chosen, None)
    return plain({"target": str(target), "kind": "system", "settings": asdict(chosen), "system": truth.report()})


def analyze_command(
    target: str,
    order: int | None = None,
    json_: bool = False,
    param: list[str] | None = None,
    checkpoint: str = "best",
    member: int | None = None,
    steps: int = Settings.steps,
    trajectory_steps: int = Settings.trajectory_steps,
    seed: int = Settings.seed,
    write: bool = True,
    echo: Callable[[str], None] = print,
    var: str | None = None,
) -> dict[str, Any]:
    """The whole ``dsr analyze`` command: parse ``--param NAME=VALUE``, analyse, print.

    Prints one JSON object (``json_``) or tables; returns the report.
    """
    from dsr.simulate import parse_params

    settings = Settings(steps=steps, trajectory_steps=trajectory_steps, seed=seed)
    report = analyze(
        target, order=order, params=parse_params(param), checkpoint=checkpoint, member=member, settings=settings, write=write,
        var=var,
    )
    if json_:
        echo(dumps(report))
    else:
        print_report(report)
    return report


def _analyze_data(path: Path, var: str | None, settings: Settings) -> dict[str, Any]:
    from dsr.data import load

    series = load(path, var=var)
    inv = data_invariants(Standardization.of(series.values).apply(series.values), series.dt, path.name, settings)
    return plain({"target": str(path), "kind": "data", "settings": asdict(settings), "data": inv.report()})


def _analyze_run(path: Path, checkpoint: str, member: int | None, settings: Settings, write: bool) -> dict[str, Any]:
    from dsr.training.config import ZOO_KINDS  # here: the readers import no training code at module level

    run = Run(path)
    if run.params(checkpoint).attrs.get("model_kind") in ZOO_KINDS:
        from dsr.run_analysis.zoo import analyze_zoo_run

        return analyze_zoo_run(run, checkpoint, member, settings, write)
    model = load_model(run, checkpoint, member)
    result = analyze_model(run, model, settings)
    truth = ground_truth(run.attrs, model.frame, settings)
    face = model.face
    model_report = {
        "kind": face.model_kind, "member": model.member, "checkpoint": checkpoint, "latent": face.dim,
        "dt": model.frame.dt, "variables": model.variables,
        **result.invariants.report(),
        "cycles": [cycle_report(c, model) for c in result.search.cycles],
        "cycle_search": [asdict(o) for o in result.search.orders],
        "symbolic": None if result.code is None else symbolic_report(result.code, result.region_points, model),
        "notes": result.notes,
    }
    model_report.pop("fixed_points")
    truth_report = None if truth is None else truth.report()
    report = {
        "target": str(path), "kind": "run", "settings": asdict(settings),
        "model": model_report, "truth": truth_report, "comparison": comparison(model_report, truth_report),
    }
    report = plain(report)
    if write:
        groups = datasets(report, result, truth, model)
        for name, ds in groups.items():
            runstore.write_group(path, f"{runstore.ANALYSIS}/{name}", ds)
        report["groups"] = [f"{runstore.ANALYSIS}/{name}" for name in groups]
    return report
