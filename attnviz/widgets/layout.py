"""Views side by side (``Row``) or one above the other (``Column``), with a picture for a notebook saved without
its kernel.

An ipywidgets ``HBox``/``VBox`` of attnviz views draws them live, but a front end without widgets (GitHub, nbviewer,
the documentation site, a saved notebook opened before its kernel runs) shows only the box's ``text/plain``
(``VBox(children=(Label(...), <attnviz.widgets.text.TextView ...``). ``Row`` and ``Column`` are those boxes plus
the static fallback every view has (``base.with_static_fallback``): the children's own pictures laid out the same
way, labels as escaped text.

    attnviz.Column("Pretrained: rollout", attnviz.TextView(e_base, method="rollout"),
                   "Fine-tuned: rollout", attnviz.TextView(e, method="rollout"))
"""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar

import ipywidgets

from .base import DisplaysItsBundle, with_static_fallback

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")  # what may go in an <img src="data:..."> attribute


def _child_picture(child: Any) -> str:
    """Self-contained HTML of what ``child`` shows without a kernel: a view's (or a nested layout's) static HTML or
    PNG, a label's text; any other widget its escaped ``text/plain``."""
    if isinstance(child, ipywidgets.Label):
        return f'<div class="attnviz-static-label">{html.escape(str(child.value))}</div>'
    shown = child._repr_mimebundle_() if callable(getattr(child, "_repr_mimebundle_", None)) else None
    data = (shown[0] if isinstance(shown, tuple) else shown) or {}
    if "text/html" in data:
        return str(data["text/html"])
    if isinstance(data.get("image/png"), str) and _BASE64.fullmatch(data["image/png"]):
        alt = html.escape(type(child).__name__)
        return f'<img alt="{alt}" style="max-width:100%" src="data:image/png;base64,{data["image/png"]}">'
    return f"<pre>{html.escape(str(data.get('text/plain', repr(child))))}</pre>"


class _Layout(DisplaysItsBundle):
    """The shared part of ``Row`` and ``Column`` (before the ipywidgets box in the bases)."""

    _direction: ClassVar[str] = "row"

    def __init__(self, *children: Any, **kwargs: Any):
        """children: widgets (attnviz views, ipywidgets) or strings (shown as labels), in order; also as one list
        or as ``children=[...]``, as ipywidgets' boxes take them."""
        if "children" in kwargs:
            if children:
                raise TypeError(f"{type(self).__name__}: pass the children either as arguments or as children=, "
                                "not both")
            children = tuple(kwargs.pop("children"))
        if len(children) == 1 and isinstance(children[0], (list, tuple)):
            children = tuple(children[0])  # Row([a, b]) as ipywidgets' HBox([a, b])
        items = []
        for i, child in enumerate(children):
            if isinstance(child, str):
                child = ipywidgets.Label(child)
            if not isinstance(child, ipywidgets.Widget):
                raise TypeError(f"{type(self).__name__}: item {i} is a {type(child).__name__}, not a widget or a "
                                "string; pass attnviz views, ipywidgets or text")
            items.append(child)
        super().__init__(items, **kwargs)  # type: ignore[call-arg]

    def _static_html(self) -> str:
        """The children's pictures, laid out as the live box lays out the children."""
        cells = "".join(f'<div style="min-width:0">{_child_picture(c)}</div>'
                        for c in self.children)  # type: ignore[attr-defined]
        return (f'<div class="attnviz-static-layout" style="display:flex;flex-direction:{self._direction};'
                f'gap:12px;align-items:flex-start">{cells}</div>')

    def _static_figure(self) -> None:
        return None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """ipywidgets' bundle for the box (the live view) plus the static picture of its children."""
        return with_static_fallback(self._live_bundle(**kwargs), self, type(self).__name__)  # type: ignore[arg-type]


class Row(_Layout, ipywidgets.HBox):
    """Views side by side: ``Row(view_a, view_b)`` (strings become labels), an ``ipywidgets.HBox`` that a saved
    notebook still shows as the children's pictures."""

    _direction = "row"


class Column(_Layout, ipywidgets.VBox):
    """Views one above the other: ``Column("title", view, ...)`` (strings become labels), an ``ipywidgets.VBox``
    that a saved notebook still shows as the children's pictures."""

    _direction = "column"


__all__ = ["Column", "Row"]
