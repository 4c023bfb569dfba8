"""The ``dsr`` command line: a thin shell over the Python API.

Heavy libraries (torch, xarray, numba) are imported inside the commands, so that
``dsr --help`` stays fast. User errors surface as one line on stderr with exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dsr.errors import DsrError

app = typer.Typer(
    name="dsr",
    help="Dynamical-systems reconstruction with PLRNN-family models: simulate, import, check and inspect data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]
OverwriteOption = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output store.")]


def _version_callback(value: bool) -> None:
    if value:
        from dsr import __version__

        typer.echo(f"dsr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Dynamical-systems reconstruction with PLRNN-family models."""


def _jsonable(obj: Any) -> Any:
    """Make ``obj`` strict JSON: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(_jsonable(obj), allow_nan=False))


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    dims = ", ".join(f"{k}={v}" for k, v in summary["dims"].items())
    console.print(f"[bold]{summary['path']}[/bold]  ({summary['kind']} store)  dims: {dims}  dt: {summary['dt']}")
    for key in ("system", "params", "noise", "seed", "integrator"):
        if key in summary["attrs"]:
            console.print(f"  {key}: {summary['attrs'][key]}")
    for name, var in summary["variables"].items():
        table = Table(title=f"{name} {tuple(var['dims'])} {var['dtype']}", title_justify="left")
        for col in ("column", "mean", "std", "min", "max", "NaN", "inf"):
            table.add_column(col, justify="left" if col == "column" else "right")
        for label, s in var.get("stats", {}).items():
            table.add_row(label, *(f"{s[k]:.4g}" for k in ("mean", "std", "min", "max")), str(s["nan"]), str(s["inf"]))
        console.print(table)


@app.command("info")
def info_command(
    store: Annotated[Path, typer.Argument(help="A data store (or run store) to summarise.")],
    json_: JsonOption = False,
) -> None:
    """Summarise a store: variables, dims, length, dt and per-variable statistics."""
    from dsr.info import describe

    summary = describe(store)
    _print_json(summary) if json_ else _print_summary(summary)


@app.command("check")
def check_command(
    store: Annotated[Path, typer.Argument(help="A data store to validate for fitting.")],
    var: Annotated[Optional[str], typer.Option(help="The data variable (default: the only one).")] = None,
    inputs: Annotated[Optional[str], typer.Option(help="The external-inputs variable, if any.")] = None,
    sequence_length: Annotated[Optional[int], typer.Option(help="Training window length to check against.")] = None,
    json_: JsonOption = False,
) -> None:
    """Validate a data store as `dsr fit` would; exit 2 with the problem if it is unusable."""
    from dsr.data import load

    ts = load(store, var=var, inputs=inputs)
    if sequence_length is not None:
        ts.require_length(sequence_length)
    result = {"path": str(store), "ok": True, "trials": ts.n_trials, "time": ts.n_time, "variables": list(ts.variables), "inputs": list(ts.input_names), "dt": ts.dt}
    _print_json(result) if json_ else typer.echo(
        f"ok: {store}: {ts.n_trials} trial(s) x {ts.n_time} steps x {ts.n_variables} variables, dt {ts.dt}"
    )


@app.command("simulate")
def simulate_command(
    system: Annotated[Optional[str], typer.Argument(help="Benchmark system, see --list.")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Output data store (.zarr).")] = None,
    steps: Annotated[int, typer.Option(help="Number of recorded steps.")] = 100_000,
    dt: Annotated[Optional[float], typer.Option(help="Step size (flows; default: the system's).")] = None,
    transient: Annotated[int, typer.Option(help="Steps integrated and discarded first.")] = 1000,
    noise: Annotated[float, typer.Option(help="Observation noise, relative to each variable's std.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed for noise and initial conditions.")] = 0,
    param: Annotated[Optional[list[str]], typer.Option(help="Parameter override NAME=VALUE (repeatable).")] = None,
    trials: Annotated[int, typer.Option(help="Independent trajectories from different initial conditions.")] = 1,
    standardize: Annotated[bool, typer.Option(help="Rescale each variable to zero mean, unit variance.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the systems and their parameters.")] = False,
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Simulate a benchmark system into a data store."""
    if list_:
        _list_systems(json_)
        return
    if system is None or out is None:
        raise DsrError("give a SYSTEM and an output store: dsr simulate lorenz63 -o lorenz.zarr (see --list)")
    from dsr.simulate import parse_params, simulate
    from dsr.zarrstore import write_dataset

    ds = simulate(system, steps, dt, transient, noise, seed, parse_params(param), trials, standardize)
    write_dataset(ds, out, overwrite=overwrite)
    result = {"path": str(out), "system": system, "dims": dict(ds.sizes), "dt": ds.attrs["dt"]}
    _print_json(result) if json_ else typer.echo(f"wrote {out}: {system}, dims {dict(ds.sizes)}, dt {ds.attrs['dt']}")


def _list_systems(json_: bool) -> None:
    from dsr import systems

    rows = []
    for name in systems.names():
        s = systems.get(name)
        rows.append({"name": name, "kind": s.kind, "dim": s.dim, "dt": s.default_dt, "params": s.default_params, "description": s.description})
    if json_:
        _print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("system", "kind", "dim", "dt", "parameters", "description")
    for r in rows:
        params = ", ".join(f"{k}={v:g}" for k, v in r["params"].items())
        table.add_row(r["name"], r["kind"], str(r["dim"]), "-" if r["dt"] is None else f"{r['dt']:g}", params, r["description"])
    Console().print(table)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A .npy (T×N or trials×T×N) or .csv (header = names) file.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output data store (.zarr).")],
    dt: Annotated[float, typer.Option(help="Sampling interval.")] = 1.0,
    name: Annotated[str, typer.Option(help="Name of the data variable in the store.")] = "x",
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Convert a .npy or .csv array into a data store."""
    from dsr.data import to_dataset
    from dsr.importers import read_array_file
    from dsr.zarrstore import write_dataset

    if not dt > 0:
        raise DsrError(f"--dt {dt} must be positive")
    values, names = read_array_file(file)
    ds = to_dataset(values, dt, variables=names, name=name, attrs={"source": f"imported from {file.name}"}, dtype=values.dtype)
    write_dataset(ds, out, overwrite=overwrite)
    result = {"path": str(out), "dims": dict(ds.sizes), "dt": dt}
    _print_json(result) if json_ else typer.echo(f"wrote {out}: dims {dict(ds.sizes)}, dt {dt}")


def main() -> None:
    """Console-script entry point: run the app, turning user errors into one line and exit 2."""
    try:
        app()
    except DsrError as err:
        typer.echo(f"dsr: error: {err}", err=True)
        sys.exit(err.exit_code)
