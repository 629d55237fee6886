"""Interventions on the forward pass: replace or ablate attention probabilities, zero chosen heads' outputs.

An intervention is a value (``Intervention``), handed to the ``intervened`` context manager, which installs it for
the duration of a block and removes it in ``finally`` under the same guarantee as the capture: the model is left
exactly as it was (``prepared`` restores training flags, attention implementation and hooks; the model's lock is
held). Nothing is patched: transformers looks its attention function up by the config's ``_attn_implementation``
name, and inside the block that name points to ``_intervened_attention``, registered once in transformers'
``AttentionInterface`` under ``"attnviz_intervention"``.

``_intervened_attention`` calls the model's own eager attention (the ``eager_attention_forward`` of the module's
modeling file) for the probabilities A [b, H, N, N], so they are bit for bit the model's, then

- ``attention[b](A) -> A'`` for the blocks listed (a replacement, a permutation, a detached copy ...),
- out = A' · V per head, and heads listed in ``zero_heads[b]`` get out[:, h] = 0: the head's output, its slice of
  the attention output before the output projection W_O, is zero (METHODS.md, "head ablation"); heads listed in
  ``head_values[b]`` get out[:, h, n] = that vector at every token n (mean ablation: the head's mean output),
- ``observe(b, out)`` (when given) sees every block's per-head output [b, H, N, Dh] (to measure those means),
- ``record(b, query, key, value, scaling)`` (when given) sees the very query [b, H, N, Dh], key and value
  [b, H_kv, N, Dh] the attention multiplies (after rotary embeddings) and the factor of its scores, for one head's
  arithmetic (``internals.head_math``),
- ``qkv_gradient = (c_q, c_k, c_v)`` (when given) scales the gradient that reaches the query, key and value (after
  rotary embeddings, before ``repeat_kv``) by those factors and keeps their values: AttnLRP's uniform rule,
  (¼, ¼, ½) (``methods/attnlrp.py``),
- ``embeddings(E) -> E'`` (when given) replaces the input embedding's output [b, N, D] (a baseline token's vector
  at deleted positions for the perturbation curves; ``capture.embedding_leaf`` to differentiate with respect to it),

and returns (out [b, N, H, Dh], A'), so ``output_attentions`` reports the intervened attention.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .adapters import Adapter
from .capture import prepared

NAME = "attnviz_intervention"
AttentionFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Intervention:
    """What to change in the forward pass.

    attention: block index -> fn(A [b, H, N, N]) -> A' of the same shape (post-softmax probabilities of that block;
    b is the batch, so a batch of copies of one input can carry different replacements). zero_heads: block index
    -> head indices whose outputs are zeroed. detach: every block's attention is used as a constant (no gradient
    flows through A; the gradient importance of Jain & Wallace)."""

    attention: Mapping[int, AttentionFn] = field(default_factory=dict)
    zero_heads: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    detach: bool = False
    head_values: Mapping[int, Mapping[int, torch.Tensor]] = field(default_factory=dict)
    observe: Callable[[int, torch.Tensor], None] | None = None
    record: Callable[..., None] | None = None
    embeddings: Callable[[torch.Tensor], torch.Tensor] | None = None
    qkv_gradient: tuple[float, float, float] | None = None

    @property
    def touches_attention(self) -> bool:
        """True when the attention function must be replaced (anything but an embedding change)."""
        return bool(self.attention or self.zero_heads or self.detach or self.head_values or self.observe
                    or self.record or self.qkv_gradient)

    def describe(self) -> str:
        parts = [f"attention of block {b} replaced" for b in sorted(self.attention)]
        parts += [f"heads {list(h)} of block {b} zeroed" for b, h in sorted(self.zero_heads.items()) if h]
        parts += [f"heads {sorted(v)} of block {b} mean-ablated" for b, v in sorted(self.head_values.items()) if v]
        if self.detach:
            parts.append("attention detached in every block")
        if self.embeddings is not None:
            parts.append("input embeddings replaced")
        return "; ".join(parts) or "nothing"


@dataclass
class _Active:
    intervention: Intervention
    block_of: dict[int, int]  # id(attention module) -> block index


_ACTIVE: contextvars.ContextVar[_Active | None] = contextvars.ContextVar("attnviz_intervention", default=None)


def _own_eager(module: nn.Module) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    fn = getattr(sys.modules.get(type(module).__module__), "eager_attention_forward", None)
    return fn if callable(fn) else _eager


def _eager(module: nn.Module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The encoder eager attention (BERT, ViT): softmax(Q Kᵀ · scaling + mask) V, out [b, N, H, Dh]."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def scale_gradient(x: torch.Tensor, factor: float) -> torch.Tensor:
    """x with its value unchanged (bit for bit) and its incoming gradient multiplied by ``factor``."""
    return x.detach() + factor * (x - x.detach())


def _intervened_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    active = _ACTIVE.get()
    shares = active.intervention.qkv_gradient if active is not None else None
    if shares is not None:
        query, key, value = (scale_gradient(t, c) for t, c in zip((query, key, value), shares))
    out, weights = _own_eager(module)(module, query, key, value, attention_mask, **kwargs)
    if active is None:  # called outside an intervention (another thread's model): plain eager attention
        return out, weights
    b = active.block_of.get(id(module))
    iv = active.intervention
    if iv.record is not None and b is not None:
        scaling = kwargs.get("scaling")
        iv.record(b, query.detach(), key.detach(), value.detach(),
                  float(query.size(-1) ** -0.5 if scaling is None else scaling))
    new = weights.detach() if iv.detach else weights
    if b is not None and b in iv.attention:
        new = iv.attention[b](new)
        if new.shape != weights.shape:
            raise ValueError(f"the attention replacement of block {b} returned shape {list(new.shape)}, expected "
                             f"{list(weights.shape)}")
        new = new.to(weights.dtype)
    heads = iv.zero_heads.get(b, ()) if b is not None else ()
    values = iv.head_values.get(b, {}) if b is not None else {}
    if new is weights and not heads and not values:
        if iv.observe is not None and b is not None:
            iv.observe(b, out.transpose(1, 2))
        return out, weights
    if value.shape[1] != new.shape[1]:  # grouped-query attention: query head h reads key/value head h // rep
        value = value.repeat_interleave(new.shape[1] // value.shape[1], dim=1)
    context = torch.matmul(new, value)  # [b, H, N, Dh]
    if heads:
        keep = torch.ones(context.shape[1], dtype=context.dtype, device=context.device)
        keep[list(heads)] = 0
        context = context * keep.view(1, -1, 1, 1)
    if values:
        context = context.clone()
        for h, vector in values.items():
            if tuple(vector.shape) != (context.shape[-1],):
                raise ValueError(f"the mean (or replacement) output of head {h} in block {b} has shape "
                                 f"{list(vector.shape)}, but this model's heads output vectors of size "
                                 f"{context.shape[-1]}: compute it on this model (engine.ablation.head_means, or "
                                 "mode='mean' with reference= inputs)")
            context[:, h] = vector.to(context)
    if iv.observe is not None and b is not None:
        iv.observe(b, context)
    return context.transpose(1, 2).contiguous(), new


def _register() -> None:
    """Register the attention function, and the eager attention's mask under the same name: transformers builds a
    decoder's causal mask by the implementation's name, and an unknown name gets no mask at all (a decoder would
    then attend to the future)."""
    from transformers import AttentionInterface

    if NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(NAME, _intervened_attention)
    try:
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    except ImportError:  # older releases build masks without the interface
        return
    if NAME not in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:
        AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS._global_mapping["eager"])  # type: ignore[arg-type]


def _check(intervention: Intervention, num_blocks: int, num_heads: int) -> None:
    for b in [*intervention.attention, *intervention.zero_heads, *intervention.head_values]:
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < num_blocks:
            raise ValueError(f"block {b!r} does not exist: the model has blocks 0..{num_blocks - 1}")
    for b, heads in [*intervention.zero_heads.items(), *((b, tuple(v)) for b, v in intervention.head_values.items())]:
        bad = [h for h in heads if isinstance(h, bool) or not isinstance(h, int) or not 0 <= h < num_heads]
        if bad:
            raise ValueError(f"heads {bad} of block {b} do not exist: the model has heads 0..{num_heads - 1}")


@contextlib.contextmanager
def intervened(model: nn.Module, adapter: Adapter, intervention: Intervention, eager: bool = True
               ) -> Iterator[nn.Module]:
    """Run the model with ``intervention`` inside the block (eval mode, the model's lock held); everything restored
    in ``finally``. eager=False keeps the model's own attention kernel (faster; only for an intervention that
    touches no attention, e.g. an embedding change)."""
    if not isinstance(intervention, Intervention):
        raise TypeError(f"expected an attnviz Intervention, got {type(intervention).__name__}")
    if not eager and intervention.touches_attention:
        raise ValueError(f"eager=False keeps the model's attention kernel, which cannot apply "
                         f"{intervention.describe()}")
    blocks = adapter.get_blocks(model)
    _check(intervention, len(blocks), adapter.num_query_heads(model))
    _register()
    block_of = {id(m): b for b, block in enumerate(blocks) for m in block.modules()}
    change = intervention.embeddings
    with prepared(model, eager=eager, attn_implementation=NAME):  # restores every hook, also after an exception
        if change is not None:
            adapter.get_input_embedding(model).register_forward_hook(lambda _m, _i, output: change(output))
        token = _ACTIVE.set(_Active(intervention, block_of))
        try:
            yield model
        finally:
            _ACTIVE.reset(token)


__all__ = ["Intervention", "intervened"]
