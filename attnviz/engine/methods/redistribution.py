"""Token-relevance redistribution rules (i)-(iv) (Sawaki & Murata, JSAI 2025). Class-agnostic, forward only.

Per block b and head h: z_ij = a_j · W_ij, P^h_ij = z_ij / (Σ_j' z_ij' + ε); relevance flows down as
R^(b-1)_j = Σ_i mean_h P^h_ij · R^(b)_i from R^(B) = e_0 ([CLS]; a decoder: e_p,
the explained position). Each row of P sums to 1, so Σ R is conserved.

- (i)   a_j = 1,              W = A + I           (equals rollout with per-head normalisation)
- (ii)  a_j = ‖v_j − v̄‖₂,    W = A + I
- (iii) a_j = 1,              W_ij = ‖v_j − v_i‖₂ · A_ij + δ_ij
- (iv)  a_j = ‖v_j − v̄‖₂,    W_ij = ‖v_j − v_i‖₂ · A_ij + δ_ij
"""

from __future__ import annotations

import torch

from ..adapters.base import linear_weight
from .common import Trace, cls_rows_of_product, head_mean

RULES = ("i", "ii", "iii", "iv")
EPS = 1e-12


def value_vectors(trace: Trace, values: str) -> torch.Tensor:
    """The vectors v the rules measure, [B, H, N, Dv].

    values="head": per-head value vectors W_V^h x_j (before W_O, the default); "output": each head's contribution
    after the output projection, W_O^h W_V^h x_j; "hidden": the block's input hidden state h_j (same for all heads).
    """
    V = trace.capture.V
    if values == "head":
        return V
    if values == "hidden":
        B, H = V.shape[:2]
        return trace.capture.hidden[:B, None].expand(B, H, -1, -1)
    if values == "output":
        ctx = trace.context
        B, H, N, Dh = V.shape
        out = []
        for b, block in enumerate(ctx.adapter.get_blocks(ctx.model)):
            W = linear_weight(ctx.adapter.get_part(block, "attn_out")).detach().to(V)  # [D, H·Dh]
            W = W.view(W.shape[0], H, Dh)  # [D, H, Dh]
            out.append(torch.einsum("hnd,khd->hnk", V[b], W))
        return torch.stack(out)
    raise ValueError(f"values must be 'head', 'output' or 'hidden', got {values!r}")


def propagation_matrices(trace: Trace, heads: torch.Tensor, rule: str = "i", values: str = "head",
                         normalize: str = "head") -> torch.Tensor:
    """M_b [B, N, N] with R^(b-1) = M_bᵀ R^(b): the head mean of the row-normalised P^h (normalize="head", the
    paper's definition) or the row-normalised head mean of z (normalize="mean")."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if normalize not in ("head", "mean"):
        raise ValueError(f"normalize must be 'head' or 'mean', got {normalize!r}")
    A = trace.capture.A
    N = A.shape[-1]
    eye = torch.eye(N, dtype=A.dtype, device=A.device)
    if rule in ("ii", "iv", "iii") or values != "head":
        v = value_vectors(trace, values)
    if rule in ("i", "ii"):
        W = A + eye
    else:
        W = torch.cdist(v, v) * A + eye  # ‖v_j − v_i‖₂ at [.., i, j]
    if rule in ("ii", "iv"):
        a = (v - v.mean(dim=2, keepdim=True)).norm(dim=-1)  # [B, H, N]
        z = a[:, :, None, :] * W
    else:
        z = W
    if normalize == "head":
        P = z / (z.sum(-1, keepdim=True) + EPS)
        return head_mean(P, heads)
    zbar = head_mean(z, heads)
    return zbar / (zbar.sum(-1, keepdim=True) + EPS)


def redistribution(trace: Trace, heads: torch.Tensor, rule: str = "i", values: str = "head",
                   normalize: str = "head") -> torch.Tensor:
    """Row l = R at the input when R = e_p (p = the trace's position, [CLS] = 0) is placed at the output of block l and
    carried down. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    M = propagation_matrices(trace, heads, rule, values, normalize)
    return cls_rows_of_product(M, 0, trace.position)
