"""Two-item Fashion-MNIST canvases with one pixel mask per item (numpy only).

Each canvas is ``CANVAS x CANVAS`` RGB on a plain ``BACKGROUND``; it holds two Fashion-MNIST items of different
classes (downsampled from 28x28 to ``ITEM x ITEM``) at random places on a ``GRID``-pixel lattice, with bounding
boxes that do not overlap, each tinted with its own random saturated colour. An item
pixel of grey level ``g`` is drawn with opacity ``g / 255`` over the background when ``g >= MASK_MIN`` and not at
all below it, so ``mask[k]`` (``g >= MASK_MIN`` for item ``k``) is exactly the set of canvas pixels that item ``k``
changed: the ground truth for "does the explanation of class A land on item A?".
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

CANVAS = 64
ITEM = 24  # 3 x 3 patches of the demo ViT
BACKGROUND = (0, 0, 0)
MASK_MIN = 16  # grey levels below this are treated as background (invisible halo of the 28x28 scans)
GRID = 8  # item corners snap to multiples of GRID pixels: the demo ViT's patch size (see random_positions)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_fashion_mnist(split: str = "train", root: str | Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Read the IDX files: ``images`` uint8 [N, 28, 28], ``labels`` int64 [N] (N = 60000 train, 10000 test)."""
    prefix = {"train": "train", "test": "t10k"}[split]
    root = Path(root)
    with gzip.open(root / f"{prefix}-images-idx3-ubyte.gz", "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(root / f"{prefix}-labels-idx1-ubyte.gz", "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


def resize_items(images: np.ndarray, size: int = ITEM) -> np.ndarray:
    """uint8 [N, 28, 28] -> uint8 [N, size, size], antialiased (PIL bilinear)."""
    from PIL import Image

    if images.shape[1:] == (size, size):
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])


def random_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` saturated, bright RGB tints in [0, 1], float32 [n, 3] (HSV with S in [0.6, 1], V in [0.75, 1])."""
    h = rng.uniform(0.0, 1.0, n)
    s = rng.uniform(0.6, 1.0, n)
    v = rng.uniform(0.75, 1.0, n)
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in
                      [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]])  # [6, n, 3]
    return table[i, np.arange(n)].astype(np.float32)


def random_positions(n: int, rng: np.random.Generator, item: int = ITEM, grid: int = GRID) -> np.ndarray:
    """Top-left corners int64 [n, 2, 2] (item, (y, x)) of two ``item`` boxes that do not overlap in the canvas.

    Corners are uniform over multiples of ``grid`` (6 x 6 places per item at the defaults), kept where the boxes
    do not overlap. With ``grid`` equal to the demo ViT's patch size an item always meets the patches in the same
    phase, so each of its patches looks the same wherever it is: that is what lets a ViT, which has no
    convolutional prior, learn the task from scratch in minutes on a CPU (at 1-pixel positions it needs many times
    more canvases), and it makes every patch belong to at most one item.
    """
    hi = (CANVAS - item) // grid + 1
    out = np.empty((n, 2, 2), np.int64)
    todo = np.arange(n)
    while todo.size:
        pos = rng.integers(0, hi, (todo.size, 2, 2)) * grid
        d = np.abs(pos[:, 0] - pos[:, 1])
        ok = (d >= item).any(-1)
        out[todo[ok]] = pos[ok]
        todo = todo[~ok]
    return out


def make_canvases(images: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator,
                  background: tuple[int, int, int] = BACKGROUND, grid: int = GRID) -> dict[str, np.ndarray]:
    """Draw ``n`` two-item canvases from a pool of (already resized, see ``resize_items``) Fashion-MNIST items.

    Returns a dict with ``images`` uint8 [n, CANVAS, CANVAS, 3], ``labels`` int64 [n, 2] (two different classes),
    ``masks`` bool [n, 2, CANVAS, CANVAS], ``items`` int64 [n, 2] (indices into the pool), ``colours`` float32
    [n, 2, 3] and ``positions`` int64 [n, 2, 2] (top-left (y, x) of each item).
    """
    a = rng.integers(0, len(labels), n)
    b = rng.integers(0, len(labels), n)
    same = labels[a] == labels[b]
    while same.any():
        b[same] = rng.integers(0, len(labels), int(same.sum()))
        same = labels[a] == labels[b]
    items = np.stack([a, b], 1)
    colours = random_colours(2 * n, rng).reshape(n, 2, 3)
    size = images.shape[1]
    positions = random_positions(n, rng, item=size, grid=grid)

    bg = np.asarray(background, np.float32)
    canvas = np.broadcast_to(bg, (n, CANVAS, CANVAS, 3)).copy()
    masks = np.zeros((n, 2, CANVAS, CANVAS), bool)
    for k in range(2):
        grey = images[items[:, k]]                                      # [n, size, size] uint8
        alpha = np.where(grey >= MASK_MIN, grey / np.float32(255), np.float32(0))[..., None]
        tint = colours[:, k, None, None, :] * 255
        rows = positions[:, k, 0, None, None] + np.arange(size)[None, :, None]   # [n, size, 1]
        cols = positions[:, k, 1, None, None] + np.arange(size)[None, None, :]   # [n, 1, size]
        idx = np.arange(n)[:, None, None]
        win = canvas[idx, rows, cols]                                    # [n, size, size, 3]
        canvas[idx, rows, cols] = win + alpha * (tint - win)   # boxes never overlap: items paste independently
        masks[idx, k, rows, cols] = alpha[..., 0] > 0
    return {"images": np.rint(canvas).astype(np.uint8), "labels": labels[items], "masks": masks,
            "items": items, "colours": colours, "positions": positions}
