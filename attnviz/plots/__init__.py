"""Static figures for papers: ``plot(e, method)`` -> a matplotlib Figure (PNG, SVG, PDF through ``fig.savefig``).

Text: the tokens as coloured boxes, wrapped, one line group per segment of a sentence pair, with a colorbar.
Image: the image with the patch relevance laid over it (bilinear), with a colorbar. The title names the method, the
class explained and its probability. Every number comes from ``Explanation.map``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle

from .figure import InlineFigure

__all__ = ["colour_scale", "plot"]

TEXT_CMAP, IMAGE_CMAP, SIGNED_CMAP = "Reds", "inferno", "RdBu_r"


def plot(e: Any, method: str, target: int | str | None = None, layer: int | None = None, heads: Any = None,
         ax: Any = None, *, words: bool = False, cmap: str | None = None, alpha: float = 0.6,
         ignore_special: bool = True, width: float = 8.0, fontsize: float = 11.0, **options: Any) -> Figure:
    """One method's relevance for one input as a matplotlib Figure.

    e: an ``attnviz.Explanation``; method, target, layer, heads and ``**options`` go to ``e.map`` unchanged.
    ax: draw into this Axes (its figure is returned); otherwise a new Figure ``width`` inches wide.
    words: aggregate word pieces into words (text). cmap: a matplotlib colormap name (signed methods always use a
    diverging one centred on zero). alpha: overlay opacity (image). ignore_special: leave [CLS]/[SEP] out of the
    colour range and draw them white (text).
    """
    from ..engine import Explanation, methods

    if not isinstance(e, Explanation):
        raise TypeError(f"plot() needs an attnviz.Explanation, got {type(e).__name__}")
    if method not in e.method_names():
        raise ValueError(f"unknown method {method!r} for {e.kind} inputs; choose one of {', '.join(e.method_names())}")
    info = methods()[method]
    values = np.asarray(e.map(method, target=target, layer=layer, heads=heads, **options), dtype=np.float64)
    t = e.resolve(target)  # the Target value: its text and probability
    B = e.num_layers
    block = B - 1 if layer is None else layer % B
    title = f"{info.display_name} · {e.targets.kind} {t.text} (p = {t.probability(e.probs):.3f})"
    if block != B - 1:
        title += f" · through block {block}"
    signed = bool(info.signed)
    if e.kind == "image":
        return _image(e, values, title, signed, ax, cmap or (SIGNED_CMAP if signed else IMAGE_CMAP), alpha, width)
    return _text(e, values, title, signed, ax, cmap or (SIGNED_CMAP if signed else TEXT_CMAP), words,
                 ignore_special, width, fontsize)


def colour_scale(values: np.ndarray, signed: bool, skip: np.ndarray | None = None) -> Normalize:
    """The colour range of a map: symmetric about zero for a signed method, [min(0, lo), hi] otherwise; entries in
    ``skip`` (special tokens, a decoder's unseen tokens) and non-finite values left out."""
    v = values[~skip] if skip is not None and (~skip).any() else values
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Normalize(-1.0 if signed else 0.0, 1.0)
    if signed:
        m = float(np.abs(v).max()) or 1.0
        return Normalize(-m, m)
    lo, hi = min(0.0, float(v.min())), float(v.max())
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def _figure(ax: Any, width: float, height: float):
    if ax is not None:
        return ax.figure, ax
    fig = InlineFigure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _plain(text: str) -> str:
    """Token text drawn as typed: '$' would start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _text(e: Any, values: np.ndarray, title: str, signed: bool, ax: Any, cmap: str, words: bool,
          ignore_special: bool, width: float, fontsize: float) -> Figure:
    drawn = e.units(words)  # tokens, or words (word pieces summed)
    units, segs, special = drawn.texts, drawn.segments, np.asarray(drawn.special, dtype=bool)
    values = drawn.pool(values.astype(np.float32)).astype(np.float64)
    explained, unseen = drawn.explained(e)  # a decoder: the position outlined, what follows it hatched
    skip = (special & ignore_special) | unseen
    norm = colour_scale(values, signed, skip if skip.any() else None)
    mapper = ScalarMappable(norm=norm, cmap=cmap)

    # Measure each token in inches with Agg, wrap into lines (a new segment starts a new line).
    probe = Figure(dpi=100)
    renderer = FigureCanvasAgg(probe).get_renderer()
    font = FontProperties(size=fontsize)
    pad, gap, line_h = 0.06, 0.05, fontsize / 72 * 1.9
    usable = width - 0.4
    boxes, x, y = [], 0.0, 0.0
    for i, unit in enumerate(units):
        w_px, _, _ = renderer.get_text_width_height_descent(_plain(unit), font, ismath=False)
        w = w_px / probe.dpi + 2 * pad
        if (x > 0 and x + w > usable) or (i > 0 and segs[i] != segs[i - 1]):
            x, y = 0.0, y + line_h
        boxes.append((x, y, w))
        x += w + gap
    text_h = y + line_h
    fig, ax = _figure(ax, width, text_h + 1.4)
    ax.set_xlim(0, usable)
    ax.set_ylim(text_h, 0)
    ax.set_axis_off()
    for k, ((bx, by, bw), unit, v, sp) in enumerate(zip(boxes, units, values, special)):
        neutral = (ignore_special and sp) or unseen[k]
        rgba = (1.0, 1.0, 1.0, 1.0) if neutral else mapper.to_rgba(v)
        lum = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
        ax.add_patch(Rectangle((bx, by + 0.04), bw, line_h * 0.78, facecolor=rgba,
                               edgecolor="#111111" if k == explained else "#999999",
                               linewidth=2.0 if k == explained else 0.5,
                               linestyle="--" if sp else (":" if unseen[k] else "-"),
                               hatch="////" if unseen[k] else None))
        ax.text(bx + pad, by + 0.04 + line_h * 0.39, _plain(unit), fontsize=fontsize, va="center", ha="left",
                color="#999999" if unseen[k] else ("#111111" if lum > 0.45 else "white"), usetex=False)
    if explained >= 0:
        title += "\noutlined: the position explained (its next token); hatched: after it, not seen"
    ax.set_title(title, fontsize=fontsize + 1, loc="left")
    fig.colorbar(mapper, ax=ax, orientation="horizontal", fraction=0.25 if text_h < 1 else 0.12, pad=0.02,
                 aspect=40, label="relevance")
    return fig


def _image(e: Any, values: np.ndarray, title: str, signed: bool, ax: Any, cmap: str, alpha: float,
           width: float) -> Figure:
    grid = e.patch_map(values)
    norm = colour_scale(grid.ravel(), signed)
    image = e.image
    fig, ax = _figure(ax, min(width, 6.0), min(width, 6.0) * 0.9)
    if image is not None:
        h, w = image.shape[:2]
        ax.imshow(image, extent=(0, w, h, 0), interpolation="bilinear")
    else:
        h, w = grid.shape
    ax.imshow(grid, extent=(0, w, h, 0), cmap=cmap, norm=norm, alpha=alpha if image is not None else 1.0,
              interpolation="bilinear")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    ax.set_title(title, fontsize=11)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.03, label="relevance")
    return fig
