"""The dashboard in a real browser (Debian's chromium through Playwright), on the stores of test_app.

Every page visited is saved as a screenshot under ``test-artifacts/``. Run with ``-m browser``;
skipped when chromium is not installed.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import REPO, build_stores

CHROMIUM = shutil.which("chromium")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")]

expect = pytest.importorskip("playwright.sync_api").expect
expect.set_options(timeout=30_000)  # software WebGL on a shared 2-core machine can be slow

ATTRACTOR = "#run-attractor-graph .js-plotly-plot"
ATTRACTOR_DRAWN = "#run-attractor-graph .gl-container canvas"
ALL_PANELS_DRAWN = "() => document.querySelectorAll('#page .js-plotly-plot').length >= 9 && !document.querySelector('[data-dash-is-loading]')"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object) -> None:  # one line per request would drown the test output
        pass


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options, with Debian's chromium (playwright's own download needs the network)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


def served(root: Path) -> Iterator[str]:
    """The app over the stores under ``root``, served from a thread while the caller runs; yields its base URL."""
    import dsr.app

    server = make_server("127.0.0.1", 0, dsr.app.create_app(root).server, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the test stores, served from a thread; yields its base URL."""
    yield from served(build_stores(tmp_path_factory.getbasetemp() / "app-stores"))


@pytest.fixture
def page(page, request: pytest.FixtureRequest):
    """pytest-playwright's page, failing the test on any error in the browser console or page."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1400, "height": 1000})
    yield page
    assert errors == [], f"browser console errors in {request.node.name}: {errors}"


def shot(page, name: str, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    return path


def test_overview_run_page_and_switching_variables(page, live_app: str) -> None:
    page.goto(live_app)
    table = page.locator("#runs-table")
    for run in ("r1", "r2", "long", "pending"):
        expect(table.get_by_role("link", name=run, exact=True)).to_be_visible()
    expect(table.locator("tr.error-row")).to_contain_text("cannot read this store")
    shot(page, "overview")

    table.get_by_role("link", name="r2", exact=True).click()
    expect(page.locator("#run-header")).to_contain_text("d_stsp")
    expect(page.locator(ATTRACTOR_DRAWN)).to_have_count(1)
    page.wait_for_function(ALL_PANELS_DRAWN)
    expect(page.locator("#page")).to_contain_text("stable node")  # the analysis' fixed point
    shot(page, "run-page")
    shot(page, "run-page-top", full_page=False)

    title = f"() => document.querySelector('{ATTRACTOR}').layout.scene.xaxis.title.text"
    assert page.evaluate(title) == "x"
    page.locator("#run-attractor-x").click()
    page.get_by_role("option", name="z", exact=True).click()
    page.wait_for_function(f"() => ({title[6:]}) === 'z'")
    page.get_by_text("colour: linear region").click()
    page.wait_for_function(f"() => document.querySelector('{ATTRACTOR}').data.some(t => t.name.startsWith('region 1'))")
    shot(page, "run-page-regions", full_page=False)


def test_compare_page_shows_two_selected_runs(page, live_app: str) -> None:
    page.goto(live_app)
    table = page.locator("#runs-table")
    for run in ("r1", "r2"):
        table.locator("tr", has=page.get_by_role("link", name=run, exact=True)).locator("input[type=checkbox]").check()
    expect(page.locator("#compare-link")).to_have_text("compare 2 selected runs")
    page.locator("#compare-link").click()
    compare = page.locator("#compare-table")
    expect(compare.locator("tbody tr")).to_have_count(2)
    expect(compare).to_contain_text("alrnn M=6 P=2")
    expect(page.locator("#page .js-plotly-plot").first).to_be_visible()
    shot(page, "compare-page")


def test_path_traversal_is_refused_and_data_pages_open(page, live_app: str) -> None:
    for path in ("/run/..%2F..%2F..%2Fetc%2Fpasswd", "/data/%2Fetc%2Fpasswd", "/run/link.zarr", "/compare?run=..%2Foutside.zarr"):
        page.goto(live_app + path)
        expect(page.locator("#page .card.error")).to_contain_text("served folder")
    shot(page, "refused")
    response = page.request.get(live_app + "/run/../../../../etc/passwd")
    assert "root:" not in response.text()

    page.goto(live_app + "/data/lorenz63.zarr")
    expect(page.locator("#page")).to_contain_text("lorenz63")
    expect(page.locator("#data-attractor-graph .gl-container canvas")).to_have_count(1)
    shot(page, "data-page")


def test_time_to_interactive_of_a_100000_step_run(page, live_app: str) -> None:
    """Measured and printed, not asserted: from the click on the run to a drawn, usable attractor."""
    page.goto(live_app)
    page.get_by_role("link", name="long", exact=True).wait_for()
    timings = []
    for _ in range(2):
        page.goto(live_app)
        link = page.get_by_role("link", name="long", exact=True)
        link.wait_for()
        start = page.evaluate("performance.now()")
        link.click()
        page.wait_for_selector(ATTRACTOR_DRAWN, state="attached")
        interactive = page.evaluate("performance.now()") - start
        page.wait_for_function(ALL_PANELS_DRAWN)
        complete = page.evaluate("performance.now()") - start
        timings.append((interactive, complete))
    page.goto(live_app + "/run/long.zarr")
    page.wait_for_selector(ATTRACTOR_DRAWN, state="attached")
    cold = page.evaluate("performance.now()")
    page.wait_for_function(ALL_PANELS_DRAWN)
    shot(page, "run-page-100000-steps")
    for interactive, complete in timings:
        print(f"\n100 000-step run page: attractor interactive {interactive:.0f} ms, all panels {complete:.0f} ms after the click")
    print(f"100 000-step run page opened by URL (page load): attractor interactive {cold:.0f} ms")
