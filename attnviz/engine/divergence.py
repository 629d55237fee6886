"""The Jensen-Shannon divergence, written once: model comparison (bits, per attention row) and Jain & Wallace's
adversarial attention (nats, differentiable) both call it.

    JSD(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M),  M = (P + Q) / 2,  KL(X ‖ Y) = Σ_i x_i (log x_i − log y_i),

over the last axis, with 0 · log 0 = 0 (the logarithm's argument is floored at ``floor``, so a zero entry adds
nothing and the gradient stays finite). In nats (at most ln 2) or, with ``base=2``, in bits (at most 1).
"""

from __future__ import annotations

import math

import torch


def jensen_shannon(p: torch.Tensor, q: torch.Tensor, base: float | None = None, floor: float = 1e-12) -> torch.Tensor:
    """JSD of each pair of distributions along the last axis: p, q [..., N] -> [...] (module docstring).
    base: None for nats, 2 for bits. Differentiable in p and q."""
    m = (p + q) / 2

    def kl(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x * (torch.log(x.clamp_min(floor)) - torch.log(y.clamp_min(floor)))).sum(-1)

    nats = (kl(p, m) + kl(q, m)) / 2
    return nats / math.log(base) if base else nats


__all__ = ["jensen_shannon"]
