"""Shared fixtures: tiny seeded models of every architecture and one explanation of each."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz import Explainer
from attnviz.testing import tiny_model

TEXT_ARCHS = ("bert", "roberta", "distilbert", "electra")
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


def model_state(model):
    """Everything attnviz must leave untouched in a user's model (compare with ``assert_same_state``)."""
    return {
        "training": [m.training for m in model.modules()],
        "attn": model.config._attn_implementation,
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
                     for m in model.modules()),
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad is None for p in model.parameters()],
        "params": [p.detach().clone() for p in model.parameters()],
    }


def assert_same_state(before, after):
    assert before["training"] == after["training"]
    assert before["attn"] == after["attn"]
    assert before["hooks"] == after["hooks"]  # transformers 5 keeps hooks of its own; ours must all be gone
    assert before["requires_grad"] == after["requires_grad"]
    assert before["grads"] == after["grads"]
    assert all(torch.equal(a, b) for a, b in zip(before["params"], after["params"]))


@pytest.fixture(params=ALL_ARCHS)
def arch(request) -> str:
    return request.param


@pytest.fixture
def explanation(arch):
    model, proc = tiny_model(arch)
    return Explainer(model, proc).explain(sample_input(arch))
