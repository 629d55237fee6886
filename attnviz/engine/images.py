"""Turn what a user passes as an image into one RGB PIL image, or a clear error; never a silent wrong picture.

Accepted: PIL images of any mode (16-bit ``I;16`` and 32-bit ``I`` integers are scaled from their bit depth,
``F`` floats from [0, 1] or [0, 255], alpha composited on white, palette and grayscale converted); uint8 and
16-bit integer arrays and tensors; float arrays in [0, 1]; a path (``str`` or ``pathlib.Path``) to an image file or
the file's bytes. Rejected with a message: NaN or inf pixels, empty (0 x 0) images, text given to an image model,
missing files and files that are not images. Float tensors are a separate case: they are processed
``pixel_values`` (see ``inputs.encode_images``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def open_image_source(image: Any, index: int):
    """A path, file bytes or a sentence -> a PIL image, or a clear error. Other values are returned unchanged."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (bytes, bytearray, memoryview)):
        try:
            return Image.open(io.BytesIO(bytes(image))).copy()
        except UnidentifiedImageError:
            raise ValueError(f"image {index}: the {len(image)} bytes given are not an image file PIL can read "
                             "(PNG, JPEG, ...)") from None
    if isinstance(image, str) and not _looks_like_path(image):
        raise TypeError(f"image {index}: this explainer is for an image model, and got text {image!r:.60}. Pass a "
                        "PIL image, an array, or the path of an image file; explain text with a text model.")
    if isinstance(image, (str, Path)):
        path = Path(image).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"image {index}: no such file: {str(path)!r}")
        if path.is_dir():
            raise IsADirectoryError(f"image {index}: {str(path)!r} is a folder; pass the path of one image file")
        try:
            with Image.open(path) as opened:
                return opened.copy()
        except UnidentifiedImageError:
            raise ValueError(f"image {index}: {str(path)!r} is not an image file PIL can read "
                             "(PNG, JPEG, ...)") from None
    return image


def _looks_like_path(text: str) -> bool:
    return (Path(text).suffix.lower() in _IMAGE_SUFFIXES or "/" in text or "\\" in text
            or Path(text).expanduser().exists())


def _check_finite_nonempty(array: np.ndarray, index: int) -> None:
    if array.size == 0 or (array.ndim >= 2 and 0 in array.shape[:2]):
        raise ValueError(f"image {index} is empty (shape {array.shape}): there is nothing to explain")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise ValueError(f"image {index} has {bad} NaN or infinite pixel values: fix the image before explaining it")


def _float_to_uint8(array: np.ndarray, index: int, allow_255: bool = False) -> np.ndarray:
    lo, hi = float(array.min()), float(array.max())
    if lo >= 0 and hi <= 1.0 + 1e-6:
        return np.round(np.clip(array, 0, 1) * 255).astype(np.uint8)
    if allow_255 and lo >= 0 and hi <= 255 + 1e-6:
        return np.round(np.clip(array, 0, 255)).astype(np.uint8)
    raise ValueError(f"image {index}: float pixel values must lie in [0, 1]{' or [0, 255]' if allow_255 else ''} "
                     f"(got {lo:.3g}..{hi:.3g}); pass uint8 0..255 or a PIL image")


def _int_to_uint8(array: np.ndarray, index: int, sixteen_bit: bool = False) -> np.ndarray:
    """uint8 as is; other integer types holding 0..255 read as 8-bit (except uint16, a 16-bit image); 16-bit
    (and wider integers whose values fit 16 bits) scaled by 255 / 65535. sixteen_bit: the source says it is a 16-bit
    image (a PIL ``I;16`` image), so even a dark one is scaled from 16 bits."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    lo, hi = int(array.min()), int(array.max())
    if lo < 0:
        raise ValueError(f"image {index}: integer pixel values must not be negative (got {lo}..{hi})")
    if hi <= 255 and not sixteen_bit and (array.dtype.itemsize == 1 or array.dtype != np.uint16):
        # int8, and wider integer types other than uint16 (numpy's default int64, int32 from a library) holding
        # 0..255: 8-bit values. Scaling them from 16 bits would show the model an almost black picture.
        return array.astype(np.uint8)
    if hi > 65535:
        raise ValueError(f"image {index}: integer pixel values above 65535 ({hi}): attnviz reads 8- and 16-bit "
                         "images; scale it to uint8 first")
    return np.round(array.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)


def _pil_to_rgb(image, index: int):
    from PIL import Image

    if image.width == 0 or image.height == 0:
        raise ValueError(f"image {index} is empty ({image.width} x {image.height}): there is nothing to explain")
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":  # 16-bit PNGs open as I;16 (or I): scale from 16 bits, not clip
        array = np.asarray(image).astype(np.int64)
        return Image.fromarray(_int_to_uint8(array, index, sixteen_bit=True), "L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        _check_finite_nonempty(array, index)
        return Image.fromarray(_float_to_uint8(array, index, allow_255=True), "L").convert("RGB")
    if "A" in image.getbands() or mode == "P" or mode == "PA":
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def to_pil_rgb(image: Any, index: int):
    """Any accepted image (module docstring) -> an RGB PIL image."""
    from PIL import Image

    image = open_image_source(image, index)
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image, index)
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # an integer torch tensor: an image, not pixel_values
        image = image.detach().cpu().numpy()
    try:
        array = np.asarray(image)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"image {index}: cannot read {type(image).__name__} as an image ({err})") from None
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"image {index}: expected a PIL image, an array of numbers or an image path, got "
                        f"{type(image).__name__} of dtype {array.dtype}")
    _check_finite_nonempty(array, index)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first -> last
    array = _float_to_uint8(array, index) if array.dtype.kind == "f" else _int_to_uint8(array, index)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return Image.fromarray(array, "L").convert("RGB")
    if array.ndim == 3 and array.shape[-1] == 4:
        return _pil_to_rgb(Image.fromarray(array, "RGBA"), index)
    if array.ndim == 3 and array.shape[-1] == 3:
        return Image.fromarray(array, "RGB")
    raise ValueError(f"image {index}: expected [h, w], [h, w, 1|3|4] or [3, h, w], got shape {array.shape}")


__all__ = ["open_image_source", "to_pil_rgb"]
