"""Perturbed copies of one input, and the batched forward passes that score them.

Text: a copy deletes tokens (the "truncate" variant of the papers: the sequence gets shorter), replaces their ids
([PAD] with the attention mask left at 1, so the model attends to it, as the AttCAT scripts do; or [MASK]), or
swaps their word embeddings for a baseline token's embedding (DIG's log-odds: position and segment embeddings kept).
Images: pixels set to 0 in [0, 1] space (Chefer et al.'s perturbation test), i.e. to -mean/std after normalisation.

Every copy of a batch is run in one plain forward (eval mode, the model's own fast attention, no gradient) and
gives its class probabilities (softmax, or sigmoid for multi-label models).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

REPLACEMENTS = ("delete", "pad", "mask", "baseline")


@dataclass
class Variant:
    """One perturbed copy: 1-D tensors per model input key (input_ids [n], attention_mask [n], ...), or
    pixel_values [3, S, S]; ``baseline`` lists positions whose word embedding is swapped for the baseline's."""

    tensors: dict[str, torch.Tensor]
    baseline: list[int] = field(default_factory=list)


def token_variant(model_inputs: dict[str, torch.Tensor], positions: Sequence[int], replace: str,
                  token_ids: dict[str, int]) -> Variant:
    """The input (a batch of one, [1, N] tensors) with ``positions`` deleted or replaced.

    replace: "delete" removes the positions; "pad" / "mask" put the [PAD] / [MASK] id there (attention mask kept at
    1); "baseline" keeps the ids and marks the positions for the embedding swap."""
    row = {k: v[0] for k, v in model_inputs.items()}
    positions = sorted({int(p) for p in positions})
    if replace == "delete":
        keep = torch.ones(row["input_ids"].shape[0], dtype=torch.bool, device=row["input_ids"].device)
        keep[positions] = False
        return Variant({k: v[keep] for k, v in row.items()})
    if replace in ("pad", "mask"):
        ids = row["input_ids"].clone()
        ids[positions] = token_ids[replace]
        return Variant({**row, "input_ids": ids})
    if replace == "baseline":
        return Variant(dict(row), baseline=positions)
    raise ValueError(f"replace must be one of {REPLACEMENTS}, got {replace!r}")


def keep_only(model_inputs: dict[str, torch.Tensor], keep: Sequence[int], special: np.ndarray, replace: str,
              token_ids: dict[str, int]) -> Variant:
    """The input with every non-special token outside ``keep`` deleted or replaced (ERASER's sufficiency)."""
    keep_set = {int(k) for k in keep}
    drop = [j for j in range(len(special)) if not special[j] and j not in keep_set]
    return token_variant(model_inputs, drop, replace, token_ids)


def pixel_variant(pixel_values: torch.Tensor, pixels: np.ndarray, zero_value: torch.Tensor) -> Variant:
    """pixel_values [1, 3, S, S] with the flat pixel indices ``pixels`` (of S·S) set to ``zero_value`` [3] (the
    normalised value of 0 in [0, 1] space)."""
    x = pixel_values[0].clone()
    S = x.shape[-1]
    flat = x.view(x.shape[0], -1)
    idx = torch.as_tensor(np.array(pixels, dtype=np.int64), device=x.device)  # a copy: no negative strides
    flat[:, idx] = zero_value.to(x)[:, None]
    return Variant({"pixel_values": flat.view(x.shape[0], S, S)})


def zero_pixel_value(processor, device: torch.device) -> torch.Tensor:
    """The normalised value of a black pixel (0 in [0, 1] space) per channel, [3]."""
    mean = np.asarray(getattr(processor, "image_mean", None) or [0.0, 0.0, 0.0], dtype=np.float64)
    std = np.asarray(getattr(processor, "image_std", None) or [1.0, 1.0, 1.0], dtype=np.float64)
    if not getattr(processor, "do_normalize", True):
        return torch.zeros(3, device=device)
    return torch.as_tensor((0.0 - mean) / std, dtype=torch.float32, device=device)


def _collate(variants: Sequence[Variant], pad_id: int) -> dict[str, torch.Tensor]:
    """Stack variants into one batch: 1-D token inputs right-padded (attention mask 0 at the padding)."""
    first = variants[0].tensors
    if "pixel_values" in first:
        return {"pixel_values": torch.stack([v.tensors["pixel_values"] for v in variants])}
    n = max(v.tensors["input_ids"].shape[0] for v in variants)
    out: dict[str, torch.Tensor] = {}
    for key in first:
        fill = pad_id if key == "input_ids" else 0
        rows = []
        for v in variants:
            t = v.tensors[key]
            rows.append(torch.cat([t, t.new_full((n - t.shape[0],), fill)]) if t.shape[0] < n else t)
        out[key] = torch.stack(rows)
    if "attention_mask" not in out:
        lengths = torch.tensor([v.tensors["input_ids"].shape[0] for v in variants])
        out["attention_mask"] = (torch.arange(n)[None] < lengths[:, None]).long().to(out["input_ids"].device)
    return out


def probabilities(explainer, variants: Sequence[Variant], batch_size: int = 64,
                  baseline_token: int | None = None) -> np.ndarray:
    """Class probabilities [len(variants), C] of every variant, ``batch_size`` per forward (no gradient, eval mode,
    the model's own attention kernel; the model's lock held). Identical variants are scored once. Embedding swaps
    use the word embedding of ``baseline_token``."""
    if not variants:
        return np.zeros((0, len(explainer.label_names)), np.float32)
    unique, index = deduplicate(variants)
    return _probabilities(explainer, unique, batch_size, baseline_token)[index]


def target_log_probs(explainer, variants: Sequence[Variant], targets: Sequence[Any], batch_size: int = 64,
                     baseline_token: int | None = None) -> np.ndarray:
    """A language model's score of each variant's target at its last token, float64 [len(variants)]:
    log p_t, or log p_a − log p_b for a contrastive target (``Target.terms`` over the log-softmax of the logits at
    the variant's last real position). Identical variants run once; no gradient, the model's own attention kernel."""
    from ..engine.intervention import Intervention

    out = np.zeros(len(variants), dtype=np.float64)
    if not variants:
        return out
    unique, index = deduplicate(variants)
    wanted: list[list[tuple[int, Any]]] = [[] for _ in unique]
    for i, (u, t) in enumerate(zip(index, targets)):
        wanted[u].append((i, t))
    pad_id = int(getattr(explainer.processor, "pad_token_id", None) or 0)
    embedding = explainer.adapter.get_input_embedding(explainer.model)
    order = sorted(range(len(unique)), key=lambda i: _length(unique[i]))
    for start in range(0, len(order), batch_size):
        ids = order[start:start + batch_size]
        chunk = [unique[i] for i in ids]
        swaps = [(i, v.baseline) for i, v in enumerate(chunk) if v.baseline]
        swap = Intervention(embeddings=_swap(embedding, swaps, baseline_token, pad_id)) if swaps else None
        logits = wide(explainer.forward(_collate(chunk, pad_id), swap, grad=False, eager=False))  # [b, n, V]
        last = torch.tensor([_length(v) - 1 for v in chunk], device=logits.device)
        logp = torch.log_softmax(logits[torch.arange(len(chunk), device=logits.device), last], -1)
        for row, u in enumerate(ids):
            for i, t in wanted[u]:
                out[i] = float(sum(sign * logp[row, k] for k, sign in t.terms))
    return out


def deduplicate(variants: Sequence[Variant]) -> tuple[list[Variant], np.ndarray]:
    """The distinct variants (methods often delete the same tokens: raw and last_layer, rollout and rule (i), the
    last steps of most rankings), and for each variant the index of its copy among them."""
    keys: dict[tuple, int] = {}
    unique: list[Variant] = []
    index = np.empty(len(variants), dtype=np.int64)
    for i, v in enumerate(variants):
        key = (tuple((k, t.shape, t.cpu().numpy().tobytes()) for k, t in sorted(v.tensors.items())),
               tuple(v.baseline))
        if key not in keys:
            keys[key] = len(unique)
            unique.append(v)
        index[i] = keys[key]
    return unique, index


def _probabilities(explainer, variants: Sequence[Variant], batch_size: int, baseline_token: int | None) -> np.ndarray:
    from ..engine.intervention import Intervention

    pad_id = int(getattr(explainer.processor, "pad_token_id", None) or 0)
    out = []
    embedding = explainer.adapter.get_input_embedding(explainer.model)
    # similar lengths in one batch: less padding
    order = sorted(range(len(variants)), key=lambda i: _length(variants[i]))
    for start in range(0, len(order), batch_size):
        chunk = [variants[i] for i in order[start:start + batch_size]]
        swaps = [(i, v.baseline) for i, v in enumerate(chunk) if v.baseline]
        swap = Intervention(embeddings=_swap(embedding, swaps, baseline_token, pad_id)) if swaps else None
        # the model's own attention kernel: the curves need no attention probabilities
        logits = wide(explainer.forward(_collate(chunk, pad_id), swap, grad=False, eager=False))
        probs = explainer.probabilities(logits)
        out.append(probs.cpu().numpy())
    result = np.empty((len(variants), out[0].shape[1]), dtype=out[0].dtype)
    result[np.asarray(order)] = np.concatenate(out)
    return result


def _length(v: Variant) -> int:
    t = v.tensors.get("input_ids")
    return int(t.shape[0]) if t is not None else 0


def wide(logits: torch.Tensor) -> torch.Tensor:
    """float64 logits stay float64 (reference tests); anything else becomes float32."""
    return logits.double() if logits.dtype == torch.float64 else logits.float()


def _swap(embedding, swaps, baseline_token: int | None, pad_id: int):
    """fn(E) -> E': input i's embedding at its baseline positions replaced by the baseline token's embedding
    (the [PAD] or ``baseline_token`` vector), for E [b, N, D]."""
    token = pad_id if baseline_token is None else int(baseline_token)

    def swap(output):
        base = embedding.weight[token].to(output.dtype)
        output = output.clone()
        for i, positions in swaps:
            output[i, positions] = base
        return output

    return swap


__all__ = ["REPLACEMENTS", "Variant", "keep_only", "pixel_variant", "probabilities", "target_log_probs",
           "token_variant", "zero_pixel_value"]
