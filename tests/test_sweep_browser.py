"""The app's sweep page in a real browser: listed on the overview, a point per fit, a click opens its run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dsr.simulate import simulate
from dsr.sweep import store
from dsr.sweep.runner import run_sweep
from dsr.sweep.spec import read_spec
from dsr.zarrstore import write_dataset
from tests.conftest import InProcess
from tests.test_app_browser import browser_type_launch_args, expect, page, pytestmark, served, shot  # noqa: F401 -- fixtures

SPEC = """
data = "lorenz.zarr"
[fit]
epochs = 2
batches_per_epoch = 3
batch_size = 4
sequence_length = 20
eval_every = 1
eval_steps = 400
hidden = 8
ensemble = 1
[grid]
lr_start = [1e-3, 3e-3]
forcing = ["agtf", "stf"]
"""


@pytest.fixture(scope="module")
def sweep_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("sweep-app")
    write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), root / "lorenz.zarr")
    (root / "spec.toml").write_text(SPEC)
    run_sweep(read_spec(root / "spec.toml"), root / "lr", InProcess())
    yield from served(root)


def test_sweep_page_plots_each_fit_and_a_click_opens_its_run(page, sweep_app: str) -> None:
    page.goto(sweep_app)
    page.locator("#sweeps-table").get_by_role("link", name="lr", exact=True).click()
    expect(page.locator("#page")).to_contain_text("4 of 4 fits finished")
    expect(page.locator("#sweep-table tbody tr")).to_have_count(4)
    graph = "#sweep-graph .js-plotly-plot"
    page.wait_for_function(f"() => document.querySelector('{graph}') && document.querySelector('{graph}').data.length === 4")
    # Two fields (lr_start, forcing) x two scores (D_stsp, D_H); every trace has a point per fit.
    assert page.evaluate(f"document.querySelector('{graph}').data.map(t => t.x.length)") == [4, 4, 4, 4]
    shot(page, "sweep-page")
    box = page.locator(f"{graph} .scatterlayer .point").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly's drag layer takes the click
    page.wait_for_url("**/run/lr/runs/fit-*.zarr")
    expect(page.locator("#run-header")).to_contain_text("d_stsp")
