"""What a capture keeps, chosen from the methods that will read it (the lean capture).

A full capture (``Explainer.explain(methods=None)``, the default) runs the backward of the explained target at once
and keeps every gradient: d y / d A for every block (B tensors [H, N, N]), the hidden states' and the input
embeddings'. At long contexts the attention gradients are most of the cost (GPT-2 small at 1,024 tokens: 0.6 GB in
float32, as much as the attention itself). ``explain(methods=[...])`` keeps only what those methods read (their
``MethodInfo.gradients``):

- "none" (raw, last_layer, rollout, flow, redistribution, and the methods that run their own passes: integrated
  gradients, the LRP family): a forward without an autograd graph, no backward;
- "hidden" (attcat, grad_input): one backward to the hidden states and the input embeddings only; from
  RECOMPUTE_FROM_TOKENS positions on (per input: a batch is decided by its longest, padded length), each block is
  recomputed in that backward (``recompute.recomputed_blocks``: its inputs kept, not its activations, for one more
  forward; ``recompute=True``/``False`` decides at any length and level);
- "attention" (gae, attn_gradcam, chefer): the full capture.

A method asked for later that reads more runs what it needs then: one more backward on the kept graph (a forward and
a backward when no graph was kept). The attention is stored in the compute dtype (float32), except where nothing is
lost or the methods tolerate less: a float16/bfloat16 model's attention stays in the model's dtype (it was computed
in it), and a capture for the display methods alone (raw, last_layer: the views send float16 anyway) keeps float16.
``attention_dtype=`` overrides the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from .capture import LOW_PRECISION
from .methods import get as get_method
from .methods.common import deepest_level

#: From this many positions on, the hidden level recomputes its blocks by default (bench/lean_capture.py, GPT-2 small,
#: 2 CPU cores: at 256 tokens recomputing costs 45% more time for 23% less memory; at 1,024 it halves the peak).
RECOMPUTE_FROM_TOKENS = 512
DISPLAY_METHODS = frozenset({"raw", "last_layer"})  # they show the stored weights: float16 is what the views draw
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
           "float64": torch.float64}


@dataclass(frozen=True)
class CapturePlan:
    """gradients: the backward the capture runs ("none", "hidden", "attention"); attention_dtype: the dtype the
    attention [B, H, N, N] is stored in (None: the compute dtype, float32 or float64); recompute: the blocks keep
    their inputs and run again in the backward instead of keeping their activations
    (``recompute.recomputed_blocks``)."""

    gradients: str = "attention"
    attention_dtype: torch.dtype | None = None
    recompute: bool | None = None

    def recomputes(self, tokens: int) -> bool:
        """Whether a batch of ``tokens`` positions recomputes its blocks: as asked, or (None: automatic) at the
        hidden level from RECOMPUTE_FROM_TOKENS on, where the activations outweigh the cost of one more forward."""
        if self.recompute is not None:
            return self.recompute
        return self.gradients == "hidden" and tokens >= RECOMPUTE_FROM_TOKENS

    @classmethod
    def choose(cls, methods: Iterable[str] | str | None, attention_dtype: Any, model_dtype: torch.dtype,
               recompute: bool | None = None) -> CapturePlan:
        """The plan for ``methods`` (None: the full capture), the user's ``attention_dtype`` and ``recompute``
        (None: automatic, see the module docstring; ``explain`` has checked it is a bool or None), with clear
        errors for unknown names."""
        if isinstance(methods, str):
            methods = [methods]
        names = None if methods is None else list(methods)
        if names is not None:
            if not names:
                raise ValueError("methods=[] names no method: pass the methods you will read (e.g. ['rollout']), "
                                 "or None for the full capture")
            for name in names:
                if not isinstance(name, str):
                    raise TypeError(f"methods must be method names (strings), got {name!r}")
                get_method(name)  # an unknown name: the error lists the known ones
        level = "attention" if names is None else deepest_level(get_method(n).gradients for n in names)
        return cls(level, _attention_dtype(attention_dtype, names, model_dtype), recompute)


def _attention_dtype(given: Any, names: list[str] | None, model_dtype: torch.dtype) -> torch.dtype | None:
    if given is not None:
        dtype = _DTYPES.get(given) if isinstance(given, str) else given
        if not isinstance(dtype, torch.dtype) or dtype not in _DTYPES.values():
            raise ValueError(f"attention_dtype must be one of {', '.join(_DTYPES)} (or the torch dtype), got "
                             f"{given!r}")
        return dtype
    if model_dtype in LOW_PRECISION:
        return model_dtype  # computed in it: storing it wider adds nothing
    if names is not None and set(names) <= DISPLAY_METHODS and model_dtype != torch.float64:
        return torch.float16
    return None


__all__ = ["DISPLAY_METHODS", "RECOMPUTE_FROM_TOKENS", "CapturePlan"]
