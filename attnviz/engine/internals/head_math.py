"""Inside one head: the arithmetic of block l, head h for one query token, with the model's own numbers.

    scores_j  = s · q_i · k_j            (q, k after rotary embeddings where the architecture has them; s = 1/sqrt(Dh)
                                          or the module's own factor)
    masked_j  = scores_j for j <= i, −inf for j > i           (a decoder's causal mask)
    A_ij      = softmax_j(masked)                             (equal to the model's attention probabilities)
    z_i       = Σ_j A_ij v_j                                  (the head's output, before W_O)
    write_i   = z_i W_O[h]ᵀ                                   (what the head adds to the residual stream)
    direct_i  = write_i · u                                   (its direct contribution to the explained target,
                                                               through the final norm frozen at position i)

Under grouped-query attention query head h reads key/value head h // (H / H_kv). ``what_if(T)`` gives
softmax(masked / T): a temperature the model never uses, to show how sharpening or flattening changes the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .attribution import readout_vector
from .residual import ResidualRecord, head_write


@dataclass(frozen=True)
class HeadMath:
    """One head's computation for one query token (numpy, float32).

    q [Dh]; keys [N, Dh]; values [N, Dh]; scaling s; scores [N] (s · q·k_j, before the mask); masked [N] (−inf
    where the query may not look); weights [N] (the softmax: the model's attention row); model_weights [N] (the
    captured attention probabilities, for comparison); z [Dh]; write [D]; write_norm ‖write‖; direct: write · u for
    the explained target; kv_head: the key/value head this query head reads.
    """

    block: int
    head: int
    query: int
    kv_head: int
    q: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    scaling: float
    scores: np.ndarray
    masked: np.ndarray
    weights: np.ndarray
    model_weights: np.ndarray
    z: np.ndarray
    write: np.ndarray
    write_norm: float
    direct: float

    def what_if(self, temperature: float) -> np.ndarray:
        """softmax(masked / T) [N]: a what-if pattern (T < 1 sharpens, T > 1 flattens; T = 1 is the model's)."""
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        x = self.masked.astype(np.float64) / temperature
        x = np.exp(x - np.max(x))
        return (x / x.sum()).astype(np.float32)

    def __repr__(self) -> str:
        top = int(np.argmax(self.weights))
        return (f"<HeadMath block {self.block} head {self.head}, query {self.query}: attends most to key {top} "
                f"(A={self.weights[top]:.3f}); ‖output‖ {self.write_norm:.3f}; direct {self.direct:+.4f}>")


def head_math(explainer: object, rec: ResidualRecord, model_row: np.ndarray, block: int, head: int, query: int,
              target: object, causal: bool) -> HeadMath:
    """``rec`` recorded with ``qkv_blocks`` containing ``block``; model_row [N]: the captured attention
    probabilities of (block, head, query)."""
    q_all, k_all, v_all, scaling = rec.qkv[block]
    heads, kv_heads = q_all.shape[0], k_all.shape[0]
    kv = head // (heads // kv_heads)
    q = q_all[head, query]
    keys, values = k_all[kv], v_all[kv]
    scores = (keys @ q) * scaling  # [N]
    masked = scores.clone()
    if causal:
        masked[query + 1:] = float("-inf")
    weights = torch.softmax(masked, dim=-1)
    z = rec.z[block, query, head]  # the model's own A·V (equal to weights @ values up to the model's softmax dtype)
    write = head_write(explainer.adapter, explainer.model, block, head, z)  # type: ignore[attr-defined]
    u, _ = readout_vector(explainer, rec, query, target)
    return HeadMath(block=block, head=head, query=query, kv_head=kv, q=q.cpu().numpy(), keys=keys.cpu().numpy(),
                    values=values.cpu().numpy(), scaling=float(scaling), scores=scores.cpu().numpy(),
                    masked=masked.cpu().numpy(), weights=weights.cpu().numpy(),
                    model_weights=np.asarray(model_row, dtype=np.float32),
                    z=z.cpu().numpy(), write=write.cpu().numpy(), write_norm=float(write.norm()),
                    direct=float(write @ u))


__all__ = ["HeadMath", "head_math"]
