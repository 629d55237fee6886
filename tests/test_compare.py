"""Model comparison and the flow graph (issue 10): the numbers against literal float64 implementations, identical
models, the demo pair's unchanged blocks 0-2, clear errors, and FlowView's kernel answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import traitlets

import attnviz
from attnviz.engine.compare import ComparisonError, attention_to, compare, compare_models, flow_graph
from attnviz.testing import tiny_model
from attnviz.widgets import FlowView, decode

TEXT = "the movie was unbelievably charming"


def explainer(seed: int = 0, **kw):
    model, tok = tiny_model("bert", seed=seed, **kw)
    return attnviz.Explainer(model, tok)


@pytest.fixture(scope="module")
def two():
    return explainer(0).explain(TEXT), explainer(1).explain(TEXT)


def literal_jsd(P, Q):
    """Row by row, sum by sum, in Python floats (base 2, 0 log 0 = 0)."""
    B, H, N, _ = P.shape
    out = np.zeros((B, H))
    for b in range(B):
        for h in range(H):
            total = 0.0
            for i in range(N):
                js = 0.0
                for j in range(N):
                    p, q = float(P[b, h, i, j]), float(Q[b, h, i, j])
                    m = (p + q) / 2
                    if p > 0:
                        js += 0.5 * p * math.log2(p / m)
                    if q > 0:
                        js += 0.5 * q * math.log2(q / m)
                total += js
            out[b, h] = total / N
    return out


def literal_pearson(X, Y):
    x, y = [float(v) for v in X.ravel()], [float(v) for v in Y.ravel()]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def test_jsd_and_pearson_match_literal_float64(two):
    ea, eb = two
    c = compare(ea, eb)
    A, B = np.asarray(ea.attention(), np.float64), np.asarray(eb.attention(), np.float64)
    np.testing.assert_allclose(c.jsd, literal_jsd(A, B), rtol=1e-10, atol=1e-12)
    for b in range(A.shape[0]):
        for h in range(A.shape[1]):
            assert c.pearson[b, h] == pytest.approx(literal_pearson(A[b, h], B[b, h]), rel=1e-9)
    assert (c.jsd > 0).all() and (c.jsd <= 1).all()


def test_flow_graph_against_its_definition(two):
    e = two[0]
    A = torch.as_tensor(e.attention(), dtype=torch.float64)
    Bn, H, N, _ = A.shape
    heads = torch.ones(Bn, H, dtype=torch.bool)
    heads[0, 1] = False
    nodes, edges = flow_graph(A, heads)
    # literal: M_b = (mean over kept heads + I) / rowsum; R_B = e_0; W_b[i, j] = R_{b+1}[i] M_b[i, j]
    R = [None] * (Bn + 1)
    R[Bn] = np.eye(N)[0]
    for b in range(Bn - 1, -1, -1):
        kept = [h for h in range(H) if heads[b, h]]
        M = np.mean([A[b, h].numpy() for h in kept], axis=0) + np.eye(N)
        M = M / M.sum(1, keepdims=True)
        W = R[b + 1][:, None] * M
        np.testing.assert_allclose(edges[b], W, rtol=1e-12, atol=1e-15)
        R[b] = W.sum(0)
    np.testing.assert_allclose(nodes, np.stack(R), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nodes.sum(1), 1.0, rtol=1e-12)
    # R_0 is [CLS]'s rollout row through every block (all heads)
    nodes_all, _ = flow_graph(A)
    np.testing.assert_allclose(nodes_all[0], e.maps("rollout")[-1], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="source must be a token index"):
        flow_graph(A, source=N)


def test_flow_per_layer_when_asked(two):
    ea, eb = two
    c = compare(ea, eb, flow=True)
    np.testing.assert_allclose(c.flow_change, eb.maps("flow") - ea.maps("flow"), rtol=1e-6, atol=1e-9)
    assert compare(ea, eb).flow_change is None


def test_identical_models_show_no_change():
    e = explainer(0).explain(TEXT)
    again = explainer(0).explain(TEXT)
    c = compare(e, again)
    assert (c.jsd == 0).all()
    np.testing.assert_allclose(c.pearson, 1.0, rtol=1e-12)
    assert (c.rollout_change == 0).all() and (c.influence_change == 0).all()
    assert c.unchanged_blocks() == list(range(e.num_layers))


def test_comparison_errors_name_what_differs(two):
    ea, _ = two
    other_text = explainer(1).explain("a boring mess")
    with pytest.raises(ComparisonError, match="tokens"):
        compare(ea, other_text)
    same_len = explainer(1).explain("the film was unbelievably charming")
    with pytest.raises(ComparisonError, match=r"differ at 1 position\(s\), first at 2"):
        compare(ea, same_len)
    deeper = explainer(0, layers=3).explain(TEXT)
    with pytest.raises(ComparisonError, match="2 blocks x 2 heads and 3 blocks x 2 heads"):
        compare(ea, deeper)
    with pytest.raises(TypeError, match="two attnviz.Explanation"):
        compare(ea, "text")


def test_compare_models_over_a_data_set(two):
    texts = [TEXT, "a boring mess", "the film was charming"]
    r = compare_models(explainer(0), explainer(1), texts, names=("x", "y"), progress=False)
    singles = [compare(explainer(0).explain(t), explainer(1).explain(t)) for t in texts]
    np.testing.assert_allclose(r.jsd, np.stack([c.jsd for c in singles]), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(r.jsd_mean, np.mean([c.jsd for c in singles], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(r.jsd_std, np.std([c.jsd for c in singles], 0, ddof=1), rtol=1e-5, atol=1e-9)
    table = r.ranking()
    assert list(table["jsd_mean"]) == sorted(table["jsd_mean"], reverse=True) and set(table["n"]) == {3}
    assert "ModelsComparison('x' vs 'y', 3 inputs" in repr(r)
    with pytest.raises(ValueError, match="non-empty list"):
        compare_models(explainer(0), explainer(1), [])


def test_attention_to_a_word_is_the_attention_its_tokens_receive(two):
    e = two[0]
    A = np.asarray(e.attention(), np.float64)
    j = e.tokens.index("movie")
    np.testing.assert_allclose(attention_to(e, "Movie"), A[..., j].mean(-1), rtol=1e-12)
    with pytest.raises(ValueError, match="no input contains"):
        attention_to(e, "zebra")


def test_demo_fine_tuning_left_blocks_0_to_2_exactly_unchanged():
    """docs/DEMO_MODELS.md: only blocks 3-5 were fine-tuned; the comparison must say so from the numbers."""
    pre, tok = attnviz.demo.sentiment(pretrained=True)
    fine, _ = attnviz.demo.sentiment()
    texts = [s.text for s in attnviz.demo.sentiment_samples()[:8]]
    r = compare_models(attnviz.Explainer(pre, tok), attnviz.Explainer(fine, tok), texts, progress=False)
    assert r.unchanged_blocks() == [0, 1, 2]
    assert (r.jsd[:, :3] == 0).all()
    assert (r.jsd_mean[3:].max(axis=1) > 1e-3).all()  # every fine-tuned block changed somewhere
    top = r.ranking().head(5)
    assert set(top["block"]) <= {3, 4, 5}


def test_flow_view_kernel_answers(two):
    ea, eb = two
    v = FlowView(ea, eb, names=["seed 0", "seed 1"], threshold=0.02)
    assert v.error == "" and v.names == ["seed 0", "seed 1"]
    B, H, N = ea.num_layers, ea.num_heads, len(ea.tokens)
    assert decode(v.nodes).shape == (2, B + 1, N) and decode(v.edges).shape == (2, B, N, N)
    _, edges = flow_graph(torch.as_tensor(eb.attention()))
    np.testing.assert_allclose(decode(v.edges)[1], edges, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(decode(v.head_change), compare(ea, eb).jsd, rtol=1e-5, atol=1e-7)
    before = decode(v.edges)
    rev = v.revision
    v.heads = [[True, False], [True, True]]
    assert v.revision == rev + 1 and not np.allclose(decode(v.edges), before)
    v.selected_head = [1, 0]
    np.testing.assert_allclose(decode(v.head_maps), np.stack([ea.attention()[1, 0], eb.attention()[1, 0]]),
                               atol=1e-3)
    v.query = "movie"
    assert v.error == "" and v.query_tokens == [ea.tokens.index("movie")]
    assert decode(v.query_scores).shape == (2, B, H)
    v.query = "zebra"
    assert v.error == "" and v.query_tokens == []  # the view says "no token of this input is ..." itself
    assert decode(v.query_scores).size == 0
    with pytest.raises(traitlets.TraitError, match="one name per model"):
        v.names = ["only one"]
    with pytest.raises(traitlets.TraitError, match="layers must be"):
        v.layers = [2, 1]
    with pytest.raises(traitlets.TraitError, match="selected_head"):
        v.selected_head = [B, 0]
    with pytest.raises(ComparisonError):
        FlowView(ea, explainer(1).explain("a boring mess"))
    one = FlowView(ea)
    assert one.names == ["model"] and one.head_change["shape"] == [0]
    page = one.to_html()
    state = json.loads(page.split('id="attnviz-state">')[1].split("</script>")[0])
    assert state["edges"]["shape"] == [1, B, N, N] and state["_static"] is True
