"""The logit lens (nostalgebraist 2020): read the residual stream after each block as if it were the last.

    lens[l, i, :] = log_softmax( norm_f(x_{l+1}[i]) W_Uᵀ + b_U ),   l = 0..B−1,

x_{l+1} the stream leaving block l (``residual.ResidualRecord.resid``), norm_f the model's final normalisation and
W_U its unembedding. Row B−1 is the model's own log-softmax. [B, N, V] is large for a real vocabulary (GPT-2 small at
128 tokens: 12 x 128 x 50,257 floats, 309 MB), so ``token=`` gives one token's log-probability [B, N] and ``top_k=``
the k most probable tokens per cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .residual import ResidualRecord, apply_final_norm, unembedding


@dataclass(frozen=True)
class LensTop:
    """The k most probable tokens of each cell: ids [B, N, k] (int64) and their log-probabilities [B, N, k]."""

    ids: np.ndarray
    log_probs: np.ndarray


def lens_rows(explainer: Any, rec: ResidualRecord, normalised: bool = True) -> Iterator[torch.Tensor]:
    """Block by block (to bound memory), the log-probabilities [N, V] read from the stream leaving block l (the
    logits when ``normalised`` is False)."""
    model, adapter = explainer.model, explainer.adapter
    norm = adapter.get_final_norm(model)
    w_u, b_u = unembedding(adapter, model)
    for l in range(rec.num_blocks):
        logits = apply_final_norm(adapter, norm, rec.resid[l + 1]) @ w_u.t()
        if b_u is not None:
            logits = logits + b_u
        yield torch.log_softmax(logits, dim=-1) if normalised else logits


#: Top tokens kept per cell by the one full pass (``lens_stats``); a larger top_k makes its own pass.
KEPT_TOP = 8


def lens_stats(explainer: Any, rec: ResidualRecord) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One pass over the vocabulary, cached on the record: the normaliser logsumexp [B, N] of every cell's logits
    and its KEPT_TOP most probable tokens (ids and log-probabilities [B, N, k]). A token's log-probability is then
    its logit minus the normaliser: [B, N] dot products instead of [B, N, V] (the token picker answers at once)."""
    if "lens" not in rec.cache:
        lse, ids, values = [], [], []
        k = min(KEPT_TOP, explainer.vocab_size)
        for row in lens_rows(explainer, rec, normalised=False):
            norm = torch.logsumexp(row, dim=-1)
            top = torch.topk(row, k, dim=-1)
            lse.append(norm)
            ids.append(top.indices)
            values.append(top.values - norm[:, None])
        rec.cache["lens"] = (torch.stack(lse), torch.stack(ids), torch.stack(values))
    return rec.cache["lens"]


def token_log_probs(explainer: Any, rec: ResidualRecord, token_id: int) -> torch.Tensor:
    """log p(token) [B, N] from the cached normaliser: norm_f(x) · W_U[t] + b_U[t] − logsumexp."""
    lse = lens_stats(explainer, rec)[0]
    model, adapter = explainer.model, explainer.adapter
    w_u, b_u = unembedding(adapter, model)
    normed = apply_final_norm(adapter, adapter.get_final_norm(model), rec.resid[1:])  # [B, N, D]
    logit = normed @ w_u[token_id]
    if b_u is not None:
        logit = logit + b_u[token_id]
    return logit - lse


def logit_lens(explainer: Any, rec: ResidualRecord, token: Any = None, top_k: int | None = None,
               rank: bool = False) -> np.ndarray | LensTop:
    """[B, N, V] log-probabilities; with ``token`` (a string, an id, or a pair (a, b): log p_a − log p_b) [B, N]
    (with ``rank=True``: the token's rank [B, N], 0 = the most probable); with ``top_k`` a ``LensTop``."""
    if token is not None and top_k is not None:
        raise ValueError("pass token= or top_k=, not both")
    if rank:
        target = explainer.check_target(token) if token is not None else None
        if target is None or isinstance(target, tuple):
            raise ValueError("rank=True needs one token=, e.g. logit_lens(token=' Mary', rank=True)")
        return np.stack([(row > row[:, target:target + 1]).sum(-1).cpu().numpy() for row in lens_rows(explainer, rec)])
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        k = min(int(top_k), explainer.vocab_size)
        if k <= KEPT_TOP:
            _, top_ids, top_values = lens_stats(explainer, rec)
            return LensTop(ids=top_ids[..., :k].cpu().numpy().astype(np.int64),
                           log_probs=top_values[..., :k].cpu().numpy())
        ids, values = [], []
        for row in lens_rows(explainer, rec):
            top = torch.topk(row, k, dim=-1)
            ids.append(top.indices.cpu().numpy())
            values.append(top.values.cpu().numpy())
        return LensTop(ids=np.stack(ids).astype(np.int64), log_probs=np.stack(values))
    if token is not None:
        target = explainer.check_target(token)
        if isinstance(target, tuple):
            diff = token_log_probs(explainer, rec, target[0]) - token_log_probs(explainer, rec, target[1])
            return diff.cpu().numpy()
        return token_log_probs(explainer, rec, target).cpu().numpy()
    return np.stack([row.cpu().numpy() for row in lens_rows(explainer, rec)])


__all__ = ["KEPT_TOP", "LensTop", "lens_rows", "lens_stats", "logit_lens", "token_log_probs"]
