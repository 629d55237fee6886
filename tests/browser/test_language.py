"""Language models in JupyterLab (issue 13, item 4): a 1,024-token GPT-2 explanation, the next-token picker and its
"versus" partner answered by the kernel, the explained position outlined and the tokens after it faded and
uncoloured, AttentionView's causal thumbnails with an empty upper triangle, and the head view at 1,024 tokens.
Screenshots: ``test-artifacts/browser/lab-language-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage, until

pytestmark = pytest.mark.browser

SETUP = '''
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from attnviz import AttentionView, Explainer, TextView
from attnviz.testing import tiny_model
_, tok = tiny_model("gpt2")
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=1024, n_embd=48, n_layer=4, n_head=4,
                                   initializer_range=0.2)).eval()
tok.model_max_length = 1024
explainer = Explainer(model, tok)
e = explainer.explain("the movie was wonderful and the actors were brilliant", position=5)
words = "the cat sat on the mat near the door".split()
long_text = " ".join(words[i % len(words)] for i in range(2000))
e1024 = explainer.explain(long_text)
assert len(e1024.tokens) == 1024, len(e1024.tokens)
assert AttentionView(e1024, layer=1).attention_blocks == []  # an 8 MiB block: the browser asks for it as it opens
'''
CELLS = [SETUP, 'tv = TextView(e, method="gae")\ntv', 'AttentionView(e, mode="model")', "AttentionView(e1024, layer=1)",
         'TextView(e1024, method="rollout")']


def test_lab_language_model_views(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-language")
    nb.open(CELLS)

    # the next-token picker, the explained position, the future left uncoloured
    text = nb.widget("text", 0)
    a = nb.attrs(text)
    assert a["explained-unit"] == "5"
    label = text.locator(".attnviz-class").locator("xpath=..").locator("span").first.inner_text()
    assert label == "next token"
    options = text.locator(".attnviz-class option").all_inner_texts()
    top = nb.kernel_json("[t for _, t, _ in e.top_tokens(10)]")
    assert [o.rsplit(" (", 1)[0] for o in options[:10]] == [repr(t) for t in top]
    spans = text.locator(".attnviz-token")
    n = spans.count()
    assert spans.nth(5).evaluate("s => s.classList.contains('attnviz-explained')")
    unseen = [spans.nth(i).evaluate("s => s.classList.contains('attnviz-unseen')") for i in range(n)]
    assert unseen == [i > 5 for i in range(n)]
    backgrounds = [spans.nth(i).evaluate("s => s.style.background") for i in range(n)]
    assert all(b == "" for b in backgrounds[6:]) and all(b != "" for b in backgrounds[:6])
    assert text.locator(".attnviz-prediction").inner_text().startswith("predicted next token:")
    nb.shot(text, "next-token")

    # "versus": the kernel answers with the maps of the logit difference, and the prediction line says so
    before = nb.attrs(text)
    text.locator(".attnviz-foil").select_option("1")
    nb.wait_kernel_answer(text, before)
    line = text.locator(".attnviz-prediction").inner_text()
    assert "versus" in line and "the logit difference" in line
    got = nb.kernel_json(f"[float(x) * tv.maps['scale'] for x in "
                         f"__import__('numpy').frombuffer(tv.maps['buffer'], 'float16')[-{n}:]]")
    want = nb.kernel_json("[float(x) for x in e.map('gae', target=(e.top_tokens(2)[0][0], e.top_tokens(2)[1][0]))]")
    assert max(abs(g - w) for g, w in zip(got, want)) < 2e-3 * max(1.0, max(abs(w) for w in want))
    nb.shot(text, "versus")

    # ablation in the model: the new probabilities beside the old, and the loss of the text's own next token
    before = nb.attrs(text)
    text.locator(".attnviz-head-cell").first.click()
    nb.wait_kernel_answer(text, before)
    before = nb.attrs(text)
    text.locator(".attnviz-ablate").check()
    nb.wait_kernel_answer(text, before)
    loss = text.locator(".attnviz-ablated-loss").inner_text()
    assert loss.startswith(" · loss on the text's next token") or loss.startswith("· loss on the text's next token")
    following = nb.kernel_json("tv.label_names[tv.next_in_text]")
    assert following in loss and loss.endswith("nats")
    nb.shot(text, "ablated-loss")

    # causal thumbnails: the upper triangle is drawn grey and the note says why
    model_view = nb.widget("attention", 0)
    assert nb.attrs(model_view)["causal"] == "true"
    assert "grey upper triangle" in model_view.inner_text()
    nb.shot(model_view, "causal-model-view")

    # 1,024 tokens: the first message holds no block (one is 8 MiB); the browser asks for the block shown as it
    # opens, then lines are drawn and the labels stay legible
    att = nb.widget("attention", 1)
    until(lambda: "loading" not in nb.attrs(att) and nb.attrs(att).get("num-tokens") == "1024", timeout=90)
    a = nb.attrs(att)
    assert int(a["lines"]) > 0 and int(a["rows-px"]) >= 11
    nb.shot(att, "1024-head-view")
    long_text = nb.widget("text", 1)
    assert long_text.locator(".attnviz-tokens-long").count() == 1
    assert nb.attrs(long_text)["explained-unit"] == "1023"
    window = long_text.locator(".attnviz-tokens-long").bounding_box()
    last = long_text.locator(".attnviz-token").nth(1023).bounding_box()
    assert window["y"] <= last["y"] and last["y"] + last["height"] <= window["y"] + window["height"] + 1, (window, last)
    nb.shot(long_text, "1024-text")
