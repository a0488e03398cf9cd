"""The dashboard in a real browser: Playwright driving Debian's Chromium (headless).

Chromium is looked for at $STATECAP_CHROMIUM, else /usr/bin/chromium (the Debian package
`chromium`; Playwright's own browser download is not used). Without it these tests skip, unless
STATECAP_REQUIRE_BROWSER=1 (CI), where they fail. The server runs in a thread on a free port
against a store built from the built-in dataset; the browser may reach nothing but that server.

Screenshots go to $STATECAP_SCREENSHOTS when set (``STATECAP_SCREENSHOTS=docs/screenshots``
refreshes the README's pictures), else to a temporary folder. Page timings are printed and written
beside them (timings.json); they are measured, never asserted.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

REQUIRED = os.environ.get("STATECAP_REQUIRE_BROWSER") == "1"
CHROMIUM = Path(os.environ.get("STATECAP_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]  # fmt: skip
TIMINGS: dict[str, float] = {}


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"STATECAP_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("STATECAP_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    yield path
    if TIMINGS:
        (path / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set STATECAP_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install 'statecap[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(builtin_db):
    import uvicorn

    from statecap.api.app import create_app

    port = _free_port()
    app = create_app(builtin_db, warm=True)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    # timings are taken on a warm server (graph loaded, flows and indicators cached), as a user meets it
    started = time.monotonic()
    app.state.statecap.warmed.wait(timeout=300)
    TIMINGS["server_warm_up_s"] = round(time.monotonic() - started, 3)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith((server, "data:", "blob:")) else route.abort()
        ),
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(60_000)
    yield pg
    context.close()
    assert errors == [], errors


def test_search_smic_and_open_it(page, server, shots):
    page.goto(server + "/")
    page.fill("#search", "SMIC")
    first = page.locator(".suggestions li").first
    first.wait_for()
    assert first.get_attribute("data-id") == "cn-smic"
    page.screenshot(path=str(shots / "search.png"))
    started = time.perf_counter()
    first.click()
    page.locator("#entity-head h1").wait_for()
    TIMINGS["entity_header_s"] = round(time.perf_counter() - started, 3)
    page.locator("#state-share").wait_for()
    page.locator("svg.ownership .node").first.wait_for()
    TIMINGS["entity_first_view_s"] = round(time.perf_counter() - started, 3)
    print(
        f"entity page: header {TIMINGS['entity_header_s']} s, state share and graph {TIMINGS['entity_first_view_s']} s"
    )
    assert "Semiconductor Manufacturing International" in page.inner_text("#entity-head h1")
    assert page.url.endswith("#/entity/cn-smic")
    assert "%" in page.inner_text("#state-share")
    page.locator("#control .rule").first.wait_for()
    page.screenshot(path=str(shots / "entity.png"), full_page=True)


def test_expand_owners_until_a_state_organ_shows(page, server, shots):
    page.goto(server + "/#/entity/cn-smic")
    graph = page.locator("#graph")
    graph.locator(".node").first.wait_for()
    page.wait_for_function("document.querySelector('#graph').getAttribute('aria-busy') === null")
    clicks = 0
    while graph.locator(".node.kind-state_organ").count() == 0:
        buttons = graph.locator(".expand-owners")
        assert buttons.count() > 0, "nothing left to expand and no state organ shown"
        assert clicks < 40, "no state organ after 40 expansions"
        before = graph.locator(".node").count()
        buttons.first.click()
        clicks += 1
        page.wait_for_function("document.querySelector('#graph').getAttribute('aria-busy') === null")
        page.wait_for_function(f"document.querySelectorAll('#graph .node').length >= {before}")
    organ = graph.locator(".node.kind-state_organ").first
    assert organ.get_attribute("data-id")
    page.click("#zoom-out")
    page.click("#zoom-out")
    organ.scroll_into_view_if_needed()
    graph.screenshot(path=str(shots / "ownership-graph.png"))
    # an edge's share opens its sources
    graph.locator(".edge-label").first.click()
    stake = page.locator("#panel .stake").first
    stake.wait_for()
    assert "%" in stake.inner_text()
    assert page.locator("#panel .sources a").count() >= 1
    page.screenshot(path=str(shots / "ownership-sources.png"))


def test_open_a_screening_verdict_and_its_evidence(page, server, shots):
    page.goto(server + "/#/entity/cn-smic")
    rule = page.locator('#screen .rule[data-rule="bis-affiliates"]')
    rule.wait_for()
    assert "designated" in rule.inner_text()
    rule.locator("details.evidence > summary").click()
    designation = rule.locator('.evidence-item[data-kind="designation"]').first
    designation.wait_for(state="visible")
    assert "Entity List" in designation.inner_text()
    assert designation.locator(".sources a").count() >= 1
    page.locator("#screen").screenshot(path=str(shots / "screening.png"))


def test_open_flows_and_see_the_sankey(page, server, shots):
    started = time.perf_counter()
    page.goto(server + "/#/flows")
    page.locator("#sankey .sankey-node").first.wait_for()
    TIMINGS["flows_sankey_s"] = round(time.perf_counter() - started, 3)
    labels = page.locator("#sankey .sankey-node .node-label").all_text_contents()
    assert len(labels) >= 6
    assert any("Semiconductors" in t for t in labels)
    page.locator("#heatmap .main-svg").first.wait_for()
    page.locator("#by-year .main-svg").first.wait_for()
    page.screenshot(path=str(shots / "flows.png"), full_page=True)


def test_change_a_lever_run_and_see_the_comparison(page, server, shots):
    page.goto(server + "/#/lab")
    lever = page.locator('input[data-key="levers.fund_phases.big-fund-iii.amount_cny_bn"]')
    lever.wait_for()
    before = float(lever.input_value())
    page.fill("#runs", "30")
    lever.fill(str(before + 600))
    started = time.perf_counter()
    page.click("#run")
    page.locator('#lab-chart[data-ready="1"]').wait_for()
    TIMINGS["lab_run_30_runs_s"] = round(time.perf_counter() - started, 3)
    page.select_option("#output", "state_capital_cum")
    page.select_option("#sector", "semiconductors")
    row = page.locator("table.comparison tbody tr", has_text="semiconductors").first
    cells = [c.replace(",", "") for c in row.locator("td").all_inner_texts()]
    written_p50, levers_p50 = float(cells[2]), float(cells[5])
    assert levers_p50 > written_p50 + 300  # 600 bn more over 2025-2034
    assert "1 lever" in page.inner_text("#lab-status")
    page.locator("#lab-chart .main-svg").first.wait_for()
    with page.expect_download() as dl:
        page.click("#download-csv")
    assert dl.value.suggested_filename.endswith(".csv")
    page.select_option("#output", "self_sufficiency")
    page.locator("#lab-chart .main-svg").first.wait_for()
    page.screenshot(path=str(shots / "scenario-lab.png"), full_page=True)


def test_indicators_and_data_pages(page, server, shots):
    page.goto(server + "/#/indicators")
    page.locator("#ind-market_distortion .main-svg").first.wait_for()
    assert page.locator("#indicators section").count() >= 5
    page.screenshot(path=str(shots / "indicators.png"), full_page=True)
    page.goto(server + "/#/data")
    page.locator("#coverage .main-svg").first.wait_for()
    page.screenshot(path=str(shots / "data.png"), full_page=True)


def test_the_report_renders_offline(browser, mini_db, tmp_path, shots):
    out = tmp_path / "report.html"
    run_cli("report", "--db", str(mini_db), "--out", str(out), "--runs", "20", "--sobol-n", "4", check=True)
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    fetched: list[str] = []

    def only_the_file(route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            fetched.append(url)
            route.abort()

    context.route("**/*", only_the_file)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(out.as_uri())
    pg.locator("#fig-sankey .main-svg").first.wait_for()
    drawn = pg.locator(".plotly-graph-div .main-svg").count()
    assert drawn >= 8
    assert fetched == [] and errors == []
    pg.locator("#at-a-glance").screenshot(path=str(shots / "report.png"))
    context.close()
