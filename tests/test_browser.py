"""What a student sees: the committed notebooks opened in JupyterLab in a real browser (headless Chromium).

A saved notebook must show no widget's Python repr and no error output; one cheap widget, run in a kernel, must
respond when its control moves; and the claims dashboard must list every catalogue ID. The test starts its own
JupyterLab (127.0.0.1, a random token, a temporary copy of the notebooks, its own settings and runtime folders) and
stops only that server. A screenshot per notebook goes to ``build/browser/``.

It needs Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs it). Without a browser it fails
with that message: a user without one deselects it, ``make test TEST_MARKERS='not isa and not browser'``.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "build" / "browser"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_REPRS = ("VBox(children=", "HBox(children=", "FigureExplorer(", "IntSlider(value=", "FloatSlider(value=")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
# JupyterLab settings for the test's server: every cell in the page (no windowing), nothing saved behind our back.
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
                "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
                "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                                    "checkForUpdates": False}}

pytestmark = pytest.mark.browser


def chromium_path() -> str:
    """The Chromium to drive: $VOSNB_CHROMIUM, else `chromium` on PATH; a clear failure when there is none."""
    found = os.environ.get("VOSNB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("No Chromium for the browser test: install Debian's package (`apt-get install chromium`), or set "
                    "VOSNB_CHROMIUM to a Chromium binary, or deselect it: make test TEST_MARKERS='not isa and not browser'",
                    pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def widget_notebook() -> nbformat.NotebookNode:
    """Notebook 02's Fig. 2 widget cell, with the import and seed it needs: the cells of one cheap widget."""
    source = next(cell.source for cell in nbformat.read(REPO / "notebooks" / "02_stcn_affinity_gini.ipynb", 4).cells
                  if cell.cell_type == "code" and "winner_regions_widget(" in cell.source)
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from vosnb.analysis import affinity_geometry as ag\nseed = 0"),
        nbformat.v4.new_code_cell(source)])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return book


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JupyterLab serving a copy of the notebooks; yields its base URL (token in the query)."""
    root = tmp_path_factory.mktemp("lab")
    served = root / "notebooks"
    served.mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, served / path.name)
    nbformat.write(widget_notebook(), served / "widget_check.ipynb")
    settings = root / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(root / "ws"),
           "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTER_CONFIG_DIR": str(root / "config")}
    log = open(root / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
                               "--ServerApp.open_browser=False", "--allow-root",
                               "--LabApp.extension_manager=readonly"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(root / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"{base}/lab/tree/{{name}}?reset&token={token}"  # reset: only this notebook open
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


def open_notebook(page, lab: str, name: str):
    """Open ``name`` alone in JupyterLab; return the locator of its (visible) notebook panel."""
    page.goto(lab.format(name=name))
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Cell").first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    return panel


def saved_figure_widgets(path: Path) -> int:
    """How many widget outputs of the saved notebook are figure widgets (`vosnb.widgets.FigureExplorer`, whose
    saved text is its one-sentence fallback); the others are progress bars."""
    return sum(output.get("data", {}).get("text/plain", "").startswith("[interactive figure]")
               for cell in nbformat.read(path, 4).cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebook_shows_no_widget_repr_and_no_error(lab, page, path):
    panel = open_notebook(page, lab, path.name)
    outputs = panel.locator(".jp-OutputArea-output")
    outputs.last.wait_for()
    text = "\n".join(outputs.all_inner_texts())
    if saved_figure_widgets(path):  # the screenshot shows what a student sees of the first figure widget
        panel.get_by_text("[interactive figure]").first.scroll_into_view_if_needed()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{path.stem}.png")
    assert not [r for r in WIDGET_REPRS if r in text], f"{path.name}: a widget's Python repr is shown"
    assert "Traceback (most recent call last)" not in text, f"{path.name}: an error output is shown"
    assert panel.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
    assert text.count("[interactive figure]") == saved_figure_widgets(path), \
        f"{path.name}: every saved figure widget should show its one-sentence fallback"


def test_a_widget_run_in_a_kernel_redraws_when_its_control_moves(lab, page):
    panel = open_notebook(page, lab, "widget_check.ipynb")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # the kernel is up
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    figure = panel.locator(".widget-output img").first
    figure.wait_for(timeout=120_000)
    before = figure.get_attribute("src")
    readout = panel.locator(".widget-readout").last  # "added points": type a new value, as a student can
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("12")
    page.keyboard.press("Enter")
    page.wait_for_function("s => { const i = document.querySelector("
                           "'.jp-NotebookPanel:not(.lm-mod-hidden) .widget-output img');"
                           " return i !== null && i.getAttribute('src') !== s; }", arg=before, timeout=30_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=30_000)
    assert figure.get_attribute("src") != before
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "widget_check.png")
    assert "[interactive figure]" not in panel.locator(".jp-OutputArea-output").last.inner_text()


def test_dashboard_page_lists_every_catalogue_id(page, tmp_path):
    from vosnb.claims import load_catalogue
    from vosnb.dashboard import write_dashboard
    out = tmp_path / "dashboard.html"
    write_dashboard(out, REPO / "results")  # the committed ledger (the tests write theirs elsewhere)
    page.goto(out.as_uri())
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "dashboard.png", full_page=True)
    missing = [claim_id for claim_id in load_catalogue() if page.locator(f"[id='claim-{claim_id}']").count() != 1]
    assert not missing, f"the dashboard does not list {missing}"
    assert page.locator("[id^='claim-']").count() == len(load_catalogue())
