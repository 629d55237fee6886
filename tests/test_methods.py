"""Each method against a slow literal implementation of its METHODS.md formula, plus its defining properties.

References run on a float64 copy of a tiny model, reading attention and gradients straight from Hugging Face's
outputs (``retain_grad``), not from attnviz's capture, and loop over heads and tokens as the formulas are written.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SENTENCE, sample_image, sample_input

from attnviz import Explainer
from attnviz.testing import tiny_model

ATOL = 1e-5  # maps come back as float32


def reference_pass(arch: str, target: int | None = None):
    """float64 model, HF outputs with retained gradients: (explanation, A [B,H,N,N], dA, hidden [B+1,N,D], dhidden,
    logits)."""
    model, proc = tiny_model(arch)
    model = model.double()
    explainer = Explainer(model, proc)
    e = explainer.explain(sample_input(arch), target=target)
    inputs = {k: v.clone() for k, v in e.model_inputs.items()}
    model.config._attn_implementation = "eager"
    out = model(**inputs, output_attentions=True, output_hidden_states=True)
    for t in (*out.attentions, *out.hidden_states):
        t.retain_grad()
    out.logits[0, e.target].backward()
    A = torch.stack([a[0] for a in out.attentions]).detach()
    dA = torch.stack([a.grad[0] for a in out.attentions])
    hidden = torch.stack([h[0] for h in out.hidden_states]).detach()
    dhidden = torch.stack([h.grad[0] for h in out.hidden_states])
    return e, A, dA, hidden, dhidden, out.logits[0].detach()


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert", "electra", "vit", "deit"])
def test_gae_matches_the_literal_formula(arch):
    e, A, dA, *_ = reference_pass(arch)
    B, H, N, _ = A.shape
    R = torch.eye(N, dtype=torch.float64)
    for b in range(B):
        Abar = sum(torch.clamp(dA[b, h] * A[b, h], min=0) for h in range(H)) / H
        R = R + Abar @ R
    assert np.allclose(e.map("gae"), R[0].numpy(), atol=ATOL)


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert", "electra", "vit", "deit"])
def test_attcat_matches_the_literal_formula(arch):
    e, A, _, hidden, dhidden, _ = reference_pass(arch)
    B, H, N, _ = A.shape
    expected = np.zeros(N)
    per_layer = []
    for l in range(B):
        term = np.zeros(N)
        for j in range(N):
            impact = float((hidden[l, j] * dhidden[l, j]).sum())
            column_mean = float(sum(A[l, h, i, j] for h in range(H) for i in range(N)) / (H * N))
            term[j] = impact * column_mean
        per_layer.append(term)
        expected += term
    assert np.allclose(e.map("attcat"), expected, atol=ATOL)
    assert np.allclose(e.maps("attcat", per_layer=True), np.stack(per_layer), atol=ATOL)
    assert np.allclose(e.maps("attcat")[0], per_layer[0], atol=ATOL)


@pytest.mark.parametrize("arch", ["bert", "roberta", "vit"])
def test_attn_gradcam_matches_the_authors_code(arch):
    compared = 0
    for target in (0, 1):
        e, A, dA, *_ = reference_pass(arch, target)
        B = A.shape[0]
        cam, grad = A[B - 1], dA[B - 1]
        if arch == "vit":  # Chefer's ViT baseline: CLS-row patches only, then min-max
            cam, grad = cam[:, 0, 1:], grad[:, 0, 1:]
            alpha = grad.mean(dim=1, keepdim=True)
            c = (cam * alpha).mean(0).clamp(min=0)
            expected = np.concatenate([[0.0], ((c - c.min()) / (c.max() - c.min())).numpy()])
        else:  # Chefer's BERT baseline: whole N x N, min-max, then the CLS row
            alpha = grad.mean(dim=(1, 2), keepdim=True)
            c = (cam * alpha).mean(0).clamp(min=0)
            expected = ((c - c.min()) / (c.max() - c.min()))[0].numpy()
        if np.isnan(expected).any():  # the authors' 0/0: we return zeros (and say so in the diagnostics)
            assert np.array_equal(e.map("attn_gradcam"), np.zeros(e.num_tokens))
            assert "clamps to zero" in e.diagnostic("attn_gradcam")["note"]
            continue
        assert np.allclose(e.map("attn_gradcam"), expected, atol=ATOL)
        compared += 1
    assert compared >= 1


def test_attn_gradcam_all_zero_returns_zeros_and_says_so(monkeypatch):
    import warnings

    e = Explainer(*tiny_model("bert")).explain(SENTENCE)
    for block in e._gradients(e.target).A:  # a list of blocks (one input shares the backward's tensors)
        block.zero_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning box with an install path in a class's notebook
        out = e.map("attn_gradcam")
    assert np.array_equal(out, np.zeros_like(out))
    assert e.diagnostic("attn_gradcam")["zero_blocks"] == list(range(e.num_layers))


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_grad_input_matches_embeddings_times_gradient(arch):
    model, proc = tiny_model(arch)
    model = model.double()
    e = Explainer(model, proc).explain(sample_input(arch))
    emb_module = Explainer(model, proc).adapter.get_input_embedding(model)
    kept = {}

    def keep(_m, _i, out):
        out.retain_grad()
        kept["e"] = out

    handle = emb_module.register_forward_hook(keep)
    try:
        model(**e.model_inputs).logits[0, e.target].backward()
    finally:
        handle.remove()
    emb = kept["e"]
    expected = (emb * emb.grad).sum(-1)[0].detach().numpy()
    if arch == "vit":
        expected = np.concatenate([[0.0], expected])
    assert np.allclose(e.map("grad_input"), expected, atol=ATOL)


@pytest.mark.parametrize("arch", ["bert", "roberta", "vit", "deit"])
def test_rollout_rows_sum_to_one_and_match_the_matrix_product(arch):
    e, A, *_ = reference_pass(arch)
    B, _, N, _ = A.shape
    maps = e.maps("rollout")
    assert np.allclose(maps.sum(-1), 1, atol=1e-5)
    J = torch.eye(N, dtype=torch.float64)
    for b in range(B):
        Ahat = A[b].mean(0) + torch.eye(N, dtype=torch.float64)
        Ahat = Ahat / Ahat.sum(-1, keepdim=True)
        J = Ahat @ J
        assert np.allclose(maps[b], J[0].numpy(), atol=ATOL)
    assert np.allclose(e.map("rollout", row="max"), J.max(0).values.numpy(), atol=ATOL)
    late = e.maps("rollout", start_layer=1)
    assert np.array_equal(late[0], np.eye(N)[0])
    Ahat = A[1].mean(0) + torch.eye(N, dtype=torch.float64)
    assert np.allclose(late[1], (Ahat / Ahat.sum(-1, keepdim=True))[0].numpy(), atol=ATOL)


def test_raw_and_last_layer_read_the_cls_row(explanation):
    e = explanation
    A = e.attention()
    assert np.allclose(e.maps("raw"), A[:, :, 0, :].mean(1), atol=1e-6)
    assert np.allclose(e.map("last_layer"), A[-1, :, 0, :].mean(0), atol=1e-6)
    assert np.allclose(e.map("raw", layer=0, query=3), A[0, :, 3, :].mean(0), atol=1e-6)
    assert np.allclose(e.map("raw", heads=[False, True]), A[-1, 1, 0, :], atol=1e-6)


def test_rule_i_equals_rollout(explanation):
    e = explanation
    assert np.allclose(e.maps("redistribution", rule="i"), e.maps("rollout"), atol=1e-6)
    assert np.allclose(e.maps("redistribution", rule="i", heads=[True, False]), e.maps("rollout", heads=[0]),
                       atol=1e-6)


@pytest.mark.parametrize("rule", ["i", "ii", "iii", "iv"])
@pytest.mark.parametrize("values", ["head", "output", "hidden"])
@pytest.mark.parametrize("normalize", ["head", "mean"])
def test_redistribution_conserves_total_relevance(explanation, rule, values, normalize):
    maps = explanation.maps("redistribution", rule=rule, values=values, normalize=normalize)
    assert np.allclose(maps.sum(-1), 1.0, atol=1e-5)
    assert (maps >= -1e-7).all()


@pytest.mark.parametrize("rule", ["ii", "iii", "iv"])
def test_redistribution_rules_match_a_literal_loop(rule):
    model, tok = tiny_model("bert")
    model = model.double()
    e = Explainer(model, tok).explain("the movie was charming")
    A, V = e.capture.A, e.capture.V  # V: W_V^h x_j per head, checked against the value layer below
    value = model.bert.encoder.layer[0].attention.self.value
    x = e.capture.hidden[0]
    assert torch.allclose(V[0].transpose(0, 1).reshape(x.shape[0], -1), value(x), atol=1e-10)
    B, H, N, _ = A.shape
    R = np.eye(N)[0]
    for b in range(B - 1, -1, -1):
        M = np.zeros((N, N))
        for h in range(H):
            v = V[b, h].numpy()
            vbar = v.mean(0)
            z = np.zeros((N, N))
            for i in range(N):
                for j in range(N):
                    a_j = np.linalg.norm(v[j] - vbar) if rule in ("ii", "iv") else 1.0
                    if rule == "ii":
                        W = A[b, h, i, j].item() + (i == j)
                    else:
                        W = np.linalg.norm(v[j] - v[i]) * A[b, h, i, j].item() + (i == j)
                    z[i, j] = a_j * W
            M += z / (z.sum(1, keepdims=True) + 1e-12) / H
        R = np.array([sum(M[i, j] * R[i] for i in range(N)) for j in range(N)])
    assert np.allclose(e.map("redistribution", rule=rule), R, atol=ATOL)


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert", "electra", "vit"])
def test_integrated_gradients_completeness(arch):
    model, proc = tiny_model(arch)
    e = Explainer(model, proc).explain(sample_input(arch))
    attributions = e.map("integrated_gradients", n_steps=64)
    with torch.no_grad():
        y = model(**e.model_inputs).logits[0, e.target]
        if arch == "vit":
            y0 = model(pixel_values=torch.zeros_like(e.model_inputs["pixel_values"])).logits[0, e.target]
        else:  # the baseline: [PAD] word embeddings at the input's positions (RoBERTa derives positions from ids)
            ids = e.model_inputs["input_ids"].clone()
            ids[0, ~torch.as_tensor(e.special)] = proc.pad_token_id
            layer = model.get_input_embeddings()
            pad_embeddings = layer(ids)
            handle = layer.register_forward_hook(lambda *_: pad_embeddings)
            try:
                y0 = model(**e.model_inputs).logits[0, e.target]
            finally:
                handle.remove()
    # Completeness up to the Riemann error of n_steps, judged against the size of the attributions themselves.
    scale = np.abs(attributions).sum()
    assert abs(attributions.sum() - float(y - y0)) < 0.01 * scale + 1e-4
    assert e.diagnostic("integrated_gradients", n_steps=64)["convergence_delta"] < 0.01 * scale + 1e-4


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_class_specific_methods_change_with_the_target_and_agnostic_ones_do_not(arch):
    model, proc = tiny_model(arch)
    e = Explainer(model, proc).explain(sample_input(arch))
    other = 1 - e.target
    for name in ("gae", "attcat", "grad_input"):
        assert not np.allclose(e.map(name), e.map(name, target=other), atol=1e-6), name
    for name in ("rollout", "raw", "redistribution", "flow"):
        assert np.array_equal(e.map(name), e.map(name, target=other)), name


def test_flow_method_equals_max_flow_on_the_augmented_attention(explanation):
    from attnviz.engine.methods.flow import flow_map, flow_maps

    e = explanation
    A = torch.as_tensor(e.attention()).double()
    M = A.mean(1) + torch.eye(e.num_tokens, dtype=torch.float64)
    M = M / M.sum(-1, keepdim=True)
    assert np.allclose(e.maps("flow"), flow_maps(M.numpy()), atol=1e-5)
    assert np.allclose(e.map("flow"), flow_map(M.numpy()), atol=1e-5)
    assert e.map("flow").sum() == pytest.approx(1.0, abs=1e-5)


def test_images_give_zero_relevance_to_nothing_outside_the_grid():
    e = Explainer(*tiny_model("deit")).explain(sample_image())
    assert e.patch_map(e.map("attn_gradcam")).shape == (4, 4)
    assert np.all(e.map("attn_gradcam")[:2] == 0)


def test_attcat_mask_special_reruns_with_special_tokens_masked():
    model, tok = tiny_model("bert")
    e = Explainer(model, tok).explain(SENTENCE)
    masked = e.map("attcat", mask_special=True)
    assert masked.shape == (e.num_tokens,) and np.isfinite(masked).all()
    assert not np.allclose(masked, e.map("attcat"))
    inputs = dict(e.model_inputs)
    inputs["attention_mask"] = inputs["attention_mask"].clone()
    inputs["attention_mask"][0, torch.as_tensor(e.special)] = 0
    reference = Explainer(model, tok)
    with reference.prepared():
        out = model(**inputs, output_attentions=True, output_hidden_states=True)
    for h in out.hidden_states:
        h.retain_grad()
    out.logits[0, e.target].backward()
    B = e.num_layers
    expected = sum(((out.hidden_states[l][0] * out.hidden_states[l].grad[0]).sum(-1)
                    * out.attentions[l][0].mean(0).mean(0)) for l in range(B))
    assert np.allclose(masked, expected.detach().numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="text"):
        Explainer(*tiny_model("vit")).explain(sample_image()).map("attcat", mask_special=True)


def test_every_method_points_to_its_definition_in_the_repository():
    from pathlib import Path

    from attnviz.engine import methods

    assert (Path(__file__).resolve().parents[1] / "docs" / "METHODS.md").is_file()
    missing = [name for name, info in methods().items() if "docs/METHODS.md" not in (info.fn.__doc__ or "")]
    assert not missing, missing
