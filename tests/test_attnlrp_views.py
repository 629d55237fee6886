"""AttnLRP in the views (issue 20, item 6): the method picker offers it on decoders, and CompareView of a decoder opens
with an AttnLRP panel whose values are the engine's."""

from __future__ import annotations

import numpy as np
import pytest

from attnviz import CompareView, Explainer, TextView
from attnviz.testing import tiny_model
from attnviz.widgets.serialize import decode


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_a_decoder_view_offers_attnlrp_and_compare_opens_with_it(arch):
    model, tok = tiny_model(arch, task="next_token")
    e = Explainer(model, tok).explain("the cat sat on the mat and the dog")
    view = TextView(e, method="attnlrp")
    assert "attnlrp" in view.available_methods and view.error == ""
    assert np.allclose(decode(view.maps), e.maps("attnlrp"), atol=2e-3 * np.abs(e.maps("attnlrp")).max())
    compare = CompareView(e)
    assert compare.methods == ["rollout", "gae", "attnlrp"]
    panel = decode(compare.maps[2])
    assert np.allclose(panel, e.maps("attnlrp"), atol=2e-3 * np.abs(e.maps("attnlrp")).max())


def test_an_encoder_view_does_not_offer_attnlrp():
    model, tok = tiny_model("bert")
    e = Explainer(model, tok).explain("the movie was good")
    assert "attnlrp" not in TextView(e).available_methods
    assert CompareView(e).methods == ["rollout", "gae", "chefer"]
