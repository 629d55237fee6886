"""Decoders (issue 13): GPT-2 and the Llama family, next-token and contrastive targets at a position, every method
on causal attention against literal formulas written from Hugging Face's own outputs, LRP on GPT-2 against a
hand-wired reference, and the bad inputs of the issue, each a clear error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import assert_same_state, model_state
from test_lrp import literal_linear

from attnviz import Explainer
from attnviz.engine.methods import lrp as lrp_methods
from attnviz.engine.methods import lrp_pass, lrp_rules
from attnviz.testing import tiny_model

TEXT = "the movie was wonderful and the actors were brilliant"
DECODERS = ("gpt2", "llama", "qwen3")
CLASS_AGNOSTIC = ("raw", "last_layer", "rollout", "flow", "redistribution")


def lm(arch: str, **kwargs):
    model, tok = tiny_model(arch, heads=4, **kwargs)
    return model.double(), tok


def hf_outputs(e, position: int, target):
    """Attention [B, H, N, N] and d s / d A straight from Hugging Face (not from attnviz's capture); s = y_t at the
    position, or y_a − y_b."""
    model = e.explainer.model
    with e.explainer.prepared():
        out = model(**e.model_inputs, output_attentions=True, use_cache=False)
        logits = out.logits[0, position]
        score = logits[target[0]] - logits[target[1]] if isinstance(target, tuple) else logits[target]
        grads = torch.autograd.grad(score, out.attentions)
    A = torch.stack([a[0] for a in out.attentions]).detach()
    return A, torch.stack([g[0] for g in grads]).detach()


@pytest.mark.parametrize("arch", DECODERS)
def test_every_method_gives_a_finite_layered_map_at_the_last_position(arch):
    e = Explainer(*lm(arch)).explain(TEXT)
    assert e.task == "next_token" and e.causal and e.position == e.num_tokens - 1
    assert e.probs.shape == (e.explainer.vocab_size,) and math.isclose(float(e.probs.sum()), 1.0, rel_tol=1e-5)
    assert e.predicted == int(np.argmax(e.probs)) and e.target == e.predicted
    names = e.method_names()
    assert {"chefer", "lrp_full", "lrp_partial", "attnlrp"} <= set(names)  # the Llama family's through AttnLRP
    for name in names:
        kwargs = {"n_steps": 8} if name == "integrated_gradients" else {}
        maps = e.maps(name, **kwargs)
        assert maps.shape == (e.num_layers, e.num_tokens) and np.isfinite(maps).all(), name


@pytest.mark.parametrize("arch", DECODERS)
def test_no_relevance_comes_from_the_future(arch):
    """Explained at position p < N − 1, no method gives any relevance to tokens after p: the prediction there
    cannot see them (causal attention), and rollout, flow, gradients and LRP all respect it exactly."""
    e = Explainer(*lm(arch)).explain(TEXT, position=4)
    assert e.position == 4 and "next token after position 4" in repr(e)
    for name in e.method_names():
        kwargs = {"n_steps": 8} if name == "integrated_gradients" else {}
        last = e.map(name, **kwargs)
        assert np.abs(last[5:]).max() == 0.0, (name, last)
        zero_said = name == "attn_gradcam" and e.num_layers - 1 in (e.diagnostic(name) or {}).get("zero_blocks", [])
        assert np.abs(last[:5]).max() > 0 or zero_said, name


@pytest.mark.parametrize("arch", DECODERS)
def test_rollout_raw_and_gae_read_the_explained_row(arch):
    """Literal formulas from Hugging Face's attention and gradients at position p: raw = mean_h A[h, p, :],
    rollout = row p of Â_{B-1} ⋯ Â_0 with Â = (mean_h A + I) / rowsum, GAE = row p of Π (I + mean_h (∇A ⊙ A)⁺)."""
    e = Explainer(*lm(arch)).explain(TEXT, position=6)
    A, dA = hf_outputs(e, 6, e.target)
    B, H, N, _ = A.shape
    eye = torch.eye(N, dtype=A.dtype)
    assert np.allclose(e.map("raw"), A[-1].mean(0)[6].numpy(), atol=1e-12)
    C, G = eye, eye
    for b in range(B):
        M = A[b].mean(0) + eye
        C = (M / M.sum(-1, keepdim=True)) @ C
        G = (eye + (dA[b] * A[b]).clamp(min=0).mean(0)) @ G
    assert np.allclose(e.map("rollout"), C[6].numpy(), atol=1e-12)
    assert np.allclose(e.map("gae"), G[6].numpy(), atol=1e-10)


def test_grouped_query_values_are_repeated_per_query_head():
    """Llama with 4 query heads and 2 key/value heads: captured V[b, h] is v_proj's head h // 2, as repeat_kv."""
    model, tok = lm("llama", kv_heads=2)
    e = Explainer(model, tok).explain(TEXT)
    with torch.no_grad():
        out = model(**e.model_inputs, output_hidden_states=True)
        layer = model.model.layers[1]
        v = layer.self_attn.v_proj(layer.input_layernorm(out.hidden_states[1]))[0]  # [N, 2·Dh]
    per_kv = v.view(v.shape[0], 2, -1).transpose(0, 1)
    V = e.capture.V[1]
    assert V.shape[0] == 4
    for h in range(4):
        assert torch.allclose(V[h], per_kv[h // 2], atol=1e-12)


@pytest.mark.parametrize("arch", DECODERS)
def test_targets_string_id_and_contrastive(arch):
    model, tok = lm(arch)
    explainer = Explainer(model, tok)
    e = explainer.explain(TEXT)
    film = tok(" film", add_special_tokens=False)["input_ids"]
    assert len(film) == 1
    by_text = e.map("grad_input", target=" film")
    assert np.array_equal(by_text, e.map("grad_input", target=film[0]))
    other = int(np.argsort(-e.probs)[1])
    pair = e.map("grad_input", target=(" film", other))
    # y_a − y_b is linear: its gradient × input is the difference of the two maps (Llama's rotary embedding runs
    # in float32 even in a float64 model: round-off 1e-7)
    assert np.allclose(pair, by_text - e.map("grad_input", target=other), atol=1e-10 if arch == "gpt2" else 1e-6)
    _, dA = hf_outputs(e, e.position, (film[0], other))
    Abar = (dA * e.capture.A).clamp(min=0).mean(1)
    assert e.describe_target((film[0], other)).startswith("' film' vs ")
    G = torch.eye(e.num_tokens, dtype=torch.float64)
    for b in range(e.num_layers):
        G = (torch.eye(e.num_tokens, dtype=torch.float64) + Abar[b]) @ G
    assert np.allclose(e.map("gae", target=(" film", other)), G[-1].numpy(), atol=1e-10 if arch == "gpt2" else 1e-6)
    # explaining the pair from the start gives the same maps as asking the explanation afterwards
    e2 = explainer.explain(TEXT, target=(" film", other))
    assert e2.target == (film[0], other) and np.allclose(e2.map("attcat"), e.map("attcat", target=e2.target))


def test_bad_targets_and_positions_are_clear_errors():
    model, tok = lm("gpt2")
    explainer = Explainer(model, tok)
    pieces = tok(" unbelievably", add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    with pytest.raises(ValueError, match=r"' unbelievably' is \d+ tokens.*first piece, target=\d+"):
        explainer.explain(TEXT, target=" unbelievably")
    with pytest.raises(ValueError, match="same token"):
        explainer.explain(TEXT, target=(" film", " film"))
    with pytest.raises(ValueError, match="pair"):
        explainer.explain(TEXT, target=(" film", " the", " a"))
    with pytest.raises(ValueError, match="out of range.*vocabulary"):
        explainer.explain(TEXT, target=10_000)
    with pytest.raises(ValueError, match=r"position 40 is beyond the input: it has \d+ tokens"):
        explainer.explain(TEXT, position=40)
    with pytest.raises(TypeError, match="position must be a token index"):
        explainer.explain(TEXT, position=1.5)
    with pytest.raises(ValueError, match="no token"):
        explainer.explain(TEXT, target="")
    classifier = Explainer(*tiny_model("gpt2", task="classification"))
    with pytest.raises(ValueError, match="position= applies to language models.*last token"):
        classifier.explain(TEXT, position=2)


def test_llama_lrp_reads_attnlrp_and_refuses_chefers_options():
    """The Llama family's LRP methods read AttnLRP's pass (issue 20); Chefer's pass options do not apply there."""
    e = Explainer(*lm("llama")).explain(TEXT)
    assert np.isfinite(e.map("chefer")).all()
    assert e.diagnostic("chefer")["rules"] == "attnlrp"
    with pytest.raises(ValueError, match="division.*Chefer's LRP pass.*AttnLRP"):
        e.map("lrp_full", division="clamp")


@pytest.mark.parametrize("arch", DECODERS)
def test_a_batch_equals_single_explanations(arch):
    """Right padding with a tokenizer that has no [PAD] (GPT-2): each input's maps and probabilities are its own."""
    explainer = Explainer(*lm(arch), batch_size=3)
    texts = [TEXT, "the cat sat", "a gripping story told with warmth"]
    batch = explainer.explain(texts, position=[None, 1, -2])
    for text, position, got in zip(texts, [None, 1, -2], batch):
        alone = explainer.explain(text, position=position)
        assert got.position == alone.position and got.tokens == alone.tokens
        assert np.allclose(got.probs, alone.probs, atol=1e-6)
        for name in ("rollout", "gae", "attcat"):
            assert np.allclose(got.map(name), alone.map(name), atol=1e-8), (name, text)


@pytest.mark.parametrize("arch", DECODERS)
def test_decoder_classifier_reads_the_last_token(arch):
    model, tok = tiny_model(arch, task="classification", heads=4)
    model = model.double()
    e = Explainer(model, tok).explain(TEXT)
    assert e.task == "classification" and e.position == e.num_tokens - 1
    A, _ = hf_outputs_classifier(e)
    assert np.allclose(e.map("raw"), A[-1].mean(0)[-1].numpy(), atol=1e-12)
    if arch == "gpt2":
        chefer = e.map("chefer")
        assert np.isfinite(chefer).all() and chefer.max() > 0


def hf_outputs_classifier(e):
    with e.explainer.prepared():
        out = e.explainer.model(**e.model_inputs, output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).detach(), out.logits


@pytest.mark.parametrize("arch", DECODERS)
def test_the_model_is_left_exactly_as_it_was(arch):
    model, tok = tiny_model(arch, heads=4)
    model.train()
    before = model_state(model)
    e = Explainer(model, tok).explain(TEXT, target=(" film", " the"))
    for name in e.method_names():
        e.map(name, **({"n_steps": 4} if name == "integrated_gradients" else {}))
    with Explainer(model, tok).ablate({1: [0, 3]}):
        model(**e.model_inputs)
    assert_same_state(before, model_state(model))


def test_integrated_gradients_completeness_for_the_next_token():
    """Σ_j IG_j ≈ s(x) − s(baseline) for the next-token score s at the explained position."""
    model, tok = lm("gpt2")
    e = Explainer(model, tok).explain(TEXT, position=5)
    ig = e.map("integrated_gradients", n_steps=64)
    ids = e.model_inputs["input_ids"]
    baseline = torch.full_like(ids, tok.eos_token_id)
    with torch.no_grad():
        s = model(input_ids=ids).logits[0, 5, e.target] - model(input_ids=baseline).logits[0, 5, e.target]
    assert abs(float(ig.sum()) - float(s)) < 1e-3 * max(1.0, abs(float(s)))


# ---------------------------------------------------------------------------------------------- LRP on GPT-2
def test_gpt2_pass_conserves_and_splits_the_fused_projection():
    """Through GPT-2 (Conv1D layers, fused q | k | v) the "chefer" rules conserve Σ R = 1 from the logit down to
    block 0's input; the recorded query/key/value are c_attn's three thirds with Conv1D's weight transposed; the
    last block's value relevance is the literal linear rule applied to those tensors."""
    model, tok = lm("gpt2")
    explainer = Explainer(model, tok)
    e = explainer.explain(TEXT, position=7)
    rec = lrp_pass.record(model, explainer.adapter, e.model_inputs, explainer.prepared, torch.float64, position=7)
    block = model.transformer.h[1]
    with torch.no_grad():
        h = model(**e.model_inputs, output_hidden_states=True).hidden_states[1][0]
        qkv = block.attn.c_attn(block.ln_1(h))
    D = h.shape[-1]
    for k, role in enumerate(("query", "key", "value")):
        part = rec.blocks[1][role]
        assert torch.allclose(part.y, qkv[:, k * D:(k + 1) * D], atol=1e-12)
        assert torch.equal(part.weight, block.attn.c_attn.weight[:, k * D:(k + 1) * D].t().double())
    assert rec.head_token == 7 and rec.logits.shape == (e.explainer.vocab_size,)
    res = lrp_pass.relevance_pass(rec, e.capture.A, e.target, "chefer", "onehot", to_input=True)
    t = res.totals
    for value in (t["head_input"], *t["block_output"], t["block0_input"]):
        assert math.isclose(value, 1.0, rel_tol=1e-6), t
    R_final = lrp_pass.head_relevance(rec, torch.eye(len(rec.logits), dtype=torch.float64)[e.target], "chefer")
    assert R_final[:7].abs().max() == 0 and R_final[8:].abs().max() == 0  # the head reads position 7 only
    part = rec.blocks[1]["value"]
    R = torch.randn(part.y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = lrp_rules.linear(part.x, part.weight, R, "chefer", part.wx)
    assert torch.allclose(got, literal_linear(part.x, part.weight, R), atol=1e-9)  # test_lrp's written-out rule


def test_gpt2_chefer_is_the_rolled_out_relevance_at_the_explained_row():
    model, tok = lm("gpt2")
    e = Explainer(model, tok).explain(TEXT, position=6)
    R_A = lrp_methods.relevance(e._trace(e.target), "chefer", "onehot").attention
    _, dA = hf_outputs(e, 6, e.target)
    Abar = (dA * R_A).clamp(min=0).mean(1)
    M = torch.eye(e.num_tokens, dtype=torch.float64) + Abar[-1]
    expected = (M / M.sum(-1, keepdim=True))[6]  # the released text default: the last block alone, rows normalised
    assert np.allclose(e.map("chefer"), expected.numpy(), atol=1e-10)
    R_lrp = lrp_methods.relevance(e._trace(e.target), "lrp", "onehot").attention  # lrp_partial's default rules
    partial = R_lrp.clamp(min=0)[-1, :, 6].mean(0)
    assert np.allclose(e.map("lrp_partial"), partial.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------------------- views
def decoded(tensor: dict) -> np.ndarray:
    """A float16 tensor trait back to float32 values (the buffer times its scale)."""
    values = np.frombuffer(tensor["buffer"], np.float16).astype(np.float32) * tensor["scale"]
    return values.reshape(tensor["shape"])


def test_text_view_of_a_language_model_picks_next_tokens_and_marks_the_position():
    import attnviz

    model, tok = tiny_model("gpt2", heads=4)
    e = Explainer(model, tok).explain(TEXT, position=4)
    view = attnviz.TextView(e, method="rollout")
    assert view.target_kind == "next token" and view.explained_position == 4 and view.explained_unit == 4
    following = int(e.model_inputs["input_ids"][0, 5])  # the text's own next token: a candidate, the loss's label
    assert view.next_in_text >= 0 and view.candidates[view.next_in_text] == following
    assert attnviz.TextView(Explainer(model, tok).explain(TEXT)).next_in_text == -1  # at the end: none
    top = e.top_tokens(10)
    assert view.candidates[:10] == [i for i, _, _ in top] and view.target == 0 and view.predicted == 0
    assert view.unit_unseen == [j > 4 for j in range(e.num_tokens)]
    probs = np.frombuffer(view.probs["buffer"], np.float32)
    assert np.allclose(probs[:10], [p for _, _, p in top], atol=1e-6)
    # a token from Python joins the picker; the maps are the engine's for that token
    view.target = " the"
    the = tok(" the", add_special_tokens=False)["input_ids"][0]
    assert view.candidates[view.target] == the and view.error == ""
    got = decoded(view.maps)
    assert np.allclose(got, e.maps("rollout", target=the), atol=2e-3)
    view.method = "grad_input"
    view.foil = 1
    got = decoded(view.maps)
    want = e.maps("grad_input", target=(the, view.candidates[1]))
    assert np.allclose(got, want, atol=2e-3 * max(1.0, np.abs(want).max()))
    with pytest.raises(Exception, match="differ from the target"):
        view.foil = view.target
    view.word_level = True
    assert view.units[view.explained_unit] == "wonderful" and view.unit_unseen[view.explained_unit + 1]
    view.heads = [[True, False, True, True], [True, True, True, True]]
    view.ablate = True
    ablated = np.frombuffer(view.ablated_probs["buffer"], np.float32)
    with Explainer(model, tok).ablate({0: [1]}):
        with torch.no_grad():
            p = torch.softmax(model(**e.model_inputs).logits[0, 4].double(), -1).numpy()
    assert np.allclose(ablated, p[view.candidates], atol=1e-6)


def test_compare_view_marks_the_position_too():
    import attnviz

    e = Explainer(*tiny_model("gpt2", heads=4)).explain(TEXT, position=3)
    view = attnviz.CompareView(e, methods=["rollout", "gae"])
    assert view.target_kind == "next token" and view.explained_unit == 3
    assert view.unit_unseen == [j > 3 for j in range(e.num_tokens)] and view.error == ""
    view.foil = 2  # "versus" the third candidate: every panel explains the logit difference
    pair = (view.candidates[view.target], view.candidates[2])
    for tensor, method in zip(view.maps, view.methods):
        want = e.maps(method, target=pair)
        assert np.allclose(decoded(tensor), want, atol=2e-3 * max(1.0, np.abs(want).max())), method
    encoder = attnviz.CompareView(Explainer(*tiny_model("bert")).explain(TEXT))
    assert encoder.explained_unit == -1 and not any(encoder.unit_unseen)


def test_attention_view_knows_causal_attention():
    import attnviz

    e = Explainer(*tiny_model("gpt2", heads=4)).explain(TEXT)
    assert attnviz.AttentionView(e).causal
    assert attnviz.AttentionView.from_attention(e.attention(), e.tokens).causal
    encoder = Explainer(*tiny_model("bert")).explain(TEXT)
    assert not attnviz.AttentionView(encoder).causal
    assert not attnviz.AttentionView.from_attention(encoder.attention(), encoder.tokens).causal


# ---------------------------------------------------------------------------------------------- ablation
def literal_head_hook(model, arch, block, head, vector=None):
    """A plain forward pre-hook on W_O of ``block`` setting the head's slice of its input to zero (or ``vector``)."""
    H = model.config.num_attention_heads
    dh = model.config.hidden_size // H
    o = model.transformer.h[block].attn.c_proj if arch == "gpt2" else model.model.layers[block].self_attn.o_proj

    def replace(module, args):
        x = args[0].clone()
        x[..., head * dh:(head + 1) * dh] = 0 if vector is None else vector.to(x)
        return (x,)

    return o.register_forward_pre_hook(replace)


@pytest.mark.parametrize("arch", DECODERS)
def test_zero_and_mean_ablation_match_a_literal_hook(arch):
    model, tok = lm(arch)
    explainer = Explainer(model, tok)
    texts = [TEXT, "the cat sat on the mat near the door"]
    means = explainer.head_means(texts) if hasattr(explainer, "head_means") else None
    from attnviz.engine.ablation import head_means

    means = head_means(explainer, texts)
    # the mean output of each head over every token of the texts, from the captured A and V
    outs = [torch.einsum("bhij,bhjd->bhid", e.capture.A, e.capture.V) for e in explainer.explain(texts)]
    expected = torch.cat(outs, dim=2).mean(dim=2)
    assert torch.allclose(means, expected, atol=1e-10)
    ids = tok(TEXT, return_tensors="pt")
    for mode, vector in (("zero", None), ("mean", means[1, 2])):
        with explainer.ablate({1: [2]}, mode=mode, reference=texts), torch.no_grad():
            inside = model(**ids).logits
        handle = literal_head_hook(model, arch, 1, 2, vector)
        try:
            with torch.no_grad():
                literal = model(**ids).logits
        finally:
            handle.remove()
        assert torch.allclose(inside, literal, atol=1e-10), mode
    with torch.no_grad():
        plain = model(**ids).logits
    assert not torch.allclose(plain, inside)
    with pytest.raises(ValueError, match="reference"):
        explainer.ablate({1: [2]}, mode="mean")
    with pytest.raises(ValueError, match="mode must be"):
        explainer.ablate({1: [2]}, mode="resample")


def test_next_token_ablation_reports_the_loss_at_every_position():
    model, tok = lm("gpt2")
    explainer = Explainer(model, tok)
    r = explainer.ablation_effect([TEXT], {0: [0, 1, 2, 3]})
    ids = tok(TEXT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
    expected = -logp.gather(1, ids[0, 1:, None])[:, 0]
    assert np.allclose(r.loss_before[0], expected.numpy(), atol=1e-10)
    with explainer.ablate({0: [0, 1, 2, 3]}), torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
    assert np.allclose(r.loss_after[0], -logp.gather(1, ids[0, 1:, None])[:, 0].numpy(), atol=1e-10)
    before, after = r.mean_loss(start=3)
    assert math.isclose(before, float(expected[2:].mean()), rel_tol=1e-12) and before != after
    assert "NextTokenAblation(heads 0.0, 0.1, 0.2, 0.3 zero-ablated; 1 inputs" in repr(r)
    with pytest.raises(ValueError, match="labels are the next tokens"):
        explainer.ablation_effect([TEXT], {0: [0]}, labels=[1])


@pytest.mark.parametrize("family", ["mistral", "qwen2"])
def test_mistral_and_qwen2_share_the_llama_adapter(family):
    """Same layout as Llama (Qwen2 adds q/k/v biases): the adapter table finds them, every method runs causally."""
    import transformers as tf

    _, tok = tiny_model("llama")
    config_class, model_class = {"mistral": (tf.MistralConfig, tf.MistralForCausalLM),
                                 "qwen2": (tf.Qwen2Config, tf.Qwen2ForCausalLM)}[family]
    torch.manual_seed(0)
    config = config_class(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                          initializer_range=0.2)
    model = model_class(config).eval()
    e = Explainer(model, tok).explain(TEXT, position=5)
    assert e.explainer.adapter.family == "llama" and e.num_heads == 4
    for name in e.method_names():
        m = e.map(name, **({"n_steps": 4} if name == "integrated_gradients" else {}))
        assert np.isfinite(m).all() and np.abs(m[6:]).max() == 0, name


def test_attcat_and_flow_follow_their_definitions_at_the_explained_position():
    """AttCAT: Σ_l (h^(l) · ∇h^(l)) × mean over heads and the rows i <= p of A^(l)[:, i, :]; flow: max-flow from
    node p of the last layer (networkx on Abnar & Zuidema's graph)."""
    import networkx as nx

    from attnviz.testing import flow_graph_networkx

    model, tok = lm("gpt2")
    e = Explainer(model, tok).explain(TEXT, position=6)
    with e.explainer.prepared():
        out = model(**e.model_inputs, output_attentions=True, output_hidden_states=True, use_cache=False)
        hidden = out.hidden_states[:-1]
        grads = torch.autograd.grad(out.logits[0, 6, e.target], hidden)
    A = torch.stack([a[0] for a in out.attentions]).detach()
    expected = sum((h[0] * g[0]).sum(-1) * A[b, :, :7].mean(dim=(0, 1))
                   for b, (h, g) in enumerate(zip(hidden, grads)))
    assert np.allclose(e.map("attcat"), expected.detach().numpy(), atol=1e-10)
    N = e.num_tokens
    aug = A.mean(1) + torch.eye(N, dtype=A.dtype)
    aug = (aug / aug.sum(-1, keepdim=True)).numpy()
    G = flow_graph_networkx(aug)
    B = aug.shape[0]
    flows = np.array([nx.maximum_flow_value(G, B * N + 6, j) if j <= 6 else 0.0 for j in range(N)])
    assert np.allclose(e.map("flow"), flows / flows.sum(), atol=1e-9)


def test_the_figure_marks_the_position_and_leaves_the_future_uncoloured():
    import matplotlib

    matplotlib.use("Agg")
    e = Explainer(*tiny_model("gpt2", heads=4)).explain(TEXT, position=4)
    fig = e.plot("gae", target=(" the", " was"))
    ax = fig.axes[0]
    assert "next token ' the' vs ' was'" in ax.get_title(loc="left") and "hatched" in ax.get_title(loc="left")
    boxes = [p for p in ax.patches if p.get_hatch() is not None or p.get_linewidth() > 0]
    hatched = [p.get_hatch() == "////" for p in ax.patches]
    assert hatched == [j > 4 for j in range(e.num_tokens)]
    assert all(tuple(p.get_facecolor()) == (1.0, 1.0, 1.0, 1.0) for p, h in zip(ax.patches, hatched) if h)
    assert ax.patches[4].get_linewidth() == 2.0 and len(boxes) == e.num_tokens
