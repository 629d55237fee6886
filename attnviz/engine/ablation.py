"""Head ablation in the model, not only in the picture: zero chosen heads' outputs in the forward pass and report
the new prediction, probabilities and loss beside the old ones (``Explainer.ablate``, ``Explainer.ablation_effect``).

Zero ablation of head h in block b sets its output, the head's slice of the attention output before the output
projection W_O, to zero (docs/METHODS.md, "head ablation"; engine/intervention.py does it through transformers'
attention interface, so the model is left exactly as it was). Mean ablation replaces the head's output at every
token by its mean over the tokens of reference inputs, ō^(b,h) = mean_{inputs, n} (A^(b,h) V^(b,h))_n
(``head_means``), so the head keeps its average contribution and loses only what depends on the input.

For a language model the effect is read as next-token losses: loss_j = −log p(t_{j+1} | t_0..t_j) at every position
j, before and after (``NextTokenAblation``), e.g. on the repeated half of an induction sequence.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .heads import HeadMask


def ablated_heads(heads: Any, num_layers: int, num_heads: int) -> dict[int, tuple[int, ...]]:
    """{block: (head, ...)} to ablate, from any form ``HeadMask.parse`` reads with the given heads meaning *switched
    off*: {block: [heads]}, (block, head) pairs, head indices (in every block), or a bool mask [B, H] (True =
    ablated)."""
    return HeadMask.parse(heads, num_layers, num_heads, meaning="switched_off").switched_off()


@dataclasses.dataclass
class AblationResult:
    """Predictions with and without the ablated heads, per input. probs_*: [n, C]; loss_*: [n] cross-entropy of the
    given labels (None without labels)."""

    heads: dict[int, tuple[int, ...]]
    label_names: list[str]
    probs_before: np.ndarray
    probs_after: np.ndarray
    labels: np.ndarray | None = None

    @property
    def predicted_before(self) -> np.ndarray:
        return self.probs_before.argmax(-1)

    @property
    def predicted_after(self) -> np.ndarray:
        return self.probs_after.argmax(-1)

    def _loss(self, probs: np.ndarray) -> np.ndarray | None:
        if self.labels is None:
            return None
        return -np.log(np.clip(probs[np.arange(len(probs)), self.labels], 1e-45, None))

    @property
    def loss_before(self) -> np.ndarray | None:
        return self._loss(self.probs_before)

    @property
    def loss_after(self) -> np.ndarray | None:
        return self._loss(self.probs_after)

    def table(self):
        """pandas DataFrame, one row per input: predicted and its probability before and after (and the loss)."""
        import pandas as pd

        n = np.arange(len(self.probs_before))
        df = pd.DataFrame({
            "predicted": [self.label_names[i] for i in self.predicted_before],
            "p": self.probs_before[n, self.predicted_before],
            "predicted ablated": [self.label_names[i] for i in self.predicted_after],
            "p ablated": self.probs_after[n, self.predicted_after],
            "p of the first prediction, ablated": self.probs_after[n, self.predicted_before],
        })
        if self.labels is not None:
            df["loss"], df["loss ablated"] = self.loss_before, self.loss_after
        return df

    def __repr__(self) -> str:
        heads = ", ".join(f"{b}.{h}" for b, hs in self.heads.items() for h in hs) or "none"
        flips = int((self.predicted_before != self.predicted_after).sum())
        text = f"AblationResult(heads {heads}; {len(self.probs_before)} inputs, {flips} predictions changed"
        if self.labels is not None:
            text += f"; mean loss {self.loss_before.mean():.4f} -> {self.loss_after.mean():.4f}"  # type: ignore[union-attr]
        return text + ")"


@dataclasses.dataclass
class NextTokenAblation:
    """A language model's next-token losses with and without the ablated heads, per input: loss_*[i] [N_i − 1],
    entry j = −log p(t_{j+1} | t_0..t_j) (nats)."""

    heads: dict[int, tuple[int, ...]]
    mode: str
    tokens: list[list[str]]
    loss_before: list[np.ndarray]
    loss_after: list[np.ndarray]

    def mean_loss(self, start: int = 0, stop: int | None = None) -> tuple[float, float]:
        """Mean loss (before, after) over the inputs, of the predictions of tokens start..stop − 1 (token indices;
        e.g. the repeated half: start = N // 2)."""
        def mean(losses: list[np.ndarray]) -> float:
            parts = [x[max(start - 1, 0):None if stop is None else stop - 1] for x in losses]
            return float(np.concatenate(parts).mean())

        return mean(self.loss_before), mean(self.loss_after)

    def __repr__(self) -> str:
        heads = ", ".join(f"{b}.{h}" for b, hs in self.heads.items() for h in hs) or "none"
        before, after = self.mean_loss()
        return (f"NextTokenAblation(heads {heads} {self.mode}-ablated; {len(self.tokens)} inputs; mean next-token "
                f"loss {before:.4f} -> {after:.4f} nats)")


def _shape(explainer: Any) -> tuple[int, int]:
    B = len(explainer.adapter.get_blocks(explainer.model))
    return B, explainer.adapter.num_query_heads(explainer.model)


def head_means(explainer: Any, inputs: Any) -> torch.Tensor:
    """Every head's mean output over the tokens of ``inputs`` (one or a list), one forward each: [B, H, Dh]."""
    from .intervention import Intervention

    items = inputs if isinstance(inputs, list) else [inputs]
    if not items:
        raise ValueError("mean ablation needs reference inputs to average the heads' outputs over: the list is empty")
    sums: dict[int, torch.Tensor] = {}
    count = 0

    def observe(block: int, context: torch.Tensor) -> None:  # [1, H, N, Dh]
        total = context.detach().double().sum(dim=(0, 2))
        sums[block] = sums[block] + total if block in sums else total

    for x in items:
        enc = explainer.encode([x])
        explainer.forward(enc.model_inputs, Intervention(observe=observe))
        count += enc.samples[0].length
    B = _shape(explainer)[0]
    return torch.stack([sums[b] / count for b in range(B)])


def ablation_intervention(explainer: Any, heads: Any, mode: str = "zero", reference: Any = None):
    """The ``Intervention`` that ablates ``heads``: zeroed (mode="zero") or set to their mean output over the
    ``reference`` inputs (mode="mean"; a [B, H, Dh] tensor from ``head_means`` is taken as it is)."""
    from .intervention import Intervention

    B, H = _shape(explainer)
    chosen = ablated_heads(heads, B, H)
    if mode == "zero":
        return chosen, Intervention(zero_heads=chosen)
    if mode != "mean":
        raise ValueError(f"mode must be 'zero' or 'mean', got {mode!r}")
    if reference is None:
        raise ValueError("mean ablation needs reference= inputs (or head_means(...) of them): the heads' outputs are "
                         "replaced by their mean over those inputs' tokens")
    means = reference if isinstance(reference, torch.Tensor) else head_means(explainer, reference)
    if means.shape[:2] != (B, H):
        raise ValueError(f"head means must be [{B}, {H}, Dh], got {list(means.shape)}")
    return chosen, Intervention(head_values={b: {h: means[b, h] for h in hs} for b, hs in chosen.items()})


def next_token_losses(explainer: Any, model_inputs: dict[str, torch.Tensor], intervention: Any) -> np.ndarray:
    """−log p(t_{j+1} | t_0..t_j) for j = 0..N−2 of one input (float64 [N − 1]) under ``intervention``."""

    logits = explainer.forward(model_inputs, intervention).double()
    ids = model_inputs["input_ids"][0, 1:].to(logits.device)
    logp = torch.log_softmax(logits[0, :-1], -1)
    return (-logp.gather(1, ids[:, None])[:, 0]).cpu().numpy()


def _next_token_effect(explainer: Any, items: list[Any], heads: Any, mode: str, reference: Any) -> NextTokenAblation:
    from .intervention import Intervention

    chosen, intervention = ablation_intervention(explainer, heads, mode, items if reference is None else reference)
    tokens, before, after = [], [], []
    for x in items:
        enc = explainer.encode([x])
        if enc.samples[0].length < 2:
            raise ValueError(f"{x!r:.40} has one token: there is no next token to score")
        tokens.append(enc.samples[0].tokens)
        before.append(next_token_losses(explainer, enc.model_inputs, Intervention()))
        after.append(next_token_losses(explainer, enc.model_inputs, intervention))
    return NextTokenAblation(chosen, mode, tokens, before, after)


def ablation_effect(explainer: Any, inputs: Any, heads: Any, labels: Any = None, mode: str = "zero",
                    reference: Any = None) -> AblationResult | NextTokenAblation:
    """Run ``inputs`` (one or a list) with and without the ablated heads; ``labels`` (indices or names) add the loss.
    mode: "zero" or "mean" (the heads' mean output over ``reference``, default the inputs themselves). A language
    model gives its next-token losses at every position (``NextTokenAblation``; labels are the text itself)."""
    items = inputs if isinstance(inputs, list) else [inputs]
    if not items:
        raise ValueError("no inputs: the list is empty")
    if explainer.targets.per_position:  # a language model: the loss of every next token of the text
        if labels is not None:
            raise ValueError("a language model's labels are the next tokens of the text itself: pass no labels")
        return _next_token_effect(explainer, items, heads, mode, reference)
    chosen, intervention = ablation_intervention(explainer, heads, mode, items if reference is None else reference)
    names = list(explainer.label_names)
    ids = None
    if labels is not None:
        labels = labels if isinstance(labels, list) else [labels]
        if len(labels) != len(items):
            raise ValueError(f"{len(labels)} labels for {len(items)} inputs")
        ids = np.array([explainer.check_target(t) for t in labels])
    before, after = [], []
    for x in items:
        enc = explainer.encode([x])
        before.append(probs_with_ablation(explainer, enc.model_inputs, {}))
        after.append(probs_with_ablation(explainer, enc.model_inputs, intervention))
    return AblationResult(heads=chosen, label_names=names, probs_before=np.concatenate(before),
                          probs_after=np.concatenate(after), labels=ids)


def probs_with_ablation(explainer: Any, inputs: dict[str, torch.Tensor], heads: Any, position: int | None = None
                        ) -> np.ndarray:
    """Probabilities [b, C] (float64) of the model on ``inputs`` with ``heads`` ({block: heads} zeroed, or an
    ``Intervention``) ablated; a language model's next-token probabilities [b, V] at ``position``."""
    from .intervention import Intervention

    intervention = heads if isinstance(heads, Intervention) else Intervention(zero_heads=heads)
    logits = explainer.forward(inputs, intervention).double()
    if logits.dim() == 3:  # a language model: [b, N, V] at the explained position
        logits = logits[:, -1 if position is None else position]
    probs = explainer.probabilities(logits)
    return probs.cpu().numpy()


__all__ = ["AblationResult", "NextTokenAblation", "ablated_heads", "ablation_effect", "ablation_intervention",
           "head_means", "next_token_losses", "probs_with_ablation"]
