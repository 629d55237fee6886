"""Tensors for the browser: little-endian float16 (or float32, uint8) bytes with dtype and shape beside them.

A tensor trait holds ``{"dtype", "shape", "buffer", "scale"}``; ipywidgets sends ``buffer`` as a binary frame (never
a JSON list of numbers) and the front end (``js/src/codec.js``) decodes ``stored * scale``. ``scale`` is a power of
two chosen so the largest magnitude lands in [0.5, 1): float16 then keeps its 11 significant bits for relevance maps
whose values are far below 1 (dividing by a power of two is exact, so nothing is lost beyond float16 rounding).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import traitlets

DTYPES = {"float16": ("<f2", 2), "float32": ("<f4", 4), "uint8": ("u1", 1)}


def _power_of_two_scale(a: np.ndarray) -> float:
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 1.0
    m = float(np.max(np.abs(finite)))
    if m == 0.0:
        return 1.0
    return float(2.0 ** math.floor(math.log2(m)) * 2.0)  # m / scale in [0.5, 1)


def encode(array: Any, dtype: str = "float16", scale: float | None = None) -> dict:
    """numpy (or anything array-like) -> ``{"dtype", "shape", "buffer", "scale"}`` for a tensor trait.

    float16: values are divided by ``scale`` (default: the power of two that puts the largest magnitude in
    [0.5, 1); pass ``scale=1`` for values already in [0, 1] such as attention weights) before rounding.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    a = np.asarray(array)
    code, _ = DTYPES[dtype]
    if dtype == "uint8":
        if a.dtype != np.uint8:
            raise TypeError(f"uint8 tensors must be numpy uint8 arrays, got {a.dtype}")
        s = 1.0
        data = np.ascontiguousarray(a)
    else:
        a = a.astype(np.float32, copy=False)
        s = float(scale) if scale is not None else (_power_of_two_scale(a) if dtype == "float16" else 1.0)
        scaled = np.ascontiguousarray(a / s if s != 1.0 else a)
        if dtype == "float16":  # torch's conversion is vectorised: ~50x faster than numpy's astype for large tensors
            import torch

            data = torch.from_numpy(scaled).to(torch.float16).numpy().astype(code, copy=False)
        else:
            data = scaled.astype(code)
    return {"dtype": dtype, "shape": [int(n) for n in a.shape], "buffer": data.tobytes(), "scale": s}


def decode(tensor: dict) -> np.ndarray:
    """The inverse of :func:`encode` (float tensors come back as float32 with the scale applied)."""
    dtype = tensor["dtype"]
    code, _ = DTYPES[dtype]
    a = np.frombuffer(bytes(tensor["buffer"]), dtype=code).reshape(tensor["shape"])
    if dtype == "uint8":
        return a.copy()
    return a.astype(np.float32) * np.float32(tensor.get("scale", 1.0))


def empty() -> dict:
    """A tensor of shape [0] (nothing to draw)."""
    return encode(np.zeros(0, np.float32))


class Tensor(traitlets.TraitType):
    """A binary tensor trait: ``{"dtype", "shape", "buffer", "scale"}``. Assigning a numpy array encodes it."""

    default_value = None
    info_text = "a tensor {dtype, shape, buffer, scale} or a numpy array"

    def __init__(self, dtype: str = "float16", **kwargs):
        self.dtype = dtype
        super().__init__(default_value=empty(), **kwargs)

    def validate(self, obj, value):
        if isinstance(value, np.ndarray):
            return encode(value, "uint8" if value.dtype == np.uint8 else self.dtype)
        if not isinstance(value, dict) or not {"dtype", "shape", "buffer"} <= set(value):
            self.error(obj, value)
        if value["dtype"] not in DTYPES:
            raise traitlets.TraitError(f"tensor dtype must be one of {sorted(DTYPES)}, got {value['dtype']!r}")
        width = DTYPES[value["dtype"]][1]
        n = int(np.prod(value["shape"])) if len(value["shape"]) else 1
        buf = value["buffer"]
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise traitlets.TraitError(f"tensor buffer must be bytes, got {type(buf).__name__}")
        if len(memoryview(buf).cast("B")) != n * width:
            raise traitlets.TraitError(
                f"tensor of shape {value['shape']} and dtype {value['dtype']} needs {n * width} bytes, got {len(buf)}")
        return {"scale": 1.0, **value}


class TensorList(traitlets.List):
    """A list of tensors (one per method in CompareView)."""

    def __init__(self, **kwargs):
        super().__init__(trait=Tensor(), **kwargs)


class HeadMask(traitlets.TraitType):
    """[B][H] booleans (True = head kept). Takes None (all heads), a [H] mask for every block, a [B, H] nested list or
    numpy array; the owner's ``_B`` and ``_H`` give the shape."""

    info_text = "a boolean head mask [H] or [B, H]"

    def __init__(self, **kwargs):
        super().__init__(default_value=[], **kwargs)

    def validate(self, obj, value):
        B, H = getattr(obj, "_B", None), getattr(obj, "_H", None)
        if B is None or H is None:
            return value
        return head_mask(value, B, H)


def head_mask(value: Any, num_layers: int, num_heads: int) -> list[list[bool]]:
    """Nested lists [B][H] of bool (True = kept) from any form ``engine.heads.HeadMask`` reads; its error as a
    TraitError (a widget trait's validation)."""
    from ..engine.heads import HeadMask, HeadMaskError

    try:
        return HeadMask.parse(value, num_layers, num_heads).lists()
    except HeadMaskError as err:
        raise traitlets.TraitError(str(err)) from None
