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
