"""TextView: the tokens (or words) of a sentence or sentence pair coloured by one method's relevance."""

from __future__ import annotations

from typing import Any

import numpy as np
from traitlets import Bool, Enum, Int, List, Unicode, observe

from .base import ExplainedView, bundle, check_explanation
from .serialize import encode

DEFAULT_METHOD = "gae"


class TextView(ExplainedView):
    """Tokens coloured by relevance, with method and class pickers, a layer slider, a B x H head grid and word-level
    aggregation.

    ``TextView(e, method="gae", target=None, layer=None, heads=None, word_level=False, word_reduce="sum",
    ignore_special=True, colormap="auto", color_scale="auto", options=None, scale=None)``

    Answered in the browser: layer, colormap, ignore_special (from the [B, U] maps already sent). Answered by the
    kernel: method, target, heads, options, word_level, word_reduce (new ``maps`` [B, U] float16, ``revision + 1``).
    """

    _esm = bundle("text_view")
    bundle_name = "text_view"
    settable = ("method", "target", "layer", "heads", "word_level", "word_reduce", "ignore_special", "colormap",
                "color_scale", "options", "ablate")

    tokens = List(Unicode(), help="the model's tokens [N] (read only)").tag(sync=True)
    units = List(Unicode(), help="what is drawn: tokens, or words when word_level (read only)").tag(sync=True)
    unit_segments = List(Int(), help="segment (0/1) of each unit of a sentence pair (read only)").tag(sync=True)
    unit_special = List(Bool(), help="special tokens among the units (read only)").tag(sync=True)
    word_level = Bool(False, help="aggregate word pieces into words (kernel: Explanation.words)").tag(sync=True)
    word_reduce = Enum(["sum", "max"], "sum", help="how word pieces combine into a word").tag(sync=True)
    ignore_special = Bool(True, help="leave special tokens out of the colour range").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, "text", "TextView")
        super().__init__(**kwargs)
        with self.hold_sync():  # one update message with the whole initial state
            self._setup(e, DEFAULT_METHOD)
            self.tokens = [str(t) for t in e.tokens]
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    def _static_figure(self) -> None:
        return None  # the HTML snapshot instead: matplotlib takes seconds for hundreds of tokens

    def _static_html(self) -> str:
        """The tokens coloured by the map shown (``plots.snapshot.text_snapshot``)."""
        from ..engine import facades

        return facades.call("text_snapshot", self._e, self.method, self._target_value(), self.layer,
                             np.asarray(self.heads, dtype=bool), bool(self.word_level), bool(self.ignore_special),
                             dict(self.options))

    @observe("word_level", "word_reduce")
    def _words_change(self, change):
        self._refresh()

    def _refresh(self) -> None:
        def work():
            e = self._e
            units = e.units(self.word_level)  # tokens, or words
            rows = units.pool(self._method_maps(self.method), self.word_reduce)
            self._method_flags()
            self._show_units(units)
            self.maps = encode(rows)

        self._answer(work)
