"""A matplotlib Figure that draws itself in a notebook cell without pyplot.

attnviz builds its figures with ``matplotlib.figure.Figure`` (no pyplot state, no global figure manager, safe in
threads). IPython's inline backend only shows pyplot's figures, so a plain Figure returned by a cell prints
``<Figure size ... with 2 Axes>``. ``InlineFigure`` adds ``_repr_png_`` (IPython's display protocol), so the
returned figure draws inline; ``savefig`` (PNG, SVG, PDF) embeds TrueType fonts in PDF and PostScript.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A Figure with an Agg canvas attached and a PNG representation for notebooks; PDF and PostScript exports embed
    TrueType fonts (Type 42), not Type 3, as publishers ask."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def savefig(self, *args, **kwargs):
        with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
            return super().savefig(*args, **kwargs)

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


__all__ = ["InlineFigure"]
