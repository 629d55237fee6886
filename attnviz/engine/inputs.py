"""Turn what a user passes (a sentence, a sentence pair, an image, a batch of them) into model inputs.

Edge cases get a clear error or a stated conversion, never a silent wrong picture: empty text (or text of only
zero-width or control characters) raises, naming its index in a batch; text longer than the model's maximum is
truncated with a warning that says how many tokens were dropped (from each part of a pair); the batch is padded on
the right whatever the tokenizer's ``padding_side``; byte-level tokens are shown decoded. Images: see ``images``
(any PIL mode, 16-bit, paths); any size is resized by the processor; a float ``pixel_values`` tensor must already
have the model's size.
"""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .images import to_pil_rgb
from .warn import warn

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


def _max_length(tokenizer, positions: int) -> int:
    """The longest input: the model's ``positions`` (``Adapter.max_positions``), or the tokenizer's limit if lower."""
    limit = getattr(tokenizer, "model_max_length", None) or positions
    return int(min(positions, limit if limit < 1e9 else positions))


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2, RoBERTa): printable stand-in character -> the byte it encodes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes)}


def _is_byte_level(tokenizer) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return "ByteLevel" in type(decoder).__name__ or "ByteLevel" in repr(decoder)[:200]


def display_tokens(tokenizer, raw: list[str], special: np.ndarray) -> list[str]:
    """Readable token strings, one per token (boundaries kept).

    Byte-level BPE (RoBERTa, GPT-2) writes bytes as stand-in characters ('Ġ' = space, 'ð' 'Ł' ... = the bytes
    of one emoji): the token bytes are decoded as UTF-8 across the sequence; a character belongs to the token that
    holds its first byte, and a token holding only the later bytes of a character shows '…'. Special tokens
    are shown as they are."""
    if not _is_byte_level(tokenizer):
        return list(raw)
    table = _byte_decoder()
    out = list(raw)
    # Decode runs of ordinary tokens; each byte remembers its token, each character goes to its first byte's token.
    j = 0
    while j < len(raw):
        if special[j] or any(c not in table for c in raw[j]):
            j += 1
            continue
        k = j
        data, owner = bytearray(), []
        while k < len(raw) and not special[k] and all(c in table for c in raw[k]):
            for c in raw[k]:
                data.append(table[c])
                owner.append(k)
            k += 1
        texts = {t: "" for t in range(j, k)}
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        start = None  # the token of the first byte of the character being decoded
        for byte, t in zip(data, owner):
            start = t if start is None else start
            done = decoder.decode(bytes([byte]))
            if done:
                texts[start] += done
                start = None
        tail = decoder.decode(b"", final=True)
        if tail and start is not None:
            texts[start] += tail
        for t in range(j, k):
            out[t] = texts[t] if texts[t] else "…"
        j = k
    return out


def _warn_truncated(i: int, seq_full: list, seq_kept: list, max_length: int, pairs: bool) -> None:
    """Say how many tokens truncation dropped, for each part of a sentence pair."""
    dropped = len(seq_full) - len(seq_kept)
    if dropped <= 0:
        return
    if pairs:
        lost = [sum(s == p for s in seq_full) - sum(s == p for s in seq_kept) for p in (0, 1)]
        said = " and ".join(f"the last {k} tokens of the {name} text" for k, name in zip(lost, ("first", "second"))
                            if k > 0)
    else:
        said = f"the last {dropped} tokens"
    warn(f"input {i} has {len(seq_full)} tokens, more than the model's maximum of {max_length}: {said} "
                  "were dropped (truncated) and are not explained")


def encode_text(tokenizer, max_positions: int, texts: list[TextInput]) -> Encoded:
    """Tokenize single sentences or (text_a, text_b) pairs with truncation to the model's maximum length."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("attnviz needs a fast tokenizer (for word alignment): load it with "
                        "AutoTokenizer.from_pretrained(..., use_fast=True)")
    max_length = _max_length(tokenizer, max_positions)
    where = (lambda i: f"input {i} of the batch: ") if len(texts) > 1 else (lambda i: "")
    for i, text in enumerate(texts):
        parts = text if isinstance(text, tuple) else (text,)
        if len(parts) not in (1, 2) or not all(isinstance(p, str) for p in parts):
            raise TypeError(f"{where(i)}a text input is a str or a (str, str) pair, got {type(text).__name__}: "
                            f"{text!r:.80}")
        if any(not p.strip() for p in parts):
            raise ValueError(f"{where(i)}the text is empty: there is nothing to explain. Pass a sentence with at "
                             "least one word.")
    firsts = [t[0] if isinstance(t, tuple) else t for t in texts]
    seconds = [t[1] if isinstance(t, tuple) else None for t in texts]
    pairs = any(s is not None for s in seconds)
    if pairs and not all(s is not None for s in seconds):
        raise ValueError("a batch mixes single sentences and sentence pairs: explain them in separate calls")
    args = (firsts, seconds) if pairs else (firsts,)
    full = tokenizer(*args, truncation=False, add_special_tokens=True)
    # padding_side="right" whatever the tokenizer's own setting: every slice below keeps the first n positions.
    if getattr(tokenizer, "pad_token_id", None) is None:  # GPT-2 has no [PAD]: pad by hand (the mask hides it)
        enc = _padded(tokenizer(*args, truncation=True, max_length=max_length, return_offsets_mapping=True,
                                return_special_tokens_mask=True), getattr(tokenizer, "eos_token_id", None) or 0)
    else:
        enc = tokenizer(*args, truncation=True, max_length=max_length, padding=True, padding_side="right",
                        return_tensors="pt", return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = enc.pop("offset_mapping")
    special_mask = enc.pop("special_tokens_mask")
    samples = []
    for i, text in enumerate(texts):
        n = int(enc["attention_mask"][i].sum())
        seq_kept = enc.sequence_ids(i)[:n]
        if not any(s is not None for s in seq_kept):
            raise ValueError(f"{where(i)}the text {text!r:.60} has no token besides the special ones (only "
                             "zero-width, control or unknown characters?): there is nothing to explain")
        _warn_truncated(i, full.sequence_ids(i), seq_kept, max_length, pairs)
        ids = enc["input_ids"][i, :n].tolist()
        seq_ids = enc.sequence_ids(i)[:n]
        word_ids = enc.word_ids(i)[:n]
        special = special_mask[i, :n].numpy().astype(bool)
        _mark_typed_special(tokenizer, text, ids, seq_ids, special, where(i), i)
        _warn_unknown(tokenizer, ids, seq_ids, i)
        raw = tokenizer.convert_ids_to_tokens(ids)
        tokens = display_tokens(tokenizer, raw, special)
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


def _mark_typed_special(tokenizer, text: TextInput, ids: list[int], seq_ids: list[int | None], special: np.ndarray,
                        where: str, index: int) -> None:
    """Special tokens typed in the text ("[CLS] [SEP]", "<|endoftext|>") are read by the tokenizer as the special
    tokens themselves: mark them special (drawn as such, never deleted or scored as content, in explain and evaluate
    alike) with a warning; a text of nothing else is an error. The unknown token is left alone (it stands for
    characters the vocabulary lacks)."""
    unk = getattr(tokenizer, "unk_token_id", None)
    special_ids = {int(t) for t in (getattr(tokenizer, "all_special_ids", None) or []) if t != unk}
    content = [j for j, s in enumerate(seq_ids) if s is not None]
    typed = [j for j in content if ids[j] in special_ids]
    if not typed:
        return
    names = sorted(set(tokenizer.convert_ids_to_tokens([ids[j] for j in typed])))
    if len(typed) == len(content):
        raise ValueError(f"{where}the text {text!r:.60} holds only the tokenizer's special tokens written out "
                         f"({', '.join(names)}): the tokenizer reads them as its markers, not as words, so there is "
                         "nothing to explain. Pass text with at least one word")
    special[typed] = True
    warn(f"input {index}: the text holds the special token(s) {', '.join(names)} written out; the tokenizer "
                  "reads them as its markers, not as words, so they are treated as special tokens (not explained as "
                  "content, never deleted in evaluation)")


def _warn_unknown(tokenizer, ids: list[int], seq_ids: list[int | None], index: int) -> None:
    """Most of a text read as the unknown token is a tokenizer that does not know the language or does not belong
    to the model: say it (the map would explain [UNK] after [UNK])."""
    unk = getattr(tokenizer, "unk_token_id", None)
    content = [ids[j] for j, s in enumerate(seq_ids) if s is not None]
    if unk is None or len(content) < 2:
        return
    unknown = sum(t == unk for t in content)
    if unknown * 2 > len(content):
        warn(f"input {index}: {unknown} of its {len(content)} tokens are the unknown token "
                      f"{tokenizer.convert_ids_to_tokens([unk])[0]!r}: the tokenizer does not know these words. Is it "
                      "the tokenizer saved with this model?")


def _padded(enc, pad_id: int):
    """A tokenizer's unpadded batch (lists) padded on the right into tensors, for tokenizers without a pad token.
    The padding is masked out (attention_mask 0) and never explained; a decoder never attends to later tokens."""
    lengths = [len(ids) for ids in enc["input_ids"]]
    width = max(lengths)
    fill = {"input_ids": pad_id, "attention_mask": 0, "special_tokens_mask": 1, "offset_mapping": (0, 0)}
    for key in list(enc.keys()):
        rows = [list(row) + [fill.get(key, 0)] * (width - len(row)) for row in enc[key]]
        enc[key] = torch.tensor(rows, dtype=torch.long)
    return enc


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


def encode_images(processor, geometry: tuple[int, int, int], images: list[Any], num_prefix_tokens: int) -> Encoded:
    """PIL images or arrays go through the processor (converted to RGB first); tensors are taken as pixel_values.
    geometry: (image size, patch size, channels), ``Adapter.image_geometry``."""
    size, patch, channels = geometry
    pixel_list = []
    for i, image in enumerate(images):
        if isinstance(image, torch.Tensor) and image.is_floating_point():
            pixels = image if image.dim() == 4 else image.unsqueeze(0)
            if pixels.shape[1:] != (channels, size, size) or pixels.shape[0] != 1:
                raise ValueError(f"image {i}: a float tensor is taken as processed pixel_values of shape "
                                 f"[{channels}, {size}, {size}], got {tuple(image.shape)}; pass a PIL "
                                 "image, an array or a uint8 tensor to let the processor resize it")
            if not torch.isfinite(pixels).all():
                raise ValueError(f"image {i}: the pixel_values hold NaN or infinite values")
            pixels = pixels.detach()
        else:  # PIL, arrays, integer tensors (a uint8 [3, h, w] tensor is an image, not normalised pixel_values)
            rgb = to_pil_rgb(image, i)
            pixels = processor(images=rgb, return_tensors="pt")["pixel_values"]
        pixel_list.append(pixels)
    # float64 stays float64 (a float64 model must see float64 pixels); the explainer casts to the model's dtype.
    dtype = torch.float64 if any(p.dtype == torch.float64 for p in pixel_list) else torch.float32
    pixel_values = torch.cat([p.to(dtype) for p in pixel_list])
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
