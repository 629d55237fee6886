"""The recipes of docs/ARCHITECTURE.md, exercised from this file alone, touching no package file (issue 18, item 8):
add a method (a function over a Trace plus ``register``), add an architecture (an ``Adapter`` plus
``register_adapter``), add a view (a ``View`` subclass whose traits hold the engine's answers, with its JavaScript
inline). Each is explained with and checked against its definition written out here."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

import attnviz
from attnviz.engine.adapters import _BY_MODEL_TYPE, register_adapter
from attnviz.engine.adapters.bert import BERT
from attnviz.engine.methods import _REGISTRY, MethodInfo, Trace, register
from attnviz.engine.methods.common import head_mean
from attnviz.testing import tiny_model
from attnviz.widgets.base import Index, Target, View, check_explanation
from attnviz.widgets.serialize import HeadMask, Tensor, decode, encode

JS = Path(__file__).resolve().parents[1] / "js"


def squared_attention(trace: Trace, heads: torch.Tensor) -> torch.Tensor:
    """Row l = (mean over the kept heads of A^(l)[:, p, :])², p the explained row: a new method in six lines."""
    A = trace.capture.A[:, :, trace.position, :]  # [B, H, N]
    return head_mean(A, heads) ** 2


@pytest.fixture
def new_method():
    info = register(MethodInfo("squared_attention", "attention", "the source row's mean attention, squared",
                               squared_attention, class_specific=False, span="own"))
    try:
        yield info
    finally:
        _REGISTRY.pop("squared_attention", None)


def test_recipe_add_a_method(new_method):
    e = attnviz.Explainer(*tiny_model("bert", seed=1)).explain("the movie was wonderful")
    assert "squared_attention" in e.method_names()
    A = e.attention().astype(np.float64)  # [B, H, N, N]
    np.testing.assert_allclose(e.maps("squared_attention"), A[:, :, 0, :].mean(1) ** 2, atol=1e-6)
    kept = np.array([True, False])
    np.testing.assert_allclose(e.map("squared_attention", heads=kept), A[-1, 0, 0, :] ** 2, atol=1e-6)
    assert e.blocks_read("squared_attention") == (e.num_layers - 1, e.num_layers - 1)
    view = attnviz.TextView(e, method="squared_attention")  # a view draws it with no change of its own
    assert view.error == "" and view.reads[-1] == [e.num_layers - 1, e.num_layers - 1]


@pytest.fixture
def ernie():
    """ERNIE is BERT-shaped (``model.ernie``); attnviz does not list it. One Adapter, written here, supports it."""
    adapter = dataclasses.replace(BERT, family="ernie", model_types=("ernie",), base=("ernie",),
                                  head={"pooler": ("ernie.pooler.dense",), "classifier": ("classifier",)},
                                  adapter_file="tests/test_recipes.py")
    register_adapter(adapter)
    try:
        yield adapter
    finally:
        _BY_MODEL_TYPE.pop("ernie", None)


def test_recipe_add_an_architecture(ernie):
    import transformers as tf

    _, tokenizer = tiny_model("bert")
    torch.manual_seed(0)
    config = tf.ErnieConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=64, num_labels=2, initializer_range=0.2)
    model = tf.ErnieForSequenceClassification(config).eval()
    model.config._attn_implementation = "eager"
    e = attnviz.Explainer(model, tokenizer).explain("the movie was wonderful")
    assert e.explainer.adapter is ernie and "ernie" in attnviz.supported_model_types()
    with torch.no_grad():
        out = model(**e.model_inputs, output_attentions=True)
    np.testing.assert_allclose(e.attention(), torch.stack(out.attentions)[:, 0].numpy(), atol=1e-6)
    for name in e.method_names():
        options = {"n_steps": 8} if name == "integrated_gradients" else {}
        maps = e.maps(name, **options)
        assert maps.shape == (e.num_layers, e.num_tokens) and np.isfinite(maps).all(), name
    assert e.diagnostic("chefer")["trusted"]  # the LRP pass runs through the new architecture's blocks
    with pytest.raises(TypeError, match="needs an attnviz Adapter"):
        register_adapter("ernie")


# ---------------------------------------------------------------------------------------------------------- a view
#: The view's JavaScript, inline (anywidget takes the module's source as a string): the package's codec.js, then a
#: render that draws what the traits hold. It computes nothing: it decodes `bars` and picks row `layer`.
BARS_JS = """
export default {
  render({ model, el }) {
    const doc = el.ownerDocument;
    const draw = () => {
      const bars = decodeFloat(model.get("bars"));
      const layer = model.get("layer");
      const values = bars.shape.length === 2 ? row(bars, layer) : new Float32Array(0);
      const top = Math.max(1e-30, ...Array.from(values, Math.abs));
      el.replaceChildren(...model.get("tokens").map((token, i) => {
        const bar = doc.createElement("div");
        bar.className = "attnviz-bar";
        bar.textContent = token;
        bar.dataset.value = String(values[i]);
        bar.style.width = `${(100 * Math.abs(values[i])) / top}%`;
        return bar;
      }));
      el.dataset.layer = String(layer);
      el.dataset.revision = String(model.get("revision"));
      el.dataset.error = model.get("error");
    };
    const names = ["bars", "layer", "tokens", "revision", "error"];
    for (const name of names) model.on(`change:${name}`, draw);
    draw();
    return () => { for (const name of names) model.off(`change:${name}`, draw); };
  },
};
"""
CODEC_JS = (JS / "src" / "codec.js").read_text(encoding="utf-8") if (JS / "src" / "codec.js").is_file() else ""


class TokenBarsView(View):
    """A new view, written here: one bar per token, ``method``'s relevance through block ``layer``.

    Kernel-bound controls: method, target, heads (new ``bars`` [B, N] and ``revision + 1``). Browser-side: layer
    (a row of the bars already sent)."""

    _esm = CODEC_JS + BARS_JS
    settable = ("method", "target", "heads", "layer")

    tokens = traitlets.List(traitlets.Unicode(), help="the tokens [N] (read only)").tag(sync=True)
    label_names = traitlets.List(traitlets.Unicode(), help="the class labels (read only)").tag(sync=True)
    method = traitlets.Unicode("gae", help="the method drawn").tag(sync=True)
    target = Target(0, help="the class explained: an index, or a label name from Python").tag(sync=True)
    heads = HeadMask(help="[B][H] kept heads").tag(sync=True)
    layer = Index(0, help="the block shown (browser-side)").tag(sync=True)
    bars = Tensor(help="float16 [B, N]: the engine's maps (read only)").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, "text", "TokenBarsView")
        super().__init__(**kwargs)  # checks the keyword arguments against `settable`
        self._e, self._B, self._H = e, e.num_layers, e.num_heads  # _B, _H: the HeadMask trait's shape
        with self.hold_sync():  # one message with the whole initial state
            self.tokens = [str(t) for t in e.tokens]
            self.label_names = list(e.targets.label_names)
            self.method, self.target, self.heads, self.layer = "gae", e.target, None, e.num_layers - 1
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    # the controls' checks: the engine's, its errors as TraitErrors
    def _candidate_index(self, value: Any) -> int:  # `Target` calls this for a label name given from Python
        return self._engine_target(value)

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        return self._engine_target(proposal["value"])

    def _engine_target(self, value: Any) -> int:
        try:
            return int(self._e.targets.check(value))
        except (TypeError, ValueError) as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("method")
    def _valid_method(self, proposal):
        names = self._e.method_names()
        if proposal["value"] not in names:
            raise traitlets.TraitError(f"unknown method {proposal['value']!r} for this input; choose one of "
                                       f"{', '.join(names)}")
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        if not -self._B <= proposal["value"] < self._B:
            raise traitlets.TraitError(f"layer must be in [0, {self._B - 1}] (or negative from the end), "
                                       f"got {proposal['value']}")
        return proposal["value"] % self._B

    # the kernel's answers: ask the engine, encode, send with revision + 1 (error set on failure)
    @traitlets.observe("method", "target", "heads")
    def _kernel_change(self, change):
        self._refresh()

    def _refresh(self) -> None:
        def work():
            self.bars = encode(self._e.maps(self.method, target=self.target, heads=self.heads))

        self._answer(work)


def sent(view: TokenBarsView, exact: np.ndarray) -> np.ndarray:
    """The bars the view sends, decoded as the front end does, checked equal to ``exact`` within float16."""
    values = decode(view.bars)
    np.testing.assert_allclose(values, exact, rtol=2.0 ** -10, atol=view.bars["scale"] * 2.0 ** -23)
    return values


@pytest.fixture(scope="module")
def sentence():
    return attnviz.Explainer(*tiny_model("bert", seed=1)).explain("the movie was wonderful")


def test_recipe_add_a_view(sentence, monkeypatch):
    e = sentence
    view = TokenBarsView(e)
    assert view._esm == TokenBarsView._esm and "export default" in view._esm  # the inline module is what syncs
    page = view.to_html()  # the offline page inlines the module written here (no built bundle needed)
    assert "TokenBarsView" in page and "bar.dataset.value = String(values[i])" in page
    assert view.error == "" and view.tokens == [str(t) for t in e.tokens] and view.layer == e.num_layers - 1
    assert view.bars["shape"] == [e.num_layers, e.num_tokens]
    state, _, buffers = _remove_buffers(view.get_state())
    assert "buffer" not in state["bars"] and any(bytes(b) == view.bars["buffer"] for b in buffers)  # binary frame
    first = sent(view, e.maps("gae", target=e.target))

    # a kernel-bound control set from Python: the engine's new answer and revision + 1, in one message
    other = 1 - e.target
    revision = view.revision
    view.target = other
    changed = sent(view, e.maps("gae", target=other))
    assert view.revision == revision + 1 and not np.allclose(changed, first)
    view.target = e.targets.label_names[e.target]  # a label name from Python: the engine's lookup
    assert view.target == e.target
    view.heads = [True, False]
    sent(view, e.maps("gae", target=e.target, heads=[True, False]))
    assert view.heads == [[True, False]] * e.num_layers
    # ... and as the browser sets it (a comm message): answered the same way
    revision = view.revision
    view.set_state({"method": "rollout", "heads": [[True, True]] * e.num_layers})
    sent(view, e.maps("rollout"))
    assert view.revision > revision and view.error == ""
    # layer is drawn in the browser from the rows already sent: no kernel answer
    revision, bars = view.revision, view.bars
    view.layer = -2
    assert view.layer == e.num_layers - 2 and view.revision == revision and view.bars is bars

    # bad input: the package's clear errors, the engine's words
    with pytest.raises(traitlets.TraitError, match=r"target 5 is out of range: the model has 2 classes"):
        view.target = 5
    with pytest.raises(traitlets.TraitError, match="unknown label 'nope'"):
        view.target = "nope"
    with pytest.raises(traitlets.TraitError, match="unknown method 'nope' for this input; choose one of raw"):
        view.method = "nope"
    with pytest.raises(traitlets.TraitError, match=r"heads must be a boolean mask of shape \[2, 2\] .* got a boolean "
                                                  r"mask of shape \[3\]"):
        view.heads = [True, False, True]
    with pytest.raises(traitlets.TraitError, match=r"layer must be in \[0, 1\]"):
        view.layer = 2
    with pytest.raises(TypeError, match=r"TokenBarsView\(\) got unexpected keyword argument\(s\) 'colour'; "
                                        "it accepts: method, target, heads, layer, scale, layout"):
        TokenBarsView(e, colour="red")
    with pytest.raises(traitlets.TraitError, match="target 7 is out of range"):
        TokenBarsView(e, target=7)
    assert view.target == e.target and view.method == "rollout" and view.error == ""  # nothing changed

    # the view computes nothing: what it sends is exactly the engine's answer for its controls, whatever it is
    calls = []

    def engine(method, target=None, heads=None, **options):
        calls.append((method, target, heads, options))
        return np.full((e.num_layers, e.num_tokens), 0.125 * len(calls), np.float32)  # exact in float16

    monkeypatch.setattr(e, "maps", engine)
    view = TokenBarsView(e, method="attcat", target=other, heads=[False, True])
    assert calls == [("attcat", other, [[False, True]] * e.num_layers, {})]
    assert np.array_equal(decode(view.bars), np.full((e.num_layers, e.num_tokens), 0.125))
    view.target = e.target
    assert calls[-1] == ("attcat", e.target, [[False, True]] * e.num_layers, {})
    assert np.array_equal(decode(view.bars), np.full((e.num_layers, e.num_tokens), 0.25))

    # an engine failure while answering is shown in the view (the browser sees no traceback), not raised
    def failing(*args, **kwargs):
        raise ValueError("no gradient here")

    monkeypatch.setattr(e, "maps", failing)
    revision, bars = view.revision, view.bars
    view.method = "gae"
    assert view.error == "ValueError: no gradient here" and view.revision == revision + 1 and view.bars is bars


#: Runs the view's module in node on the state the kernel sent, with js/test/helpers.js's stand-in for anywidget's
#: model and a few lines of DOM; prints what it drew, then what it drew after the browser-side slider moved.
NODE_RUN = """
import { readFileSync } from "node:fs";
import { fakeModel } from "HELPERS";
import view from "./view.mjs";
const state = JSON.parse(readFileSync(new URL("./state.json", import.meta.url), "utf8"));
const bytes = Buffer.from(state.bars.buffer, "base64");  // a view into node's pool, like a comm message's bytes
state.bars.buffer = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const make = (tag) => ({ tag, dataset: {}, style: {}, textContent: "", children: [],
                         replaceChildren(...c) { this.children = c; } });
const el = { ...make("div"), ownerDocument: { createElement: make } };
const model = fakeModel(state);
const snap = () => ({ data: { ...el.dataset },
                      bars: el.children.map((b) => [b.textContent, Number(b.dataset.value), b.style.width]) });
view.render({ model, el });
const last = snap();
model.set("layer", 0);
console.log(JSON.stringify([last, snap()]));
"""


@pytest.mark.skipif(shutil.which("node") is None or not CODEC_JS, reason="needs node and js/src/codec.js")
def test_recipe_add_a_view_front_end(sentence, tmp_path):
    """The inline module, run in node on the state the kernel sends (bytes as anywidget gives them, a DataView at an
    offset), draws the engine's values for row `layer` and redraws when the browser-side slider moves."""
    view = TokenBarsView(sentence, method="chefer")
    (tmp_path / "view.mjs").write_text(view._esm, encoding="utf-8")
    state = {"tokens": view.tokens, "layer": view.layer, "revision": view.revision, "error": view.error,
             "bars": {**view.bars, "buffer": base64.b64encode(view.bars["buffer"]).decode("ascii")}}
    (tmp_path / "state.json").write_text(json.dumps(state), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_RUN.replace("HELPERS", (JS / "test" / "helpers.js").as_uri()),
                                      encoding="utf-8")
    out = subprocess.run(["node", str(tmp_path / "run.mjs")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    last, first = json.loads(out.stdout)
    rows = decode(view.bars)
    for drawn, layer in ((last, sentence.num_layers - 1), (first, 0)):
        assert drawn["data"] == {"layer": str(layer), "revision": str(view.revision), "error": ""}
        assert [b[0] for b in drawn["bars"]] == view.tokens
        np.testing.assert_array_equal(np.float32([b[1] for b in drawn["bars"]]), rows[layer])
        np.testing.assert_allclose(rows[layer], sentence.maps("chefer")[layer], rtol=2.0 ** -10,
                                   atol=view.bars["scale"] * 2.0 ** -23)
    assert max(float(b[2].rstrip("%")) for b in last["bars"]) == 100.0
