"""The lean capture (issue 20, item 4): ``explain(methods=[...])`` keeps only what those methods read, every method's
declared gradient level is exactly what it reads, a method asked for later costs one more backward (or a forward and
a backward without a kept graph) and equals the full capture's map, the attention may be stored in half precision,
and a language model's capture computes its logits at the explained rows only."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from attnviz import Explainer
from attnviz.engine import capture as capture_module
from attnviz.engine import live as live_module
from attnviz.engine.capture_plan import CapturePlan
from attnviz.engine.methods import get as get_method
from attnviz.testing import tiny_model

TEXT = "the movie was wonderful and the actors were brilliant"
CHEAP = ("raw", "last_layer", "rollout", "flow", "redistribution", "attn_gradcam", "gae", "attcat", "grad_input")


def explainer(arch: str, **kwargs) -> Explainer:
    model, tok = tiny_model(arch, heads=4, **kwargs)
    return Explainer(model.double(), tok)


class Counter:
    """Counts the backward passes (``gradients_of``, by level) and the re-forwards (``recapture``)."""

    def __init__(self, monkeypatch):
        self.backward: list[bool] = []
        self.recaptures = 0
        real = capture_module.gradients_of

        def counted(score, forward, retain_graph, attention=True):
            self.backward.append(attention)
            return real(score, forward, retain_graph, attention)

        monkeypatch.setattr(capture_module, "gradients_of", counted)
        monkeypatch.setattr(live_module, "gradients_of", counted)
        real_recapture = Explainer.recapture

        def recapture(explainer, *args, **kwargs):
            self.recaptures += 1
            return real_recapture(explainer, *args, **kwargs)

        monkeypatch.setattr(Explainer, "recapture", recapture)

    def reset(self) -> None:
        self.backward.clear()
        self.recaptures = 0


@pytest.mark.parametrize("arch", ["gpt2", "bert", "llama"])
@pytest.mark.parametrize("method", CHEAP)
def test_each_method_reads_exactly_its_declared_level(arch, method, monkeypatch):
    ex = explainer(arch)
    full = ex.explain(TEXT).maps(method)
    count = Counter(monkeypatch)
    e = ex.explain(TEXT, methods=[method])
    level = get_method(method).gradients
    assert e.gradient_level == level
    assert count.backward == ([] if level == "none" else [level == "attention"])
    count.reset()
    lean = e.maps(method)
    assert count.backward == [] and count.recaptures == 0, f"{method} read more than its level {level!r}"
    np.testing.assert_allclose(lean, full, rtol=1e-10, atol=1e-12)


OWN_PASS = ("chefer", "lrp_full", "lrp_partial", "attnlrp", "integrated_gradients")


def test_every_built_in_method_has_its_declaration_checked_here():
    from attnviz.engine.methods import methods

    built_in = {name for name, info in methods().items() if info.fn.__module__.startswith("attnviz.")}
    assert built_in == set(CHEAP) | set(OWN_PASS)


@pytest.mark.parametrize("method", OWN_PASS)
def test_the_methods_that_run_their_own_pass_read_their_declared_level(method, monkeypatch):
    ex = explainer("gpt2")
    full = ex.explain(TEXT).maps(method)
    count = Counter(monkeypatch)
    e = ex.explain(TEXT, methods=[method])
    count.reset()
    np.testing.assert_allclose(e.maps(method), full, rtol=1e-8, atol=1e-10)
    assert count.recaptures == 0 and count.backward == []


def test_attention_only_capture_builds_no_graph_and_a_later_gradient_method_reforwards(monkeypatch):
    ex = explainer("gpt2")
    full = ex.explain(TEXT)
    count = Counter(monkeypatch)
    e = ex.explain(TEXT, methods=["rollout", "raw"])
    assert e._graph is None and count.backward == []
    np.testing.assert_allclose(e.maps("rollout"), full.maps("rollout"), rtol=1e-10)
    np.testing.assert_allclose(e.maps("gae"), full.maps("gae"), rtol=1e-10, atol=1e-12)
    assert count.recaptures == 1 and count.backward == [True]
    np.testing.assert_allclose(e.maps("attcat"), full.maps("attcat"), rtol=1e-10, atol=1e-12)
    assert count.recaptures == 1, "the attention-level gradients already cover attcat"


def test_hidden_level_then_attention_level_is_one_more_backward_on_the_kept_graph(monkeypatch):
    ex = explainer("llama")
    full = ex.explain(TEXT)
    count = Counter(monkeypatch)
    e = ex.explain(TEXT, methods=["attcat"])
    assert e._graph is not None and count.backward == [False]
    e.maps("attcat")
    np.testing.assert_allclose(e.maps("gae"), full.maps("gae"), rtol=1e-10, atol=1e-12)
    assert count.backward == [False, True] and count.recaptures == 0
    other = int(np.argsort(-e.probs)[1])  # another target: as far as the method reads
    expected = full.maps("attcat", target=other)
    count.reset()
    np.testing.assert_allclose(e.maps("attcat", target=other), expected, rtol=1e-10, atol=1e-12)
    assert count.backward == [False]


def test_a_batch_lean_capture_equals_the_full_one_per_input():
    ex = explainer("gpt2")
    texts = [TEXT, "a short one", "the actors were brilliant"]
    full = ex.explain(texts)
    lean = ex.explain(texts, methods=["attcat", "rollout"], position=[3, None, -2])
    full = ex.explain(texts, position=[3, None, -2])
    for f, e in zip(full, lean):
        assert e.position == f.position
        np.testing.assert_allclose(e.probs, f.probs, rtol=1e-6)
        for method in ("attcat", "rollout", "gae"):
            np.testing.assert_allclose(e.maps(method), f.maps(method), rtol=1e-10, atol=1e-12)


def test_a_language_model_capture_computes_the_explained_rows_logits_only():
    ex = explainer("gpt2")
    e = ex.explain(TEXT, position=4)
    forward = capture_module.capture_forward(ex.model, ex.adapter, e.model_inputs, logit_rows=[4, 2])
    assert forward.logits.shape[1] == 2 and forward.logit_rows == [2, 4]
    with torch.no_grad():
        reference = ex.model(**e.model_inputs).logits[0]
    np.testing.assert_allclose(forward.logits[0].detach().numpy(), reference[[2, 4]].numpy(), rtol=1e-10)
    expected = torch.softmax(reference[4], -1).float().numpy()
    np.testing.assert_allclose(e.probs, expected, rtol=1e-5, atol=1e-7)


def test_one_unpadded_input_shares_the_models_attention_and_a_batch_copies_it():
    ex = explainer("gpt2")
    one = ex.explain(TEXT)
    assert isinstance(one.capture.attention, list)
    batch = ex.explain([TEXT, "a short one"])
    assert all(isinstance(e.capture.attention, torch.Tensor) for e in batch)
    A = one.capture.A
    assert A.shape == one.capture.attention_shape and A.dtype == torch.float64
    torch.testing.assert_close(one.capture.block(1), A[1])
    torch.testing.assert_close(one.capture.query_rows(3), A[:, :, 3])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", torch.float16])
def test_attention_stored_in_half_precision_is_read_in_the_compute_dtype(dtype):
    model, tok = tiny_model("bert", heads=4)
    ex = Explainer(model, tok)
    full = ex.explain(TEXT)
    e = ex.explain(TEXT, methods=["rollout"], attention_dtype=dtype)
    stored = {"float16": torch.float16, "bfloat16": torch.bfloat16}.get(dtype, dtype)
    assert e.capture.attention.dtype == stored and e.capture.A.dtype == torch.float32
    tolerance = 1e-2 if stored == torch.bfloat16 else 2e-3
    for method in ("raw", "rollout", "gae"):
        np.testing.assert_allclose(e.maps(method), full.maps(method), rtol=tolerance, atol=tolerance / 10)


def test_the_automatic_attention_dtype():
    assert CapturePlan.choose(["raw", "last_layer"], None, torch.float32).attention_dtype == torch.float16
    assert CapturePlan.choose(["raw", "rollout"], None, torch.float32).attention_dtype is None
    assert CapturePlan.choose(None, None, torch.float32) == CapturePlan("attention", None)
    assert CapturePlan.choose(["raw"], None, torch.float64).attention_dtype is None
    assert CapturePlan.choose(None, None, torch.bfloat16).attention_dtype == torch.bfloat16
    assert CapturePlan.choose("attcat", "float32", torch.float16) == CapturePlan("hidden", torch.float32, None)
    model, tok = tiny_model("gpt2", heads=4)
    e = Explainer(model.half(), tok).explain(TEXT)
    assert e.capture.attention[0].dtype == torch.float16 and e.capture.A.dtype == torch.float32


def test_a_lean_copy_keeps_its_maps_and_says_what_needs_the_model():
    ex = explainer("gpt2")
    e = ex.explain(TEXT, methods=["rollout"])
    rollout = e.maps("rollout")
    for twin in (pickle.loads(pickle.dumps(e)), copy.deepcopy(e)):
        np.testing.assert_array_equal(twin.maps("rollout"), rollout)
        np.testing.assert_allclose(twin.maps("raw"), e.maps("raw"))
        with pytest.raises(Exception, match="explain again"):
            twin.maps("gae")


@pytest.mark.parametrize("bad, error, match", [
    ([], ValueError, "names no method"),
    (["rollout", "nonsense"], ValueError, "unknown method 'nonsense'"),
    ([3], TypeError, "method names"),
])
def test_bad_methods_are_clear_errors(bad, error, match):
    with pytest.raises(error, match=match):
        explainer("gpt2").explain(TEXT, methods=bad)


@pytest.mark.parametrize("bad", ["float8", "half", torch.int8, 16])
def test_a_bad_attention_dtype_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="attention_dtype must be one of float16, bfloat16, float32"):
        explainer("gpt2").explain(TEXT, methods=["raw"], attention_dtype=bad)


def test_the_lean_capture_leaves_the_model_as_it_was():
    from conftest import assert_same_state, model_state

    ex = explainer("qwen3")
    before = model_state(ex.model)
    e = ex.explain(TEXT, methods=["rollout"], attention_dtype="float16")
    e.maps("gae")
    ex.explain(TEXT, methods=["attcat"]).maps("chefer")
    assert_same_state(before, model_state(ex.model))


def test_the_attnlrp_map_takes_no_attention_relevance_and_chefer_takes_it_later():
    """At long contexts the attention relevance (B x H x N x N, and the attention gradient it needs) is most of an
    AttnLRP pass's memory: the ``attnlrp`` map's pass skips it; chefer on the Llama family runs the pass again with
    it."""
    from attnviz.engine.methods.attnlrp import attnlrp_pass

    ex = explainer("llama")
    e = ex.explain(TEXT, methods=["attnlrp"])
    lean = e.maps("attnlrp")
    (only,) = e.diagnostics["lrp"].values()
    assert only.attention is None and "attention" not in only.totals
    full = attnlrp_pass(ex.model, ex.adapter, e.model_inputs, e.explained_target)
    np.testing.assert_allclose(lean[-1], full.input.numpy(), rtol=1e-12, atol=1e-14)
    e.maps("chefer", seed="logit")  # the same pass's key: now with the attention relevance
    (again,) = e.diagnostics["lrp"].values()
    torch.testing.assert_close(again.attention, full.attention, rtol=1e-12, atol=1e-14)
    assert again.totals == full.totals


def test_gae_reads_the_gradients_block_by_block_as_the_whole_product():
    ex = explainer("gpt2")
    e = ex.explain(TEXT)
    assert isinstance(e._gradients(e.target).A, list)  # one input: the backward's own tensors, no copy
    A, dA = e.capture.A, torch.stack(e._gradients(e.target).A)
    from attnviz.engine.methods.common import cls_rows_of_product, head_mean

    heads = torch.ones(A.shape[:2], dtype=torch.bool)
    M = head_mean((dA * A).clamp(min=0), heads) + torch.eye(A.shape[-1], dtype=A.dtype)
    np.testing.assert_array_equal(e.maps("gae"), cls_rows_of_product(M, 0, e.position).numpy())
