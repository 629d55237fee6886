"""FlowView in JupyterLab (issue 10): the view draws for one and for two models, a click on a token keeps only the
paths through it, the threshold slider changes the number of edges drawn, and a click in the head-change grid opens
that head for both models. Screenshots: ``test-artifacts/browser/lab-flow-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage, until

pytestmark = pytest.mark.browser

CELLS = ['''
import attnviz
from attnviz import Explainer, FlowView
from attnviz.testing import tiny_model
text = "the movie was unbelievably charming"
(m0, tok), (m1, _) = tiny_model("bert", seed=0, layers=4, heads=4), tiny_model("bert", seed=1, layers=4, heads=4)
e0, e1 = Explainer(m0, tok).explain(text), Explainer(m1, tok).explain(text)
''', "FlowView(e0)", 'FlowView(e0, e1, names=["seed 0", "seed 1"], threshold=0.005)']


def test_lab_flow_view_one_and_two_models(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-flow")
    nb.open(CELLS)
    one = nb.widget("flow", 0)
    a = nb.attrs(one)
    assert a["models"] == "1" and int(a["edges"]) > 0 and "data-grid" not in a
    nb.shot(one, "one-model")

    two = nb.widget("flow", 1)
    a = nb.attrs(two)
    assert a["models"] == "2" and a["grid"] == "4x4"
    names = two.locator(".attnviz-flow-name").all_inner_texts()
    assert names[:2] == ["seed 0", "seed 1"]
    nb.shot(two, "two-models")

    # click the input token "movie" (layer 0, row 2): only the paths through it stay
    canvas = two.locator(".attnviz-flow-canvas")
    box = canvas.bounding_box()
    geometry = canvas.evaluate("c => ({w: parseFloat(c.style.width), h: parseFloat(c.style.height)})")
    sx, sy = box["width"] / geometry["w"], box["height"] / geometry["h"]
    before = nb.attrs(two)  # the graph's geometry, as drawn (its label column follows the longest token)
    left, top, row_h = (float(before[k]) for k in ("graph-left", "graph-top", "row-height"))
    page.mouse.click(box["x"] + left * sx, box["y"] + (top + 2.5 * row_h) * sy)
    after = nb.wait_redraw(two, before)
    assert after["focus"] == "0:2" and 0 < int(after["edges"]) < int(before["edges"]), (before, after)
    nb.shot(two, "paths-through-movie")

    # the threshold slider: fewer edges at a higher threshold
    two.locator(".attnviz-flow-clear").click()
    until(lambda: nb.attrs(two)["focus"] == "")
    before = nb.attrs(two)
    two.locator(".attnviz-flow-threshold").evaluate(
        "(s) => { s.value = '0.05'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    after = nb.wait_redraw(two, before)
    assert int(after["edges"]) < int(before["edges"]), (before["edges"], after["edges"])

    # a head-grid cell opens that head for both models (the kernel sends both maps)
    grid = two.locator(".attnviz-flow-grid")
    gbox = grid.bounding_box()
    gw = grid.evaluate("c => parseFloat(c.style.width)")
    g = gbox["width"] / gw
    before = nb.attrs(two)
    page.mouse.click(gbox["x"] + (30 + 24 * 2 + 8) * g, gbox["y"] + (16 + 24 * 1 + 8) * g)  # block 1, head 2
    after = nb.wait_kernel_answer(two, before)
    assert after["pair"] == "1:2:2", after
    captions = two.locator(".attnviz-flow-pair figcaption").all_inner_texts()
    assert captions[0].startswith("seed 0: block 1, head 2") and captions[1].startswith("seed 1: block 1, head 2")
    until(lambda: two.locator(".attnviz-flow-head-map").count() == 2)
    assert after["pair-labels"] == "true"  # 7 tokens: the head maps carry them on both axes
    nb.shot(two, "head-pair")

    # the query box answers Enter; a word not in the input is said beside the box
    query = two.locator(".attnviz-flow-query")
    before = nb.attrs(two)
    query.fill("zebra")
    query.press("Enter")
    nb.wait_kernel_answer(two, before)
    until(lambda: "no token of this input is \"zebra\"" in two.locator(".attnviz-flow-query-note").inner_text())
    before = nb.attrs(two)
    query.fill("movie")
    query.press("Enter")
    nb.wait_kernel_answer(two, before)
    until(lambda: two.locator(".attnviz-flow-query-note").inner_text() == "")
    assert "attention to \"movie\"" in two.locator(".attnviz-flow-grid-title").inner_text()
    nb.shot(two, "query-movie")


def test_lab_flow_view_fits_the_output_at_projector_scale(page, jupyter_server):
    """At scale 1.6 the graph is redrawn narrower so the view fits the output area (VIEWS.md: views shrink to fit)."""
    nb = NotebookPage(page, jupyter_server, "lab", "lab-flow-projector")
    nb.open([CELLS[0], 'FlowView(e0, e1, names=["seed 0", "seed 1"], scale=1.6)'])
    two = nb.widget("flow", 0)
    canvas = two.locator(".attnviz-flow-canvas")
    until(lambda: canvas.bounding_box() is not None)
    output = two.evaluate("r => r.parentElement.getBoundingClientRect().width")
    drawn = canvas.bounding_box()["width"]
    assert drawn <= output + 1, (drawn, output)
    assert float(nb.attrs(two)["graph-width"]) < 800
    nb.shot(two, "scale-1.6")
