"""The app's leaderboard page in a real browser: listed on the overview, box plots per metric, a click opens a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dsr.bench.runner import run_bench
from dsr.simulate import simulate
from dsr.zarrstore import write_dataset
from tests.conftest import InProcess
from tests.test_app_browser import browser_type_launch_args, expect, page, pytestmark, served, shot  # noqa: F401 -- fixtures

TINY = dict(epochs=2, batches_per_epoch=3, batch_size=4, sequence_length=20, eval_every=1, eval_steps=400, ensemble=1)
MODELS = ("default", "sindy", "parrot")


@pytest.fixture(scope="module")
def bench_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("bench-app")
    write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), root / "lorenz.zarr")
    run_bench(root / "lorenz.zarr", None, ",".join(MODELS), 2, 0.05, out=root / "zoo", lyapunov_steps=100, extra=TINY, executor=InProcess())
    yield from served(root)


def test_leaderboard_page_plots_each_fit_and_a_click_opens_its_run(page, bench_app: str) -> None:
    page.goto(bench_app)
    page.locator("#leaderboards-table").get_by_role("link", name="zoo", exact=True).click()
    expect(page.locator("#page")).to_contain_text("6 of 6 fits finished")
    expect(page.locator("#leaderboard-table tbody tr")).to_have_count(len(MODELS))
    graph = "#leaderboard-graph .js-plotly-plot"
    # Five metrics x three families x (a box and its points).
    page.wait_for_function(f"() => document.querySelector('{graph}') && document.querySelector('{graph}').data.length === 30")
    points = page.evaluate(f"document.querySelector('{graph}').data.filter(t => t.type === 'scatter').map(t => t.y.length)")
    assert points[: len(MODELS)] == [2] * len(MODELS)  # D_stsp: every finished fit is a point
    shot(page, "leaderboard-page")
    box = page.locator(f"{graph} .scatterlayer .point").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly's drag layer takes the click
    page.wait_for_url("**/run/zoo/runs/fit-*.zarr")
    expect(page.locator("#run-header")).to_contain_text("d_stsp")
