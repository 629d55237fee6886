"""Head ablation in the model (issue 13, item 5, for the encoders) and head-type scores (item 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnviz
from attnviz.engine.ablation import ablated_heads
from attnviz.engine.head_scores import head_scores
from attnviz.testing import tiny_model

TEXTS = ["the movie was unbelievably charming", "a boring mess"]


@pytest.fixture(scope="module")
def setup():
    model, tok = tiny_model("bert", layers=2, heads=2)
    return model, tok, attnviz.Explainer(model, tok)


def literal_ablated_logits(model, tok, text, block, head):
    """Zero the head's slice of the input of W_O (attention.output.dense) with a plain forward pre-hook."""
    dh = model.config.hidden_size // model.config.num_attention_heads

    def zero(module, args):
        x = args[0].clone()
        x[..., head * dh:(head + 1) * dh] = 0
        return (x,)

    dense = model.bert.encoder.layer[block].attention.output.dense
    handle = dense.register_forward_pre_hook(zero)
    try:
        with torch.no_grad():
            return model(**tok(text, return_tensors="pt")).logits.double()
    finally:
        handle.remove()


def test_ablation_zeroes_the_head_output_as_a_literal_hook_does(setup):
    model, tok, ex = setup
    state = {k: v.clone() for k, v in model.state_dict().items()}
    r = ex.ablation_effect(TEXTS, {1: [0]}, labels=[1, 0])
    for i, text in enumerate(TEXTS):
        expected = torch.softmax(literal_ablated_logits(model, tok, text, 1, 0), -1).numpy()[0]
        np.testing.assert_allclose(r.probs_after[i], expected, rtol=1e-5, atol=1e-7)
        with torch.no_grad():
            plain = torch.softmax(model(**tok(text, return_tensors="pt")).logits.double(), -1).numpy()[0]
        np.testing.assert_allclose(r.probs_before[i], plain, rtol=1e-5, atol=1e-7)
    assert not np.allclose(r.probs_before, r.probs_after)
    np.testing.assert_allclose(r.loss_before, -np.log(r.probs_before[[0, 1], [1, 0]]), rtol=1e-12)
    assert "AblationResult(heads 1.0; 2 inputs" in repr(r) and len(r.table()) == 2
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # the model is untouched
    with ex.ablate([(1, 0)]):
        with torch.no_grad():
            inside = model(**tok(TEXTS[0], return_tensors="pt")).logits.double()
    np.testing.assert_allclose(inside, literal_ablated_logits(model, tok, TEXTS[0], 1, 0), rtol=1e-5)
    with torch.no_grad():
        after = model(**tok(TEXTS[0], return_tensors="pt")).logits.double()
    np.testing.assert_allclose(torch.softmax(after, -1).numpy()[0], r.probs_before[0], rtol=1e-5)


def test_ablating_nothing_changes_nothing_and_bad_heads_are_clear(setup):
    _, _, ex = setup
    r = ex.ablation_effect(TEXTS[0], {})
    np.testing.assert_array_equal(r.probs_before, r.probs_after)
    assert ablated_heads(np.array([[True, False], [False, True]]), 2, 2) == {0: (0,), 1: (1,)}
    with pytest.raises(ValueError, match=r"head \(2, 0\) is out of range"):
        ex.ablation_effect(TEXTS[0], {2: [0]})
    with pytest.raises(ValueError, match="shape \\[2, 2\\]"):
        ex.ablation_effect(TEXTS[0], np.ones((3, 2), bool))
    with pytest.raises(TypeError, match="integers"):
        ex.ablation_effect(TEXTS[0], [(True, 0)])
    with pytest.raises(ValueError, match="2 labels for 1 inputs"):
        ex.ablation_effect(TEXTS[0], {0: [0]}, labels=[0, 1])


def test_head_scores_against_hand_built_patterns():
    tokens = ["a", "b", "c", "a", "b", "c"]
    N = len(tokens)
    prev = np.zeros((N, N))
    for i in range(N):
        prev[i, max(0, i - 1)] = 1.0
    induction = np.zeros((N, N))
    for i in range(N):
        induction[i, i - 2 if i >= 3 else i] = 1.0  # query 3 ("a") -> 1 ("b", after the first "a"), ...
    dup = np.zeros((N, N))
    for i in range(N):
        dup[i, i - 3 if i >= 3 else i] = 1.0
    A = np.stack([np.stack([prev, induction, dup])])  # [1, 3, N, N]
    s = head_scores(A, tokens)
    np.testing.assert_allclose(s["previous_token"][0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(s["induction"][0], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(s["duplicate_token"][0], [0.0, 0.0, 1.0])
    assert np.isnan(head_scores(A[..., :3, :3], tokens[:3])["induction"]).all()
    with pytest.raises(ValueError, match="tokens for attention"):
        head_scores(A, tokens[:-1])


def test_head_scores_match_their_definition_on_random_attention():
    rng = np.random.default_rng(0)
    tokens = [str(x) for x in rng.integers(0, 5, 14)]
    A = rng.random((2, 3, 14, 14))
    s = head_scores(A, tokens)
    for b in range(2):
        for h in range(3):
            prev = np.mean([A[b, h, i, i - 1] for i in range(1, 14)])
            dup, ind = [], []
            for i in range(14):
                earlier = [j for j in range(i) if tokens[j] == tokens[i]]
                if earlier:
                    dup.append(sum(A[b, h, i, j] for j in earlier))
                after = [j + 1 for j in earlier if j + 1 <= i - 1]
                if after:
                    ind.append(sum(A[b, h, i, j] for j in after))
            assert s["previous_token"][b, h] == pytest.approx(prev, rel=1e-12)
            assert s["duplicate_token"][b, h] == pytest.approx(np.mean(dup), rel=1e-12)
            assert s["induction"][b, h] == pytest.approx(np.mean(ind), rel=1e-12)


def test_text_view_ablates_the_switched_off_heads_in_the_model(setup):
    model, tok, ex = setup
    from attnviz.widgets import TextView, decode

    e = ex.explain(TEXTS[0])
    v = TextView(e)
    assert v.ablated_probs["shape"] == [0]
    v.heads = [[True, True], [False, True]]
    assert v.ablated_probs["shape"] == [0]  # not asked for: nothing run
    v.ablate = True
    expected = ex.ablation_effect(TEXTS[0], {1: [0]}).probs_after[0]
    np.testing.assert_allclose(decode(v.ablated_probs), expected, rtol=1e-6)
    v.heads = [[True, True], [True, True]]  # nothing off: the model's own probabilities
    np.testing.assert_allclose(decode(v.ablated_probs), e.probs, rtol=1e-5)
    v.ablate = False
    assert v.ablated_probs["shape"] == [0] and v.error == ""
