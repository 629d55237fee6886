"""Turn what a user passes (a sentence, a sentence pair, an image, a batch of them) into model inputs.

Edge cases get a clear error or a stated conversion, never a silent wrong picture: empty text raises; text longer
than the model's maximum is truncated with a warning that says how many tokens were dropped; grayscale, RGBA and
palette images are converted to RGB; any size is resized by the processor; a pre-processed ``pixel_values`` tensor
must already have the model's size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

TextInput = str | tuple[str, str]


@dataclass
class Sample:
    """What one input looks like to the model: N tokens (text) or N = prefix + patches (image)."""

    kind: str
    tokens: list[str]
    segments: np.ndarray  # int64 [N]: 0 / 1 for the two sentences of a pair
    special: np.ndarray  # bool [N]
    word_ids: list[tuple[int, int] | None] = field(default_factory=list)  # (segment, word) per token
    word_texts: dict[tuple[int, int], str] = field(default_factory=dict)
    image: np.ndarray | None = None  # uint8 [h, w, 3] as the model saw it
    patch_grid: tuple[int, int] | None = None
    num_prefix_tokens: int = 0
    source: Any = None  # the text or pair as given

    @property
    def length(self) -> int:
        return len(self.tokens)


@dataclass
class Encoded:
    """A batch: model_inputs hold padded tensors [b, N_max]; samples hold each input's unpadded description."""

    kind: str
    model_inputs: dict[str, torch.Tensor]
    samples: list[Sample]


def _max_length(tokenizer, config) -> int:
    positions = getattr(config, "max_position_embeddings", None) or 512
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        positions -= 2  # RoBERTa's positions start after padding_idx
    limit = getattr(tokenizer, "model_max_length", None) or positions
    return int(min(positions, limit if limit < 1e9 else positions))


def _display_token(tokenizer, token: str, is_special: bool) -> str:
    if is_special or "Ġ" not in token and "Ċ" not in token:
        return token
    return tokenizer.convert_tokens_to_string([token])  # byte-level BPE: show the characters, not the bytes


def encode_text(tokenizer, config, texts: list[TextInput]) -> Encoded:
    """Tokenize single sentences or (text_a, text_b) pairs with truncation to the model's maximum length."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("attnviz needs a fast tokenizer (for word alignment): load it with "
                        "AutoTokenizer.from_pretrained(..., use_fast=True)")
    max_length = _max_length(tokenizer, config)
    for text in texts:
        parts = text if isinstance(text, tuple) else (text,)
        if len(parts) not in (1, 2) or not all(isinstance(p, str) for p in parts):
            raise TypeError(f"a text input is a str or a (str, str) pair, got {type(text).__name__}: {text!r:.80}")
        if any(not p.strip() for p in parts):
            raise ValueError("the text is empty: there is nothing to explain. Pass a sentence with at least one word.")
    firsts = [t[0] if isinstance(t, tuple) else t for t in texts]
    seconds = [t[1] if isinstance(t, tuple) else None for t in texts]
    pairs = any(s is not None for s in seconds)
    if pairs and not all(s is not None for s in seconds):
        raise ValueError("a batch mixes single sentences and sentence pairs: explain them in separate calls")
    args = (firsts, seconds) if pairs else (firsts,)
    full = tokenizer(*args, truncation=False, add_special_tokens=True)["input_ids"]
    enc = tokenizer(*args, truncation=True, max_length=max_length, padding=True, return_tensors="pt",
                    return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = enc.pop("offset_mapping")
    special_mask = enc.pop("special_tokens_mask")
    samples = []
    for i, text in enumerate(texts):
        n = int(enc["attention_mask"][i].sum())
        dropped = len(full[i]) - n
        if dropped > 0:
            warnings.warn(f"input {i} has {len(full[i])} tokens, more than the model's maximum of {max_length}: "
                          f"the last {dropped} tokens were dropped (truncated) and are not explained", stacklevel=4)
        ids = enc["input_ids"][i, :n].tolist()
        seq_ids = enc.sequence_ids(i)[:n]
        word_ids = enc.word_ids(i)[:n]
        special = special_mask[i, :n].numpy().astype(bool)
        raw = tokenizer.convert_ids_to_tokens(ids)
        tokens = [_display_token(tokenizer, t, s) for t, s in zip(raw, special)]
        segments = np.zeros(n, dtype=np.int64)
        seg = 0
        for j, s in enumerate(seq_ids):  # special tokens belong to the segment they close or open
            seg = s if s is not None else seg
            segments[j] = seg
        parts = text if isinstance(text, tuple) else (text,)
        keys: list[tuple[int, int] | None] = []
        spans: dict[tuple[int, int], list[int]] = {}
        for j, (s, w) in enumerate(zip(seq_ids, word_ids)):
            if s is None or w is None:
                keys.append(None)
                continue
            keys.append((s, w))
            start, end = (int(v) for v in offsets[i, j])
            span = spans.setdefault((s, w), [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
        word_texts = {k: parts[k[0]][a:b].strip() for k, (a, b) in spans.items()}
        samples.append(Sample("text", tokens, segments, special, keys, word_texts, source=text))
    return Encoded("text", dict(enc), samples)


def _to_pil_rgb(image: Any, index: int):
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            if image.mode in ("RGBA", "LA", "P") and "A" in image.getbands() or image.mode == "P":
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            image = image.convert("RGB")
        return image
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # channels first -> last
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 1.0 + 1e-6):
            raise ValueError(f"image {index}: a float array must hold values in [0, 1] (got "
                             f"{array.min():.3g}..{array.max():.3g}); pass uint8 0..255 or a PIL image")
        array = np.round(array * 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return Image.fromarray(array, "L").convert("RGB")
    if array.ndim == 3 and array.shape[-1] == 4:
        return _to_pil_rgb(Image.fromarray(array, "RGBA"), index)
    if array.ndim == 3 and array.shape[-1] == 3:
        return Image.fromarray(array, "RGB")
    raise ValueError(f"image {index}: expected [h, w], [h, w, 1|3|4] or [3, h, w], got shape {array.shape}")


def _processor_stats(processor) -> tuple[np.ndarray, np.ndarray, bool]:
    mean = np.asarray(getattr(processor, "image_mean", None) or [0.0, 0.0, 0.0], dtype=np.float32)
    std = np.asarray(getattr(processor, "image_std", None) or [1.0, 1.0, 1.0], dtype=np.float32)
    normalizes = bool(getattr(processor, "do_normalize", True))
    return mean, std, normalizes


def pixels_to_image(pixel_values: torch.Tensor, processor) -> np.ndarray:
    """Undo the processor's normalisation: [3, h, w] float -> uint8 [h, w, 3], the image the model saw."""
    mean, std, normalizes = _processor_stats(processor)
    x = pixel_values.detach().float().cpu().numpy().transpose(1, 2, 0)
    if normalizes:
        x = x * std + mean
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def encode_images(processor, config, images: list[Any], num_prefix_tokens: int) -> Encoded:
    """PIL images or arrays go through the processor (converted to RGB first); tensors are taken as pixel_values."""
    size = int(config.image_size)
    patch = int(config.patch_size)
    pixel_list = []
    for i, image in enumerate(images):
        if isinstance(image, torch.Tensor):
            pixels = image if image.dim() == 4 else image.unsqueeze(0)
            if pixels.shape[1:] != (config.num_channels, size, size):
                raise ValueError(f"image {i}: a tensor is taken as processed pixel_values of shape "
                                 f"[{config.num_channels}, {size}, {size}], got {tuple(image.shape)}; pass a PIL "
                                 "image or an array to let the processor resize it")
        else:
            rgb = _to_pil_rgb(image, i)
            pixels = processor(images=rgb, return_tensors="pt")["pixel_values"]
        pixel_list.append(pixels.float())
    pixel_values = torch.cat(pixel_list)
    grid = (size // patch, size // patch)
    prefix_names = ["[CLS]", "[DIST]"][:num_prefix_tokens]
    tokens = prefix_names + [f"({r},{c})" for r in range(grid[0]) for c in range(grid[1])]
    n = len(tokens)
    special = np.zeros(n, dtype=bool)
    special[:num_prefix_tokens] = True
    samples = [
        Sample("image", tokens, np.zeros(n, dtype=np.int64), special.copy(),
               image=pixels_to_image(pixel_values[i], processor), patch_grid=grid,
               num_prefix_tokens=num_prefix_tokens, source=images[i])
        for i in range(len(images))
    ]
    return Encoded("image", {"pixel_values": pixel_values}, samples)
