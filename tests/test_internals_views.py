"""The views of how a decoder computes (widgets/internals.py), without a browser: every number they send is the
engine's, the kernel answers pickers and clicks, the sentences they print agree with their grids, and bad input gets
a clear error. The browser side: tests/browser/test_internals.py and js/test/grid_view.test.js."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import attnviz
from attnviz.engine.internals import InternalsError
from attnviz.testing import tiny_model
from attnviz.widgets import decode
from attnviz.widgets.internals import DirectAttributionView, HeadMathView, LogitLensView, PatchingView

TEXT = "the good film was warm and the music was lovely and"


@pytest.fixture(scope="module")
def lm():
    model, tokenizer = tiny_model("gpt2", layers=2, heads=4, hidden=32)
    explainer = attnviz.Explainer(model, tokenizer)
    return explainer, explainer.explain(TEXT, position=8)


def grid(view) -> np.ndarray:
    return decode(view.values)


def test_logit_lens_view_sends_the_engines_numbers(lm):
    _, e = lm
    view = LogitLensView(e)
    assert view.error == "" and view.kind == "logit lens"
    token = view.token
    assert token == e.target
    np.testing.assert_allclose(grid(view), np.exp(e.logit_lens(token=token)), rtol=1e-6, atol=1e-7)
    top = e.logit_lens(top_k=5)
    assert view.cell_text[1][3] == e._token_text(int(top.ids[1, 3, 0]))
    assert view.hover_text[0][e.position].startswith(repr(e._token_text(int(top.ids[0, e.position, 0]))))
    assert view.marked_col == e.position and view.layer == e.num_layers - 1
    assert view.col_labels[0].endswith(e.tokens[0])
    # the token picker: another candidate, answered by the kernel
    other = view.pickers[0]["options"][2]["value"]
    revision = view.revision
    view.choices = {"token": other, "mode": "probability"}
    assert view.revision == revision + 1 and view.token == int(other)
    np.testing.assert_allclose(grid(view), np.exp(e.logit_lens(token=int(other))), rtol=1e-6, atol=1e-7)
    view.choices = {"token": other, "mode": "rank"}
    np.testing.assert_array_equal(grid(view), e.logit_lens(token=int(other), rank=True))
    assert (grid(view) >= 0).all() and "rank" in view.value_label


def test_logit_lens_summary_agrees_with_its_grid(lm):
    _, e = lm
    view = LogitLensView(e)
    tops = e.logit_lens(top_k=1).ids[:, e.position, 0]
    rows = np.flatnonzero(tops == view.token)
    if rows.size:
        assert f"after block {int(rows[0])} " in view.summary
    else:
        assert "never the most probable" in view.summary
    p_last = float(np.exp(e.logit_lens(token=view.token)[-1, e.position]))
    assert f"{p_last:.3f}" in view.summary


def test_logit_lens_view_options_and_errors(lm):
    _, e = lm
    view = LogitLensView(e, token=e.top_tokens(3)[2][0], mode="rank", layer=0)
    assert view.layer == 0 and view.choices["mode"] == "rank"
    with pytest.raises(ValueError, match="mode must be"):
        LogitLensView(e, mode="logits")
    with pytest.raises(TypeError, match="unexpected keyword"):
        LogitLensView(e, colour="red")
    with pytest.raises(InternalsError, match="block 5 does not exist"):
        LogitLensView(e, layer=5)
    with pytest.raises(ValueError, match="one token"):
        LogitLensView(e, token=(e.top_tokens(2)[0][0], e.top_tokens(2)[1][0]))
    bert, tok = tiny_model("bert")
    with pytest.raises(InternalsError, match="classifier"):
        LogitLensView(attnviz.Explainer(bert, tok).explain("a fine film"))


def test_direct_attribution_view_grid_and_click(lm):
    _, e = lm
    view = DirectAttributionView(e)
    d = e.direct_attribution()
    np.testing.assert_allclose(grid(view.grid), np.concatenate([d.heads, d.mlps[:, None]], 1), rtol=1e-6)
    assert view.grid.col_labels[-1] == "MLP" and view.grid.signed
    assert f"{d.total:.4f}" in view.grid.note and f"{d.logit:.4f}" in view.grid.note and "frozen" in view.grid.note
    best = np.unravel_index(int(np.argmax(np.abs(d.heads))), d.heads.shape)
    assert (view.head_math.block, view.head_math.head) == tuple(int(x) for x in best)
    name, value = d.top(1)[0]
    assert f"{name} ({value:+.3f})" in view.grid.summary
    view.grid.selected = [0, 3]  # a click on head 0.3 opens it below
    assert (view.head_math.block, view.head_math.head) == (0, 3) and view.grid.marked_cells == [[0, 3]]
    hm = e.head_math(0, 3)
    np.testing.assert_allclose(decode(view.head_math.math["weights"]), hm.weights, rtol=1e-6)
    view.grid.selected = [1, 4]  # the MLP column: no head to open
    assert (view.head_math.block, view.head_math.head) == (0, 3)


def test_head_math_view(lm):
    _, e = lm
    view = HeadMathView(e, block=1, head=2, query=5)
    hm = e.head_math(1, 2, 5)
    np.testing.assert_allclose(decode(view.math["model_weights"]), e.attention()[1, 2, 5], rtol=1e-6)
    scores = decode(view.math["scores"])
    assert np.isnan(scores[6:]).all() and np.isfinite(scores[:6]).all()  # the causal mask travels as NaN
    assert view.facts["direct"] == pytest.approx(hm.direct) and view.facts["causal"] is True
    np.testing.assert_allclose(decode(view.pattern), e.attention()[1, 2], atol=1e-3)
    revision = view.revision
    view.query = 2
    assert view.revision == revision + 1
    np.testing.assert_allclose(decode(view.math["weights"]), e.head_math(1, 2, 2).weights, rtol=1e-6)
    view.head = 9  # out of range from the browser: the error is shown, nothing else changes
    assert "head 9 does not exist" in view.error
    with pytest.raises(InternalsError, match="block 3 does not exist"):
        HeadMathView(e, block=3)
    with pytest.raises(traitlets.TraitError):
        view.block = "one"


def png_of(view) -> bytes:
    """The view's static fallback picture from its display data (``_repr_mimebundle_``)."""
    import base64

    from attnviz.widgets.base import STATIC_PNG_BYTES

    data, _ = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 1000 < len(png) <= STATIC_PNG_BYTES
    return png


def long_explanation():
    """A 128-token explanation: the tiny GPT-2 with 128 positions (``tiny_model`` has 64)."""
    import transformers

    model, tokenizer = tiny_model("gpt2", layers=2, heads=4, hidden=32)
    config = transformers.GPT2Config.from_dict({**model.config.to_dict(), "n_positions": 128})
    model = transformers.GPT2LMHeadModel(config)
    model.config._attn_implementation = "eager"
    model.eval()
    tokenizer.model_max_length = 128
    ids = tokenizer(" ".join([TEXT] * 12), truncation=True, max_length=128)["input_ids"]
    return attnviz.Explainer(model, tokenizer).explain(tokenizer.decode(ids))


def tick_labels(figure) -> list[str]:
    return [t.get_text() for t in figure.axes[-1].get_xticklabels()]


def test_head_math_view_carries_its_picture(lm):
    """Issue 21, item 5: HeadMathView's display data holds a PNG of one query's scores and weights (<= 200 kB),
    for a short input (every key drawn, the masked ones hatched) and at 128 tokens (the 40 keys with the largest
    weights and the query's own)."""
    _, e = lm
    view = HeadMathView(e, block=1, head=2, query=5)
    png_of(view)
    figure = view._static_figure()
    assert len(figure.axes) == 2
    assert figure.get_suptitle().startswith("Inside block 1, head 2") and e.describe_target() in \
        figure.get_suptitle().replace("\n", " ")
    hm = e.head_math(1, 2, 5)
    subtitle = figure.axes[0].get_title(loc="left").replace("\n", " ")
    assert f"{hm.write_norm:.4g}" in subtitle and f"{hm.direct:+.4f}" in subtitle
    assert tick_labels(figure) == [f"{j} {t}" if t.strip() else f"{j} {t!r}" for j, t in enumerate(e.tokens)]
    weights = [bar.get_height() for bar in figure.axes[1].patches[:e.num_tokens]]
    np.testing.assert_allclose(weights[:6], hm.weights[:6], rtol=1e-6)
    assert not np.any(weights[6:])  # the keys after the query: masked, weight 0, drawn hatched
    assert f"{e.num_tokens} of {e.num_tokens} keys drawn" in figure.axes[1].get_xlabel()

    long = long_explanation()
    assert long.num_tokens == 128
    view = HeadMathView(long, block=1, head=0)
    png_of(view)
    labels = tick_labels(view._static_figure())
    assert len(labels) == 41 and labels[-1].startswith("127 ")  # the 40 largest weights, and the query's own
    hm = long.head_math(1, 0)
    top = np.argsort(-hm.weights, kind="stable")[:40]
    assert {int(label.split(" ", 1)[0]) for label in labels} == {127, *(int(j) for j in top)}
    assert "41 of 128 keys drawn" in view._static_figure().axes[1].get_xlabel()


def test_head_math_picture_follows_the_view(lm):
    _, e = lm
    view = HeadMathView(e, block=0, head=0)
    before = png_of(view)
    view.show_head(1, 3)
    after = png_of(view)
    assert after != before
    assert view._static_figure().get_suptitle().startswith("Inside block 1, head 3")
    view.query = 2
    assert png_of(view) != after and view._static_figure().get_suptitle().startswith("Inside block 1, head 3 ")
    assert "query 2 " in view._static_figure().get_suptitle()
    view.head = 9  # the browser's bad head: the view shows the error, the picture is left out (no crash)
    assert "does not exist" in view.error
    data, _ = view._repr_mimebundle_()
    assert "image/png" not in data and "application/vnd.jupyter.widget-view+json" in data


def test_head_math_picture_draws_token_text_as_plain_text():
    """Token text with HTML and mathtext characters (<b>, &, $) and a newline is drawn as it is, on one line."""
    import warnings

    model, tokenizer = tiny_model("gpt2", layers=2, heads=2, hidden=32)
    e = attnviz.Explainer(model, tokenizer).explain("a <b>bold</b> & $x$ 'quoted' \"word\"\nnext")
    assert {"<", "&", "$", "\n"} <= set(e.tokens)
    view = HeadMathView(e, block=1, head=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        png_of(view)
    labels = tick_labels(view._static_figure())
    assert "2 <" in labels and "13 &" in labels and "15 $" in labels and "&lt;" not in "".join(labels)
    assert all("\n" not in label for label in labels) and f"{e.tokens.index(chr(10))} '\\n'" in labels


def test_patching_view(lm):
    explainer, _ = lm
    result = attnviz.patch(explainer, "the good film was warm and", "the boring film was warm and")
    view = PatchingView(result)
    np.testing.assert_allclose(grid(view), result.resid, atol=1e-6)
    assert view.col_labels[1] == "1  good /  boring" and view.marked_col == result.position
    l, c = np.unravel_index(int(np.argmax(result.resid)), result.resid.shape)
    assert f"block {l} at position {c}" in view.summary and f"{result.resid[l, c]:.2f}" in view.summary
    view.choices = {"show": "heads"}
    np.testing.assert_allclose(grid(view), result.heads, atol=1e-6)
    l, h = np.unravel_index(int(np.argmax(result.heads)), result.heads.shape)
    assert f"head {l}.{h} restores the most: {result.heads[l, h]:.2f}" in view.summary
    assert f"{result.clean_score:.3f}" in view.note and f"{result.corrupted_score:.3f}" in view.note
    with pytest.raises(TypeError, match="PatchingView shows"):
        PatchingView(result.resid)
    with pytest.raises(ValueError, match="show must be"):
        PatchingView(result, show="mlps")


def test_views_send_no_float_lists(lm):
    """Tensors travel as binary buffers; the hover and cell texts are strings, never numbers as JSON."""
    _, e = lm
    view = LogitLensView(e)
    state = view.get_state()
    assert isinstance(state["values"]["buffer"], (bytes, memoryview))
    assert all(isinstance(t, str) for row in state["cell_text"] for t in row)
