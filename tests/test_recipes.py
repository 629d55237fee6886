"""The recipes of docs/ARCHITECTURE.md, exercised from this file alone, touching no package file (issue 18, item 8):
add a method (a function over a Trace plus ``register``), add an architecture (an ``Adapter`` plus
``register_adapter``). Each is explained with and checked against its definition written out here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import attnviz
from attnviz.engine.adapters import _BY_MODEL_TYPE, register_adapter
from attnviz.engine.adapters.bert import BERT
from attnviz.engine.methods import _REGISTRY, MethodInfo, Trace, register
from attnviz.engine.methods.common import head_mean
from attnviz.testing import tiny_model


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
