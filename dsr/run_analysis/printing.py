"""The report of `analyze` printed as rich tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.{digits}g}"
    if isinstance(value, list):
        return "(" + ", ".join(_fmt(v, 3) for v in value) + ")"
    return str(value)


def print_report(report: dict[str, Any]) -> None:
    """The report of `analyze` as rich tables on stdout."""
    from dsr.console import stdout_console

    console = stdout_console()
    if report["kind"] == "system":
        system = report["system"]
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in system["params"].items())
        console.print(f"[bold]{report['target']}[/bold] ({system['kind']}; {params})")
        _print_invariants(console, system, None)
        published = {k: v for k, v in system["published"].items() if k != "source"}
        if published:
            values = "; ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in published.items())
            console.print(f"published: {values}  [{system['published'].get('source', '')}]", markup=False)
        _print_fixed_points(console, system["fixed_points"])
        return
    if report["kind"] == "data":
        data = report["data"]
        embedded = data.get("embedding")
        how = f"; one variable, delay-embedded with lag {embedded['lag']}, dim {embedded['dim']}" if embedded else ""
        console.print(f"{report['target']} (data, dt {_fmt(data['dt'])}{how}): λ1 estimated from the series", markup=False)
        _print_invariants(console, data, None)
        if data["lyapunov"]:
            lyap = data["lyapunov"]
            console.print(f"λ1: {lyap['method']}, fitted over {_fmt(lyap['fit_low'])}..{_fmt(lyap['fit_high'])}, {lyap['pairs']} pairs", markup=False)
        if data.get("lyapunov_note"):
            console.print(f"note: {data['lyapunov_note']}", markup=False)
        return
    model, truth = report["model"], report["truth"]
    console.print(
        f"[bold]{report['target']}[/bold]  {model['kind']} M={model['latent']}, member {model['member']} "
        f"({model['checkpoint']}), dt {_fmt(model['dt'])}; truth: {'none' if truth is None else truth['source'] + ' ' + truth['name']}"
    )
    _print_invariants(console, model, truth)
    _print_comparison(console, report["comparison"])
    _print_cycles(console, model)
    if model["symbolic"] is not None:
        _print_symbolic(console, model["symbolic"])
    if truth is not None and truth["fixed_points"]:
        _print_fixed_points(console, truth["fixed_points"], "true fixed points (data units)")
    for note in model["notes"]:
        console.print(f"note: {note}")
    if report.get("groups"):
        console.print(f"written: {', '.join(report['groups'])}")


def _print_invariants(console: Any, main: dict[str, Any], truth: dict[str, Any] | None) -> None:
    from rich.table import Table

    sources = [("model" if truth is not None or "latent" in main else "value", main)] + ([("truth", truth)] if truth else [])
    spectrum = main["lyapunov"]
    title = f"Lyapunov spectrum ({spectrum['unit']})" if spectrum else "Lyapunov spectrum"
    table = Table("Lyapunov exponent", *(name for name, _ in sources), title=title, title_justify="left")
    rows = max((len(s["lyapunov"]["exponents"]) for _, s in sources if s and s["lyapunov"]), default=0)
    for i in range(min(rows, 10)):
        table.add_row(f"λ{i + 1}", *(_fmt(s["lyapunov"]["exponents"][i]) if s["lyapunov"] and i < len(s["lyapunov"]["exponents"]) else "" for _, s in sources))
    if rows > 10:
        table.add_row(f"({rows - 10} more)", *("" for _ in sources))
    for label, key in (("sum", None), ("Kaplan-Yorke dim.", "kaplan_yorke"), ("correlation dim.", "correlation_dimension")):
        cells = []
        for _, s in sources:
            if key is None:
                # λ1 estimated from a series alone has no sum.
                whole = s["lyapunov"] and s["lyapunov"].get("source") != "series"
                cells.append(_fmt(float(np.sum(s["lyapunov"]["exponents"]))) if whole else "-")
            elif key == "correlation_dimension" and s[key] is not None:
                fit = s[key]["fit_range"]
                cells.append(f"{_fmt(s[key]['value'])} (r in {_fmt(fit[0], 3)}..{_fmt(fit[1], 3)})")
            else:
                cells.append(_fmt(s[key]))
        table.add_row(label, *cells)
    console.print(table)


def _print_comparison(console: Any, comparison: dict[str, Any]) -> None:
    from rich.table import Table

    if not comparison:
        return
    table = Table("measure", "model", "truth", "difference", title="Model against ground truth", title_justify="left")
    if "lambda_max" in comparison:
        lm = comparison["lambda_max"]
        table.add_row("λ_max", _fmt(lm["model"]), _fmt(lm["truth"]), f"{_fmt(100 * lm['relative_error'], 3)} % (relative)" if lm["relative_error"] is not None else "-")
        sp = comparison["sign_pattern"]
        table.add_row("sign pattern", sp["model"], sp["truth"], "match" if sp["match"] else "differs")
    for key, label in (("kaplan_yorke", "Kaplan-Yorke dim."), ("correlation_dimension", "correlation dim.")):
        if key in comparison:
            c = comparison[key]
            table.add_row(label, _fmt(c["model"]), _fmt(c["truth"]), _fmt(c["difference"], 3))
    if "fixed_points" in comparison:
        fp = comparison["fixed_points"]
        table.add_row("fixed points", f"{fp['model_real']} real", str(fp["truth"]), "nearest distances " + _fmt(fp["nearest_distance"]))
    console.print(table)


def _print_cycles(console: Any, model: dict[str, Any]) -> None:
    from rich.table import Table

    methods = ", ".join(f"{o['order']}: {o['method']}" for o in model["cycle_search"])
    table = Table("order", "type", "max |eig|", "regions", "point (data units)", title=f"Fixed points and cycles ({methods})", title_justify="left")
    for c in model["cycles"][:30]:
        regions = " ".join(c["regions"]) if len(c["regions"]) <= 6 else " ".join(c["regions"][:6]) + " ..."
        table.add_row(str(c["order"]), c["type"], _fmt(c["max_abs_eigenvalue"]), regions, _fmt(c["points_data"][0]))
    if len(model["cycles"]) > 30:
        table.add_row(f"({len(model['cycles']) - 30} more)", "", "", "", "")
    if not model["cycles"]:
        table.add_row("-", "none found", "", "", "")
    console.print(table)


def _print_symbolic(console: Any, sym: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        "region", "pattern", "time %", "dwell", "fixed point", "type", "max |eig|", "at (data units)",
        title=f"Symbolic code: {sym['used']} of {sym['possible']} regions used; entropy rate "
        + (f"{_fmt(sym['entropy_rate'], 3)} nats/step" if math.isfinite(sym["entropy_rate"]) else "not estimable (too few steps per region)"),
        title_justify="left",
    )
    for r in sym["regions"][:20]:
        fp = r["fixed_point"]
        table.add_row(
            str(r["label"]), r["pattern"], _fmt(100 * r["frequency"], 3), _fmt(r["dwell"], 3),
            "-" if fp is None else ("real" if fp["real"] else "virtual"), "-" if fp is None else fp["type"],
            "-" if fp is None else _fmt(fp["max_abs_eigenvalue"]), "-" if fp is None else _fmt(fp["data"]),
        )
    console.print(table)
    t = sym["transitions"]
    edges = [f"{i}→{j} {_fmt(p, 2)}" for i, j, p in zip(t["from"], t["to"], t["probability"]) if i < 20 and j < 20]
    console.print("transitions (P(next region | leaving)): " + (", ".join(edges[:40]) or "none"))
    if sym["mediators"]:
        shown = sym["mediators"][:20]
        more = f" and {len(sym['mediators']) - len(shown)} more" if len(sym["mediators"]) > len(shown) else ""
        console.print(f"mediating regions (every passage between the others runs through them): {shown}{more}")


def _print_fixed_points(console: Any, points: list[dict[str, Any]], title: str = "fixed points") -> None:
    from rich.table import Table

    table = Table("point", "type", "eigenvalues", title=title, title_justify="left")
    for fp in points[:30]:
        eig = [complex(r, i) for r, i in zip(fp["eigenvalues_real"], fp["eigenvalues_imag"])]
        shown = ", ".join(f"{e.real:.4g}" if abs(e.imag) < 1e-12 else f"{e.real:.4g}{e.imag:+.4g}i" for e in eig[:6])
        table.add_row(_fmt(fp.get("point_data", fp["point"])), fp["type"], shown + (" ..." if len(eig) > 6 else ""))
    console.print(table)
