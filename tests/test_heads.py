"""One head-mask parser (issue 18, item 2): ``engine.heads.HeadMask`` reads every form users give, and the methods,
the views, ablation, the flow graph and the bertviz-compatible calls all go through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz import Explainer
from attnviz.engine.ablation import ablated_heads
from attnviz.engine.compare import flow_graph
from attnviz.engine.heads import HeadMask, HeadMaskError
from attnviz.testing import tiny_model
from attnviz.widgets.serialize import head_mask

B, H = 3, 4
GRID = np.array([[True, False, True, True], [True, True, True, True], [False, True, True, True]])  # kept


@pytest.mark.parametrize("form", [
    GRID, GRID.tolist(), torch.as_tensor(GRID),
    {0: [1], 2: 0},  # the switched-off heads, read with meaning="switched_off" below
])
def test_every_form_gives_the_same_grid(form):
    meaning = "switched_off" if isinstance(form, dict) else "kept"
    mask = HeadMask.parse(form, B, H, meaning=meaning)
    np.testing.assert_array_equal(mask.kept(), GRID)
    assert mask.switched_off() == {0: (1,), 2: (0,)}


def test_pairs_indices_rows_all_and_none():
    np.testing.assert_array_equal(HeadMask.parse([(0, 1), (2, 0)], B, H, meaning="switched_off").kept(), GRID)
    only = HeadMask.parse([0, 2], B, H)  # head indices: those heads in every block
    assert only.kept().tolist() == [[True, False, True, False]] * B
    row = HeadMask.parse([True, False, True, False], B, H)
    np.testing.assert_array_equal(row.kept(), only.kept())
    for every in (None, "all"):
        assert HeadMask.parse(every, B, H).kept().all()
        assert HeadMask.parse(every, B, H, meaning="switched_off").kept().all()  # nothing listed: all kept
    assert "switched off: 0.1, 2.0" in repr(HeadMask.parse({0: [1], 2: [0]}, B, H, meaning="switched_off"))


@pytest.mark.parametrize("bad, message", [
    (np.ones((2, 4), bool), r"boolean mask of shape \[3, 4\]"),
    ([[True, False], [True]], "ragged"),
    ([5], r"head indices must be in \[0, 3\]"),
    ({3: [0]}, r"head \(3, 0\) is out of range"),
    ([(True, 0)], "block and head must be integers"),
    ([(0, 1, 2)], r"pairs are \(block, head\)"),
    ("some", "got the string 'some'"),
    (np.ones((3, 4), np.int64), "heads must be"),  # an integer grid is not read as pairs
])
def test_one_error_for_every_wrong_form(bad, message):
    with pytest.raises(HeadMaskError, match=message):
        HeadMask.parse(bad, B, H, meaning="switched_off" if isinstance(bad, dict) else "kept")
    assert issubclass(HeadMaskError, ValueError) and issubclass(HeadMaskError, TypeError)


def test_every_caller_reads_a_mask_the_same_way():
    e = Explainer(*tiny_model("bert", layers=B, heads=H)).explain("the movie was wonderful")
    assert e.resolve_heads(GRID).tolist() == GRID.tolist()
    assert e.resolve_heads({0: [0, 2, 3], 1: [0, 1, 2, 3], 2: [1, 2, 3]}).tolist() == GRID.tolist()
    assert head_mask(GRID, B, H) == GRID.tolist()
    assert ablated_heads(~GRID, B, H) == {0: (1,), 2: (0,)}  # True = ablated
    A = torch.as_tensor(e.attention())
    nodes, _ = flow_graph(A, GRID)
    nodes_t, _ = flow_graph(A, torch.as_tensor(GRID))
    np.testing.assert_allclose(nodes, nodes_t)
    np.testing.assert_allclose(e.maps("rollout", heads=GRID)[-1], e.maps("rollout", heads=GRID.tolist())[-1])


def test_a_0_1_integer_grid_is_refused_but_pairs_as_tuples_are_read():
    with pytest.raises(HeadMaskError, match="not 0/1 integers"):
        HeadMask.parse([[1, 0], [1, 1]], 2, 2)  # a mask in integers, or the pairs (1, 0), (1, 1)? never guessed
    mask = HeadMask.parse([(1, 0), (1, 1)], 2, 2, meaning="switched_off")
    assert mask.switched_off() == {1: (0, 1)}
