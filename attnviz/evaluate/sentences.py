"""Sentences that interpret evaluation numbers, written from the numbers with the comparison spelled out, so a tour
never says "above chance" beside 0.450 or "overlaps" where only one interval does. Each function returns the words
and is tested against the table it describes (tests/test_sentences.py).

- ``versus_chance``: a rate against chance, with its 95% Wilson interval over the trials: above, below, or not
  distinguishable from chance;
- ``against_best``: each method's bootstrap interval against the best method's, method by method;
- ``largest_changes``: the largest increases or decreases of a signed quantity, only those with that sign;
- ``jsd_scale``: which logarithm a Jensen-Shannon divergence uses and its maximum;
- ``duration``: a measured time in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd


def wilson_interval(rate: float, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion ``rate`` observed over ``trials`` trials (ties counted half
    still give a proportion in [0, 1])."""
    if trials <= 0:
        return float("nan"), float("nan")
    n = float(trials)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def versus_chance(name: str, rate: float, trials: int, chance: float = 0.5, what: str = "lands on the asked-for item"
                  ) -> str:
    """"{name} {what} in 0.450 of 40 trials (95% interval 0.30-0.60): not distinguishable from chance (0.50)."""
    lo, hi = wilson_interval(rate, trials)
    if lo > chance:
        verdict = f"above chance ({chance:.2f})"
    elif hi < chance:
        verdict = f"below chance ({chance:.2f})"
    else:
        side = "above" if rate > chance else "below" if rate < chance else "at"
        verdict = (f"{side} chance ({chance:.2f}) but not distinguishable from it on {trials} trials"
                   if side != "at" else f"exactly at chance ({chance:.2f})")
    return f"{name} {what} in {rate:.3f} of {trials} trials (95% interval {lo:.2f}-{hi:.2f}): {verdict}."


def against_best(table: pd.DataFrame, metric: str, methods: Sequence[str], higher_is_better: bool = True,
                 best: str | None = None) -> list[str]:
    """One sentence per method of ``methods``, comparing its 95% interval (columns ``metric lo`` / ``metric hi``)
    with the best method's: wholly below it, wholly above it, or overlapping (cannot be told apart); the best method
    is the table's best by ``metric`` unless given. The first sentence names the best method and its interval."""
    values = table[metric]
    best = best if best is not None else str(values.idxmax() if higher_is_better else values.idxmin())
    blo, bhi = float(table.loc[best, f"{metric} lo"]), float(table.loc[best, f"{metric} hi"])
    out = [f"Best {metric}: {best} {float(values[best]):.3f} (95% interval {blo:.3f}-{bhi:.3f})."]
    for m in methods:
        if m == best:
            continue
        v, lo, hi = float(values[m]), float(table.loc[m, f"{metric} lo"]), float(table.loc[m, f"{metric} hi"])
        own = f"{m} {v:.3f} ({lo:.3f}-{hi:.3f})"
        if hi < blo:
            worse = "worse" if higher_is_better else "better"
            out.append(f"{own}: its upper bound {hi:.3f} is below {best}'s lower bound {blo:.3f}, so it scores "
                       f"{worse} than {best} on these inputs.")
        elif lo > bhi:
            better = "better" if higher_is_better else "worse"
            out.append(f"{own}: its lower bound {lo:.3f} is above {best}'s upper bound {bhi:.3f}, so it scores "
                       f"{better} than {best} on these inputs.")
        else:
            out.append(f"{own}: its interval overlaps {best}'s ({blo:.3f}-{bhi:.3f}), so the two cannot be told "
                       "apart on these inputs.")
    return out


def largest_changes(changes: Mapping[str, float], k: int, direction: str, what: str = "words") -> str:
    """The k largest increases (``direction="grew"``) or decreases (``"shrank"``) among ``changes``, listing only
    values with that sign; when none has it, says so with the value nearest to it."""
    if direction not in ("grew", "shrank"):
        raise ValueError(f"direction must be 'grew' or 'shrank', got {direction!r}")
    sign = 1.0 if direction == "grew" else -1.0
    with_sign = sorted((w for w, v in changes.items() if sign * v > 0), key=lambda w: -sign * changes[w])[:k]
    if with_sign:
        listed = ", ".join(f"{w} {changes[w]:+.4f}" for w in with_sign)
        return f"{what} whose share {direction} most: {listed}"
    if not changes:
        return f"no {what} to compare"
    nearest = min(changes, key=lambda w: sign * -changes[w])
    return (f"no {what[:-1] if what.endswith('s') else what}'s share {direction} on average: every change is "
            f"{'negative or zero' if direction == 'grew' else 'positive or zero'} (the nearest is {nearest} "
            f"{changes[nearest]:+.4f})")


def jsd_scale(base: str) -> str:
    """How a Jensen-Shannon divergence is measured: base "2" (bits, at most 1) or "e" (nats, at most ln 2)."""
    if base == "2":
        return "Jensen-Shannon divergence in bits (base-2 logarithm): 0 = identical, at most 1 = no overlap"
    if base == "e":
        return ("Jensen-Shannon divergence in nats (natural logarithm, as Jain & Wallace): 0 = identical, at most "
                "ln 2 ≈ 0.693")
    raise ValueError(f"base must be '2' or 'e', got {base!r}")


def duration(seconds: float) -> str:
    """A measured time in words: "41 s", "2.4 minutes"."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} minutes"


__all__ = ["against_best", "duration", "jsd_scale", "largest_changes", "versus_chance", "wilson_interval"]
