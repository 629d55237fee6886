"""The evaluation's bokeh figures in JupyterLab and Notebook 7, offline (issue 9): every kind of result displayed with
``result.plot()`` draws its canvases with real content. BokehJS comes INLINE from the kernel: the page fixture fails
on any request beyond localhost and on console errors. Screenshots: ``test-artifacts/browser/{lab,nb7}-evaluation-*``.
"""

from __future__ import annotations

import pytest

from .jupyter_page import KERNEL_TIMEOUT_MS, NotebookPage

pytestmark = pytest.mark.browser

SETUP = """
import warnings
warnings.simplefilter("ignore")
from attnviz import Explainer, evaluate
from attnviz.testing import tiny_model
model, tok = tiny_model("bert", seed=1)
explainer = Explainer(model, tok)
texts = ["the movie was wonderful and the actors were brilliant", "the film was a boring mess and i want my money",
         "a gripping story told with warmth and wit , lovely", "the plot is thin but the music is lovely and warm"]
"""

PLOTS = {
    "faithfulness": 'evaluate.faithfulness(explainer, texts, ["rollout", "gae", "attcat"], min_tokens=5).plot()',
    "agreement": "evaluate.agreement(explainer, texts).plot()",
    "permutation": "evaluate.permutation(explainer, texts, n_permutations=10).plot()",
    "adversarial": "evaluate.adversarial(explainer, texts[:2], steps=5).plot()",
    "class_specificity": ('evaluate.class_specificity(explainer, texts, [0, 1, 0, 1], methods=["gae", "rollout"])'
                          ".plot()"),
    "sanity": 'evaluate.sanity(explainer, texts[:2], methods=["gae", "rollout"]).plot()',
}

# Canvases drawn per plot: the figures of each layout (curves, bars, histograms, scatter).
CANVAS_INFO = """() => [...document.querySelectorAll('.jp-OutputArea-output')].map((out) => {
  const canvases = [];
  const walk = (node) => {
    if (!node) return;
    if (node.tagName === 'CANVAS') canvases.push(node);
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.children || []) walk(child);
  };
  walk(out);
  const drawn = canvases.filter((c) => {
    if (c.width < 50 || c.height < 50) return false;
    const ctx = c.getContext('2d');
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 97) seen.add(data[i] * 65536 + data[i + 1] * 256 + data[i + 2]);
    return seen.size > 3;  // more than a background and a frame: glyphs were drawn
  });
  return {canvases: canvases.length, drawn: drawn.length};
}).filter((x) => x.canvases > 0)"""


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_every_evaluation_plot_draws_offline(page, jupyter_server, ui):
    nb = NotebookPage(page, jupyter_server, ui, f"{'lab' if ui == 'lab' else 'nb7'}-evaluation")
    nb.open([SETUP, *PLOTS.values()])
    page.wait_for_function(f"(() => ({CANVAS_INFO})().length >= {len(PLOTS)})()", timeout=KERNEL_TIMEOUT_MS)
    page.wait_for_timeout(500)  # let bokeh finish its last paint
    info = page.evaluate(CANVAS_INFO)
    assert len(info) == len(PLOTS), info
    for name, plot in zip(PLOTS, info):
        assert plot["drawn"] >= 1, (name, plot)
    outputs = page.locator(".jp-OutputArea-output")
    shown = 0
    for k in range(outputs.count()):
        out = outputs.nth(k)
        if out.evaluate("el => !!el.querySelector('.bk-Column, .bk-Row, [data-root-id]') || "
                        "!!el.querySelector('div[id]') && el.innerHTML.includes('bk-')"):
            out.scroll_into_view_if_needed()
            nb.shot(out, f"plot-{list(PLOTS)[min(shown, len(PLOTS) - 1)]}")
            shown += 1
    nb.shot(None, "page")
    assert shown >= 1
