"""Statistics the evaluation shares: bootstrap intervals, Kendall τ (plain and the AttCAT authors' index-order
variant), the top-k Kendall distance, Jensen-Shannon divergence, total variation distance."""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau


def bootstrap_interval(values: np.ndarray, resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` [n] over ``resamples`` resamples of the n
    instances (with replacement). NaN values are left out; (nan, nan) for fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2 or resamples < 1:  # bootstrap=0: no interval asked for
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall τ-b between two score vectors (scipy.stats.kendalltau); NaN when either is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(kendalltau(a, b).statistic)


def kendall_of_orders(a: np.ndarray, b: np.ndarray) -> float:
    """The AttCAT authors' class-specificity τ: ``kendalltau(argsort(-a), argsort(-b))``, between the two index
    orders rather than between the values (a different number in general; METHODS.md)."""
    return float(kendalltau(np.argsort(-np.asarray(a)), np.argsort(-np.asarray(b))).statistic)


def topk_kendall_distance(a: np.ndarray, b: np.ndarray, k: int, p: float = 0.5) -> float:
    """Fagin, Kumar & Sivakumar's (2003) Kendall distance K^(p) between the top-k lists of two score vectors,
    normalised to [0, 1] by its maximum k² + p·k(k−1) (0: the same top k in the same order; 1: disjoint top k).

    For each pair of items in the union of the two top-k lists: 1 if both lists rank both items and disagree on
    their order, or one list ranks both and the other ranks only the one the first puts lower, or each list ranks
    exactly one of them (a different one); p if one list ranks both and the other neither. Jain & Wallace (2019)
    report this distance between attention and gradient rankings."""
    a, b = np.asarray(a), np.asarray(b)
    k = int(min(k, a.size))
    top_a, top_b = list(np.argsort(-a, kind="stable")[:k]), list(np.argsort(-b, kind="stable")[:k])
    rank_a, rank_b = {x: r for r, x in enumerate(top_a)}, {x: r for r, x in enumerate(top_b)}
    union = sorted(set(top_a) | set(top_b))
    total = 0.0
    for ii, i in enumerate(union):
        for j in union[ii + 1:]:
            total += _pair_penalty(rank_a, rank_b, i, j, p)
    return total / (k * k + p * k * (k - 1)) if k else 0.0


def _pair_penalty(ra: dict, rb: dict, i: int, j: int, p: float) -> float:
    in_a = (i in ra, j in ra)
    in_b = (i in rb, j in rb)
    if all(in_a) and all(in_b):
        return float((ra[i] < ra[j]) != (rb[i] < rb[j]))
    if all(in_a) and any(in_b):  # b ranks one of them: a penalty if a puts that one lower
        present = i if in_b[0] else j
        other = j if present == i else i
        return float(ra[present] > ra[other])
    if all(in_b) and any(in_a):
        present = i if in_a[0] else j
        other = j if present == i else i
        return float(rb[present] > rb[other])
    if all(in_a) or all(in_b):  # one list ranks both, the other neither
        return p
    return 1.0  # each list ranks exactly one of them, a different one


def total_variation(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    """½ Σ |p − q| along ``axis``."""
    return 0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum(axis=axis)


__all__ = ["bootstrap_interval", "kendall", "kendall_of_orders", "topk_kendall_distance", "total_variation"]
