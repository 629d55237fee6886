"""Warnings point at the user's line, however deep in attnviz they are raised (engine/warn.py): a too-long input
warns at the line that called ``explain``, and at the line that called an evaluation protocol."""

from __future__ import annotations

import warnings

import pytest

from attnviz import Explainer, evaluate
from attnviz.testing import tiny_model


@pytest.fixture(scope="module")
def bert():
    model, tok = tiny_model("bert")
    return Explainer(model, tok)


def long_text(bert) -> str:
    limit = bert.adapter.max_positions(bert.model)
    return " ".join(["good"] * (limit + 5))


def test_a_truncation_warning_names_the_line_that_called_explain(bert):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bert.explain(long_text(bert))
    said = [w for w in caught if "truncated" in str(w.message)]
    assert said and said[0].filename == __file__


def test_the_same_warning_from_an_evaluation_names_the_users_line(bert):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate.faithfulness(bert, [long_text(bert), "a fine film"], ["rollout"], progress=False)
    said = [w for w in caught if "truncated" in str(w.message)]
    assert said and all(w.filename == __file__ for w in said)
