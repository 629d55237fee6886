"""Shared pieces of the methods: the trace they read, head averaging, and the cumulative CLS-row product."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from ..capture import GradientCapture


def compute_dtype(x: torch.Tensor) -> torch.Tensor:
    """Methods compute in float32, or float64 when the model runs in float64 (reference tests)."""
    return x.double() if x.dtype == torch.float64 else x.float()


class Capture:
    """One input's forward tensors on the compute device (float32, or float64 for a float64 model), no padding.

    A [B, H, N, N] attention (row = query); V [B, H, N, Dh] per-head values W_V^h x; hidden [B+1, N, D]
    (hidden[l] = input of block l); emb [N, D] input embeddings (zeros at ViT prefix tokens); logits [C].

    ``attention`` is what is stored: a tensor [B, H, N, N], possibly in float16 or bfloat16 (the lean capture's
    choice, ``Explainer.explain(attention_dtype=...)``), or a list of B blocks [H, N, N] that share the model's own
    attention tensors (one unpadded input: no copy next to the kept autograd graph, which holds them anyway). ``A``
    is always one [B, H, N, N] tensor in the compute dtype, stacked or converted on each read, so a method computes
    as on a float32 capture; ``block(l)`` and ``query_rows(q)`` read a part without building the whole.
    """

    def __init__(self, A: torch.Tensor | list[torch.Tensor], V: torch.Tensor, hidden: torch.Tensor,
                 emb: torch.Tensor, logits: torch.Tensor):
        self.attention = A
        self.V = V
        self.hidden = hidden
        self.emb = emb
        self.logits = logits

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.dtype == self.V.dtype else x.to(self.V.dtype)

    @property
    def A(self) -> torch.Tensor:
        if isinstance(self.attention, list):
            return self._compute(torch.stack(self.attention))
        return self._compute(self.attention)

    def block(self, index: int) -> torch.Tensor:
        """Block ``index``'s attention [H, N, N] in the compute dtype."""
        return self._compute(self.attention[index])

    def query_rows(self, query: int) -> torch.Tensor:
        """Every block's attention row of query ``query``: [B, H, N] in the compute dtype."""
        if isinstance(self.attention, list):
            return self._compute(torch.stack([a[:, query, :] for a in self.attention]))
        return self._compute(self.attention[:, :, query, :])

    @property
    def attention_shape(self) -> tuple[int, int, int, int]:
        """(B, H, N, N) without building ``A``."""
        if isinstance(self.attention, list):
            return (len(self.attention), *self.attention[0].shape)  # type: ignore[return-value]
        return tuple(self.attention.shape)  # type: ignore[return-value]

    @property
    def attention_device(self) -> torch.device:
        return self.V.device


def stack_blocks(blocks: list[torch.Tensor], device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """torch.stack of per-block tensors (each [H, N, N] or [N, D]) on ``device`` in ``dtype`` (None: the compute
    dtype), detached, written block by block into one buffer: no second full-size copy while converting or
    gathering a model split over devices."""
    first = blocks[0]
    dtype = dtype or compute_dtype(first[:0]).dtype
    out = torch.empty((len(blocks), *first.shape), dtype=dtype, device=device)
    with torch.no_grad():
        for slot, block in zip(out, blocks):
            slot.copy_(block)
    return out


def kept_blocks(tensors: list[torch.Tensor], index: int, n: int, device: torch.device,
                dtype: torch.dtype | None = None) -> torch.Tensor | list[torch.Tensor]:
    """Input ``index``'s [H, n, n] part of per-block batch tensors [b, H, N, N] (attention or its gradient): the
    model's own tensors (detached views, no copy) when the batch is that one input without padding, on ``device``
    and in ``dtype`` (None: the compute dtype) already; else one [B, H, n, n] copy (``stack_blocks``), so no view
    keeps a padded batch alive."""
    blocks = [t[index, :, :n, :n].detach() for t in tensors]
    first = tensors[0]
    wanted = dtype or compute_dtype(first[:0]).dtype
    if first.shape[0] == 1 and first.shape[-1] == n and all(t.device == device and t.dtype == wanted
                                                           for t in tensors):
        return blocks
    return stack_blocks(blocks, device, dtype)


@dataclass
class Grads:
    """d y_t / d (A, hidden, emb) for one target; shapes as in Capture. A is None when the backward took the hidden
    states and input embeddings only (the lean capture's "hidden" level), a list of B blocks [H, N, N] when it
    shares the backward's own tensors (``kept_blocks``)."""

    A: torch.Tensor | list[torch.Tensor] | None
    hidden: torch.Tensor
    emb: torch.Tensor

    @classmethod
    def from_capture(cls, grads: GradientCapture, index: int, n: int, prefix: int) -> Grads:
        emb = compute_dtype(grads.embeddings[index])
        here = emb.device  # a model split over devices (device_map): every block's gradient gathered here
        if prefix:
            emb = torch.cat([emb.new_zeros(prefix, emb.shape[-1]), emb])
        return cls(
            A=None if grads.attentions is None else kept_blocks(grads.attentions, index, n, here),
            hidden=compute_dtype(torch.stack([g[index, :n].to(here) for g in grads.hidden])),
            emb=emb[:n].clone(),  # not a view of the padded batch's gradient
        )


GRADIENT_LEVELS = ("none", "hidden", "attention")  # what a capture's backward returns, in increasing cost


def deepest_level(levels: Any) -> str:
    """The level of ``GRADIENT_LEVELS`` that covers every one given ("none" for none)."""
    return GRADIENT_LEVELS[max((GRADIENT_LEVELS.index(level) for level in levels), default=0)]


class LazyGrads:
    """A target's gradients fetched as far as a method reads them: fetch(level) -> ``Grads`` with at least that
    level (the explanation's cache, or one more backward)."""

    def __init__(self, fetch: Callable[[str], Grads]):
        self._fetch = fetch

    @property
    def A(self) -> torch.Tensor:
        """d s / d A [B, H, N, N] (stacked on each read when kept as blocks)."""
        A = self._fetch("attention").A
        assert A is not None
        return torch.stack(A) if isinstance(A, list) else A

    def block(self, index: int) -> torch.Tensor:
        """d s / d A of block ``index``, [H, N, N], without building the whole."""
        A = self._fetch("attention").A
        assert A is not None
        return A[index]

    @property
    def hidden(self) -> torch.Tensor:
        return self._fetch("hidden").hidden

    @property
    def emb(self) -> torch.Tensor:
        return self._fetch("hidden").emb


class Trace:
    """What a method reads: the capture of one input, and lazily the gradients for one target.

    ``grads`` triggers the backward pass only when a method reads it, and only as far as it reads: ``grads.hidden``
    and ``grads.emb`` need the "hidden" level, ``grads.A`` the "attention" level (``GRADIENT_LEVELS``), so
    class-agnostic methods cost no backward and AttCAT no attention gradient.
    ``context`` gives methods that re-run the model (integrated gradients, LRP) what they need: the explainer,
    the sample and its model inputs. ``position`` is the row the explained output reads: 0 ([CLS]) for an encoder
    classifier, the last token for a decoder classifier, the explained position for a language model; every
    method's source row (rollout's row, flow's source, the [CLS] row of raw attention and of the products) defaults
    to it. ``causal``: a decoder's trace (token i attends to j <= i only).
    """

    def __init__(self, capture: Capture, target: Any, grads: Callable[[str], Grads], context: Any, modality: str,
                 num_prefix_tokens: int, position: int = 0, causal: bool = False):
        self.capture = capture
        self.target = target  # a Target (engine/targets.py): key, row, score(logits)
        self.position = position
        self.causal = causal
        self._grads = grads
        self.context = context
        self.modality = modality
        self.num_prefix_tokens = num_prefix_tokens

    @cached_property
    def grads(self) -> LazyGrads:
        return LazyGrads(self._grads)

    @property
    def num_blocks(self) -> int:
        return self.capture.attention_shape[0]

    @property
    def num_tokens(self) -> int:
        return self.capture.attention_shape[-1]


def head_mean(x: torch.Tensor, heads: torch.Tensor) -> torch.Tensor:
    """Mean over the selected heads. x [B, H, ...], heads bool [B, H] -> [B, ...].

    A block whose heads are all switched off contributes zeros (its attention is treated as absent). Summed head by
    head in order (the same sums as ``(x * w).sum(1)``) without its full-size [B, H, ...] product: at 2,048 tokens
    a 30-block model's attention is 4.5 GB in float32."""
    w = heads.to(x.dtype)
    count = w.sum(1).clamp(min=1)
    w = (w / count[:, None]).view(*w.shape, *([1] * (x.dim() - 2)))
    out = x[:, 0] * w[:, 0]
    for h in range(1, x.shape[1]):
        out += x[:, h] * w[:, h]
    return out


def cls_rows_of_product(M: torch.Tensor, start: int = 0, row: int = 0) -> torch.Tensor:
    """Row ``row`` of the cumulative products C_l = M_l · M_{l-1} ⋯ M_start, for every l.

    M [B, N, N] -> [B, N]; rows l < start are e_row (nothing carried yet). Later blocks multiply on the LEFT, as in
    rollout (Abnar & Zuidema 2020, eq. for Ã) and Chefer et al. 2021 (eq. 13). Computed as vector-matrix products,
    O(B² N²) instead of the O(B N³) of full matrix products.
    """
    B, N, _ = M.shape
    out = M[:, row, :].clone()
    for b in range(B - 2, start - 1, -1):
        out[b + 1:] = out[b + 1:] @ M[b]
    if start > 0:
        out[:start] = 0
        out[:start, row] = 1
    return out


def full_products(M: torch.Tensor, start: int = 0) -> torch.Tensor:
    """All cumulative products C_l = M_l ⋯ M_start as matrices: [B, N, N] -> [B, N, N] (O(B N³))."""
    B, N, _ = M.shape
    eye = torch.eye(N, dtype=M.dtype, device=M.device)
    out = torch.empty_like(M)
    C = eye
    for b in range(B):
        if b >= start:
            C = M[b] @ C
        out[b] = C
    return out


def repeat_rows(x: torch.Tensor, num_blocks: int) -> torch.Tensor:
    """An input-level map [N] as [B, N]: methods without a layer axis show the same map at every layer."""
    return x.unsqueeze(0).expand(num_blocks, -1).clone()


def keep_note(trace: Trace, method: str, report: Any, options: dict | None = None) -> None:
    """Keep what a method noted about its map (a dict, or None for nothing to say) per (method, target, options), in
    the explanation's diagnostics, for ``Explanation.diagnostic``: another target's or option's map never shows it."""
    notes = trace.context.diagnostics.setdefault(method, {})
    key = (trace.target.key, tuple(sorted((options or {}).items())))
    notes.pop(key, None)  # the latest last: diagnostic() reads the newest match first
    notes[key] = report



