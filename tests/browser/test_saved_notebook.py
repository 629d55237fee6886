"""A saved notebook shows the picture without a kernel (issue 21, item 5): a notebook of views executed with
nbclient (no widget state saved, as JupyterLab saves by default), converted to HTML with nbconvert, opened in
Chromium with every request off the machine refused: a text view's HTML snapshot and the other views' static PNGs
draw (CompareView: one snapshot per method; FlowView: its graph; attnviz.Column/Row: the children's pictures laid
out the same way).
Screenshots: ``test-artifacts/browser/saved-notebook-*``."""

from __future__ import annotations

import nbformat
import pytest

from .jupyter_page import ARTIFACTS

pytestmark = pytest.mark.browser

CELLS = [
    "import attnviz\nfrom attnviz.testing import tiny_model\n"
    "e = attnviz.Explainer(*tiny_model('bert', heads=4)).explain('the movie was wonderful and the actors were "
    "brilliant')\nimport numpy as np\n"
    "ei = attnviz.Explainer(*tiny_model('vit')).explain(np.random.default_rng(0).random((32, 32, 3)))",
    "attnviz.TextView(e, method='rollout')",
    "from IPython.display import display\ndisplay(attnviz.AttentionView(e, layer=1))",
    "attnviz.ImageView(ei)",
    "attnviz.CompareView(e, methods=['rollout', 'gae'])",
    "attnviz.FlowView(e)",
    "attnviz.Column('A <b>column</b>', attnviz.TextView(e), attnviz.Row(attnviz.AttentionView(e, layer=1), 'beside'))",
]


def test_saved_notebook_shows_every_views_picture_offline(browser, tmp_path):
    import nbclient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in CELLS]
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, store_widget_state=False).execute()
    kinds = [sorted(o.get("data", {})) for cell in nb.cells[1:] for o in cell.outputs]
    assert len(kinds) == 6 and all("application/vnd.jupyter.widget-view+json" in k for k in kinds)
    assert [("image/png" in k) for k in kinds] == [False, True, True, False, True, False]
    assert [("text/html" in k) for k in kinds] == [True, False, False, True, False, True]
    html, _ = HTMLExporter().from_notebook_node(nb)
    path = tmp_path / "saved.html"
    path.write_text(html, encoding="utf-8")

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    refused: list[str] = []
    context.route(lambda url: not url.startswith(("file:", "data:")),
                  lambda route: (refused.append(route.request.url), route.abort()))
    page = context.new_page()
    try:
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        snapshot = page.locator(".attnviz-static")
        assert snapshot.count() == 4  # TextView, CompareView's two methods, the Column's TextView
        for k in range(4):
            spans = snapshot.nth(k).locator("span[title]")
            assert spans.all_inner_texts()[:4] == ["[CLS]", "the", "movie", "was"]
        snapshot.first.screenshot(path=str(ARTIFACTS / "saved-notebook-01-text.png"))
        images = page.locator(".jp-OutputArea-output img")
        assert images.count() == 4  # AttentionView, ImageView, FlowView, the Row's AttentionView
        for i in range(4):
            size = images.nth(i).evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
            assert size[0] and size[1] > 200 and size[2] > 100, size
            images.nth(i).screenshot(path=str(ARTIFACTS / f"saved-notebook-{i + 2:02d}-picture.png"))
        layout = page.locator(".attnviz-static-layout").first  # attnviz.Column: the children's pictures
        label = layout.get_by_text("A <b>column</b>")  # the label as text, not markup
        text, picture, beside = layout.locator(".attnviz-static"), layout.locator("img"), layout.get_by_text("beside")
        assert label.count() == text.count() == picture.count() == beside.count() == 1
        boxes = [x.bounding_box() for x in (label, text, picture, beside)]
        assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"], boxes  # a column: one above the other
        assert boxes[2]["x"] + boxes[2]["width"] <= boxes[3]["x"] + 1, boxes  # the Row inside: side by side
        layout.scroll_into_view_if_needed()
        layout.screenshot(path=str(ARTIFACTS / "saved-notebook-06-column.png"))
        page.screenshot(path=str(ARTIFACTS / "saved-notebook-00-page.png"), full_page=True)
    finally:
        context.close()
    assert all(not url.startswith("http://127.0.0.1") for url in refused)  # only remote scripts were refused
