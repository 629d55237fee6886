"""Block recomputation (``engine/recompute.py``): the "hidden" capture level (attcat, grad_input) keeps each block's
inputs, not its activations, and runs each block again in the backward. The gradients are the plain graph's, bit for
bit; a later backward on the kept graph replays the blocks in the forward's state (eval mode, eager attention), not
in the state the user's model is in by then; every block's ``forward`` is as it was afterwards, also after an error
and when another library (accelerate) put its own ``forward`` there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz import Explainer
from attnviz.engine import capture_plan
from attnviz.engine.capture import capture_forward, capture_gradients
from attnviz.engine.guard import ModelChangedError
from attnviz.engine.recompute import recomputed_blocks
from attnviz.testing import tiny_model

TEXT = "the cat sat on the mat and then the dog ran after it"


def block_calls(ex: Explainer) -> list[int]:
    """Per block, how many times its forward ran since the counters were installed (forward pre-hooks count module
    calls: a recompute calls the block's ``forward`` directly, so count inside it, on its first submodule)."""
    blocks = ex.adapter.get_blocks(ex.model)
    counts = [0] * len(blocks)
    for i, block in enumerate(blocks):
        first = next(block.children())

        def hook(_m, _a, i=i):
            counts[i] += 1

        first.register_forward_pre_hook(hook)
    return counts


@pytest.mark.parametrize("arch", ["gpt2", "llama", "bert"])
def test_recomputed_gradients_equal_the_plain_graphs_bit_for_bit(arch):
    model, tok = tiny_model(arch, heads=4)
    ex = Explainer(model.double(), tok)
    e = ex.explain(TEXT, methods=["raw"])
    target = ex.targets.make(e.predicted, e.position)
    rows = [e.position] if ex.targets.per_position else None
    grads = []
    for recompute in (False, True):
        with ex.prepared():
            forward = capture_forward(ex.model, ex.adapter, e.model_inputs, logit_rows=rows, recompute=recompute)
            grads.append(capture_gradients(forward, [target], False, attention=True))
    plain, recomputed = grads
    for a, b in zip(plain.hidden + plain.attentions + [plain.embeddings],
                    recomputed.hidden + recomputed.attentions + [recomputed.embeddings]):
        assert torch.equal(a, b)


def test_the_hidden_level_runs_each_block_again_from_the_length_on_and_the_full_level_does_not(monkeypatch):
    monkeypatch.setattr(capture_plan, "RECOMPUTE_FROM_TOKENS", 8)  # the tiny models take 64 positions, not 512
    model, tok = tiny_model("gpt2", heads=4)
    ex = Explainer(model, tok)
    counts = block_calls(ex)
    ex.explain(TEXT, methods=["attcat"])
    assert counts == [2, 2], "the hidden level recomputes every block once in its backward"
    counts[:] = [0, 0]
    short = "the cat sat"
    assert len(ex.explain(short, methods=["raw"]).sample.tokens) < 8
    counts[:] = [0, 0]
    ex.explain(short, methods=["attcat"])  # under the length: the activations kept
    assert counts == [1, 1]
    counts[:] = [0, 0]
    ex.explain([short, TEXT], methods=["grad_input"])  # a batch: its longest input decides
    assert counts == [2, 2]
    counts[:] = [0, 0]
    ex.explain(TEXT)  # the full level keeps its activations: each block runs once
    assert counts == [1, 1]
    counts[:] = [0, 0]
    ex.explain(TEXT, methods=["rollout"])  # no backward at all
    assert counts == [1, 1]


def test_a_later_backward_replays_the_blocks_as_the_forward_ran_them_not_as_the_model_is_now():
    """gpt2's tiny model has dropout 0.1: in training mode a replay would drop activations and give other numbers
    (and a non-eager attention would fail the checkpoint's check). The user's model is left in training mode."""
    model, tok = tiny_model("gpt2", heads=4)
    model = model.double()
    want = Explainer(model, tok).explain(TEXT)
    model.train()
    ex = Explainer(model, tok)
    counts = block_calls(ex)
    e = ex.explain(TEXT, methods=["attcat"], recompute=True)
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_allclose(e.maps("attcat"), want.maps("attcat"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(e.maps("gae"), want.maps("gae"), rtol=1e-10, atol=1e-12)
    other = int(np.argsort(-e.probs)[1])
    np.testing.assert_allclose(e.maps("attcat", target=other), want.maps("attcat", target=other), rtol=1e-10,
                               atol=1e-12)
    assert counts == [4, 4], "the forward, the capture's backward and two later backwards, each replaying once"
    assert model.training and all(m.training for m in model.modules())


def test_every_blocks_forward_is_as_before_also_after_an_error_and_another_librarys_forward_is_kept():
    model, tok = tiny_model("llama", heads=4)
    ex = Explainer(model, tok)
    blocks = ex.adapter.get_blocks(model)
    theirs = blocks[1].forward  # as accelerate does: an instance attribute wrapping the class's forward
    blocks[1].forward = lambda *args, **kwargs: theirs(*args, **kwargs)
    wrapper = blocks[1].forward
    with recomputed_blocks(blocks):
        assert all("forward" in b.__dict__ for b in blocks)
    assert "forward" not in blocks[0].__dict__ and blocks[1].__dict__["forward"] is wrapper

    def fail(_m, _a):
        raise RuntimeError("a hook fails mid-forward")

    handle = next(blocks[1].children()).register_forward_pre_hook(fail)
    with pytest.raises(RuntimeError, match="mid-forward"):
        ex.explain(TEXT, methods=["attcat"], recompute=True)
    handle.remove()
    assert "forward" not in blocks[0].__dict__ and blocks[1].__dict__["forward"] is wrapper
    want = Explainer(*tiny_model("llama", heads=4)).explain(TEXT)
    np.testing.assert_allclose(ex.explain(TEXT, methods=["attcat"]).maps("attcat"), want.maps("attcat"),
                               rtol=1e-5, atol=1e-7)


def test_a_batch_at_the_hidden_level_equals_each_input_alone():
    model, tok = tiny_model("gpt2", heads=4)
    ex = Explainer(model.double(), tok)
    texts = [TEXT, "a short one", "the dog barked at the mailman every single morning"]
    batch = ex.explain(texts, methods=["attcat", "grad_input"], keep_graph=True, recompute=True)
    for text, e in zip(texts, batch):
        alone = ex.explain(text)
        for method in ("attcat", "grad_input"):
            np.testing.assert_allclose(e.maps(method), alone.maps(method), rtol=1e-10, atol=1e-12)


def test_recompute_is_overridable_both_ways_with_the_same_maps():
    model, tok = tiny_model("gpt2", heads=4)
    ex = Explainer(model.double(), tok)
    want = ex.explain(TEXT)
    counts = block_calls(ex)
    kept = ex.explain(TEXT, methods=["attcat"], recompute=False)  # the activations kept: each block runs once
    assert counts == [1, 1]
    counts[:] = [0, 0]
    full = ex.explain(TEXT, recompute=True)  # the full level recomputed: attention gradients from the replay
    assert counts == [2, 2]
    for e in (kept, full):
        for method in ("attcat", "gae", "grad_input"):
            np.testing.assert_allclose(e.maps(method), want.maps(method), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", ["yes", 1, [True]])
def test_a_bad_recompute_is_a_clear_error(bad):
    model, tok = tiny_model("gpt2", heads=4)
    with pytest.raises(TypeError, match="recompute must be True or False"):
        Explainer(model, tok).explain(TEXT, methods=["attcat"], recompute=bad)


def test_a_replay_after_a_hook_changed_in_a_block_is_refused_and_a_reforward_follows_recompute(monkeypatch):
    model, tok = tiny_model("gpt2", heads=4)
    ex = Explainer(model.double(), tok)
    want = ex.explain(TEXT)
    e = ex.explain(TEXT, methods=["attcat"], recompute=True)
    handle = ex.adapter.get_blocks(model)[0].mlp.register_forward_hook(lambda _m, _i, out: out * 2)
    with pytest.raises(ModelChangedError, match="hook was added to or removed from the model's blocks"):
        e.maps("gae")
    handle.remove()
    np.testing.assert_allclose(e.maps("gae"), want.maps("gae"), rtol=1e-10, atol=1e-12)  # as captured again
    counts = block_calls(ex)
    lone = ex.explain([TEXT], methods=["attcat"], recompute=True)[0]  # a list: no graph kept
    assert lone._graph is None and counts == [2, 2]
    counts[:] = [0, 0]
    other = int(np.argsort(-lone.probs)[1])
    np.testing.assert_allclose(lone.maps("attcat", target=other), want.maps("attcat", target=other), rtol=1e-10,
                               atol=1e-12)
    assert counts == [2, 2], "the re-forward for another target recomputes as the capture did"
