"""Direct logit attribution: how much each head, each MLP and the embeddings write the explained logit directly.

The final stream at the explained position p is a sum of parts (``residual``): x_B = e + Σ_l Σ_h z_{l,h} W_O[h]ᵀ +
Σ_l b_O,l + Σ_l m_l. The logit is s = norm_f(x_B) · w + c with w = W_U[t] (or W_U[a] − W_U[b] for a contrastive
pair) and c = b_U[t] (or b_U[a] − b_U[b]). Freezing the norm's divisor σ at its value for x_B makes norm_f linear:

    LayerNorm:  norm_f(x) = (x − mean(x)) / σ ⊙ γ + β   ->  part c contributes c · u,  u = (γ ⊙ w)/σ − mean((γ ⊙ w)/σ)
    RMSNorm:    norm_f(x) = x / σ ⊙ γ                     ->  part c contributes c · u,  u = (γ ⊙ w)/σ

so the contributions add up exactly to s: Σ heads + Σ mlps + embeddings + biases = s, where ``biases`` holds
Σ_l b_O,l · u, β · w and c. (TransformerLens's ``decompose_resid`` + ``apply_ln_to_stack`` with the final scale cached.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .residual import ResidualRecord, head_writes, norm_parameters, norm_scale, output_bias, unembedding

FROZEN_NOTE = ("the final normalisation's divisor is frozen at its value for the full residual stream at the "
               "explained position, so each part's contribution is linear and the parts add up to the logit")


@dataclass(frozen=True)
class DirectAttribution:
    """Each component's direct contribution to the explained score (a logit, or a logit difference).

    heads [B, H]: z_{l,h} W_O[h]ᵀ · u; mlps [B]: m_l · u; embeddings: e · u; biases: the attention output biases, the
    final norm's shift and the unembedding bias; total: their sum; logit: the model's own score (equal to total to
    float precision). target: the token id or (a, b) pair; description: it in words; position: the explained row.
    """

    heads: np.ndarray
    mlps: np.ndarray
    embeddings: float
    biases: float
    total: float
    logit: float
    target: Any
    description: str
    position: int
    note: str = FROZEN_NOTE

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The k components with the largest |contribution|: ("head 1.2" | "mlp 0" | "embeddings", value)."""
        parts = [(f"head {l}.{h}", float(v)) for (l, h), v in np.ndenumerate(self.heads)]
        parts += [(f"mlp {l}", float(v)) for l, v in enumerate(self.mlps)] + [("embeddings", self.embeddings)]
        return sorted(parts, key=lambda item: -abs(item[1]))[:k]

    def __repr__(self) -> str:
        best = ", ".join(f"{name} {value:+.3f}" for name, value in self.top(3))
        return (f"<DirectAttribution of {self.description} at position {self.position}: total {self.total:.4f} "
                f"(the model's logit {self.logit:.4f}); largest {best}>")


def target_direction(explainer: Any, target: Any) -> tuple[torch.Tensor, float]:
    """w [D] and c for the score s = norm_f(x) · w + c of a token id or a pair (a, b)."""
    w_u, b_u = unembedding(explainer.adapter, explainer.model)
    if isinstance(target, tuple):
        a, b = target
        return w_u[a] - w_u[b], float(b_u[a] - b_u[b]) if b_u is not None else 0.0
    return w_u[target], float(b_u[target]) if b_u is not None else 0.0


def readout_vector(explainer: Any, rec: ResidualRecord, position: int, target: Any) -> tuple[torch.Tensor, float]:
    """u [D] and the constant k with score = x_part · u summed over parts + k (the frozen-norm readout above)."""
    adapter, model = explainer.adapter, explainer.model
    norm = adapter.get_final_norm(model)
    gamma, beta, _ = norm_parameters(adapter, norm)
    w, c = target_direction(explainer, target)
    sigma = norm_scale(adapter, norm, rec.resid[-1, position])  # [1]
    u = gamma * w / sigma
    if adapter.norm == "layernorm":
        u = u - u.mean()
    constant = c + (float(beta @ w) if beta is not None else 0.0)
    return u, constant


def direct_attribution(explainer: Any, rec: ResidualRecord, position: int, target: Any,
                       description: str) -> DirectAttribution:
    u, constant = readout_vector(explainer, rec, position, target)
    heads = torch.stack([head_writes(explainer.adapter, explainer.model, l, rec.z[l, position]) @ u
                         for l in range(rec.num_blocks)])  # [B, H]
    mlps = rec.mlp_out[:, position] @ u  # [B]
    embeddings = float(rec.resid[0, position] @ u)
    biases = constant
    for l in range(rec.num_blocks):
        b_o = output_bias(explainer.adapter, explainer.model, l)
        if b_o is not None:
            biases += float(b_o @ u)
    total = float(heads.sum() + mlps.sum()) + embeddings + biases
    logits = rec.logits[position]
    logit = float(logits[target[0]] - logits[target[1]]) if isinstance(target, tuple) else float(logits[target])
    return DirectAttribution(heads=heads.cpu().numpy(), mlps=mlps.cpu().numpy(), embeddings=embeddings,
                             biases=biases, total=total, logit=logit, target=target, description=description,
                             position=position)


__all__ = ["FROZEN_NOTE", "DirectAttribution", "direct_attribution", "readout_vector", "target_direction"]
