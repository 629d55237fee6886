"""How a Transformer computes its answer (decoders): the logit lens, one head's arithmetic, direct logit
attribution and activation patching, all read from one recorded forward (``residual.record``).

The functions here take an ``Explanation`` (its input, explained position and target) and cache the recorded
residual stream per explanation; ``Explanation.logit_lens()``, ``.direct_attribution()`` and ``.head_math()`` call
them, and ``attnviz.patch`` is ``patching.patch``. The views (``widgets/internals.py``) only read their results.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .attribution import FROZEN_NOTE, DirectAttribution, direct_attribution
from .head_math import HeadMath, head_math
from .lens import LensTop, logit_lens
from .patching import PatchingResult, patch
from .residual import InternalsError, ResidualRecord, check_index, record, require_language_model

_RECORDS: weakref.WeakKeyDictionary[Any, dict[tuple[int, ...], ResidualRecord]] = weakref.WeakKeyDictionary()


def recorded(e: Any, what: str, qkv_block: int | None = None) -> ResidualRecord:
    """The explanation's residual stream (one forward, cached per explanation; with the query/key/value tensors of
    ``qkv_block`` when asked)."""
    explainer = e._live()
    require_language_model(explainer, what)
    cache = _RECORDS.setdefault(e, {})
    for blocks, rec in cache.items():
        if qkv_block is None or qkv_block in blocks:
            return rec
    blocks = () if qkv_block is None else (qkv_block,)
    rec = record(explainer, e.model_inputs, blocks)
    cache.clear()  # keep one record per explanation (a record of a 1,024-token GPT-2 small input is ~40 MB)
    cache[blocks] = rec
    return rec


def _target(e: Any, target: Any) -> Any:
    return e.resolve(target).key


def explanation_logit_lens(e: Any, token: Any = None, top_k: int | None = None,
                           rank: bool = False) -> np.ndarray | LensTop:
    return logit_lens(e._live(), recorded(e, "the logit lens"), token=token, top_k=top_k, rank=rank)


def explanation_direct_attribution(e: Any, target: Any = None) -> DirectAttribution:
    rec = recorded(e, "direct logit attribution")
    t = _target(e, target)
    return direct_attribution(e._live(), rec, e.position, t, e.describe_target(t))


def explanation_head_math(e: Any, block: int, head: int, query: int | None = None, target: Any = None) -> HeadMath:
    block = check_index("block", block, e.num_layers)
    head = check_index("head", head, e.num_heads)
    query = e.position if query is None else check_index("query position", query, e.num_tokens)
    rec = recorded(e, "inside one head", qkv_block=block)
    model_row = e.capture.block(block)[head, query].float().cpu().numpy()
    return head_math(e._live(), rec, model_row, block, head, query, _target(e, target), e.causal)


__all__ = ["FROZEN_NOTE", "DirectAttribution", "HeadMath", "InternalsError", "LensTop", "PatchingResult",
           "explanation_direct_attribution", "explanation_head_math", "explanation_logit_lens", "patch", "recorded"]
