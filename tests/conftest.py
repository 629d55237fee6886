"""Shared fixtures: tiny seeded models of every architecture and one explanation of each."""

from __future__ import annotations

import numpy as np
import pytest

from attnviz import Explainer
from attnviz.testing import tiny_model

TEXT_ARCHS = ("bert", "roberta", "distilbert")
IMAGE_ARCHS = ("vit", "deit")
ALL_ARCHS = TEXT_ARCHS + IMAGE_ARCHS

SENTENCE = "the movie was unbelievably charming , not boring"


def sample_image(seed: int = 0, size: tuple[int, int] = (40, 40)) -> np.ndarray:
    """A seeded RGB uint8 image [h, w, 3] with some structure (a bright square on noise)."""
    rng = np.random.RandomState(seed)
    img = rng.randint(0, 120, (*size, 3)).astype(np.uint8)
    img[8:20, 10:24] = [250, 200, 40]
    return img


def sample_input(arch: str):
    return SENTENCE if arch in TEXT_ARCHS else sample_image()


@pytest.fixture(params=ALL_ARCHS)
def arch(request) -> str:
    return request.param


@pytest.fixture
def explanation(arch):
    model, proc = tiny_model(arch)
    return Explainer(model, proc).explain(sample_input(arch))
