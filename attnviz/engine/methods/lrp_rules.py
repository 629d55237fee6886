"""The LRP rules of Chefer, Gur & Wolf (CVPR 2021) and of the "LRP" baseline, as plain tensor functions.

Every rule maps the relevance R of a layer's output to its input(s), given the input(s) recorded in the forward
pass. Shapes: a Linear takes x [..., D_in] and R [..., D_out]; everything else is elementwise or a matmul. Two rule
sets exist (see docs/METHODS.md, LRP family):

- ``"chefer"`` (Chefer et al. 2021, released ``layers_ours.py``): Linear with alpha = 1, beta = 0 and one joint
  normaliser Z = W⁺x⁺ + W⁻x⁻; Add with the abs-rescaling that keeps Σ relevance.
- ``"lrp"`` (the "LRP" baseline of Chefer's tables, ``layers_lrp.py``): Linear normalising the positive and the
  negative part separately; Add as the plain z-rule.

Both share the two-operand matmul z-rule with each operand's share halved, the identity for LayerNorm, GELU,
Softmax, Dropout and Tanh (nothing to compute: callers pass R through), and Clone summing its branches.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

RULE_SETS = ("chefer", "lrp")
EPS = 1e-9


DIVISIONS = ("authors", "clamp")
_DIVISION: contextvars.ContextVar[str] = contextvars.ContextVar("attnviz_lrp_division", default="authors")


@contextlib.contextmanager
def division_mode(division: str) -> Iterator[None]:
    """The stabilised division every rule uses inside the block (per thread): "authors" or "clamp"."""
    if division not in DIVISIONS:
        raise ValueError(f"division must be one of {DIVISIONS}, got {division!r}")
    token = _DIVISION.set(division)
    try:
        yield
    finally:
        _DIVISION.reset(token)


def current_division() -> str:
    return _DIVISION.get()


def safe_divide(a: torch.Tensor, b: torch.Tensor, eps: float = EPS, division: str | None = None) -> torch.Tensor:
    """a / b, stabilised. division (default: the current ``division_mode``, "authors"):

    - "authors": exactly the released ``safe_divide`` of Chefer et al. (``layers_ours.py``):
      den = clamp(b, min=eps) + clamp(b, max=eps) (= b + eps for every b), den += eps where den == 0,
      result = a / den · (b ≠ 0). Relevance values are small, so the eps shifts every quotient a little, not only
      near zero (up to 5e-4 relative on full LRP).
    - "clamp": |b| raised to at least eps with its sign kept, 0 where b == 0 (attnviz's earlier stabiliser)."""
    division = division or _DIVISION.get()
    if division == "authors":
        den = b + eps  # = clamp(b, min=eps) + clamp(b, max=eps), bit for bit
        den.masked_fill_(den == 0, eps)
        return (a / den).masked_fill_(b == 0, 0)
    if division == "clamp":
        den = b.abs().clamp_(min=eps).copysign_(b)  # in place: this runs on [H, N, N] score tensors
        return (a / den).masked_fill_(b == 0, 0)
    raise ValueError(f"division must be one of {DIVISIONS}, got {division!r}")


def linear(x: torch.Tensor, weight: torch.Tensor, R: torch.Tensor, rules: str = "chefer",
           wx: torch.Tensor | None = None) -> torch.Tensor:
    """Relevance of a Linear layer's input; the bias is ignored. x [..., D_in], weight [D_out, D_in], R [..., D_out];
    wx [..., D_out] optionally the recorded W x (the layer's output minus its bias), which saves a matmul.

    "chefer" (alpha = 1, beta = 0): Z_k = Σ_j (W⁺_kj x⁺_j + W⁻_kj x⁻_j) ≥ 0 and
    R_j = x⁺_j Σ_k W⁺_kj R_k / Z_k + x⁻_j Σ_k W⁻_kj R_k / Z_k, so Σ_j R_j = Σ_k R_k wherever Z_k > 0.
    "lrp": the same with Z1 = W⁺x⁺ for the first term and Z2 = W⁻x⁻ for the second; each term carries the whole
    R_k, so the total doubles wherever both parts are non-zero (not conservative by design)."""
    if rules == "chefer":
        # W⁺x⁺ + W⁻x⁻ = (W x + |W| |x|) / 2 and x⁺ ⊙ W⁺ᵀs + x⁻ ⊙ W⁻ᵀs = (x ⊙ Wᵀs + |x| ⊙ |W|ᵀs) / 2: three matmuls
        # (two with the recorded W x) instead of four, and no sign-split copies of the weight.
        w_abs, x_abs = weight.abs(), x.abs()
        if wx is None:
            wx = x @ weight.T
        Z = ((wx + x_abs @ w_abs.T) / 2).clamp(min=0)  # ≥ 0 exactly; the clamp removes round-off only
        S = safe_divide(R, Z)
        return (x * (S @ weight) + x_abs * (S @ w_abs)) / 2
    if rules == "lrp":
        wp, wn = weight.clamp(min=0), weight.clamp(max=0)
        xp, xn = x.clamp(min=0), x.clamp(max=0)
        return xp * (safe_divide(R, xp @ wp.T) @ wp) + xn * (safe_divide(R, xn @ wn.T) @ wn)
    raise ValueError(f"rules must be one of {RULE_SETS}, got {rules!r}")


def matmul(a: torch.Tensor, b: torch.Tensor, R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Z = a @ b (batched over leading dims): the z-rule for each operand, each share halved.

    a [..., n, m], b [..., m, p], R [..., n, p] -> (R_a [..., n, m], R_b [..., m, p]).
    R_a = a ⊙ ((R / Z) bᵀ) / 2, R_b = b ⊙ (aᵀ (R / Z)) / 2: each unhalved share alone sums to Σ R (where Z ≠ 0),
    so the halves together conserve it."""
    S = safe_divide(R, a @ b)
    # The halving is folded in where it is cheapest: A·V and Q·Kᵀ have N x N operands or results.
    if S.numel() <= a.numel():
        S = S * 0.5
        return (S @ b.transpose(-1, -2)).mul_(a), (a.transpose(-1, -2) @ S).mul_(b)
    return (S @ b.transpose(-1, -2)).mul_(a).mul_(0.5), (a.transpose(-1, -2) @ S).mul_(b).mul_(0.5)


def add(x1: torch.Tensor, x2: torch.Tensor, R: torch.Tensor,
        rules: str = "chefer") -> tuple[torch.Tensor, torch.Tensor]:
    """Relevance of the two operands of x1 + x2 (elementwise, same shape as R).

    z-rule shares a = x1 ⊙ R / (x1 + x2), b = x2 ⊙ R / (x1 + x2). "chefer" then rescales each so that
    |Σa| : |Σb| is kept and Σa + Σb = ΣR (sums over the whole tensor); "lrp" returns the plain shares."""
    S = safe_divide(R, x1 + x2)
    a, b = x1 * S, x2 * S
    if rules == "lrp":
        return a, b
    if rules != "chefer":
        raise ValueError(f"rules must be one of {RULE_SETS}, got {rules!r}")
    sa, sb, total = a.sum(), b.sum(), R.sum()
    norm = sa.abs() + sb.abs()
    fa = safe_divide(sa.abs(), norm) * total
    fb = safe_divide(sb.abs(), norm) * total
    return a * safe_divide(fa, sa), b * safe_divide(fb, sb)


def clone(*branches: torch.Tensor) -> torch.Tensor:
    """A tensor used by several branches (the skip fork, Q/K/V from one input): their relevances add up."""
    out = branches[0]
    for r in branches[1:]:
        out = out + r
    return out


def z_b(x: torch.Tensor, weight: torch.Tensor, R: torch.Tensor, low: float | torch.Tensor,
        high: float | torch.Tensor) -> torch.Tensor:
    """The z^B rule (Montavon et al. 2017) for an input layer whose inputs lie in [low, high]; bias ignored.

    x [..., K] (unfolded input patches), weight [D, K], R [..., D] -> R_x [..., K].
    Z_d = Σ_k (x_k W_dk − low W⁺_dk − high W⁻_dk) ≥ 0; R_k = Σ_d (x_k W_dk − low W⁺_dk − high W⁻_dk) R_d / Z_d."""
    wp, wn = weight.clamp(min=0), weight.clamp(max=0)
    Z = x @ weight.T - low * wp.sum(1) - high * wn.sum(1)
    S = safe_divide(R, Z)
    return x * (S @ weight) - low * (S @ wp) - high * (S @ wn)


def patch_embedding(pixels: torch.Tensor, conv: torch.nn.Conv2d, R: torch.Tensor) -> torch.Tensor:
    """z^B on a ViT patch-embedding convolution (kernel = stride, no padding), with low and high = the min and the
    max of the normalised image, as in Chefer's ``Conv2d.relprop`` for 3-channel inputs.

    pixels [C, h, w] (normalised), R [P, D] (relevance of the P patch embeddings, row-major over the patch grid)
    -> relevance per patch and input value, [P, C·k·k] (channel-major within a patch, as ``F.unfold``)."""
    kernel, stride = tuple(conv.kernel_size), tuple(conv.stride)
    if kernel != stride or any(int(p) for p in conv.padding) or conv.groups != 1:
        raise ValueError(f"the patch embedding is a convolution with kernel {kernel}, stride {stride}, padding "
                         f"{conv.padding}: attnviz's z^B rule expects non-overlapping patches (kernel = stride)")
    cols = torch.nn.functional.unfold(pixels[None], kernel, stride=stride)[0].T  # [P, C·k·k]
    weight = conv.weight.detach().to(pixels).flatten(1)  # [D, C·k·k]
    return z_b(cols, weight, R, pixels.min(), pixels.max())
