"""Notebook widgets (anywidget): traits in, binary buffers out; every number comes from the engine.

``show(e)`` picks TextView or ImageView; ``AttentionView(e)`` shows raw attention (head view, model view);
``CompareView(e, methods=[...])`` puts methods side by side. How a decoder computes: ``LogitLensView(e)``,
``HeadMathView(e, block, head)``, ``DirectAttributionView(e)``, ``PatchingView(attnviz.patch(...))``.
``Row(view_a, view_b)`` / ``Column("title", view, ...)`` lay views out (and keep their pictures in a saved
notebook). ``view.to_html(path)`` writes an offline page.
"""

from __future__ import annotations

from typing import Any

from .attention import AttentionView
from .base import set_options
from .bertviz_compat import head_view, model_view
from .compare import CompareView
from .flow import FlowView
from .image import ImageView
from .internals import DirectAttributionView, HeadMathView, LogitLensView, PatchingView
from .layout import Column, Row
from .serialize import decode, encode
from .text import TextView


def show(explanation: Any, **kwargs: Any) -> TextView | ImageView:
    """The view for an explanation: TextView for text, ImageView for images (``Explanation.show`` calls this)."""
    from .base import check_explanation

    e = check_explanation(explanation, None, "show()")
    return TextView(e, **kwargs) if e.kind == "text" else ImageView(e, **kwargs)


__all__ = ["AttentionView", "Column", "CompareView", "DirectAttributionView", "FlowView", "HeadMathView",
           "ImageView", "LogitLensView", "PatchingView", "Row", "TextView", "decode", "encode", "head_view",
           "model_view", "set_options", "show"]
