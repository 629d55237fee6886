"""Attention flow (Abnar & Zuidema 2020): the fast exact solver against the authors' networkx formulation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from attnviz.engine.methods import flow
from attnviz.engine.methods.flow import flow_map, flow_maps
from attnviz.testing import flow_graph_networkx


def flow_values_networkx(aug, source=0, flow_func=nx.algorithms.flow.edmonds_karp, sinks=None):
    """Unnormalised max-flow values, built as in Abnar & Zuidema's ``attention_graph_util.py``: an nx.DiGraph on the
    (B+1)·N nodes b·N + i, an edge (b, i) -> (b-1, j) with capacity aug[b-1][i, j] for every non-zero entry
    (``from_numpy_matrix`` drops zeros), and ``nx.maximum_flow_value`` from (B, source) to each input node."""
    aug = np.asarray(aug, dtype=np.float64)
    B, N, _ = aug.shape
    G = flow_graph_networkx(aug)
    u = B * N + source
    sinks = range(N) if sinks is None else sinks
    return np.array([nx.maximum_flow_value(G, u, j, flow_func=flow_func) for j in sinks])


def flow_map_networkx(aug, source=0):
    """The slow literal reference: the authors' graph, networkx Edmonds-Karp once per input token, normalised."""
    v = flow_values_networkx(aug, source)
    return v / v.sum()


def random_aug(rng, B, N, zeros=0.0, power=1.0):
    """Row-stochastic [B, N, N]; ``zeros`` of the entries set to exactly 0 (every row keeps one non-zero)."""
    A = rng.random((B, N, N)) ** power
    if zeros:
        A[rng.random((B, N, N)) < zeros] = 0.0
        empty = A.sum(-1) == 0
        A[empty, rng.integers(0, N, empty.sum())] = 1.0
    return A / A.sum(-1, keepdims=True)


def bert_like_aug(rng, B, N, H=4, cls_bias=4.0):
    """(mean_h softmax + I)/rowsum with peaked heads that mostly attend to [CLS] (token 0), as in trained BERTs: the
    flow is limited by what leaks out of the [CLS] column, so the solver needs its minimum-cut and exact paths."""
    logits = rng.normal(size=(B, H, N, N)) * 3.0
    logits[..., 0] += cls_bias
    A = np.exp(logits - logits.max(-1, keepdims=True))
    A /= A.sum(-1, keepdims=True)
    M = A.mean(1) + np.eye(N)
    return M / M.sum(-1, keepdims=True)


CASES = [  # (B, N, zeros, power, source, seed)
    (1, 1, 0.0, 1, 0, 0),
    (3, 1, 0.0, 1, 0, 0),
    (1, 6, 0.0, 1, 0, 1),
    (1, 6, 0.5, 1, 4, 2),
    (2, 5, 0.0, 1, 0, 3),
    (2, 8, 0.6, 3, 7, 4),
    (3, 7, 0.5, 1, 0, 5),
    (4, 8, 0.7, 3, 5, 6),
    (5, 10, 0.8, 3, 0, 7),
    (3, 12, 0.85, 1, 11, 8),
    (6, 9, 0.3, 6, 4, 9),
    (4, 12, 0.0, 8, 2, 10),
]


@pytest.mark.parametrize("B,N,zeros,power,source,seed", CASES)
def test_flow_map_matches_networkx(B, N, zeros, power, source, seed):
    aug = random_aug(np.random.default_rng(seed), B, N, zeros, power)
    np.testing.assert_allclose(flow_map(aug, source), flow_map_networkx(aug, source), rtol=0, atol=1e-6)


def test_bert_like_attention_matches_networkx():
    rng = np.random.default_rng(11)
    aug = bert_like_aug(rng, B=4, N=14)
    for source in (0, 5):
        np.testing.assert_allclose(flow_map(aug, source), flow_map_networkx(aug, source), rtol=0, atol=1e-6)


def test_unnormalised_flows_match_networkx_on_larger_graphs():
    """Raw max-flow values of a few sinks, on graphs big enough for the sub-graph, minimum-cut and exact stages
    (preflow-push: the same max-flow values as Edmonds-Karp, faster)."""
    rng = np.random.default_rng(12)
    sinks = [0, 1, 7, 20, 31]
    for aug in (bert_like_aug(rng, B=5, N=32), random_aug(rng, 5, 32, power=4)):
        for l in (2, 4):
            got = flow._row_flows(aug, l, 0)[sinks]
            ref = flow_values_networkx(aug[: l + 1], 0, nx.algorithms.flow.preflow_push, sinks)
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


def test_capacities_need_not_be_row_stochastic():
    rng = np.random.default_rng(13)
    aug = rng.random((3, 7, 7)) * rng.random((3, 7, 1)) * 5.0
    aug[rng.random(aug.shape) < 0.4] = 0.0
    for source in (0, 3):
        np.testing.assert_allclose(flow_map(aug, source), flow_map_networkx(aug, source), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", [lambda rng: random_aug(rng, 6, 40, power=3), lambda rng: bert_like_aug(rng, 6, 40)])
def test_rows_are_prefix_flows_and_sum_to_one(make):
    aug = make(np.random.default_rng(14))
    maps = flow_maps(aug, source=0)
    assert maps.shape == (6, 40) and maps.dtype == np.float64
    np.testing.assert_allclose(maps.sum(1), 1.0, rtol=0, atol=1e-12)
    assert (maps >= 0).all()
    for l in range(6):
        np.testing.assert_allclose(maps[l], flow_map(aug[: l + 1], source=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(maps[0], aug[0, 0] / aug[0, 0].sum(), rtol=0, atol=1e-12)  # one block: the row


def test_torch_input_float32_and_float64():
    rng = np.random.default_rng(15)
    aug = bert_like_aug(rng, B=4, N=24)
    ref = flow_maps(aug, source=2)
    t64 = torch.from_numpy(aug)
    np.testing.assert_allclose(flow_maps(t64, source=2), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(flow_map(t64, source=2), ref[-1], rtol=0, atol=1e-12)
    t32 = t64.float()
    got32 = flow_maps(t32, source=2)  # the float32 capacities, solved in float64
    np.testing.assert_allclose(got32, flow_maps(t32.double().numpy(), source=2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got32, ref, rtol=0, atol=1e-5)  # float32 rounding of the capacities only
    assert t32.dtype == torch.float32 and torch.equal(t64, torch.from_numpy(aug))  # inputs untouched


def test_degenerate_inputs():
    assert flow_map(np.ones((1, 1, 1))).tolist() == [1.0]
    aug = random_aug(np.random.default_rng(16), 3, 5)
    aug[2, 1] = 0.0  # the source's row is empty: no flow at all
    assert flow_map(aug, source=1).tolist() == [0.0] * 5
    with pytest.raises(ValueError, match="source"):
        flow_map(aug, source=5)
    with pytest.raises(ValueError, match="shape"):
        flow_map(aug[0])
    with pytest.raises(ValueError, match="non-negative"):
        flow_map(-aug)


def test_strict_brackets(monkeypatch):
    """With no error budget for the normalised map, every sink's bracket is closed to 1e-12 (the second pass)."""
    monkeypatch.setattr(flow, "_MAP_TOL", 0.0)
    rng = np.random.default_rng(17)
    for aug, source in ((random_aug(rng, 4, 9, 0.5, 3), 3), (bert_like_aug(rng, 4, 12), 0)):
        np.testing.assert_allclose(flow_map(aug, source), flow_map_networkx(aug, source), rtol=0, atol=1e-12)
