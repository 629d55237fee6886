"""A matplotlib Figure that draws itself in a notebook cell without pyplot.

attnviz builds its figures with ``matplotlib.figure.Figure`` (no pyplot state, no global figure manager, safe in
threads). IPython's inline backend only shows pyplot's figures, so a plain Figure returned by a cell prints
``<Figure size ... with 2 Axes>``. ``InlineFigure`` adds ``_repr_png_`` (IPython's display protocol), so the
returned figure draws inline; saving (``savefig``: PNG, SVG, PDF) is unchanged.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A Figure with an Agg canvas attached and a PNG representation for notebooks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


__all__ = ["InlineFigure"]
