"""The ``dsr`` command line: a thin shell over the Python API.

Heavy libraries (torch, xarray, numba) are imported inside the commands, so that
``dsr --help`` stays fast. User errors surface as one line on stderr with exit code 2.
"""

from __future__ import annotations

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


_DEBUG = {"traceback": False}


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error instead of one line.")] = False,
) -> None:
    """Dynamical-systems reconstruction with PLRNN-family models."""
    _DEBUG["traceback"] = debug


def _print_json(obj: Any) -> None:
    from dsr.jsonable import dumps

    typer.echo(dumps(obj))


def _number(value: float | None) -> str:
    """A metric for humans; stored attributes hold a NaN as null."""
    return "nan" if value is None else f"{value:.4g}"


def _print_summary(summary: dict) -> None:
    from rich.table import Table

    from dsr.console import stdout_console

    console = stdout_console()
    dims = ", ".join(f"{k}={v}" for k, v in summary["dims"].items())
    console.print(f"[bold]{summary['path']}[/bold]  ({summary['kind']} store)  dims: {dims}  dt: {summary['dt']}")
    for key in ("system", "params", "noise", "seed", "integrator"):
        if key in summary["attrs"]:
            console.print(f"  {key}: {summary['attrs'][key]}")
    for name, var in summary["variables"].items():
        title = f"{name} {tuple(var['dims'])} {var['dtype']}"
        table = Table(title=title, title_justify="left", min_width=len(title))  # the title on one line
        for col in ("column", "mean", "std", "min", "max", "NaN", "inf"):
            table.add_column(col, justify="left" if col == "column" else "right")
        for label, s in var.get("stats", {}).items():
            table.add_row(label, *(f"{s[k]:.4g}" for k in ("mean", "std", "min", "max")), str(s["nan"]), str(s["inf"]))
        console.print(table)


def _print_run_summary(summary: dict) -> None:
    from dsr.console import stdout_console

    console = stdout_console()
    attrs = summary["attrs"]
    config = attrs.get("config", {})
    console.print(f"[bold]{summary['path']}[/bold]  (run store)  status: {summary['status']}")
    console.print(f"  model: {config.get('model')}  latent: {config.get('latent')}  ensemble: {config.get('ensemble')}  "
                  f"parameters per member: {attrs.get('n_parameters')}  forcing: {config.get('forcing')}")
    console.print(f"  data: {attrs.get('data_path')}  epochs: {summary['epochs_done']}/{config.get('epochs')}  "
                  f"device: {attrs.get('device')}  seed: {attrs.get('seed')}")
    console.print(f"  versions: {', '.join(f'{k} {v}' for k, v in attrs.get('versions', {}).items())}")
    console.print(
        f"  checkpoints: {', '.join(summary['checkpoints']) or '-'}  analyses: {', '.join(summary['analyses']) or '-'}"
        f"  evaluations: {', '.join(summary['evaluations']) or '-'}"
    )
    if attrs.get("final_metrics"):
        metrics = ", ".join(f"{k} {_number(v)}" for k, v in attrs["final_metrics"].items())
        console.print(f"  final metrics (best member {attrs.get('best_member')}): {metrics}")
    if attrs.get("error"):
        console.print(f"  error: {attrs['error']}")
    if search := attrs.get("search"):
        from dsr.sweep.search import describe

        for line in describe(search):
            console.print(f"  {line}", highlight=False)


@app.command("info")
def info_command(
    store: Annotated[Path, typer.Argument(help="A data store (or run store) to summarise.")],
    json_: JsonOption = False,
) -> None:
    """Summarise a store: variables, dims, length, dt and per-variable statistics."""
    from dsr.info import describe

    summary = describe(store)
    if json_:
        _print_json(summary)
    elif summary["kind"] == "run":
        _print_run_summary(summary)
    else:
        _print_summary(summary)


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
    from rich.table import Table

    from dsr.console import stdout_console

    table = Table("system", "kind", "dim", "dt", "parameters", "description")
    for r in rows:
        params = ", ".join(f"{k}={v:g}" for k, v in r["params"].items())
        table.add_row(r["name"], r["kind"], str(r["dim"]), "-" if r["dt"] is None else f"{r['dt']:g}", params, r["description"])
    stdout_console().print(table)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A .npy (T×N or trials×T×N) or .csv file (delimiter and header row detected).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output data store (.zarr).")],
    dt: Annotated[Optional[float], typer.Option(help="Sampling interval (default: from the time column, else 1).")] = None,
    time_column: Annotated[
        Optional[str], typer.Option(help="CSV column (name or 0-based index) holding the time; default: a column named time or t.")
    ] = None,
    header: Annotated[
        Optional[bool], typer.Option("--header/--no-header", help="Whether the CSV's first row holds the names (default: detected).")
    ] = None,
    name: Annotated[str, typer.Option(help="Name of the data variable in the store.")] = "x",
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Convert a .npy or .csv array into a data store."""
    from dsr.importers import import_file

    result = import_file(file, out, dt=dt, header=header, time_column=time_column, name=name, overwrite=overwrite)
    for note in result["notes"]:
        typer.echo(f"note: {note}", err=True)
    _print_json(result) if json_ else typer.echo(f"wrote {out}: dims {result['dims']}, dt {result['dt']:g}, variables {', '.join(result['variables'])}")


@app.command("embed")
def embed_command(
    data: Annotated[Path, typer.Argument(help="A data store holding the series to embed.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output data store (.zarr) of delay vectors.")],
    dim: Annotated[Optional[int], typer.Option(help="Number of delays per embedded variable.")] = None,
    lag: Annotated[Optional[int], typer.Option(help="Delay in time steps.")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="Choose what is not given: the lag by mutual information, the dimension by false nearest neighbours.")] = False,
    column: Annotated[Optional[list[str]], typer.Option(help="Variable to embed (repeatable; needed when the store has several).")] = None,
    var: Annotated[Optional[str], typer.Option(help="The data variable of the store (default: the only one).")] = None,
    max_dim: Annotated[int, typer.Option(help="Largest dimension --auto tries.")] = 10,
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
) -> None:
    """Delay-embed a scalar or few-channel series into a new data store (lag and dimension given or chosen)."""
    from dsr.embedding import embed

    result = embed(data, out, dim=dim, lag=lag, auto=auto, var=var, columns=column, max_dim=max_dim, overwrite=overwrite)
    if "note" in result:
        typer.echo(f"note: {result['note']}", err=True)
    _print_json(result) if json_ else typer.echo(
        f"wrote {out}: lag {result['lag']} ({result['lag_method'].split(' (')[0]}), dim {result['dim']} "
        f"({result['dim_method'].split(' (')[0]}), dims {result['dims']}"
    )


def _config_options(command):
    """Give ``command`` one ``--option`` per :class:`~dsr.training.config.FitConfig` field.

    The options are generated from the fields (one source of truth): name, type (a Literal
    shows its choices, which FitConfig checks; a bool is a ``--x/--no-x`` flag), description and default shown in
    ``--help``. Each defaults to None, "not given", so that a TOML file's value is kept; the
    command receives them as keyword arguments.
    """
    import inspect
    import types
    import typing

    from dsr.training.config import FitConfig

    fixed = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    generated = []
    for name, field in FitConfig.model_fields.items():
        kind = field.annotation
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        choices = typing.get_args(kind) if typing.get_origin(kind) is typing.Literal else None
        flag = f"--{name.replace('_', '-')}"
        option = typer.Option(
            f"{flag}/--no-{flag[2:]}" if kind is bool else flag,
            help=(field.description or name.replace("_", " ")).rstrip(".") + ".",
            show_default=False if field.default is None else str(field.default).lower() if kind is bool else str(field.default),
            metavar="|".join(map(str, choices)) if choices else None,
            rich_help_panel="Fit configuration (also keys of --config)",
        )
        annotation = Optional[str if choices or kind not in (int, float, bool) else kind]
        generated.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[annotation, option]))
    command.__signature__ = inspect.Signature([*fixed, *generated])
    command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()} | {"return": None}
    return command


@app.command("fit")
@_config_options
def fit_command(
    data: Annotated[Optional[Path], typer.Argument(help="Data store to train on (not needed with --resume).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for run stores.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(help="Run name (default: data-model-timestamp).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with any of the fit configuration options (keys = option names with _).")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Held-out test store (default: the last test_fraction of the data).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run store from its last checkpoint, with its stored configuration.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --resume: accept changed data, another DATA or options that differ from the run's (recorded in the run).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    search: Annotated[
        bool, typer.Option("--search", help="Choose model family, sizes, forcing and learning rate by short fits judged on held-out training data, then fit the winner.")
    ] = False,
    budget: Annotated[float, typer.Option(help="With --search: minutes for the candidate fits.")] = 10.0,
    overwrite: OverwriteOption = False,
    json_: JsonOption = False,
    **options: Any,
) -> None:
    """Train a PLRNN-family model with generalized teacher forcing; write a run store."""
    import contextlib

    from dsr.console import LOADING_NOTICE, slow_notice

    with contextlib.nullcontext() if quiet else slow_notice(LOADING_NOTICE):
        from dsr.fitting import fit, resume as resume_fit, run_path
    from dsr.progress import make_progress
    from dsr.training.config import resolve_config

    if resume is not None:
        placed = {"--config": config is not None, "--test": test is not None, "--name": name is not None, "--overwrite": overwrite}
        placed["--search"] = search
        if given := [flag for flag, present in placed.items() if present]:
            raise DsrError(f"--resume continues a run with its stored configuration, test data and place; drop {', '.join(given)}")
        changes = {k: v for k, v in options.items() if v is not None}
        progress = make_progress(f"resume {resume.name}", 10, quiet)
        status = None if progress is None else progress.status
        path = _with_progress(
            progress, resume,
            lambda: resume_fit(resume, progress=progress, status=status, data=data, changes=changes, force=force),
        )
    else:
        if data is None:
            raise DsrError("give a data store to train on (dsr fit DATA.zarr), or continue a run with dsr fit --resume RUN")
        cfg = resolve_config(config, **options)
        path = run_path(out, name, data, cfg)
        progress = make_progress(f"fit {data.name}", cfg.eval_every, quiet)
        status = None if progress is None else progress.status
        job = lambda: fit(data, cfg, test=test, out=out, name=path.stem, progress=progress, overwrite=overwrite, status=status)  # noqa: E731
        if search:
            from dsr.sweep.display import make_sweep_progress
            from dsr.sweep.search import search as search_fit

            candidates = make_sweep_progress("search", quiet)
            job = lambda: search_fit(  # noqa: E731
                data, cfg, budget=budget, test=test, out=out, name=path.stem, progress=progress, sweep_progress=candidates,
                status=status, overwrite=overwrite,
            )
        path = _with_progress(progress, path, job)
    _report_run(path, json_)


def _with_progress(progress, path: Path, job):
    """Run ``job`` (a fit into run store ``path``); close the progress display; Ctrl-C exits 130 after
    the run saved its checkpoint, naming the command that continues it."""
    try:
        return job()
    except KeyboardInterrupt:
        typer.echo(f"interrupted: checkpoint saved; continue with: dsr fit --resume {path}", err=True)
        sys.exit(130)
    finally:
        if progress is not None:
            progress.close()


def _report_run(path: Path, json_: bool) -> None:
    from dsr import runstore

    attrs = runstore.read_attrs(path)
    result = {"path": str(path), "status": attrs["status"], "best_member": attrs.get("best_member"), "metrics": attrs.get("final_metrics")}
    result["warnings"] = attrs.get("warnings", [])
    if json_:
        _print_json(result)
    else:
        for warning in result["warnings"]:
            typer.echo(f"warning: {warning}", err=True)
        metrics = ", ".join(f"{k} {_number(v)}" for k, v in (result["metrics"] or {}).items())
        typer.echo(f"{attrs['status']}: {path}  (best member {result['best_member']}: {metrics})")


@app.command("sweep")
def sweep_command(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML): data, \\[fit] options, \\[grid] values, \\[random] draws; see dsr/sweep/spec.py.")],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Sweep folder (default: sweeps/<spec name>); rerun to resume.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="An existing Dask cluster: tcp://HOST:PORT or a scheduler file (default: a local one).")] = None,
    jobs: Annotated[Optional[int], typer.Option(help="Worker processes of the local cluster (default: one per core).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start anew in a folder holding another sweep (deletes it).")] = False,
    json_: JsonOption = False,
) -> None:
    """Run many fits at once on Dask (grid and/or random search over fit options); one run store per fit, a table of configuration x metrics."""
    from dsr.sweep.command import print_summary, sweep

    result = sweep(spec, out, scheduler, jobs, quiet, overwrite)
    _print_json(result) if json_ else print_summary(result)


@app.command("bench")
def bench_command(
    data: Annotated[Path, typer.Argument(help="Data store every family is fitted on.")],
    test: Annotated[Optional[Path], typer.Option(help="Held-out test store (default: the last test_fraction of the data).")] = None,
    models: Annotated[str, typer.Option(help="Comma-separated families (default, alrnn and the zoo's: rnn, lstm, ...), or all; NAME+newton: that family with --time-parallel newton (opt-in).")] = "all",
    fits: Annotated[int, typer.Option(help="Fits per family, with seeds 0, 100, 200, ...")] = 5,
    budget: Annotated[float, typer.Option(help="Minutes of training per fit (the same for every family).")] = 10.0,
    jobs: Annotated[Optional[int], typer.Option(help="Fits at once (worker processes of the local cluster; default: one per core).")] = None,
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Bench folder (default: bench/<data name>): run stores, fit table, leaderboard; rerun to resume.")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="An existing Dask cluster: tcp://HOST:PORT or a scheduler file.")] = None,
    lyapunov_steps: Annotated[int, typer.Option(help="Steps of each model's Lyapunov spectrum (λ1, D_KY).")] = 2_000,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
    json_: JsonOption = False,
) -> None:
    """Fit every model family on the same data with the same wall-clock budget per fit; write and print a leaderboard."""
    from dsr.bench.command import bench, print_table

    result = bench(data, test, models, fits, budget, jobs, out, scheduler, quiet, lyapunov_steps)
    _print_json(result) if json_ else print_table(result)


@app.command("evaluate")
def evaluate_command(
    run: Annotated[Path, typer.Argument(help="Run store.")],
    test: Annotated[Optional[Path], typer.Option(help="Test store (default: the run's held-out part).")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Compare at most this many steps per trial.")] = None,
    json_: JsonOption = False,
) -> None:
    """Evaluate the best and last checkpoints: D_stsp, D_H, PE; store and print the metrics."""
    from dsr.console import LOADING_NOTICE, slow_notice

    with slow_notice(LOADING_NOTICE):
        from dsr.run import evaluate_run

    table = evaluate_run(run, test=test, steps=steps)
    if json_:
        _print_json(table)
        return
    from rich.table import Table

    from dsr.console import stdout_console

    out = Table("checkpoint", "member", "D_stsp", "D_H", f"PE({table['pe_steps']})")
    for row in table["rows"]:
        out.add_row(row["checkpoint"], str(row["member"]), f"{row['d_stsp']:.4g}", f"{row['d_h']:.4g}", f"{row['pe']:.4g}")
    stdout_console().print(out)
    typer.echo(f"stored as {table['group']} in {run} (the fit's final metrics are unchanged)")


@app.command("analyze")
def analyze_command(
    target: Annotated[str, typer.Argument(help="A run store, a data store, or a built-in system name (see `dsr simulate --list`).")],
    order: Annotated[Optional[int], typer.Option(help="Cycles up to this order (runs; default 2). Systems: fixed points only.")] = None,
    param: Annotated[Optional[list[str]], typer.Option(help="System parameter NAME=VALUE (repeatable).")] = None,
    checkpoint: Annotated[str, typer.Option(help="Checkpoint of the run.")] = "best",
    member: Annotated[Optional[int], typer.Option(help="Ensemble member (default: the run's best).")] = None,
    steps: Annotated[int, typer.Option(help="Lyapunov steps of the model.")] = 20_000,
    trajectory_steps: Annotated[int, typer.Option(help="Free-run length for symbolic codes and dimensions.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed for initial conditions and SCYFI.")] = 0,
    write: Annotated[bool, typer.Option("--write/--no-write", help="Store the analysis groups in the run.")] = True,
    var: Annotated[Optional[str], typer.Option(help="Data stores: the data variable (default: the only one).")] = None,
    json_: JsonOption = False,
) -> None:
    """Lyapunov spectrum, dimensions, fixed points/cycles and symbolic codes of a run's model against its ground truth,
    of a built-in system, or λ1 and the correlation dimension estimated from a data store."""
    from dsr.console import LOADING_NOTICE, slow_notice

    with slow_notice(LOADING_NOTICE):
        from dsr.run_analysis import analyze_command as run_analysis

    run_analysis(
        target, order=order, json_=json_, param=param, checkpoint=checkpoint, member=member,
        steps=steps, trajectory_steps=trajectory_steps, seed=seed, write=write, echo=typer.echo, var=var,
    )


@app.command("app")
def app_command(
    root: Annotated[Path, typer.Argument(help="Folder holding run and data stores (searched 4 levels deep).")] = Path("runs"),
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8050,
    host: Annotated[
        str, typer.Option(help="Address to bind; the default serves this machine only (pass e.g. 0.0.0.0 explicitly to serve others).")
    ] = "127.0.0.1",
) -> None:
    """Browse runs, analyses and data stores in a web browser (read-only Dash dashboard)."""
    from dsr.app import serve

    serve(root, host=host, port=port)


@app.command("plot")
def plot_command(
    run: Annotated[Path, typer.Argument(help="A run store written by `dsr fit`.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Figure file; the format follows the suffix (.pdf, .svg, .png).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing figure file.")] = False,
) -> None:
    """Write the run page's key figures with matplotlib, for papers."""
    from dsr.app.paper_figures import write_figures

    typer.echo(str(write_figures(run, out, overwrite=overwrite)))


def _os_problem(err: OSError) -> str:
    """An OS error (path, permission, full disk) as the problem and its fix."""
    import errno

    where = f"{err.filename}: " if err.filename else ""
    fixes = {
        errno.ENOSPC: "free some space or write elsewhere (an interrupted fit continues with dsr fit --resume RUN)",
        errno.EDQUOT: "free some space or write elsewhere",
        errno.EACCES: "choose a path you may write to, or change its permissions",
        errno.EPERM: "choose a path you may write to, or change its permissions",
        errno.EROFS: "write to a writable file system",
        errno.ENOTDIR: "a part of the path is a file; choose another path",
        errno.EEXIST: "a file stands where a folder is needed; choose another path",
        errno.EISDIR: "this is a folder; pass a file",
        errno.EADDRINUSE: "choose another --port, or stop the program that serves on it",
    }
    return f"{where}{err.strerror or err}; {fixes.get(err.errno, 'check the path and try again')}"


def main() -> None:
    """Console-script entry point: the one place where every command's failure becomes one line.

    Problems the user can fix (:class:`DsrError`), the operating system's errors (paths,
    permissions, full disk), memory exhaustion and unexpected exceptions all print
    ``dsr: error: <problem and fix>`` on stderr and exit 2; a diverged fit exits 3
    (:class:`~dsr.errors.FitDiverged`); ``dsr --debug ...`` shows the traceback instead.
    SIGTERM is handled like Ctrl-C.
    """
    import csv

    from dsr.signals import terminate_as_interrupt

    terminate_as_interrupt()
    try:
        app()
    except Exception as err:
        if _DEBUG["traceback"]:
            raise
        if isinstance(err, DsrError):
            problem, code = str(err), err.exit_code
        elif isinstance(err, OSError):
            problem, code = _os_problem(err), 2
        elif isinstance(err, UnicodeDecodeError):
            problem, code = f"a file is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8", 2
        elif isinstance(err, csv.Error):
            problem, code = f"the CSV file cannot be parsed ({err}); check its quoting and line lengths", 2
        elif isinstance(err, MemoryError):
            problem, code = "out of memory; choose smaller sizes (--steps, --latent, --hidden, --ensemble, --batch-size)", 2
        else:
            problem = f"unexpected {type(err).__name__}: {err}; rerun as dsr --debug ... for the traceback and report it"
            code = 2
        typer.echo(f"dsr: error: {' '.join(problem.split())}", err=True)
        sys.exit(code)
