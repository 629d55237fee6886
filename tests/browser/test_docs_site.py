"""The documentation site (issue 21, item 6): built offline with ``mkdocs build --strict`` (mkdocs.yml), served on
localhost and opened in Chromium with every request off the machine refused. Every page renders without a page
error; the tours and the gallery show each view's picture (the static fallback committed with the notebook); the
evaluation plots of tour 3 draw with BokehJS served from the site; the API reference documents every public name.
Screenshots: ``test-artifacts/browser/docs-*``."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .conftest import _is_local
from .jupyter_page import ARTIFACTS

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
TOURS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test log
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site, served on a free localhost port for the module; yields its base URL."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                           cwd=REPO, capture_output=True, text=True, env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture
def offline_page(browser):
    """A page whose requests off the machine are refused and recorded, and whose errors are recorded."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    refused: list[str] = []
    errors: list[str] = []
    context.route(lambda url: not _is_local(url), lambda route: (refused.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        yield page, refused, errors
    finally:
        context.close()


def open_page(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: {response.status if response else 'no response'}"
    page.wait_for_load_state("load")


def drawn_images(page) -> list[dict]:
    """Every image inside the notebook's outputs: its size as decoded (0 when it failed to draw)."""
    return page.eval_on_selector_all(".jp-OutputArea-output img, .jp-RenderedImage img",
                                     "els => els.map(e => ({w: e.naturalWidth, h: e.naturalHeight}))")


def test_gallery_draws_every_view_offline(site, offline_page):
    page, refused, errors = offline_page
    open_page(page, site + "gallery/")
    images = drawn_images(page)
    # CompareView and TextView: HTML snapshots; AttentionView, ImageView, FlowView, LogitLens, DirectAttribution,
    # HeadMath, Patching: PNGs
    assert len(images) == 7 and all(i["w"] > 100 and i["h"] > 50 for i in images), images
    snapshots = page.locator(".attnviz-static")
    assert snapshots.count() == 5  # TextView, and CompareView's four methods
    assert snapshots.first.locator("span[title]").all_inner_texts()[:3] == ["[CLS]", "a", "gripping"]
    page.screenshot(path=str(ARTIFACTS / "docs-gallery.png"), full_page=True)
    page.locator(".jp-OutputArea-output img").nth(4).screenshot(path=str(ARTIFACTS / "docs-gallery-logit-lens.png"))
    assert not refused, refused
    assert not errors, errors


@pytest.mark.parametrize("tour", TOURS)
def test_each_tour_is_a_page_with_its_pictures(site, offline_page, tour):
    page, refused, errors = offline_page
    open_page(page, f"{site}tours/{tour}/")
    assert page.locator("h1").first.inner_text().startswith("attnviz tour")
    images = drawn_images(page)
    snapshots = page.locator(".attnviz-static").count()
    assert images or snapshots, "no picture on the page"
    assert all(i["w"] > 0 for i in images), images
    if tour.startswith("03_"):  # the bokeh evaluation plots: drawn by BokehJS from the site, not a CDN
        plots = ".bk-Figure, .bk-Column, .bk-Row, .bk-GridPlot"
        page.wait_for_function(f"() => window.Bokeh !== undefined && document.querySelectorAll('{plots}').length",
                               timeout=30_000)
        output = page.locator(".jp-OutputArea-output", has=page.locator(plots)).first
        output.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        output.screenshot(path=str(ARTIFACTS / "docs-tour-03-bokeh.png"))  # a wide layout scrolls in its output
        box, plot = output.bounding_box(), page.locator(plots).first.bounding_box()
        toc = page.locator(".md-sidebar--secondary").bounding_box()
        assert box["x"] + box["width"] <= toc["x"] + 1, (box, toc)  # the output stays left of the table of contents
        assert plot["width"] > 300 and plot["height"] > 150, plot
    page.screenshot(path=str(ARTIFACTS / f"docs-tour-{tour}.png"))
    assert not refused, refused
    assert not errors, errors


def test_api_reference_documents_every_public_name(site, offline_page):
    import attnviz
    import attnviz.demo
    import attnviz.evaluate

    page, refused, errors = offline_page
    headings: list[str] = []
    for section in ("attnviz", "views", "evaluate", "demo", "testing"):
        open_page(page, f"{site}api/{section}/")
        headings += page.eval_on_selector_all(".doc-heading", "els => els.map(e => e.id)")
        if section == "views":
            page.screenshot(path=str(ARTIFACTS / "docs-api-views.png"))
    names = {h.rsplit(".", 1)[-1] for h in headings}  # ids are dotted paths: attnviz.widgets.text.TextView
    modules = {"demo", "evaluate", "testing", "__version__"}
    expected = [n for n in attnviz.__all__ if n not in modules] + list(attnviz.evaluate.__all__) + [
        n for n in attnviz.demo.__all__]
    missing = [n for n in expected if n not in names]
    assert not missing, f"not in the API reference: {missing}"
    assert not refused, refused
    assert not errors, errors


def test_home_and_guides_render_and_search_works_offline(site, offline_page):
    page, refused, errors = offline_page
    open_page(page, site)
    assert "attnviz" in page.locator("h1").first.inner_text()
    open_page(page, site + "VIEWS/")
    assert page.locator("h1").first.inner_text().startswith("Reading the views")
    page.keyboard.press("/")  # material's search: its index is a local file, its worker local
    page.locator("input.md-search__input").fill("rollout")
    page.wait_for_selector(".md-search-result__item", timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "docs-search.png"))
    assert not refused, refused
    assert not errors, errors
