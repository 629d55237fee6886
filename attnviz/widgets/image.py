"""ImageView: the image as the model saw it with one method's patch relevance laid over it."""

from __future__ import annotations

from typing import Any

import numpy as np
from traitlets import Int, List, TraitError, observe, validate

from .base import ExplainedView, Fraction, Index, bundle, check_explanation
from .serialize import Tensor, empty, encode

DEFAULT_METHOD = "gae"


class ImageView(ExplainedView):
    """The image with the patch relevance overlaid (bilinear upsampling, opacity, colormap), method and class
    pickers, a layer slider and a B x H head grid; clicking a patch shows the attention from that patch.

    ``ImageView(e, method="gae", target=None, layer=None, heads=None, opacity=0.6, size=320, colormap="auto",
    color_scale="auto", selected_patch=-1, options=None, scale=None)``

    Answered in the browser: layer, opacity, size, colormap. Answered by the kernel: method, target, heads, options
    (new ``maps`` [B, gh, gw]) and selected_patch (``patch_attention`` [B, gh, gw]: the attention from that patch in
    each block, mean over the kept heads, computed by the engine's ``raw`` method with ``query=patch``).
    """

    _esm = bundle("image_view")
    bundle_name = "image_view"
    settable = ("method", "target", "layer", "heads", "opacity", "size", "colormap", "color_scale", "selected_patch",
                "options", "ablate")

    image = Tensor(dtype="uint8", help="uint8 [h, w, 3]: the image as the model saw it (read only)").tag(sync=True)
    patch_grid = List(Int(), help="[gh, gw] (read only)").tag(sync=True)
    opacity = Fraction(0.6, min=0.0, max=1.0, help="overlay opacity in [0, 1]").tag(sync=True)
    size = Index(320, min=64, max=2048, help="drawn size of the longer image side, in px").tag(sync=True)
    selected_patch = Index(-1, help="patch (row-major) whose attention is shown; -1 = the map").tag(sync=True)
    patch_attention = Tensor(help="float16 [B, gh, gw]: attention from selected_patch (read only)").tag(sync=True)
    attention_patch = Int(-1, help="the patch patch_attention belongs to (read only)").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, "image", "ImageView")
        super().__init__(**kwargs)
        with self.hold_sync():  # one update message with the whole initial state
            self._setup(e, DEFAULT_METHOD)
            self.patch_grid = [int(n) for n in e.patch_grid]
            if e.image is not None:
                self.image = encode(np.ascontiguousarray(e.image, dtype=np.uint8), "uint8")
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    @validate("selected_patch")
    def _valid_patch(self, proposal):
        value = proposal["value"]
        gh, gw = self.patch_grid or (0, 0)
        if not -1 <= value < gh * gw:
            raise TraitError(f"selected_patch must be -1 or a patch index in [0, {gh * gw - 1}], got {value}")
        return value

    @observe("selected_patch")
    def _patch_change(self, change):
        if self._ready:
            self._answer(self._patch_attention)

    def _patch_attention(self) -> None:
        p = self.selected_patch
        if p < 0:
            self.patch_attention, self.attention_patch = empty(), -1
            return
        e = self._e
        rows = e.maps("raw", heads=np.asarray(self.heads, dtype=bool), query=e.num_prefix_tokens + p)
        self.patch_attention = encode(np.stack([e.patch_map(r) for r in rows]))
        self.attention_patch = p

    def _refresh(self) -> None:
        def work():
            e = self._e
            rows = self._method_maps(self.method)
            self._method_flags()
            self.maps = encode(np.stack([e.patch_map(r) for r in rows]))
            if self.selected_patch >= 0:
                self._patch_attention()

        self._answer(work)
