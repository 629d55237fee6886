"""Readability in JupyterLab (issue 11, items 5 and 10): a 10 kB class label is cut with an ellipsis and does not
widen the page; hover values read as three significant digits with their share of the map's max.
Screenshots: ``test-artifacts/browser/lab-readability-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage

pytestmark = pytest.mark.browser

CELLS = ['''
from attnviz import Explainer, TextView
from attnviz.testing import tiny_model
model, tok = tiny_model("bert")
LONG = "an extremely long class label " * 340
model.config.id2label = {0: "short", 1: LONG}
e = Explainer(model, tok).explain("the movie was unbelievably charming", target=1)
''', "TextView(e)"]


def test_lab_long_labels_are_cut_and_hover_values_are_readable(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-readability")
    nb.open(CELLS)
    root = nb.widget("text")
    width = page.evaluate("() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth})")
    assert width["doc"] <= width["view"] + 5, width  # the 10 kB label widened nothing
    target = root.locator(".attnviz-target")
    assert len(target.inner_text()) <= 48 and target.get_attribute("title").startswith("an extremely long")
    assert target.bounding_box()["width"] < 600
    title = root.locator(".attnviz-token").nth(2).get_attribute("title")
    assert "% of max)" in title and "e-" not in title
    nb.shot(root, "long-label")


HEAD_VIEW_CELLS = ['''
from attnviz import AttentionView, Explainer
from attnviz.testing import tiny_model
model, tok = tiny_model("bert", heads=12, hidden=48)
e = Explainer(model, tok).explain("the movie was unbelievably charming")
''', "AttentionView(e, threshold=1.0)", "AttentionView(e, mode='model')"]


def test_lab_head_view_is_never_blank_without_a_note_and_its_axes_are_titled(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-head-view")
    nb.open(HEAD_VIEW_CELLS)
    page.wait_for_selector(".attnviz.attnviz-attention-view[data-blank-reason='threshold']", timeout=90_000)
    blank = page.locator(".attnviz.attnviz-attention-view").nth(0)
    blank.scroll_into_view_if_needed()
    note = blank.locator(".attnviz-lines-note").inner_text()
    assert "reaches the threshold 1" in note and "threshold=" in note
    nb.shot(blank, "blank-with-note")
    grid = nb.widget("attention", 1)
    assert nb.attrs(grid)["mode"] == "model"
    nb.shot(grid, "model-view-axes")
