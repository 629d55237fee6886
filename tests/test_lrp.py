"""LRP family (issue 3): each rule against a slow literal implementation, conservation, the pass against a hand-wired
reference, and the methods ``chefer``, ``lrp_full`` and ``lrp_partial`` on every architecture.

Everything numerical runs in float64 (tiny models are converted with ``.double()``) with explicit tolerances. The
slow references are written from METHODS.md's formulas: Python loops over indices for the single rules, explicit
contribution tensors z_kj for the hand-wired pass (which calls the Hugging Face sub-modules directly, not the hooks).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_same_state, model_state, sample_input

from attnviz import Explainer
from attnviz.engine.methods import lrp as lrp_methods
from attnviz.engine.methods import lrp_pass, lrp_rules
from attnviz.testing import tiny_model

ARCHS = ("bert", "roberta", "distilbert", "electra", "vit", "deit")
ATOL = 1e-10  # float64 rules on small tensors: round-off only
# float64 through a whole block or model: sums of a few thousand terms. The authors' division adds 1e-9 to every
# denominator, so each rule leaks about 1e-9 / |Z| of its relevance: conservation holds to 1e-6 there, not 1e-8.
CONSERVE_RTOL_BY_DIVISION = {"clamp": 1e-8, "authors": 1e-6}


def conserve_rtol() -> float:
    return CONSERVE_RTOL_BY_DIVISION[DIVISION["mode"]]


def f64(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------------------------------------- slow references
DIVISION = {"mode": "authors"}  # which stabilised division the slow references use (set by the fixture below)


@pytest.fixture(autouse=True, params=lrp_rules.DIVISIONS)
def division(request):
    """Every test in this module runs with both divisions: the engine's and the references' at once."""
    DIVISION["mode"] = request.param
    with lrp_rules.division_mode(request.param):
        yield request.param
    DIVISION["mode"] = "authors"


def sdiv(a: float, b: float) -> float:
    """The stabilised division for scalars, literally. "authors" (Chefer's ``safe_divide``): den = clamp(b, min=eps)
    + clamp(b, max=eps), den += eps where den == 0, a / den · (b != 0). "clamp": 0 where b == 0, else |b| raised to
    at least 1e-9 with its sign."""
    eps = 1e-9
    if DIVISION["mode"] == "authors":
        den = max(b, eps) + min(b, eps)
        den = den + eps if den == 0 else den
        return a / den * float(b != 0)
    if b == 0:
        return 0.0
    return a / (b if abs(b) >= eps else math.copysign(eps, b))


def sdiv_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    eps = 1e-9
    if DIVISION["mode"] == "authors":
        den = b.clamp(min=eps) + b.clamp(max=eps)
        den = torch.where(den == 0, den + eps, den)
        return a / den * (b != 0).to(a)
    den = torch.where(b.abs() >= eps, b, torch.where(b < 0, torch.full_like(b, -eps), torch.full_like(b, eps)))
    return torch.where(b == 0, torch.zeros_like(a), a / den)


def loop_linear(x, W, R, rules):
    """R_j = x⁺_j Σ_k W⁺_kj R_k / Z_k + x⁻_j Σ_k W⁻_kj R_k / Z_k, by loops. x [N, I], W [O, I], R [N, O]."""
    x, W, R = x.tolist(), W.tolist(), R.tolist()
    out = [[0.0] * len(x[0]) for _ in x]
    for n, row in enumerate(x):
        for k, w in enumerate(W):
            zp = sum(max(w[j], 0) * max(row[j], 0) for j in range(len(row)))
            zn = sum(min(w[j], 0) * min(row[j], 0) for j in range(len(row)))
            for j in range(len(row)):
                cp, cn = max(w[j], 0) * max(row[j], 0), min(w[j], 0) * min(row[j], 0)
                if rules == "chefer":
                    out[n][j] += (cp + cn) * sdiv(R[n][k], zp + zn)
                else:
                    out[n][j] += cp * sdiv(R[n][k], zp) + cn * sdiv(R[n][k], zn)
    return torch.tensor(out, dtype=torch.float64)


def literal_linear(x, W, R, rules="chefer"):
    """The same formula with the contribution tensor z[n, k, j] written out (fast enough for whole blocks)."""
    Wp, Wn, xp, xn = W.clamp(min=0), W.clamp(max=0), x.clamp(min=0), x.clamp(max=0)
    zp = Wp[None] * xp[:, None, :]
    zn = Wn[None] * xn[:, None, :]
    if rules == "chefer":
        z = zp + zn
        return (z * sdiv_t(R, z.sum(-1))[..., None]).sum(1)
    return (zp * sdiv_t(R, zp.sum(-1))[..., None]).sum(1) + (zn * sdiv_t(R, zn.sum(-1))[..., None]).sum(1)


def loop_matmul(a, b, R):
    """Z = a b; R_a[i, m] = Σ_p a_im b_mp R_ip / Z_ip / 2, R_b[m, p] = Σ_i a_im b_mp R_ip / Z_ip / 2."""
    n, m = a.shape
    p = b.shape[1]
    Ra, Rb = torch.zeros(n, m, dtype=torch.float64), torch.zeros(m, p, dtype=torch.float64)
    for i in range(n):
        for q in range(p):
            Z = sum(float(a[i, k] * b[k, q]) for k in range(m))
            for k in range(m):
                share = float(a[i, k] * b[k, q]) * sdiv(float(R[i, q]), Z) / 2
                Ra[i, k] += share
                Rb[k, q] += share
    return Ra, Rb


def literal_matmul(a, b, R):
    z = a[..., :, :, None] * b[..., None, :, :]  # [.., n, m, p]
    share = z * sdiv_t(R, z.sum(-2))[..., None, :] / 2
    return share.sum(-1), share.sum(-3)


def literal_add(x1, x2, R, rules="chefer"):
    a, b = x1 * sdiv_t(R, x1 + x2), x2 * sdiv_t(R, x1 + x2)
    if rules == "lrp":
        return a, b
    sa, sb, total = float(a.sum()), float(b.sum()), float(R.sum())
    fa, fb = sdiv(abs(sa), abs(sa) + abs(sb)) * total, sdiv(abs(sb), abs(sa) + abs(sb)) * total
    return a * sdiv(fa, sa), b * sdiv(fb, sb)


def loop_z_b(x, W, R, low, high):
    """Z_d = Σ_k (x_k W_dk − low W⁺_dk − high W⁻_dk); R_k = Σ_d (x_k W_dk − low W⁺_dk − high W⁻_dk) R_d / Z_d."""
    P, K = x.shape
    D = W.shape[0]
    out = torch.zeros(P, K, dtype=torch.float64)
    for n in range(P):
        for d in range(D):
            z = [float(x[n, k] * W[d, k] - low * max(W[d, k], 0) - high * min(W[d, k], 0)) for k in range(K)]
            for k in range(K):
                out[n, k] += z[k] * sdiv(float(R[n, d]), sum(z))
    return out


# ---------------------------------------------------------------------------------------------- the rules
def test_safe_division_matches_the_literal_formula(division):
    b = torch.tensor([0.0, 1e-12, -1e-12, 2.0, -3.0, 5e-10, -1e-9, 1e-9, 3e-7], dtype=torch.float64)
    a = torch.linspace(-2, 3, len(b), dtype=torch.float64)
    got = lrp_rules.safe_divide(a, b)
    assert torch.equal(got, torch.tensor([sdiv(float(x), float(v)) for x, v in zip(a, b)], dtype=torch.float64))
    assert torch.equal(got, sdiv_t(a, b))
    assert got[0] == 0
    if division == "clamp":  # |b| raised to 1e-9, the sign kept
        assert math.isclose(float(got[1]), float(a[1]) * 1e9) and math.isclose(float(got[2]), float(a[2]) * -1e9)
    else:  # b + 1e-9 everywhere; -1e-9 + 1e-9 == 0 gets 1e-9
        assert float(got[3]) == float(a[3]) / (2.0 + 1e-9) and float(got[6]) == float(a[6]) / 1e-9


def test_the_default_division_is_the_authors_and_differs_from_clamping():
    b = torch.tensor([3e-7, 2.0], dtype=torch.float64)
    a = torch.ones_like(b)
    authors, clamp = (lrp_rules.safe_divide(a, b, division=d) for d in ("authors", "clamp"))
    assert torch.equal(lrp_rules.safe_divide(a, b, division=None), lrp_rules.safe_divide(a, b))
    assert float(authors[0]) == 1 / (3e-7 + 1e-9) and float(clamp[0]) == 1 / 3e-7
    with pytest.raises(ValueError, match="division must be one of"):
        lrp_rules.safe_divide(a, b, division="paper")


@pytest.mark.parametrize("rules", ["chefer", "lrp"])
def test_linear_rule_matches_the_literal_formula(rules):
    x, W, R = f64(3, 5, seed=1), f64(4, 5, seed=2), f64(3, 4, seed=3)
    x[0, 1] = 0.0  # zero inputs and an all-positive row exercise the Z == 0 branch of the "lrp" rule
    x[2] = x[2].abs()
    expected = loop_linear(x, W, R, rules)
    assert torch.allclose(lrp_rules.linear(x, W, R, rules), expected, atol=ATOL)
    assert torch.allclose(literal_linear(x, W, R, rules), expected, atol=ATOL)


def test_linear_rule_conservation():
    """"chefer": Σ R_in = Σ R_out exactly, since Z = W⁺x⁺ + W⁻x⁻ leaves the bias out (its share is redistributed,
    not absorbed). "lrp": each of the positive and negative parts carries the whole R_k, so the total is
    Σ_k R_k ([W⁺x⁺ ≠ 0] + [W⁻x⁻ ≠ 0]): not conservative by design (it doubles where both parts exist)."""
    x, W, R = f64(6, 7, seed=4), f64(5, 7, seed=5), f64(6, 5, seed=6)
    x[1] = x[1].abs()  # this row has no negative part: its relevance is carried once
    assert torch.isclose(lrp_rules.linear(x, W, R, "chefer").sum(), R.sum(), atol=ATOL)
    parts = ((x.clamp(min=0) @ W.clamp(min=0).T) != 0).double() + ((x.clamp(max=0) @ W.clamp(max=0).T) != 0).double()
    assert torch.isclose(lrp_rules.linear(x, W, R, "lrp").sum(), (R * parts).sum(), atol=ATOL)
    assert parts[1].max() == 1 and parts[0].min() == 2


def test_matmul_rule_matches_the_literal_formula_and_conserves():
    """Each operand's z-share alone carries Σ R; halving both makes the pair conservative."""
    a, b, R = f64(3, 4, seed=7), f64(4, 2, seed=8), f64(3, 2, seed=9)
    Ra, Rb = lrp_rules.matmul(a, b, R)
    La, Lb = loop_matmul(a, b, R)
    assert torch.allclose(Ra, La, atol=ATOL) and torch.allclose(Rb, Lb, atol=ATOL)
    Ta, Tb = literal_matmul(a, b, R)
    assert torch.allclose(Ta, La, atol=ATOL) and torch.allclose(Tb, Lb, atol=ATOL)
    assert torch.isclose(Ra.sum(), R.sum() / 2, atol=ATOL) and torch.isclose(Rb.sum(), R.sum() / 2, atol=ATOL)
    # batched over heads, as the pass uses it
    A3, V3, R3 = f64(2, 3, 3, seed=10).softmax(-1), f64(2, 3, 4, seed=11), f64(2, 3, 4, seed=12)
    RA, RV = lrp_rules.matmul(A3, V3, R3)
    for h in range(2):
        La, Lb = loop_matmul(A3[h], V3[h], R3[h])
        assert torch.allclose(RA[h], La, atol=ATOL) and torch.allclose(RV[h], Lb, atol=ATOL)


@pytest.mark.parametrize("rules", ["chefer", "lrp"])
def test_add_rule_matches_the_literal_formula_and_conserves(rules):
    x1, x2, R = f64(4, 3, seed=13), f64(4, 3, seed=14), f64(4, 3, seed=15)
    a, b = lrp_rules.add(x1, x2, R, rules)
    ea, eb = literal_add(x1, x2, R, rules)
    for i in range(4):  # the z-shares element by element, as written
        for j in range(3):
            z = float(x1[i, j] + x2[i, j])
            za, zb = float(x1[i, j]) * sdiv(float(R[i, j]), z), float(x2[i, j]) * sdiv(float(R[i, j]), z)
            if rules == "lrp":
                assert math.isclose(float(a[i, j]), za, abs_tol=ATOL) and math.isclose(float(b[i, j]), zb, abs_tol=ATOL)
    assert torch.allclose(a, ea, atol=ATOL) and torch.allclose(b, eb, atol=ATOL)
    if rules == "chefer":  # Σ kept over the whole tensor, |Σa| : |Σb| as the z-shares had it
        za, zb = x1 * sdiv_t(R, x1 + x2), x2 * sdiv_t(R, x1 + x2)
        assert torch.isclose(a.sum() + b.sum(), R.sum(), atol=ATOL)
        assert torch.isclose(a.sum().abs() / b.sum().abs(), za.sum().abs() / zb.sum().abs(), rtol=1e-10)
    else:  # the plain z-rule conserves element by element (wherever x1 + x2 != 0)
        assert torch.allclose(a + b, R, atol=ATOL)


def test_clone_sums_its_branches():
    r1, r2, r3 = f64(3, 2, seed=16), f64(3, 2, seed=17), f64(3, 2, seed=18)
    assert torch.allclose(lrp_rules.clone(r1, r2, r3), r1 + r2 + r3, atol=ATOL)


def test_z_b_rule_matches_the_literal_formula_and_conserves():
    x, W, R = f64(2, 6, seed=19), f64(3, 6, seed=20), f64(2, 3, seed=21)
    low, high = float(x.min()), float(x.max())
    got = lrp_rules.z_b(x, W, R, low, high)
    assert torch.allclose(got, loop_z_b(x, W, R, low, high), atol=ATOL)
    assert torch.isclose(got.sum(), R.sum(), atol=ATOL)  # Z_d > 0 for inputs inside [low, high]


def test_patch_embedding_z_b_equals_chefers_convolution_form():
    """Chefer's Conv2d.relprop: C = X·convᵀ(S, W) − L·convᵀ(S, W⁺) − H·convᵀ(S, W⁻) with L, H the image min/max;
    ours unfolds the patches instead. Same numbers, per patch."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, kernel_size=4, stride=4).double()
    pixels, R = f64(3, 8, 8, seed=22), f64(4, 5, seed=23)  # 2 x 2 patches, 5 channels
    got = lrp_rules.patch_embedding(pixels, conv, R)
    X, W = pixels[None], conv.weight.detach()
    Wp, Wn = W.clamp(min=0), W.clamp(max=0)
    L, H = torch.full_like(X, float(X.min())), torch.full_like(X, float(X.max()))
    Z = F.conv2d(X, W, stride=4) - F.conv2d(L, Wp, stride=4) - F.conv2d(H, Wn, stride=4)
    S = sdiv_t(R.T.reshape(1, 5, 2, 2), Z)
    C = X * F.conv_transpose2d(S, W, stride=4) - L * F.conv_transpose2d(S, Wp, stride=4) \
        - H * F.conv_transpose2d(S, Wn, stride=4)
    expected = F.unfold(C, 4, stride=4)[0].T  # [P, 3·4·4]
    assert torch.allclose(got, expected, atol=ATOL)
    assert torch.isclose(got.sum(), R.sum(), atol=ATOL)


# ---------------------------------------------------------------------------------------------- the pass
def distinct_prefix_tokens(model) -> None:
    """The tiny DeiT zero-initialises [CLS], [DIST] and the position embeddings, so both prefix tokens enter block
    0 as exact zero vectors: a Linear whose input is 0 has Z = 0 and drops its relevance (the safe division returns
    0), and the two tokens stay identical. Trained checkpoints have distinct, non-zero tokens: give the test model
    some, so the conservation tests test the rules and not this initialisation."""
    emb = getattr(getattr(model, "deit", None), "embeddings", None)
    if emb is not None:
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in (emb.cls_token, emb.distillation_token, emb.position_embeddings):
                p.copy_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def recorded(arch: str, seed: int = 0):
    """float64 tiny model, its explanation and the LRP recording of the same input."""
    model, proc = tiny_model(arch, seed=seed)
    model = model.double()
    distinct_prefix_tokens(model)
    explainer = Explainer(model, proc)
    e = explainer.explain(sample_input(arch))
    rec = lrp_pass.record(model, explainer.adapter, e.model_inputs, explainer.prepared, torch.float64,
                          with_pixels=e.kind == "image")
    return model, explainer, e, rec


def literal_block(p, A, R_out, layout, rules):
    """One block's relevance by the literal rules of this file (z-tensors written out), wired from METHODS.md's
    block diagram over the recorded sub-module inputs and outputs: (R_in [N, D], R(A) [H, N, N])."""
    H = A.shape[0]

    def lin(part, R):
        return literal_linear(part.x, part.weight, R, rules)

    x, x1 = (p["query"].x, p["ffn_in"].x) if layout == "post_ln" else (p["ln1"].x, p["ln2"].x)
    R_skip1, R_f = literal_add(x1, p["ffn_out"].y, R_out, rules)  # x2 = x1 + ffn_out(gelu(ffn_in(.)))
    R_x1 = R_skip1 + lin(p["ffn_in"], lin(p["ffn_out"], R_f))
    R_skip0, R_o = literal_add(x, p["attn_out"].y, R_x1, rules)  # x1 = x + attn_out(A V)
    R_A, R_V = literal_matmul(A, _split(p["value"].y, H), _split(lin(p["attn_out"], R_o), H))
    R_Q, R_Kt = literal_matmul(_split(p["query"].y, H), _split(p["key"].y, H).transpose(-1, -2), R_A)
    R_in = R_skip0 + lin(p["query"], _merge(R_Q)) + lin(p["key"], _merge(R_Kt.transpose(-1, -2))) \
        + lin(p["value"], _merge(R_V))
    return R_in, R_A


def close(got, expected, rtol=1e-7):
    """Equal up to round-off relative to the tensor's scale (the "lrp" rules' sums can be large)."""
    return torch.allclose(got, expected, rtol=rtol, atol=rtol * float(expected.abs().max()))


@pytest.mark.parametrize("arch", ARCHS)
def test_one_block_conserves_relevance(arch):
    """Through one whole block with the "chefer" rules Σ R_in = Σ R_out up to round-off (rtol 1e-8): LayerNorm,
    GELU, Softmax and Dropout are identities, Linear (bias out of Z), the halved matmuls, the rescaled Adds and the
    Clones all conserve. The "lrp" rules are not conservative by design (Linear doubles, see above). Both rule sets
    equal the block wired by hand from the literal rules."""
    _, _, e, rec = recorded(arch)
    A = e.capture.A.double()
    for b in range(e.num_layers):
        R_out = f64(*rec.blocks[b]["ffn_out"].y.shape, seed=b)
        R_in, R_A = lrp_pass.block_relevance(rec.blocks[b], A[b], R_out, rec.layout, "chefer")
        assert R_in is not None and R_A.shape == A[b].shape
        assert torch.isclose(R_in.sum(), R_out.sum(), rtol=conserve_rtol(), atol=ATOL), (arch, b)
        ref_in, ref_A = literal_block(rec.blocks[b], A[b], R_out, rec.layout, "chefer")
        assert close(R_in, ref_in) and close(R_A, ref_A), (arch, b)
        R_lrp, R_A_lrp = lrp_pass.block_relevance(rec.blocks[b], A[b], R_out, rec.layout, "lrp")
        assert R_lrp is not None
        ref_in, ref_A = literal_block(rec.blocks[b], A[b], R_out, rec.layout, "lrp")
        assert close(R_lrp, ref_in) and close(R_A_lrp, ref_A), (arch, b)
        assert not close(R_lrp, R_in)  # the two rule sets are told apart


@pytest.mark.parametrize("arch", ARCHS)
def test_whole_pass_conserves_from_the_logit_to_the_input(arch):
    """"chefer" rules, seed onehot: Σ R = 1 at the head's input, at every block's output and at block 0's input."""
    _, _, e, rec = recorded(arch)
    res = lrp_pass.relevance_pass(rec, e.capture.A.double(), e.target, "chefer", "onehot", to_input=True,
                                  num_prefix_tokens=e.num_prefix_tokens)
    t = res.totals
    assert t["logits"] == 1.0
    for value in (t["head_input"], *t["block_output"], t["block0_input"]):
        assert math.isclose(value, 1.0, rel_tol=conserve_rtol()), (arch, t)
    assert res.input is not None and res.input.shape == (e.num_tokens,)
    if e.kind == "text":  # the input map is block 0's input relevance summed over the hidden dimension: Σ = 1 too
        assert math.isclose(float(res.input.sum()), 1.0, rel_tol=conserve_rtol()), (arch, float(res.input.sum()))
    else:  # the prefix tokens have no pixels; each patch's entry is the sum of its 8 x 8 pixels' relevance
        p = e.num_prefix_tokens
        assert (res.input[:p] == 0).all() and res.pixels is not None and res.pixels.shape == (32, 32)
        per_patch = res.pixels.reshape(4, 8, 4, 8).sum(dim=(1, 3)).flatten()
        assert torch.allclose(res.input[p:], per_patch, atol=1e-12)
        assert not torch.allclose(per_patch, res.pixels.reshape(4, 8, 4, 8).sum(dim=(1, 3)).T.flatten())


def test_image_input_map_is_the_patch_share_carried_through_z_b():
    _, _, e, rec = recorded("vit")
    res = lrp_pass.relevance_pass(rec, e.capture.A.double(), e.target, "lrp", "onehot", to_input=True,
                                  num_prefix_tokens=1)
    assert res.input is not None and res.input[0] == 0
    # Re-derive block 0's input relevance and the patch-embedding share by hand; z^B conserves what reaches it.
    R = lrp_pass.head_relevance(rec, torch.eye(2, dtype=torch.float64)[e.target], "lrp")
    for b in reversed(range(e.num_layers)):
        R, _ = lrp_pass.block_relevance(rec.blocks[b], e.capture.A.double()[b], R, rec.layout, "lrp")
    x0 = rec.blocks[0]["ln1"].x
    share = rec.patches * sdiv_t(R[1:], x0[1:])
    assert torch.isclose(res.input.sum(), share.sum(), rtol=conserve_rtol())


def test_distilled_deit_splits_the_averaged_logit_between_its_two_heads():
    """logits = (c + d)/2: the Add gives the cls and distillation heads |c_t| : |d_t| of the seed ("chefer"), and
    each head's Linear carries its share to its own token (0 = [CLS], 1 = [DIST])."""
    _, _, e, rec = recorded("deit")
    t = e.target
    R = lrp_pass.head_relevance(rec, torch.eye(2, dtype=torch.float64)[t], "chefer")
    c, d = rec.head["classifier"].y[t], rec.head["distillation_classifier"].y[t]
    assert torch.allclose(rec.logits, (rec.head["classifier"].y + rec.head["distillation_classifier"].y) / 2)
    assert R[2:].abs().max() == 0
    assert torch.isclose(R[0].sum(), c.abs() / (c.abs() + d.abs()), rtol=1e-10)
    assert torch.isclose(R[1].sum(), d.abs() / (c.abs() + d.abs()), rtol=1e-10)


def _split(t, H):
    return t.view(t.shape[0], H, -1).transpose(0, 1)


def _merge(t):
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def hand_wired_attention_relevance(arch: str, model, inputs, target: int) -> torch.Tensor:
    """R(A^(b)) by calling the Hugging Face sub-modules directly and the literal rules ("chefer", seed onehot):
    an oracle for the hooks, the recorded tensors and the block wiring. BERT (post-LN) and ViT (pre-LN)."""
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    hs = [h[0] for h in out.hidden_states]
    As = [a[0] for a in out.attentions]
    H = As[0].shape[0]
    onehot = torch.eye(out.logits.shape[-1], dtype=torch.float64)[target]
    R = torch.zeros_like(hs[-1])
    with torch.no_grad():
        if arch == "bert":
            layers, pooled_in = model.bert.encoder.layer, hs[-1][:1]
            pooled = torch.tanh(model.bert.pooler.dense(pooled_in))
            r = literal_linear(pooled, model.classifier.weight, onehot[None])
            R[0] = literal_linear(pooled_in, model.bert.pooler.dense.weight, r)[0]
        else:
            layers, final = model.vit.layers, model.vit.layernorm(hs[-1])
            R[0] = literal_linear(final[:1], model.classifier.weight, onehot[None])[0]
        RA = [None] * len(layers)
        for b in reversed(range(len(layers))):
            L, x, A = layers[b], hs[b], As[b]
            if arch == "bert":
                att, n1 = L.attention.self, x
                q, k, v = att.query(n1), att.key(n1), att.value(n1)
                wq, wk, wv = att.query.weight, att.key.weight, att.value.weight
                dense_o = L.attention.output.dense
            else:
                att, n1 = L.attention, L.layernorm_before(x)
                q, k, v = att.q_proj(n1), att.k_proj(n1), att.v_proj(n1)
                wq, wk, wv = att.q_proj.weight, att.k_proj.weight, att.v_proj.weight
                dense_o = att.o_proj
            Q, K, V = _split(q, H), _split(k, H), _split(v, H)
            ctx = _merge(A @ V)
            o = dense_o(ctx)
            if arch == "bert":
                x1 = L.attention.output.LayerNorm(x + o)
                n2, fc1, fc2 = x1, L.intermediate.dense, L.output.dense
                g = L.intermediate(x1)
                f = fc2(g)
                assert torch.allclose(L.output.LayerNorm(x1 + f), hs[b + 1], atol=1e-10)
            else:
                x1 = x + o
                n2, fc1, fc2 = L.layernorm_after(x1), L.mlp.fc1, L.mlp.fc2
                g = L.mlp.activation_fn(fc1(n2))
                f = fc2(g)
                assert torch.allclose(x1 + f, hs[b + 1], atol=1e-10)
            R_skip1, R_f = literal_add(x1, f, R)
            R_x1 = R_skip1 + literal_linear(n2, fc1.weight, literal_linear(g, fc2.weight, R_f))
            R_skip0, R_o = literal_add(x, o, R_x1)
            R_ctx = _split(literal_linear(ctx, dense_o.weight, R_o), H)
            R_A, R_V = literal_matmul(A, V, R_ctx)
            R_Q, R_Kt = literal_matmul(Q, K.transpose(-1, -2), R_A)
            R = R_skip0 + literal_linear(n1, wq, _merge(R_Q)) + literal_linear(n1, wk, _merge(R_Kt.transpose(-1, -2))) \
                + literal_linear(n1, wv, _merge(R_V))
            RA[b] = R_A
    return torch.stack(RA)


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_pass_equals_a_hand_wired_reference(arch):
    model, _, e, _ = recorded(arch)
    for target in (0, 1):
        expected = hand_wired_attention_relevance(arch, model, {k: v.clone() for k, v in e.model_inputs.items()},
                                                  target)
        got = lrp_methods.relevance(e._trace(target), "chefer", "onehot").attention
        assert torch.allclose(got, expected, atol=1e-9), (arch, target, float((got - expected).abs().max()))


# ---------------------------------------------------------------------------------------------- the methods
def explained(arch: str, target=None):
    model, proc = tiny_model(arch)
    model = model.double()
    return Explainer(model, proc).explain(sample_input(arch), target=target)


def hf_attention_gradients(e, target: int):
    """d y_t / d A^(b) straight from Hugging Face's outputs (not from attnviz's capture)."""
    model = e.explainer.model
    with e.explainer.prepared():
        out = model(**e.model_inputs, output_attentions=True)
        grads = torch.autograd.grad(out.logits[0, target], out.attentions)
    return torch.stack([g[0] for g in grads]).detach()


def chefer_by_hand(e, cam: torch.Tensor, grad: torch.Tensor) -> np.ndarray:
    """``chefer`` with the authors' defaults, every row, from R(A) and Hugging Face's own d y_t / dA: M_b = I +
    mean_h (grad ⊙ cam)⁺. Text: row l = M_l[0] row-normalised (start_layer "last"), entry 0 = the row's minimum.
    Images: row l = (M_l ⋯ M_1)[0] unnormalised (start_layer 1; row 0 carries nothing yet), prefix entries 0."""
    B, _, N, _ = cam.shape
    M = (grad * cam).clamp(min=0).mean(1) + torch.eye(N, dtype=torch.float64)
    rows = []
    if e.kind == "text":
        for b in range(B):
            row = M[b, 0] / M[b, 0].sum()
            rows.append(torch.cat([row.min()[None], row[1:]]))
    else:
        joint = torch.eye(N, dtype=torch.float64)
        for b in range(B):
            joint = M[b] @ joint if b >= 1 else joint
            row = joint[0].clone()
            row[:e.num_prefix_tokens] = 0
            rows.append(row)
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("arch", ARCHS)
def test_lrp_maps_have_the_layered_shape_and_finite_values(arch):
    e = explained(arch)
    for name in ("chefer", "lrp_full", "lrp_partial"):
        m = e.maps(name)
        assert m.shape == (e.num_layers, e.num_tokens) and m.dtype == e.capture.A.cpu().numpy().dtype, name
        assert np.isfinite(m).all(), name
        assert np.allclose(e.map(name), m[-1]), name
        if e.kind == "image":
            assert (m[:, :e.num_prefix_tokens] == 0).all(), name
    # each map's values from the relevance pass by a second path: the definitions written out above each method
    t, p = e.target, (e.num_prefix_tokens if e.kind == "image" else 1)
    cam = lrp_methods.relevance(e._trace(t), "chefer", "onehot").attention
    assert np.allclose(e.maps("chefer"), chefer_by_hand(e, cam, hf_attention_gradients(e, t)), atol=1e-6)
    for rules in ("lrp", "chefer"):  # partial LRP: each block's R(A)⁺ [CLS] row, mean over heads, prefix zeroed
        partial = lrp_methods.relevance(e._trace(t), rules, "onehot").attention.clamp(min=0).mean(1)[:, 0].clone()
        partial[:, :p] = 0
        assert np.allclose(e.maps("lrp_partial", rules=rules), partial.numpy(), atol=1e-6), rules
    full = e.maps("lrp_full")  # the input-level map, the same at every row, prefix zeroed
    expected = lrp_methods.relevance(e._trace(t), "lrp", "onehot", to_input=True).input.clone()
    expected[:p] = 0
    assert np.allclose(full, expected.numpy()[None].repeat(e.num_layers, 0), atol=1e-9)
    kept = e.map("lrp_full", rules="chefer", cls_entry="keep")
    if e.kind == "text":  # the conservative rules carry the whole onehot seed to the input: Σ = 1
        assert math.isclose(float(kept.sum()), 1.0, rel_tol=1e-6), float(kept.sum())
    else:  # an image's input map is the patch embeddings' share: its prefix tokens have no pixels
        assert (kept[:p] == 0).all() and not np.allclose(kept, 0)


@pytest.mark.parametrize("arch", ARCHS)
def test_maps_differ_between_two_targets(arch):
    e = explained(arch)
    for name in ("chefer", "lrp_full", "lrp_partial"):
        assert not np.allclose(e.map(name, target=0), e.map(name, target=1), atol=1e-6), name


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_chefer_matches_the_released_code(arch):
    """The post-processing of Chefer's generate_LRP written out: per block mean_h((grad ⊙ cam)⁺), I added, rows
    normalised (text) or not (ViT), product from start_layer with later blocks on the left, CLS row; text sets
    entry 0 to the row minimum, ViT keeps the patches. Gradients come from Hugging Face directly."""
    e = explained(arch)
    t = e.target
    cam = lrp_methods.relevance(e._trace(t), "chefer", "onehot").attention
    grad = hf_attention_gradients(e, t)
    B, H, N, _ = cam.shape
    eye = torch.eye(N, dtype=torch.float64)

    def block_matrices(heads):
        mats = []
        for b in range(B):
            m = sum((grad[b, h] * cam[b, h]).clamp(min=0) for h in heads) / len(heads) + eye
            mats.append(m / m.sum(-1, keepdim=True) if arch == "bert" else m)
        return mats

    def rollout(mats, start):
        joint = mats[start]
        for i in range(start + 1, B):
            joint = mats[i] @ joint
        return joint[0].clone()

    mats = block_matrices(range(H))
    mask = np.zeros((B, H), dtype=bool)
    mask[:, 0] = True  # the head mask: head 0 of every block
    if arch == "bert":
        for got, m in ((e.map("chefer"), mats), (e.map("chefer", heads=mask), block_matrices([0]))):
            expected = rollout(m, B - 1)
            expected[0] = expected.min()
            assert np.allclose(got, expected.numpy(), atol=1e-6)
        paper = rollout(mats, 0)
        assert np.allclose(e.map("chefer", start_layer=0, cls_entry="keep"), paper.numpy(), atol=1e-6)
        assert np.allclose(e.maps("chefer")[0, 1:], mats[0][0, 1:].numpy(), atol=1e-6)  # row l: block l alone
    else:
        for got, m in ((e.map("chefer"), mats), (e.map("chefer", heads=mask), block_matrices([0]))):
            assert got[0] == 0 and np.allclose(got[1:], rollout(m, 1)[1:].numpy(), atol=1e-6)
        assert np.allclose(e.map("chefer", start_layer=0, cls_entry="keep"), rollout(mats, 0).numpy(), atol=1e-6)


def test_lrp_partial_is_the_last_blocks_relevance_cls_row():
    e = explained("bert")
    for rules in ("lrp", "chefer"):
        cam = lrp_methods.relevance(e._trace(e.target), rules, "onehot").attention
        expected = cam[-1].clamp(min=0).mean(0)[0].clone()
        expected[0] = 0
        assert np.allclose(e.map("lrp_partial", rules=rules), expected.numpy(), atol=1e-6), rules


def test_logit_seed_scales_the_relevance_by_the_logit():
    e = explained("bert")
    onehot = lrp_methods.relevance(e._trace(e.target), "chefer", "onehot").attention
    logit = lrp_methods.relevance(e._trace(e.target), "chefer", "logit").attention
    assert torch.allclose(logit, onehot * e.capture.logits[e.target], atol=1e-10)


def test_one_pass_per_target_serves_every_head_mask_layer_and_option(monkeypatch):
    calls = []
    original = lrp_methods.record

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(lrp_methods, "record", counting)
    e = explained("bert")
    e.maps("chefer")
    e.maps("chefer", heads=[0])
    e.map("chefer", layer=0, start_layer=0)
    e.maps("lrp_partial", rules="chefer")
    assert len(calls) == 1
    e.maps("chefer", target=1 - e.target)
    assert len(calls) == 2
    e.maps("lrp_full")
    e.maps("lrp_partial")
    assert len(calls) == 3
    assert "RelevancePass" in repr(e.diagnostics["lrp"])


def test_options_are_validated():
    e = explained("bert")
    with pytest.raises(ValueError, match="start_layer"):
        e.map("chefer", start_layer=7)
    with pytest.raises(ValueError, match="cls_entry"):
        e.map("chefer", cls_entry="drop")
    with pytest.raises(ValueError, match="rules"):
        e.map("lrp_partial", rules="z+")
    with pytest.raises(ValueError, match="seed"):
        e.map("lrp_full", seed="prob")


# ---------------------------------------------------------------------------------------------- the user's model
@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_model_left_as_it_was(arch):
    model, proc = tiny_model(arch)
    model.train()
    model.config._attn_implementation = "sdpa"
    list(model.parameters())[0].requires_grad_(False)
    e = Explainer(model, proc).explain(sample_input(arch))
    before = model_state(model)
    for name in ("chefer", "lrp_full", "lrp_partial"):
        e.maps(name)
    assert_same_state(before, model_state(model))


@pytest.mark.parametrize("arch", ["bert", "deit"])
def test_model_left_as_it_was_after_an_exception_mid_pass(arch):
    """A hook of the user's raises in the middle of the LRP forward, while attnviz's own hooks are installed."""
    model, proc = tiny_model(arch)
    model.train()
    model.config._attn_implementation = "sdpa"
    explainer = Explainer(model, proc)
    e = explainer.explain(sample_input(arch))
    before = model_state(model)
    module = explainer.adapter.get_part(explainer.adapter.get_blocks(model)[-1], "ffn_in")

    def explode(*_):
        raise RuntimeError("boom in the middle of the LRP forward")

    handle = module.register_forward_hook(explode)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            e.maps("chefer")
    finally:
        handle.remove()
    assert_same_state(before, model_state(model))
    assert "lrp" not in e.diagnostics or not e.diagnostics["lrp"]
    after = e.maps("chefer")  # and it works afterwards: the same map as an explanation that never saw the error
    assert np.isfinite(after).all()
    fresh = Explainer(model, proc).explain(sample_input(arch)).maps("chefer")
    assert np.allclose(after, fresh, atol=1e-6) and not np.allclose(after, 0)
    assert_same_state(before, model_state(model))
