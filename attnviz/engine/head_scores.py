"""Head-type scores per block and head, after TransformerLens' definitions (Elhage et al. 2021; Olsson et al. 2022).

For attention A [B, H, N, N] (row = query) over tokens t_0 .. t_{N-1}:

* previous-token score: the mean over query positions i >= 1 of A[b, h, i, i - 1];
* duplicate-token score: the mean, over query positions i whose token occurred before, of the attention to those
  earlier occurrences, Σ_{j < i, t_j = t_i} A[b, h, i, j];
* induction score: the mean, over query positions i whose token occurred before, of the attention to the token
  right after each earlier occurrence, Σ_{j : 1 <= j <= i - 1, t_{j-1} = t_i} A[b, h, i, j] (on a sequence whose
  second half repeats its first, the offset diagonal TransformerLens reads).

Special tokens take part like any other token; a score with no qualifying position is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCORES = ("previous_token", "duplicate_token", "induction")


def head_scores(attention: Any, tokens: list[Any]) -> dict[str, np.ndarray]:
    """``{"previous_token", "duplicate_token", "induction"}`` -> float64 [B, H] (module docstring).

    attention: [B, H, N, N] (an Explanation's ``attention()``, or any array); tokens: N tokens or token ids."""
    A = np.asarray(attention, np.float64)
    if A.ndim != 4 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"attention must be [B, H, N, N], got shape {list(A.shape)}")
    N = A.shape[-1]
    if len(tokens) != N:
        raise ValueError(f"{len(tokens)} tokens for attention over {N} positions")
    keys = [str(t) for t in tokens]
    prev = np.zeros((N, N))
    dup = np.zeros((N, N))
    ind = np.zeros((N, N))
    for i in range(N):
        if i >= 1:
            prev[i, i - 1] = 1.0
        for j in range(i):
            if keys[j] == keys[i]:
                dup[i, j] = 1.0
                if j + 1 <= i - 1:
                    ind[i, j + 1] = 1.0
    out = {}
    for name, mask in (("previous_token", prev), ("duplicate_token", dup), ("induction", ind)):
        rows = mask.any(1)
        if not rows.any():
            out[name] = np.full(A.shape[:2], np.nan)
            continue
        out[name] = (A[..., rows, :] * mask[rows]).sum(-1).mean(-1)
    return out


__all__ = ["SCORES", "head_scores"]
