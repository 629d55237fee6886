"""Models bigger than one device (issue 20, item 5, CPU part): a decoder whose weights accelerate offloads
(``device_map`` with CPU or disk offload: the weights on "meta" between calls, loaded by accelerate's hooks for each
forward) is explained without being moved, gives the same maps as the same weights loaded whole, and is left exactly
as it was, accelerate's hooks included."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("accelerate")

from accelerate import cpu_offload, disk_offload  # noqa: E402

from attnviz import Explainer  # noqa: E402
from attnviz.testing import tiny_model  # noqa: E402

TEXT = "the cat sat on the mat and the dog"
METHODS = ("rollout", "gae", "attcat", "grad_input", "attnlrp")


def offloaded(arch: str, how: str, tmp_path):
    model, tok = tiny_model(arch, task="next_token")
    if how == "cpu":
        cpu_offload(model, execution_device="cpu")
    else:
        disk_offload(model, str(tmp_path / "offload"), execution_device="cpu")
    return model, tok


def snapshot(model):
    return [(name, type(getattr(m, "_hf_hook", None)).__name__, m.forward.__qualname__ if hasattr(m, "forward") else "",
             sorted(m._forward_hooks), sorted(m._forward_pre_hooks), m.training)
            for name, m in model.named_modules()], [(n, p.device.type) for n, p in model.named_parameters()]


@pytest.mark.parametrize("how", ["cpu", "disk"])
@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_an_offloaded_decoder_is_explained_as_if_it_were_whole(arch, how, tmp_path):
    whole, tok = tiny_model(arch, task="next_token")
    want = Explainer(whole, tok).explain(TEXT, position=5)
    model, tok = offloaded(arch, how, tmp_path)
    assert {p.device.type for p in model.parameters()} == {"meta"}
    before = snapshot(model)
    explainer = Explainer(model, tok)
    assert explainer.device.type == "cpu"  # accelerate's execution device
    e = explainer.explain(TEXT, position=5)
    assert e.predicted == want.predicted and np.allclose(e.probs, want.probs, atol=1e-6)
    for method in METHODS:
        assert np.allclose(e.maps(method), want.maps(method), atol=1e-6), method
    if arch == "llama":  # the Llama family's LRP methods read AttnLRP's pass, which works under offload
        assert np.allclose(e.map("chefer"), want.map("chefer"), atol=1e-6)
    else:  # Chefer's pass reads weights after the forward, when accelerate has put them back on "meta"
        with pytest.raises(NotImplementedError, match="offload.*attnlrp"):
            e.map("chefer")
    lean = explainer.explain(TEXT, position=5, methods=["attcat"], recompute=True)  # under accelerate's hooks
    for method in ("attcat", "grad_input", "gae"):  # gae: one more backward, replaying the blocks again
        assert np.allclose(lean.maps(method), want.maps(method), atol=1e-6), method
    assert snapshot(model) == before  # accelerate's hooks, our hooks (none), training flags, meta weights
