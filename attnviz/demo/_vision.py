"""The vision demo: a small ViT trained from scratch on two-item Fashion-MNIST canvases
(scripts/train_fashion_pairs.py, canvases from attnviz/demo/canvas.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._quiet import quiet_loading
from ._setup import to_device
from .canvas import CLASS_NAMES

WEIGHTS = Path(__file__).resolve().parent / "weights"
MODEL_DIR = WEIGHTS / "fashion_pairs"
SAMPLES = WEIGHTS / "fashion_pairs_samples.npz"


@dataclass(frozen=True, eq=False)
class CanvasSample:
    """One held-out canvas: ``image`` uint8 [H, W, 3]; ``labels`` (a, b) two different classes; ``masks`` bool
    [2, H, W] with ``masks[k]`` the pixels item k (class ``labels[k]``) drew (everything else is background)."""

    image: np.ndarray
    labels: tuple[int, int]
    masks: np.ndarray

    @property
    def label_names(self) -> tuple[str, str]:
        """The names of the two items on the canvas."""
        return CLASS_NAMES[self.labels[0]], CLASS_NAMES[self.labels[1]]

    def to_pil(self):
        """The canvas as an RGB ``PIL.Image``."""
        from PIL import Image

        return Image.fromarray(self.image, "RGB")


def _image_processor_class():
    # transformers >= 5 backs ViTImageProcessor with torchvision and falls back (with a warning) to the PIL one;
    # pick the PIL class directly when torchvision is absent. Both give the same pixels at the canvas size.
    try:
        import torchvision  # noqa: F401
        from transformers import ViTImageProcessor as cls
    except ImportError:
        try:
            from transformers import ViTImageProcessorPil as cls
        except ImportError:  # transformers 4.x: the PIL/numpy processor is ViTImageProcessor itself
            from transformers import ViTImageProcessor as cls
    return cls


def fashion_pairs(device: Any = "cpu"):
    """The demo two-item image classifier and its image processor, loaded from the package (never from a hub).

    Returns ``(model, image_processor)``: a fresh ``ViTForImageClassification`` (float32, eval mode, eager
    attention; multi-label over the 10 Fashion-MNIST classes, ``config.id2label`` names them) and the
    ``ViTImageProcessor`` it was trained with (64x64 canvases, the training canvases' pixel mean and std). Each
    call builds new objects. Held-out metrics and training time: ``weights/fashion_pairs_metrics.json``.

    ``device``: where the model goes: "cpu" (the default), "auto" (the GPU when torch sees one, as in Colab
    with a GPU runtime) or a name such as "cuda:1".
    """
    import torch
    from transformers import ViTForImageClassification

    with quiet_loading():
        model = ViTForImageClassification.from_pretrained(MODEL_DIR, attn_implementation="eager",
                                                          dtype=torch.float32, local_files_only=True)
        processor = _image_processor_class().from_pretrained(MODEL_DIR, local_files_only=True)
    model.eval()
    return to_device(model, device), processor


def fashion_pairs_samples() -> list[CanvasSample]:
    """Held-out canvases (items from the Fashion-MNIST *test* split, never seen in training) with labels and masks."""
    with np.load(SAMPLES) as z:
        images, labels = z["images"], z["labels"].astype(np.int64)
        masks = np.unpackbits(z["masks"], axis=-1, count=images.shape[2]).astype(bool)
    return [CanvasSample(image=images[i], labels=(int(labels[i, 0]), int(labels[i, 1])), masks=masks[i])
            for i in range(len(images))]
