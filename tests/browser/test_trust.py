"""Views a teacher can trust, in JupyterLab (issue 11, items 1, 3, 6, 7): a near-uniform map shows its structure and
the legend names its scale; a 512-token AttentionView draws its first block at once, fetches the others on demand,
keeps its labels legible and finds a word; projector mode enlarges a view and keeps hover on the right token.
Screenshots: ``test-artifacts/browser/lab-trust-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage, until

pytestmark = pytest.mark.browser

SETUP = '''
import torch
from transformers import BertConfig, BertForSequenceClassification
from attnviz import AttentionView, Explainer, TextView
from attnviz.testing import tiny_model
small_model, tok = tiny_model("bert", heads=12, hidden=48)
e = Explainer(small_model, tok).explain("the movie was unbelievably charming")
torch.manual_seed(0)
long_model = BertForSequenceClassification(BertConfig(
    vocab_size=len(tok), hidden_size=96, num_hidden_layers=12, num_attention_heads=12, intermediate_size=192,
    max_position_embeddings=512, initializer_range=0.2)).eval()
tok.model_max_length = 512
words = "the movie was a boring mess".split()
long_text = " ".join(words[i % len(words)] for i in range(510))
e512 = Explainer(long_model, tok).explain(long_text)
assert len(e512.tokens) == 512
'''
CELLS = [SETUP, 'TextView(e, method="flow")', "AttentionView(e512, threshold=0.001)",
         'TextView(e, method="flow", scale=1.6)', "AttentionView(e, scale=1.6)"]


def test_lab_scales_long_inputs_and_projector_mode(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-trust")
    nb.open(CELLS)

    # 1. a near-uniform map (attention flow): per-map scale, several colours, the mode and range in the legend
    text = nb.widget("text", 0)
    flow = nb.kernel_json("[float(x) for x in e.map('flow')]")
    assert min(flow[1:-1]) > 0.5 * max(flow[1:-1]), "the flow map of this input should be near-uniform"
    assert nb.attrs(text)["scale"] == "map"
    colours = text.evaluate("el => new Set([...el.querySelectorAll('.attnviz-token:not(.attnviz-special)')]"
                            ".map(s => s.style.background)).size")
    assert colours >= 3
    legend = text.locator(".attnviz-legend-mode").inner_text()
    assert legend.startswith("per map, min to max:")
    nb.shot(text, "near-uniform-per-map")
    text.locator(".attnviz-color-scale").select_option("zero")
    until(lambda: nb.attrs(text)["scale"] == "zero")
    assert text.locator(".attnviz-legend-mode").inner_text().startswith("from zero: 0 to")
    nb.shot(text, "near-uniform-from-zero")

    # 2. 512 tokens: the block shown came first, the neighbours were fetched, labels are legible, search jumps
    att = nb.widget("attention", 0)
    first_message = nb.kernel_json(
        "(lambda s: len(__import__('json').dumps(s[0])) + sum(len(b) for b in s[2]))("
        "__import__('ipywidgets').widgets.widget._remove_buffers(AttentionView(e512).get_state()))")
    assert first_message < 8 * 2**20, first_message  # the whole tensor would be 75.5 MB
    until(lambda: int(nb.attrs(att).get("blocks-loaded", "0")) >= 3, timeout=60)  # block 11 + prefetched 10, 9
    a = nb.attrs(att)
    assert a["num-tokens"] == "512" and int(a["rows-px"]) >= 11 and "loading" not in a
    nb.shot(att, "512-first-block")
    slider = att.locator(".attnviz-layer-slider")
    slider.evaluate("(s) => { s.value = '3'; s.dispatchEvent(new Event('input', {bubbles: true})); }")
    until(lambda: nb.attrs(att).get("layer") == "3" and "loading" not in nb.attrs(att), timeout=60)
    assert int(nb.attrs(att)["lines"]) > 0
    att.locator(".attnviz-search").fill("boring")
    until(lambda: nb.attrs(att).get("focus", "").startswith("left:"))
    index = int(nb.attrs(att)["focus"].split(":")[1])
    assert nb.kernel_json(f"e512.tokens[{index}]") == "boring"
    assert att.locator(".attnviz-search-count").inner_text().startswith("1 of ")
    nb.shot(att, "512-search-boring")

    # 3. projector mode: the same view at scale 1.6 is 1.6 times larger, and hover still finds its token
    big = nb.widget("text", 1)
    assert nb.attrs(big)["scale-factor"] == "1.6"
    small_h = text.locator(".attnviz-token").nth(1).bounding_box()["height"]
    big_h = big.locator(".attnviz-token").nth(1).bounding_box()["height"]
    assert 1.4 < big_h / small_h < 1.8, (small_h, big_h)
    nb.shot(big, "projector-text")
    head = nb.widget("attention", 1)
    canvas = head.locator(".attnviz-head-canvas")
    box = canvas.bounding_box()
    css_width = canvas.evaluate("c => parseFloat(c.style.width)")
    ratio = box["width"] / css_width  # 1.6, or less where the output area's width caps it (max-width: 100%)
    assert ratio > 1.3, ratio
    # row 3 of the head view layout (top 20 px, rows of 18 px at 7 tokens), in displayed screen pixels
    page.mouse.move(box["x"] + 20 * ratio, box["y"] + (20 + 3.5 * 18) * ratio)
    until(lambda: nb.attrs(head).get("focus") == "left:3")
    nb.shot(head, "projector-head-hover")
