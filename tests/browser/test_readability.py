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
