"""One word grouping for every view (issue 18, item 6): ``engine.units.Units`` against a hand-written grouping."""

from __future__ import annotations

import numpy as np
import pytest

from attnviz import Explainer
from attnviz.testing import tiny_model


def hand_words(tokens, word_ids, values, reduce):
    """The grouping written out: consecutive tokens with the same non-None word id form one word."""
    out, last = [], object()
    for _tok, key, v in zip(tokens, word_ids, values):
        if key is not None and key == last:
            out[-1] = out[-1] + v if reduce == "sum" else max(out[-1], v)
        else:
            out.append(float(v))
        last = key
    return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def bert():
    model, tok = tiny_model("bert")
    return Explainer(model, tok)


def test_word_units_pool_the_pieces_of_each_word(bert):
    e = bert.explain("the unbelievably charming tokenization")
    words = e.units(word_level=True)
    assert len(words) < e.num_tokens  # the tiny tokenizer splits some words into pieces
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, e.num_tokens)).astype(np.float32)
    for reduce in ("sum", "max"):
        pooled = words.pool(values, reduce)
        want = np.stack([hand_words(e.tokens, e.sample.word_ids, row, reduce) for row in values])
        assert pooled.shape == (3, len(words)) and np.allclose(pooled, want, atol=1e-6)
    assert words.texts[0] == "[CLS]" and words.special[0] and words.special[-1] and not any(words.special[1:-1])
    assert words.texts[1:-1] == ["the", "unbelievably", "charming", "tokenization"]
    tokens = e.units()
    assert tokens.texts == e.tokens and np.array_equal(tokens.pool(values), values)  # token level: unchanged
    with pytest.raises(ValueError, match="reduce must be"):
        words.pool(values, "mean")
    with pytest.raises(ValueError, match=r"shape \[\.\.\., "):
        words.pool(values[:, :-1])


def test_pair_units_keep_their_segments(bert):
    e = bert.explain(("a good film", "it was bad"))
    words = e.units(word_level=True)
    assert words.segments == [0, 0, 0, 0, 0, 1, 1, 1, 1]  # [CLS] a good film [SEP] | it was bad [SEP]
    assert [t for t, s in zip(words.texts, words.special) if s] == ["[CLS]", "[SEP]", "[SEP]"]


def test_a_decoder_marks_its_explained_unit_and_the_unseen_ones():
    model, tok = tiny_model("gpt2", task="next_token")
    e = Explainer(model, tok).explain("the cat sat on the mat", position=2)
    units = e.units()
    at, unseen = units.explained(e)
    assert at == 2 and unseen.tolist() == [j > 2 for j in range(e.num_tokens)]
    assert units.unit_of(0) == 0 and units.unit_of(e.num_tokens - 1) == e.num_tokens - 1


def test_an_encoder_has_no_explained_unit(bert):
    e = bert.explain("the movie was good")
    at, unseen = e.units(word_level=True).explained(e)
    assert at == -1 and not unseen.any() and len(unseen) == len(e.units(word_level=True))
