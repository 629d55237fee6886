"""How a Transformer computes (engine/internals): logit lens, direct logit attribution, one head's arithmetic and
activation patching, each checked on float64 tiny decoders against an oracle that does not use attnviz's hooks:
Hugging Face's own hidden states, logits and attention probabilities, and plain forward pre-hooks written here.

Tolerances: GPT-2 in float64 is exact to 1e-9. The Llama family's RMSNorm and attention softmax compute in float32
even in a float64 model (``hidden_states.to(torch.float32)``, ``softmax(..., dtype=torch.float32)`` in its forward),
so comparisons that pass through them hold to 1e-5 there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import assert_same_state, model_state

import attnviz
from attnviz.engine.internals import InternalsError
from attnviz.testing import tiny_model

TEXT = "the good film was warm and the music was lovely and"
CLEAN, CORRUPTED = "the good film was warm and", "the boring film was warm and"  # token 1 differs
ATOL = {"gpt2": 1e-9, "llama": 1e-5, "qwen3": 1e-5}


def decoder(arch: str, dtype=torch.float64):
    model, tokenizer = tiny_model(arch, layers=2, heads=4, hidden=32)  # Llama: 2 key/value heads (GQA)
    return model.to(dtype), tokenizer


@pytest.fixture(params=["gpt2", "llama", "qwen3"], scope="module")
def lm(request):
    model, tokenizer = decoder(request.param)
    explainer = attnviz.Explainer(model, tokenizer)
    return request.param, explainer, explainer.explain(TEXT, position=8)


def hf_forward(explainer, e):
    with torch.no_grad():
        return explainer.model(**e.model_inputs, output_hidden_states=True, output_attentions=True)


# ---------------------------------------------------------------- logit lens
def test_lens_last_block_is_the_models_log_softmax(lm):
    arch, explainer, e = lm
    lens = e.logit_lens()
    out = hf_forward(explainer, e)
    assert lens.shape == (e.num_layers, e.num_tokens, explainer.vocab_size)
    expected = torch.log_softmax(out.logits[0], -1).numpy()
    np.testing.assert_allclose(lens[-1], expected, atol=ATOL[arch], rtol=0)


def test_lens_earlier_rows_read_hugging_faces_hidden_states(lm):
    """Row l = the stream after block l (HF hidden_states[l + 1], before the final norm for l < B-1) through the
    model's own final norm module and lm_head."""
    arch, explainer, e = lm
    out = hf_forward(explainer, e)
    base = explainer.model.transformer if arch == "gpt2" else explainer.model.model
    norm = base.ln_f if arch == "gpt2" else base.norm
    with torch.no_grad():
        row0 = torch.log_softmax(explainer.model.lm_head(norm(out.hidden_states[1][0])), -1).numpy()
    np.testing.assert_allclose(e.logit_lens()[0], row0, atol=ATOL[arch], rtol=0)


def test_lens_token_pair_and_top_k(lm):
    _, explainer, e = lm
    full = e.logit_lens()
    a, b = e.top_tokens(2)[0][0], e.top_tokens(2)[1][0]
    np.testing.assert_allclose(e.logit_lens(token=a), full[..., a], atol=1e-12, rtol=0)
    np.testing.assert_allclose(e.logit_lens(token=(a, b)), full[..., a] - full[..., b], atol=1e-12)
    top = e.logit_lens(top_k=3)
    assert top.ids.shape == top.log_probs.shape == (e.num_layers, e.num_tokens, 3)
    np.testing.assert_array_equal(top.ids[..., 0], full.argmax(-1))
    np.testing.assert_allclose(top.log_probs[..., 0], full.max(-1), atol=1e-12)
    # the explained position's last-block top token is the model's prediction
    assert top.ids[-1, e.position, 0] == e.predicted


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_lens_bad_top_k(lm, bad):
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        lm[2].logit_lens(top_k=bad)


# ---------------------------------------------------------------- direct logit attribution
def test_direct_attribution_adds_up_to_the_logit(lm):
    arch, explainer, e = lm
    d = e.direct_attribution()
    out = hf_forward(explainer, e)
    logit = float(out.logits[0, e.position, e.target])
    assert d.heads.shape == (e.num_layers, e.num_heads) and d.mlps.shape == (e.num_layers,)
    total = d.heads.sum() + d.mlps.sum() + d.embeddings + d.biases
    assert total == pytest.approx(d.total, abs=1e-12)
    assert d.total == pytest.approx(logit, abs=ATOL[arch])
    assert d.logit == pytest.approx(logit, abs=1e-12)
    assert "frozen" in d.note and "add up" in d.note


def test_direct_attribution_per_block_against_hidden_states(lm):
    """Each block's heads + MLP (+ its output bias) write exactly h[l+1] − h[l] (HF hidden states), read through the
    final norm frozen at the last stream: the oracle does the frozen-norm readout by hand."""
    arch, explainer, e = lm
    d = e.direct_attribution()
    out = hf_forward(explainer, e)
    model, p, t = explainer.model, e.position, e.target
    base = model.transformer if arch == "gpt2" else model.model
    norm = base.ln_f if arch == "gpt2" else base.norm
    blocks = base.h if arch == "gpt2" else base.layers
    streams: list[torch.Tensor] = []
    handle = norm.register_forward_pre_hook(lambda _m, args: streams.append(args[0][0, p]))
    with torch.no_grad():
        model(**e.model_inputs)
    handle.remove()
    x = streams[0]
    w = (model.lm_head.weight[t] * norm.weight).detach()
    if arch == "gpt2":
        sigma = torch.sqrt(x.var(unbiased=False) + norm.eps)
        readout = lambda c: float(((c - c.mean()) / sigma) @ w)  # noqa: E731
    else:
        sigma = torch.sqrt(x.pow(2).mean() + norm.variance_epsilon)
        readout = lambda c: float((c / sigma) @ w)  # noqa: E731
    hidden = [h[0, p] for h in out.hidden_states[:-1]] + [x]
    assert d.embeddings == pytest.approx(readout(hidden[0]), abs=1e-9)
    for l in range(e.num_layers):
        bias = 0.0
        if arch == "gpt2":
            bias = readout(blocks[l].attn.c_proj.bias.detach())
        got = d.heads[l].sum() + d.mlps[l] + bias
        assert got == pytest.approx(readout(hidden[l + 1] - hidden[l]), abs=1e-9)


def test_direct_attribution_contrastive_is_the_difference(lm):
    _, _, e = lm
    a, b = e.top_tokens(2)[0][0], e.top_tokens(2)[1][0]
    pair, da, db = e.direct_attribution((a, b)), e.direct_attribution(a), e.direct_attribution(b)
    np.testing.assert_allclose(pair.heads, da.heads - db.heads, atol=1e-9)
    np.testing.assert_allclose(pair.mlps, da.mlps - db.mlps, atol=1e-9)
    assert pair.total == pytest.approx(da.total - db.total, abs=1e-9)
    assert "vs" in pair.description


# ---------------------------------------------------------------- inside one head
def test_head_math_weights_are_the_models_attention(lm):
    arch, explainer, e = lm
    out = hf_forward(explainer, e)
    for block in range(e.num_layers):
        for head in range(e.num_heads):
            for query in (0, 3, e.position, e.num_tokens - 1):
                hm = e.head_math(block, head, query)
                model_row = out.attentions[block][0, head, query].numpy()
                np.testing.assert_allclose(hm.weights, model_row, atol=ATOL[arch], rtol=0)  # Llama: float32 softmax
                np.testing.assert_allclose(hm.model_weights, model_row, atol=1e-12)
                assert np.all(np.isneginf(hm.masked[query + 1:])) and np.all(hm.weights[query + 1:] == 0)


def test_head_math_output_is_the_heads_slice_of_the_attention_output(lm):
    """z equals head h's slice of the output projection's input, captured here with a plain forward pre-hook."""
    arch, explainer, e = lm
    model = explainer.model
    block, head, query = 1, 3, 6
    base = model.transformer if arch == "gpt2" else model.model
    module = base.h[block].attn.c_proj if arch == "gpt2" else base.layers[block].self_attn.o_proj
    seen = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0][0].clone()))
    with torch.no_grad():
        model(**e.model_inputs)
    handle.remove()
    dh = seen[0].shape[-1] // e.num_heads
    hm = e.head_math(block, head, query)
    np.testing.assert_allclose(hm.z, seen[0][query, head * dh:(head + 1) * dh].numpy(), atol=1e-12)
    weight = module.weight.t() if arch == "gpt2" else module.weight  # [D, H·Dh]
    write = (weight[:, head * dh:(head + 1) * dh] @ seen[0][query, head * dh:(head + 1) * dh]).detach().numpy()
    np.testing.assert_allclose(hm.write, write, atol=1e-12)
    assert hm.write_norm == pytest.approx(float(np.linalg.norm(write)), abs=1e-12)
    if arch in ("llama", "qwen3"):  # grouped-query attention: 4 query heads share 2 key/value heads
        assert hm.kv_head == head // 2


def test_head_math_direct_equals_the_attribution_at_the_explained_position(lm):
    _, _, e = lm
    d = e.direct_attribution()
    for block, head in [(0, 1), (1, 2)]:
        assert e.head_math(block, head).direct == pytest.approx(float(d.heads[block, head]), abs=1e-9)


def test_head_math_temperature_is_a_what_if(lm):
    _, _, e = lm
    hm = e.head_math(1, 0)
    np.testing.assert_allclose(hm.what_if(1.0), hm.weights, atol=1e-6)
    assert hm.what_if(0.25).max() > hm.weights.max() > hm.what_if(4.0).max()
    assert np.all(hm.what_if(0.25)[e.position + 1:] == 0)
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            hm.what_if(bad)


@pytest.mark.parametrize("args, message", [((2, 0), "block 2 does not exist"), ((0, 4), "head 4 does not exist"),
                                           ((0, 0, 99), "query position 99 does not exist")])
def test_head_math_out_of_range(lm, args, message):
    with pytest.raises(InternalsError, match=message):
        lm[2].head_math(*args)


# ---------------------------------------------------------------- activation patching
@pytest.fixture(params=["gpt2", "llama", "qwen3"], scope="module")
def patched(request):
    model, tokenizer = decoder(request.param)
    explainer = attnviz.Explainer(model, tokenizer)
    return request.param, explainer, attnviz.patch(explainer, CLEAN, CORRUPTED)


def test_patching_identities(patched):
    """Where clean and corrupted tokens agree, the embeddings are equal: patching them restores nothing (0).
    Patching the token that differs at block 0, or the whole stream entering any block, restores everything (1)."""
    _, _, r = patched
    differ = [i for i, (a, b) in enumerate(zip(r.clean_tokens, r.corrupted_tokens)) if a != b]
    assert len(differ) == 1  # ' good' / ' boring' (after Llama's <s>)
    d = differ[0]
    agree = [i for i in range(len(r.clean_tokens)) if i != d]
    np.testing.assert_allclose(r.resid[0, agree], 0, atol=1e-9)
    assert r.resid[0, d] == pytest.approx(1, abs=1e-9)
    np.testing.assert_allclose(r.resid_all, 1, atol=1e-9)
    # causality: a position before the difference cannot carry it, in any block
    np.testing.assert_allclose(r.resid[:, :d], 0, atol=1e-9)
    assert r.complete and r.position == len(r.clean_tokens) - 1


def test_patching_heads_against_a_plain_hook(patched):
    """heads[l, h] = the normalised logit difference after copying head h's clean output into a corrupted run, done
    here with a plain forward pre-hook on the output projection, one run at a time."""
    arch, explainer, r = patched
    model, tok = explainer.model, explainer.processor
    base = model.transformer if arch == "gpt2" else model.model
    a, b = r.target

    def run(text, patch=None):
        ids = tok(text, return_tensors="pt")
        handle = patch() if patch else None
        try:
            with torch.no_grad():
                logits = model(**ids).logits[0, -1]
        finally:
            if handle:
                handle.remove()
        return float(logits[a] - logits[b])

    clean_z = {}
    for l in range(2):
        module = base.h[l].attn.c_proj if arch == "gpt2" else base.layers[l].self_attn.o_proj
        h = module.register_forward_pre_hook(lambda _m, args, l=l: clean_z.__setitem__(l, args[0].clone()))
        run(CLEAN)
        h.remove()
    m_clean, m_bad = run(CLEAN), run(CORRUPTED)
    assert r.clean_score == pytest.approx(m_clean, abs=1e-9) and r.corrupted_score == pytest.approx(m_bad, abs=1e-9)
    for l, head in [(0, 0), (0, 3), (1, 2)]:
        module = base.h[l].attn.c_proj if arch == "gpt2" else base.layers[l].self_attn.o_proj
        dh = clean_z[l].shape[-1] // 4

        def swap(args, l=l, head=head, dh=dh):
            z = args[0].clone()
            z[..., head * dh:(head + 1) * dh] = clean_z[l][..., head * dh:(head + 1) * dh]
            return (z,)

        got = run(CORRUPTED, lambda m=module, s=swap: m.register_forward_pre_hook(lambda _m, args: s(args)))
        assert r.heads[l, head] == pytest.approx((got - m_bad) / (m_clean - m_bad), abs=1e-9)


def test_patching_leaves_the_model_untouched_and_errors():
    model, tokenizer = decoder("gpt2")
    explainer = attnviz.Explainer(model, tokenizer)
    before = model_state(model)
    attnviz.patch(explainer, CLEAN, CORRUPTED, target=(" !", "&"))
    assert_same_state(before, model_state(model))
    with pytest.raises(InternalsError, match=r"same number of tokens.*clean has 6 .*corrupted has 8"):
        attnviz.patch(explainer, CLEAN, "the good film was warm and the music")
    with pytest.raises(InternalsError, match="scores the same on both prompts"):
        attnviz.patch(explainer, CLEAN, CLEAN, target=" !")
    with pytest.raises(InternalsError, match="both predict"):
        attnviz.patch(explainer, CLEAN, CLEAN)
    with pytest.raises(TypeError, match="corrupted must be a string"):
        attnviz.patch(explainer, CLEAN, 3)
    assert_same_state(before, model_state(model))


def test_patching_interrupt_keeps_finished_blocks(monkeypatch):
    from attnviz.engine.internals import patching

    model, tokenizer = decoder("gpt2")
    explainer = attnviz.Explainer(model, tokenizer)
    before = model_state(model)
    real = patching._suffix_runs
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # block 0 done (positions, heads), then Ctrl-C
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(patching, "_suffix_runs", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        r = attnviz.patch(explainer, CLEAN, CORRUPTED)
    assert not r.complete and "PARTIAL" in repr(r)
    assert np.isfinite(r.resid[0]).all() and np.isfinite(r.heads[0]).all()
    assert np.isnan(r.resid[1]).all() and np.isnan(r.heads[1]).all()
    assert_same_state(before, model_state(model))


# ---------------------------------------------------------------- models the internals do not read
def test_an_encoder_classifier_gets_a_clear_error():
    model, tokenizer = tiny_model("bert")
    e = attnviz.Explainer(model, tokenizer).explain("a fine film")
    for call in (e.logit_lens, e.direct_attribution, lambda: e.head_math(0, 0)):
        with pytest.raises(InternalsError, match="classifier.*GPT2LMHeadModel"):
            call()


def test_half_precision_decoder():
    """A float16 model: the internals compute in float32 from its half-precision stream; the lens's last row keeps
    float16's ~3 digits against the model's own log-softmax, and the parts still add up to the model's logit."""
    model, tokenizer = decoder("gpt2", torch.float32)
    model16 = model.half()
    with pytest.warns(UserWarning, match="float16"):
        explainer = attnviz.Explainer(model16, tokenizer)
    e = explainer.explain(TEXT)
    with torch.no_grad():
        expected = torch.log_softmax(model16(**e.model_inputs).logits[0].float(), -1).numpy()
    np.testing.assert_allclose(e.logit_lens()[-1], expected, atol=0.05)
    d = e.direct_attribution()
    assert d.total == pytest.approx(d.logit, rel=0.02, abs=0.02)
    r = attnviz.patch(explainer, CLEAN, CORRUPTED, target=(" !", "&"))
    np.testing.assert_allclose(r.resid_all, 1, atol=0.05)  # the whole stream restores the clean answer
    assert np.isfinite(r.heads).all()


def test_patching_in_small_batches_equals_one_batch():
    model, tokenizer = decoder("llama")
    explainer = attnviz.Explainer(model, tokenizer)
    whole = attnviz.patch(explainer, CLEAN, CORRUPTED)
    small = attnviz.patch(explainer, CLEAN, CORRUPTED, batch_size=3)
    np.testing.assert_allclose(small.resid, whole.resid, atol=1e-9)
    np.testing.assert_allclose(small.resid_all, whole.resid_all, atol=1e-9)
    np.testing.assert_allclose(small.heads, whole.heads, atol=1e-9)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            attnviz.patch(explainer, CLEAN, CORRUPTED, batch_size=bad)


def test_lens_top_k_beyond_the_cached_tokens(lm):
    """top_k up to 8 comes from the one cached pass; a larger k makes its own pass and agrees with it."""
    _, _, e = lm
    small, large = e.logit_lens(top_k=8), e.logit_lens(top_k=12)
    np.testing.assert_array_equal(large.ids[..., :8], small.ids)
    np.testing.assert_allclose(large.log_probs[..., :8], small.log_probs, atol=1e-12)
