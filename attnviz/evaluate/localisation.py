"""Does an explanation for class A land on the object of class A? Measured on images with one mask per object.

Used on the two-item Fashion-MNIST canvases of ``attnviz.demo.fashion_pairs_samples()``: each canvas holds items of
two different classes, so a class-specific method must move its relevance when the target changes, and a
class-agnostic one (rollout) cannot do better than chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def upsample(explanation, values: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """A token map [N] as a pixel map [h, w]: the patch grid, bilinearly upsampled (as ImageView draws it)."""
    grid = torch.as_tensor(explanation.patch_map(values), dtype=torch.float32)[None, None]
    size = size or explanation.image.shape[:2]
    return F.interpolate(grid, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


@dataclass
class MaskHitRates:
    """Per method: the fraction of (canvas, target item) trials whose relevance density is higher inside the
    target item's mask than inside the other item's mask (ties count half). trials = 2 per canvas."""

    rates: dict[str, float]
    trials: int

    def table(self) -> str:
        """A readable table: each method's hit rate and the number of trials."""
        lines = [f"{'method':24} {'hit rate':>9}   ({self.trials} trials: 2 targets x {self.trials // 2} canvases)"]
        lines += [f"{name:24} {rate:9.3f}" for name, rate in self.rates.items()]
        return "\n".join(lines)


def mask_hit_rates(explainer, samples: Sequence, methods: Sequence[str], options: dict | None = None,
                   magnitude: bool = False) -> MaskHitRates:
    """samples: records with ``image``, ``labels`` (a, b) and ``masks`` bool [2, h, w] (item a, item b).

    For each canvas and each of its two items as the target, the method's map is upsampled to the canvas and the
    mean relevance inside the target's mask is compared with the mean inside the other item's mask.
    magnitude: compare mean |relevance| instead (for signed maps such as attcat and grad_input, whose strong
    negative evidence on the target item otherwise counts against it)."""
    options = options or {}
    hits = {m: 0.0 for m in methods}
    trials = 0
    for sample in samples:
        masks = np.asarray(sample.masks, dtype=bool)
        e = explainer.explain(sample.image, target=int(sample.labels[0]))
        for k in (0, 1):
            target = int(sample.labels[k])
            inside, other = masks[k], masks[1 - k]
            for m in methods:
                pixels = upsample(e, e.map(m, target=target, **options.get(m, {})), masks.shape[1:])
                if magnitude:
                    pixels = np.abs(pixels)
                a, b = pixels[inside].mean(), pixels[other].mean()
                hits[m] += 1.0 if a > b else 0.5 if a == b else 0.0
            trials += 1
    return MaskHitRates({m: hits[m] / trials for m in methods}, trials)


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """AP = Σ_n (R_n − R_{n−1}) P_n over the distinct score thresholds, highest first (sklearn's definition)."""
    s = np.asarray(scores, np.float64).ravel()
    t = np.asarray(truth, bool).ravel()
    positives = int(t.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # the last index of each distinct score
    tp = np.cumsum(t)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def segmentation_scores(values: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Chefer et al.'s segmentation test for one map [h, w] against one bool mask [h, w]: the map min-max
    normalised and thresholded at its mean; pixel accuracy, mIoU (mean of the foreground and background IoU) and
    AP of the normalised map as a score for the foreground."""
    v = np.asarray(values, np.float64)
    lo, hi = v.min(), v.max()
    norm = (v - lo) / (hi - lo) if hi > lo else np.zeros_like(v)
    pred = norm > norm.mean()
    truth = np.asarray(mask, bool)
    ious = []
    for a, b in ((pred, truth), (~pred, ~truth)):
        union = np.logical_or(a, b).sum()
        ious.append(np.logical_and(a, b).sum() / union if union else 1.0)
    return {"pixel_accuracy": float((pred == truth).mean()), "miou": float(np.mean(ious)),
            "map": average_precision(norm, truth)}


def localisation_scores(explainer, items, methods, masks, target, labels, options, progress, bootstrap: int,
                        seed: int):
    """``faithfulness(..., preset="localisation", masks=...)``: segmentation_scores per input and method."""
    import pandas as pd

    from .protocol import resolve_targets
    from .results import FaithfulnessResult

    if explainer.modality != "image":
        raise ValueError("preset 'localisation' measures image models (pixel masks); this explainer is for text")
    if masks is None or len(masks) != len(items):
        raise ValueError(f"preset 'localisation' needs masks=[...]: one bool [h, w] mask per input ({len(items)})")
    targets = resolve_targets(explainer, len(items), target, labels)
    rows = []
    for i, (item, mask, t) in enumerate(zip(items, masks, targets)):
        e = explainer.explain(item, target=t)
        mask = np.asarray(mask, bool)
        for m in methods:
            pixels = upsample(e, e.map(m, target=e.target, **options.get(m, {})), mask.shape)
            for metric, value in segmentation_scores(pixels, mask).items():
                rows.append({"instance": i, "method": m, "metric": metric, "value": value, "target": e.target})
    params = {"preset": "localisation", "target": target if isinstance(target, str) else "given", "methods": methods,
              "options": options, "bootstrap": bootstrap, "seed": seed, "instances": len(items),
              "threshold": "mean of the min-max normalised map"}
    return FaithfulnessResult(per_instance=pd.DataFrame(rows), params=params)
