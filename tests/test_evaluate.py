"""Localisation against object masks: the class-specificity measure of the vision demo."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from conftest import sample_image

from attnviz import Explainer
from attnviz.evaluate import mask_hit_rates, upsample
from attnviz.testing import tiny_model


def canvases(n: int):
    rng = np.random.RandomState(0)
    for i in range(n):
        masks = np.zeros((2, 32, 32), bool)
        masks[0, 2:12, 3:15] = True
        masks[1, 18:30, 16:30] = True
        yield SimpleNamespace(image=sample_image(i, (32, 32)), labels=tuple(rng.permutation(3)[:2]), masks=masks)


def test_class_agnostic_methods_score_exactly_chance():
    explainer = Explainer(*tiny_model("vit", num_labels=3))
    result = mask_hit_rates(explainer, list(canvases(4)), ["rollout", "raw", "gae"])
    assert result.trials == 8
    # The same map for both targets: one of the two comparisons of a canvas wins, the other loses.
    assert result.rates["rollout"] == 0.5 and result.rates["raw"] == 0.5
    assert 0.0 <= result.rates["gae"] <= 1.0
    assert "rollout" in result.table()


class NegativeOnTarget:
    """A stand-in explainer whose map for class t is -1 on item t's patches and 0 elsewhere: all the relevance is
    on the target item, with a negative sign."""

    def __init__(self, sample):
        self.sample = sample

    def explain(self, image, target):
        grid = 8  # 32 x 32 canvas, 4 x 4 pixel patches

        def map(method, target):
            k = list(self.sample.labels).index(target)
            cells = self.sample.masks[k].reshape(grid, 4, grid, 4).any((1, 3))
            return np.concatenate([[0.0], -cells.ravel().astype(np.float32)])

        return SimpleNamespace(image=image, map=map, patch_map=lambda v: np.asarray(v)[1:].reshape(grid, grid))


def test_signed_maps_can_be_compared_by_magnitude():
    sample = next(canvases(1))
    fake = NegativeOnTarget(sample)
    assert mask_hit_rates(fake, [sample], ["m"]).rates["m"] == 0.0
    assert mask_hit_rates(fake, [sample], ["m"], magnitude=True).rates["m"] == 1.0


def test_upsample_keeps_a_constant_map_constant_and_the_grid_orientation():
    e = Explainer(*tiny_model("vit")).explain(sample_image())
    values = np.zeros(e.num_tokens, np.float32)
    values[1] = 1.0  # patch (0, 0): top-left
    pixels = upsample(e, values)
    assert pixels.shape == (32, 32)
    assert pixels[:4, :4].mean() > 0.9 and pixels[16:, 16:].max() == pytest.approx(0.0)
    assert np.allclose(upsample(e, np.ones(e.num_tokens)), 1.0)
