"""Head ablation in the model, not only in the picture: zero chosen heads' outputs in the forward pass and report
the new prediction, probabilities and loss beside the old ones (``Explainer.ablate``, ``Explainer.ablation_effect``).

Zero ablation of head h in block b sets its output, the head's slice of the attention output before the output
projection W_O, to zero (docs/METHODS.md, "head ablation"; engine/intervention.py does it through transformers'
attention interface, so the model is left exactly as it was). Mean ablation (replacing the output by its mean over
a data set) is not implemented.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch


def ablated_heads(heads: Any, num_layers: int, num_heads: int) -> dict[int, tuple[int, ...]]:
    """{block: (head, ...)} from {block: [heads]}, a list of (block, head) pairs, or a bool mask [B, H] where True
    means *ablated*. Indices are checked."""
    out: dict[int, set[int]] = {}
    if isinstance(heads, dict):
        pairs = [(b, h) for b, hs in heads.items() for h in ([hs] if isinstance(hs, int) else hs)]
    else:
        a = np.asarray(heads)
        if a.dtype == np.bool_:
            if a.shape != (num_layers, num_heads):
                raise ValueError(f"a head mask must have shape [{num_layers}, {num_heads}] (True = ablated), "
                                 f"got {list(a.shape)}")
            pairs = [(int(b), int(h)) for b, h in zip(*np.nonzero(a))]
        else:
            pairs = [tuple(p) for p in heads]
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"heads to ablate are (block, head) pairs, got {pair!r}")
        b, h = pair
        if isinstance(b, bool) or isinstance(h, bool) or not isinstance(b, (int, np.integer)) \
                or not isinstance(h, (int, np.integer)):
            raise TypeError(f"block and head must be integers, got {pair!r}")
        if not 0 <= b < num_layers or not 0 <= h < num_heads:
            raise ValueError(f"head ({b}, {h}) is out of range: the model has {num_layers} blocks x {num_heads} heads")
        out.setdefault(int(b), set()).add(int(h))
    return {b: tuple(sorted(hs)) for b, hs in sorted(out.items())}


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


def ablation_effect(explainer: Any, inputs: Any, heads: Any, labels: Any = None) -> AblationResult:
    """Run ``inputs`` (one or a list) with and without the ablated heads; ``labels`` (indices or names) add the loss."""
    items = inputs if isinstance(inputs, list) else [inputs]
    if not items:
        raise ValueError("no inputs: the list is empty")
    cfg = explainer.model.config
    B = len(explainer.adapter.get_blocks(explainer.model))
    H = int(getattr(cfg, "num_attention_heads", None) or getattr(cfg, "n_heads", None) or 0)
    chosen = ablated_heads(heads, B, H)
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
        after.append(probs_with_ablation(explainer, enc.model_inputs, chosen))
    return AblationResult(heads=chosen, label_names=names, probs_before=np.concatenate(before),
                          probs_after=np.concatenate(after), labels=ids)


def probs_with_ablation(explainer: Any, inputs: dict[str, torch.Tensor], heads: dict[int, tuple[int, ...]]
                        ) -> np.ndarray:
    """Class probabilities [b, C] (float64) of the model on ``inputs`` with ``heads`` ({block: heads}) ablated."""
    from .capture import cast_inputs
    from .intervention import Intervention, intervened

    with intervened(explainer.model, explainer.adapter, Intervention(zero_heads=heads)), torch.no_grad():
        logits = explainer.model(**cast_inputs(explainer.model, inputs), return_dict=True).logits.double()
    probs = torch.sigmoid(logits) if explainer.multi_label else torch.softmax(logits, -1)
    return probs.cpu().numpy()


__all__ = ["AblationResult", "ablated_heads", "ablation_effect", "probs_with_ablation"]
