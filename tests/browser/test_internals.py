"""How a decoder computes, in JupyterLab: the logit lens grid (hover readout with the top tokens, the block slider
answered in the browser, the token picker answered by the kernel), direct logit attribution (a click on a head opens
it in the "inside one head" view below), that view's query click and what-if temperature, and the patching grid
switched to heads. Screenshots: ``test-artifacts/browser/lab-internals-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage

pytestmark = pytest.mark.browser

SETUP = '''
import attnviz
model, tokenizer = attnviz.demo.induction()
explainer = attnviz.Explainer(model, tokenizer)
text = attnviz.demo.induction_sequence(length=12, seed=1)
words = text.split()
e = explainer.explain(text, position=17)
result = attnviz.patch(explainer, text, " ".join(words[:5] + ["cup"] + words[6:]), target=(words[5], "cup"),
                       position=17)
'''
CELLS = [SETUP, "lens = attnviz.LogitLensView(e)\nlens", "dla = attnviz.DirectAttributionView(e)\ndla",
         'attnviz.PatchingView(result, show="residual stream")']

# the grid's geometry (js/src/grid_draw.js: gridPlan): row labels 56 px, column labels 86 px, rows 22 px
LEFT, TOP, ROW_H = 56, 86, 22


def cell_center(cell_w: float, row: int, col: int) -> dict[str, float]:
    return {"x": LEFT + col * cell_w + cell_w / 2, "y": TOP + row * ROW_H + ROW_H / 2}


def test_lab_internals_views(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-internals")
    nb.open(CELLS)

    # the logit lens: 2 blocks x 25 positions, each cell's top token written in it
    lens = nb.widget("grid", 0)
    a = nb.attrs(lens)
    assert a["kind"] == "logit lens" and (a["rows"], a["cols"]) == ("2", "25")
    assert "'bun' first becomes the most probable next token at the explained position after block 1" \
        in lens.locator(".attnviz-summary").inner_text()
    # 25 columns of 64 px do not fit the output: it opens scrolled to the explained position (column 17)
    scroll = lens.locator(".attnviz-grid-scroll")
    assert scroll.evaluate("el => el.scrollLeft") > 0
    explained_x = 56 + 17 * 64 - scroll.evaluate("el => el.scrollLeft")
    assert 0 <= explained_x <= scroll.evaluate("el => el.clientWidth")
    canvas = lens.locator(".attnviz-grid-canvas")
    canvas.hover(position=cell_center(64, 1, 17))
    readout = lens.locator(".attnviz-readout").inner_text()
    assert readout.startswith("after block 1 · position (token) 17 cap · p('bun'): 0.99") and "top: 'bun'" in readout
    nb.shot(lens, "logit-lens")
    before = nb.attrs(lens)
    lens.locator(".attnviz-layer-slider").fill("0")
    after = nb.wait_redraw(lens, before)
    assert after["layer"] == "0" and after["checksum"] != before["checksum"]
    nb.shot(lens, "logit-lens-through-block-0")
    before = nb.attrs(lens)
    lens.locator(".attnviz-pick-token").select_option(index=1)
    after = nb.wait_kernel_answer(lens, before)
    assert after["checksum"] != before["checksum"]
    assert nb.kernel_json("lens.token") == nb.kernel_json("lens._candidates[1]")

    # direct logit attribution: click head 0.1, the head's arithmetic opens below
    dla = nb.widget("grid", 1)
    assert nb.attrs(dla)["kind"] == "direct attribution"
    assert "add up to" in dla.locator(".attnviz-description").inner_text()
    head = nb.widget("head-math", 0)
    assert (nb.attrs(head)["block"], nb.attrs(head)["head"]) == ("1", "0")  # the largest |contribution|
    nb.shot(dla, "direct-attribution")
    before = nb.attrs(head)
    dla.locator(".attnviz-grid-canvas").click(position=cell_center(64, 0, 1))
    after = nb.wait_kernel_answer(head, before)
    assert (after["block"], after["head"]) == ("0", "1")
    assert nb.kernel_json("dla.grid.selected") == [0, 1]
    assert "Inside block 0, head 1" in head.locator(".attnviz-title").inner_text()

    # inside one head: pick another query token, then a what-if temperature (answered here, no kernel message)
    dla.locator(".attnviz-grid-canvas").click(position=cell_center(64, 1, 0))
    nb.wait_kernel_answer(head, after)
    before = nb.attrs(head)
    head.locator(".attnviz-query-token").nth(16).click()
    after = nb.wait_kernel_answer(head, before)
    assert after["query"] == "16"
    rows = head.locator(".attnviz-math-table tr")
    assert rows.count() == 1 + 17  # header + keys 0..16 (the rest masked)
    weights = nb.kernel_json("[float(w) for w in e.head_math(1, 0, 16).weights[:17]]")
    bars = head.locator(".attnviz-bar-model + .attnviz-bar-text")
    shown = [float(t) for t in bars.all_inner_texts()]
    assert len(shown) == 17 and max(abs(s - w) for s, w in zip(shown, weights)) < 1e-3
    nb.shot(head, "head-math")
    before = nb.attrs(head)
    head.locator(".attnviz-temperature").fill("4")
    after = nb.wait_redraw(head, before)
    assert after["temperature"] == "4.00" and after["revision"] == before["revision"]
    assert "what-if, not the model" in head.locator(".attnviz-temperature-text").inner_text()
    nb.shot(head, "head-math-temperature-4")

    # patching: the residual stream grid, then the heads
    patching = nb.widget("grid", 2)
    assert nb.attrs(patching)["kind"] == "patching"
    assert "position 6 ('bun') restores the most: 1.00" in patching.locator(".attnviz-summary").inner_text()
    nb.shot(patching, "patching-stream")
    before = nb.attrs(patching)
    patching.locator(".attnviz-pick-show").select_option("heads")
    after = nb.wait_kernel_answer(patching, before)
    assert (after["rows"], after["cols"]) == ("2", "4")
    assert "restores the most" in patching.locator(".attnviz-summary").inner_text()
    nb.shot(patching, "patching-heads")
    page.recorder.check()
