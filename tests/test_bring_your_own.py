"""Bring your own attention (issue 13, item 7): AttentionView.from_attention for transformers' tuples, tensors,
arrays and TransformerLens-style caches, bertviz's head_view / model_view arguments, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnviz
from attnviz.testing import tiny_model
from attnviz.widgets import AttentionView, decode


@pytest.fixture(scope="module")
def outputs():
    model, tok = tiny_model("bert", layers=3, heads=2)
    enc = tok("the movie was unbelievably charming", return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return out.attentions, tok.convert_ids_to_tokens(enc["input_ids"][0])


class FakeCache:
    """What the adapter reads from a TransformerLens ActivationCache: keys() and [key] (plus other hooks)."""

    def __init__(self, patterns):
        self.cache_dict = {f"blocks.{l}.attn.hook_pattern": p for l, p in enumerate(patterns)}
        self.cache_dict["blocks.0.hook_resid_pre"] = torch.zeros(1, 3, 4)

    def keys(self):
        return list(self.cache_dict)[::-1]  # any order: blocks are sorted by index

    def __getitem__(self, key):
        return self.cache_dict[key]


def test_from_attention_takes_every_form_and_draws_the_same(outputs):
    attentions, tokens = outputs
    expected = torch.cat(attentions).numpy()  # [B, H, N, N]
    for form in (attentions, list(attentions), torch.cat(attentions), expected, FakeCache(attentions)):
        v = AttentionView.from_attention(form, tokens)
        assert v.attention_shape == list(expected.shape) and v.tokens == tokens
        np.testing.assert_allclose(decode(v.attention), expected[v.attention_blocks], atol=1e-3)
    v = AttentionView.from_attention(attentions, tokens, layer=1, threshold=0.1, scale=1.5)
    assert (v.layer, v.threshold, v.scale) == (1, 0.1, 1.5)
    assert "attention_blocks" in v.to_html()


def test_from_attention_errors_are_clear(outputs):
    attentions, tokens = outputs
    with pytest.raises(ValueError, match="8 tokens for attention over 11 positions"):
        AttentionView.from_attention(attentions, tokens[:-3])
    with pytest.raises(TypeError, match="list of strings"):
        AttentionView.from_attention(attentions, "the movie")
    with pytest.raises(ValueError, match="shapes differ"):
        AttentionView.from_attention((attentions[0], attentions[1][..., :-1, :-1]), tokens)
    with pytest.raises(ValueError, match="expected \\[B, H, N, N\\]"):
        AttentionView.from_attention(torch.zeros(5, 5), tokens)
    with pytest.raises(ValueError, match="square"):
        AttentionView.from_attention(torch.zeros(1, 2, 11, 10), tokens)
    with pytest.raises(ValueError, match="NaN or inf"):
        AttentionView.from_attention(torch.full((1, 2, 11, 11), float("nan")), tokens)
    with pytest.raises(ValueError, match="negative"):
        AttentionView.from_attention(-torch.cat(attentions), tokens)
    with pytest.raises(ValueError, match="batch_index"):
        AttentionView.from_attention(attentions, tokens, batch_index=3)
    with pytest.raises(ValueError, match="hook_pattern"):
        AttentionView.from_attention(FakeCache([]), tokens)
    with pytest.raises(TypeError, match="unexpected keyword"):
        AttentionView.from_attention(attentions, tokens, thresold=0.1)


def test_bertviz_arguments(outputs):
    attentions, tokens = outputs
    v = attnviz.head_view(attentions, tokens, sentence_b_start=4, layer=2, heads=[1])
    assert v.mode == "head" and v.layer == 2 and v.segments[3:5] == [0, 1]
    assert v.heads[2] == [False, True]
    m = attnviz.model_view(attentions, tokens, include_layers=[0, 2], include_heads=[0], display_mode="dark")
    assert m.mode == "model" and m.attention_shape[0] == 2 and m.heads[0] == [True, False]
    page = attnviz.head_view(attentions, tokens, html_action="return")
    assert page.startswith("<!DOCTYPE html>")
    pretty = attnviz.head_view(attentions, ["Ġthe"] + tokens[1:])
    assert pretty.tokens[0] == " the"
    with pytest.raises(NotImplementedError, match="encoder-decoder"):
        attnviz.model_view(attentions, tokens, encoder_attention=attentions)
    with pytest.raises(ValueError, match="include_layers"):
        attnviz.model_view(attentions, tokens, include_layers=[5])
    with pytest.raises(ValueError, match="heads must be head indices"):
        attnviz.head_view(attentions, tokens, heads=[7])
    with pytest.raises(ValueError, match="sentence_b_start"):
        attnviz.head_view(attentions, tokens, sentence_b_start=0)
