"""AttentionView: raw attention as a head view and a model view, drawn on canvas in the browser."""

from __future__ import annotations

from typing import Any

from traitlets import Enum, Int, List, TraitError, Unicode, validate

from .base import Fraction, Index, View, bundle, check_explanation
from .serialize import HeadMask, Tensor, encode, head_mask


class AttentionView(View):
    """bertviz's head view and model view, fluid at 512 tokens: the [B, H, N, N] attention is sent once as float16
    (2 bytes per weight) and every control (layer, heads, mode, hover) is answered in the browser.

    ``AttentionView(e, layer=None, heads=None, mode="head", threshold=0.02)``
    """

    _esm = bundle("attention_view")
    bundle_name = "attention_view"
    settable = ("layer", "heads", "mode", "threshold")

    tokens = List(Unicode(), help="the tokens [N] (read only)").tag(sync=True)
    segments = List(Int(), help="segment of each token (read only)").tag(sync=True)
    attention = Tensor(help="float16 [B, H, N, N] post-softmax attention, row = query (read only)").tag(sync=True)
    layer = Index(0, help="the block shown in the head view").tag(sync=True)
    heads = HeadMask(help="[B][H] heads drawn (True = drawn); a [H] mask applies to every block").tag(sync=True)
    mode = Enum(["head", "model"], "head", help="head view or model view").tag(sync=True)
    threshold = Fraction(0.02, min=0.0, max=1.0,
                         help="weights below this are not drawn in the head view").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, None, "AttentionView")
        super().__init__(**kwargs)
        with self.hold_sync():  # one update message with the whole initial state
            self._e = e
            self._B, self._H = e.num_layers, e.num_heads
            self.tokens = [str(t) for t in e.tokens]
            self.segments = [int(s) for s in e.segments]
            self.attention = encode(e.attention(), scale=1.0)
            self.layer = self._B - 1
            self.heads = head_mask(None, self._B, self._H)
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    @validate("layer")
    def _valid_layer(self, proposal):
        value = proposal["value"]
        if hasattr(self, "_B"):
            if not -self._B <= value < self._B:
                raise TraitError(f"layer must be in [0, {self._B - 1}] (or negative from the end), got {value}")
            value %= self._B
        return value

