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
    A = np.asarray(attention)
    if A.ndim != 4 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"attention must be [B, H, N, N], got shape {list(A.shape)}")
    N = A.shape[-1]
    if len(tokens) != N:
        raise ValueError(f"{len(tokens)} tokens for attention over {N} positions")
    keys = [str(t) for t in tokens]
    seen: dict[str, list[int]] = {}
    dup: list[tuple[int, int]] = []  # (query i, key j) pairs of each score's mask
    ind: list[tuple[int, int]] = []
    for i, k in enumerate(keys):
        for j in seen.get(k, []):
            dup.append((i, j))
            if j + 1 <= i - 1:
                ind.append((i, j + 1))
        seen.setdefault(k, []).append(i)
    out = {"previous_token": (np.diagonal(A, offset=-1, axis1=-2, axis2=-1).astype(np.float64).mean(-1)
                              if N > 1 else np.full(A.shape[:2], np.nan))}
    for name, pairs in (("duplicate_token", dup), ("induction", ind)):
        if not pairs:
            out[name] = np.full(A.shape[:2], np.nan)
            continue
        rows, cols = np.array(pairs).T  # rows ascending: pairs were collected query by query
        picked = A[..., rows, cols].astype(np.float64)  # [B, H, P]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        sums = np.add.reduceat(picked, starts, axis=-1)  # [B, H, queries]: attention to the mask, per query
        out[name] = sums.mean(-1)
    return out


__all__ = ["SCORES", "head_scores"]
