"""Attention family: raw attention, last layer, rollout (Abnar & Zuidema 2020). Class-agnostic, forward only."""

from __future__ import annotations

import torch

from .common import Capture, Trace, cls_rows_of_product, full_products, head_mean


def raw(trace: Trace, heads: torch.Tensor, query: int | None = None) -> torch.Tensor:
    """Row l = mean_h A^(l)[h, query, :] (default: the trace's position, the [CLS] row of a classifier). [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    N = trace.num_tokens
    query = trace.position if query is None else query
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < N:
        raise ValueError(f"query must be a token index in [0, {N - 1}], got {query}")
    return head_mean(trace.capture.query_rows(query), heads)


def augmented(A: torch.Tensor | Capture, heads: torch.Tensor) -> torch.Tensor:
    """Â_b = (mean_h A^(b) + I) / rowsum: the residual-augmented attention of rollout and flow. [B, N, N].
    A: [B, H, N, N], or a ``Capture`` (its blocks head-averaged one at a time, never stacked whole)."""
    if isinstance(A, Capture):
        B, _, N, _ = A.attention_shape
        mean = torch.stack([head_mean(A.block(b)[None], heads[b:b + 1])[0] for b in range(B)])
    else:
        N = A.shape[-1]
        mean = head_mean(A, heads)
    M = mean + torch.eye(N, dtype=mean.dtype, device=mean.device)
    return M / M.sum(-1, keepdim=True)


def rollout(trace: Trace, heads: torch.Tensor, start_layer: int = 0, row: int | str | None = None) -> torch.Tensor:
    """J_l = Â_l ⋯ Â_start (later blocks on the left); row l = J_l[row] or, with row="max", max_i J_l[i, :].

    start_layer=0 as in Abnar & Zuidema; Chefer's ViT evaluation uses start_layer=1. row=None: the trace's
    position ([CLS] for a classifier, the explained position of a language model). [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    B = trace.num_blocks
    if not 0 <= start_layer < B:
        raise ValueError(f"start_layer must be in [0, {B - 1}], got {start_layer}")
    M = augmented(trace.capture, heads)
    row = trace.position if row is None else row
    if row == "max":
        return full_products(M, start_layer).amax(dim=1)
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < trace.num_tokens:
        raise ValueError(f"row must be a token index or 'max', got {row!r}")
    return cls_rows_of_product(M, start_layer, row)
