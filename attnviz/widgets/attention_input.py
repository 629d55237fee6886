"""Attention a user brings without a model, checked: a tuple of [batch, H, N, N] tensors (transformers'
``outputs.attentions``), a [B, H, N, N] tensor or array, or a TransformerLens ``ActivationCache`` (its
``blocks.{l}.attn.hook_pattern`` entries); and its tokens. Read by ``AttentionView.from_attention`` and the
bertviz-compatible ``head_view`` / ``model_view``."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

_PATTERN = re.compile(r"^blocks\.(\d+)\.attn\.hook_pattern$")


def _as_tensor(a: Any, what: str) -> torch.Tensor:
    """A float32 CPU tensor from a tensor or an array-like of numbers, or a ValueError naming what it got."""
    if hasattr(a, "detach"):
        return a.detach().to("cpu", torch.float32)
    array = np.asarray(a)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{what} is {type(a).__name__} of {array.dtype} (ragged or not numbers): pass a tensor, a "
                         "numeric array, a tuple of [batch, H, N, N] tensors, or a TransformerLens cache")
    return torch.as_tensor(array.astype(np.float32))


def attention_array(attention: Any, batch_index: int = 0) -> torch.Tensor:
    """float32 [B, H, N, N] from any of the accepted forms (see the module docstring), checked."""
    if hasattr(attention, "keys"):  # an ActivationCache, or a plain dict of its entries (cache.cache_dict)
        keys = sorted(((int(m.group(1)), k) for k in attention.keys() if (m := _PATTERN.match(str(k)))),
                      key=lambda t: t[0])
        if not keys:
            raise ValueError("this mapping holds no 'blocks.{l}.attn.hook_pattern' entries (TransformerLens's "
                             "attention patterns): run the model with run_with_cache, without a names_filter that "
                             "drops them, or pass a tuple of [batch, H, N, N] tensors")
        found = [b for b, _ in keys]
        if found != list(range(len(found))):
            missing = sorted(set(range(max(found) + 1)) - set(found))
            raise ValueError(f"the attention patterns of blocks {missing} are missing (found blocks {found}): pass "
                             "every block's 'blocks.{l}.attn.hook_pattern'")
        attention = [attention[k] for _, k in keys]
    if isinstance(attention, (tuple, list)):
        if not attention:
            raise ValueError("attention is an empty sequence: pass one [batch, H, N, N] tensor per block")
        blocks = []
        for b, a in enumerate(attention):
            t = _as_tensor(a, f"block {b} of the attention")
            if t.dim() == 4:
                if not 0 <= batch_index < t.shape[0]:
                    raise ValueError(f"block {b} has a batch of {t.shape[0]}; batch_index {batch_index} is out of "
                                     "range")
                t = t[batch_index]
            if t.dim() != 3:
                raise ValueError(f"block {b} of the attention has shape {list(t.shape)}; expected [batch, H, N, N] "
                                 "or [H, N, N]")
            blocks.append(t)
        shapes = {tuple(t.shape) for t in blocks}
        if len(shapes) != 1:
            raise ValueError(f"the blocks' attention shapes differ: {sorted(shapes)}")
        A = torch.stack(blocks)
    else:
        A = _as_tensor(attention, "attention")
        if A.dim() == 3:
            A = A[None]
        if A.dim() != 4:
            raise ValueError(f"attention has shape {list(A.shape)}; expected [B, H, N, N], a tuple of "
                             "[batch, H, N, N] per block, or an ActivationCache")
    A = A.to(torch.float32)
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"attention maps must be square (query x key), got {list(A.shape[-2:])}")
    if not torch.isfinite(A).all():
        raise ValueError("attention holds NaN or inf: these weights cannot be drawn")
    if (A < 0).any():
        raise ValueError("attention holds negative values: pass post-softmax attention probabilities, not scores")
    return A


def check_tokens(tokens: Any, n: int) -> list[str]:
    """The token list, checked against the attention's N."""
    if isinstance(tokens, str):
        raise TypeError("tokens must be a list of strings (one per position), not one string")
    tokens = [str(t) for t in tokens]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for attention over {n} positions: pass one token per position")
    return tokens


__all__ = ["attention_array", "check_tokens"]
