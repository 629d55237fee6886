"""Faithfulness of a language model's explanations (issue 20, item 2): the ``achtibat2024`` preset (AttnLRP's
next-token perturbation test) against the protocol written out by hand, and the clear errors for a preset of the
wrong kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz import Explainer, evaluate
from attnviz.testing import tiny_model

TEXTS = ["the cat sat on the mat and the dog", "a movie about a man who was very good"]


@pytest.fixture(scope="module")
def gpt2():
    model, tok = tiny_model("gpt2", task="next_token")
    return Explainer(model.double(), tok)


def by_hand(explainer, text, method, position=None, target=None):
    """MoRF and LeRF log p_t curves: the context before the explained position, ranked by the map, removed k at a
    time (k = round(g L), g = 0, 0.1, ..., 1), the model run on what is left, log p_t read at the last token."""
    e = explainer.explain(text, position=position, target=target)
    values = e.map(method)
    ids = e.model_inputs["input_ids"][0, :e.position + 1]
    context = [j for j in range(e.position) if not e.special[j]]
    order = sorted(context, key=lambda j: -values[j])  # stable: ties keep their order
    curves = []
    for ranking in (order, order[::-1]):
        ys = []
        for g in np.linspace(0, 1, 11):
            drop = set(ranking[:int(round(g * len(context)))])
            kept = torch.tensor([int(t) for j, t in enumerate(ids) if j not in drop])[None]
            with torch.no_grad():
                logits = explainer.model(input_ids=kept, use_cache=False).logits[0, -1].double()
            logp = torch.log_softmax(logits, -1)
            goal = e.explained_target
            ys.append(float(sum(sign * logp[k] for k, sign in goal.terms)))
        curves.append(np.array(ys))
    return curves


def trapezoid(y):
    x = np.linspace(0, 1, 11)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))


@pytest.mark.parametrize("method", ["rollout", "attnlrp"])
def test_the_preset_is_the_protocol_written_out(gpt2, method):
    result = evaluate.faithfulness(gpt2, TEXTS, [method], preset="achtibat2024", progress=False, bootstrap=0)
    for i, text in enumerate(TEXTS):
        morf, lerf = by_hand(gpt2, text, method)
        rows = result.curves[(result.curves.instance == i) & (result.curves.method == method)]
        assert np.allclose(rows[rows.curve == "morf"].value, morf, atol=1e-9)
        assert np.allclose(rows[rows.curve == "lerf"].value, lerf, atol=1e-9)
        metric = result.per_instance[(result.per_instance.instance == i) & (result.per_instance.method == method)]
        got = dict(zip(metric.metric, metric.value))
        assert got["auc_morf"] == pytest.approx(trapezoid(morf), abs=1e-9)
        assert got["faithfulness"] == pytest.approx(trapezoid(lerf) - trapezoid(morf), abs=1e-9)
    assert morf[0] == lerf[0]  # nothing removed: the same text
    assert result.params["preset"] == "achtibat2024" and result.params["steps"] == 11


def test_a_contrastive_target_scores_the_log_probability_difference(gpt2):
    e = gpt2.explain(TEXTS[0])
    top = [i for i, _, _ in e.top_tokens(2)]
    result = evaluate.faithfulness(gpt2, [TEXTS[0]], ["grad_input"], preset="achtibat2024",
                                   target=[tuple(top)], progress=False, bootstrap=0)
    morf, _ = by_hand(gpt2, TEXTS[0], "grad_input", target=tuple(top))
    rows = result.curves[result.curves.curve == "morf"]
    assert np.allclose(rows.value, morf, atol=1e-9) and morf[0] > 0  # the top token leads the second at first


def test_presets_refuse_the_wrong_kind_of_model(gpt2):
    with pytest.raises(ValueError, match="use preset='achtibat2024'"):
        evaluate.faithfulness(gpt2, TEXTS, ["rollout"], preset="eraser", progress=False)
    bert = Explainer(*tiny_model("bert"))
    with pytest.raises(ValueError, match="use preset='attcat2022'"):
        evaluate.faithfulness(bert, TEXTS, ["rollout"], preset="achtibat2024", progress=False)


def test_an_input_without_context_is_skipped_with_its_reason(gpt2):
    with pytest.warns(UserWarning, match="no context tokens"):
        result = evaluate.faithfulness(gpt2, ["a", TEXTS[0]], ["rollout"], preset="achtibat2024",
                                       progress=False, bootstrap=0)
    assert sorted(result.per_instance.instance.unique()) == [1]


def test_agreement_on_a_decoder_reads_the_explained_token(gpt2):
    """Jain & Wallace's agreement on a language model: the gradient importance of σ_t alone (attention detached)
    and leave-one-out over the context before the explained position, written out here."""
    from attnviz.engine.capture import embedding_leaf
    from attnviz.engine.intervention import Intervention
    from attnviz.evaluate.stats import kendall

    text = TEXTS[0]
    result = evaluate.agreement(gpt2, [text], ["rollout"], progress=False, bootstrap=0)
    e = gpt2.explain(text)
    p, goal = e.position, e.explained_target
    store: list = []
    with torch.enable_grad():
        logits = gpt2.forward(e.model_inputs, Intervention(detach=True, embeddings=embedding_leaf(store)), grad=True)
        prob = torch.softmax(logits[0, p].double(), -1)[goal.index]
        (grad,) = torch.autograd.grad(prob, store[-1])
    g = (grad[0] * store[-1][0]).sum(-1).abs().double().detach().numpy()
    g = g / g.sum()
    ids = e.model_inputs["input_ids"][0, :p + 1]

    def p_t(kept):
        with torch.no_grad():
            out = gpt2.model(input_ids=kept[None], use_cache=False).logits[0, -1].double()
        return float(torch.softmax(out, -1)[goal.index])

    base = p_t(ids)
    loo = np.array([abs(p_t(torch.cat([ids[:j], ids[j + 1:]])) - base) for j in range(p)])
    a = e.map("rollout")[:p]
    rows = result.per_instance.set_index("metric").value
    assert rows["tau_gradient"] == pytest.approx(kendall(a, g[:p]), abs=1e-9)
    assert rows["tau_loo"] == pytest.approx(kendall(a, loo), abs=1e-9)
