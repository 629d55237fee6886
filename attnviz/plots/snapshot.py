"""Static snapshots of what a view shows, for front ends without widgets (a saved notebook on GitHub, nbviewer,
VS Code's preview, or before its kernel runs): a text view as self-contained HTML (inline styles, the token text
escaped; drawing hundreds of tokens with matplotlib takes seconds), an attention block as a heatmap figure; the views
reach them through ``engine.facades`` ("text_snapshot", "attention_figure"). Every number comes from the
explanation."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from . import SIGNED_CMAP, TEXT_CMAP, colour_scale
from .figure import InlineFigure


def text_snapshot(e: Any, method: str, target: Any, layer: int, heads: np.ndarray, words: bool,
                  ignore_special: bool, options: dict[str, Any]) -> str:
    """HTML of ``e.map(method, target, layer, heads, **options)`` over the tokens (or words), coloured as
    ``plots.plot`` colours them (the same scale; special tokens and a decoder's unseen tokens white), each value in
    the token's tooltip. Token text is escaped."""
    from ..engine import methods

    info = methods()[method]
    values = np.asarray(e.map(method, target=target, layer=layer, heads=heads, **options), dtype=np.float64)
    drawn = e.units(words)
    special = np.asarray(drawn.special, dtype=bool)
    values = drawn.pool(values.astype(np.float32)).astype(np.float64)
    explained, unseen = drawn.explained(e)
    skip = (special & ignore_special) | unseen
    norm = colour_scale(values, bool(info.signed), skip if skip.any() else None)
    cmap = colormaps[SIGNED_CMAP if info.signed else TEXT_CMAP]
    t = e.resolve(target)
    title = f"{info.display_name} · {e.targets.kind} {t.text} (p = {t.probability(e.probs):.3f})"
    if layer % e.num_layers != e.num_layers - 1:
        title += f" · through block {layer % e.num_layers}"
    spans = []
    for k, (unit, value) in enumerate(zip(drawn.texts, values)):
        if k and drawn.segments[k] != drawn.segments[k - 1]:
            spans.append("<br>")
        neutral = bool(skip[k])
        rgba = (1.0, 1.0, 1.0, 1.0) if neutral else cmap(norm(value))
        luminance = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
        colour = "#999999" if unseen[k] else ("#111111" if luminance > 0.45 else "#ffffff")
        border = "2px solid #111111" if k == explained else f"1px {'dashed' if special[k] else 'solid'} #999999"
        spans.append(f'<span title="{value:.4g}" style="background:{to_hex(rgba)};color:{colour};border:{border};'
                     f'padding:1px 3px;margin:1px;border-radius:2px;white-space:pre">{html.escape(unit)}</span>')
    scale = f"{cmap.name}, {norm.vmin:.3g} to {norm.vmax:.3g}"
    note = "; outlined: the position explained, grey: after it" if explained >= 0 else ""
    return ('<div class="attnviz-static" style="font-family:sans-serif;font-size:13px;line-height:2.1;'
            f'max-width:960px"><div style="font-weight:600">{html.escape(title)}</div><div>{"".join(spans)}</div>'
            f'<div style="font-size:11px;color:#555555">colour: {html.escape(scale)}{note}. A static snapshot of '
            'the view (no kernel): run the notebook for the live view.</div></div>')


def attention_figure(block: np.ndarray, kept: np.ndarray, layer: int, tokens: list[str]) -> InlineFigure:
    """Block ``layer``'s attention [H, N, N], mean over the kept heads (bool [H]), as an N x N heatmap (row = query),
    the tokens as tick labels up to 48 tokens (a decoder's upper triangle is empty)."""
    shown = block[kept].mean(0) if kept.any() else np.zeros(block.shape[1:], np.float32)
    N = shown.shape[-1]
    side = min(7.0, 2.5 + 0.09 * N)
    fig = InlineFigure(figsize=(side + 1.0, side))
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=max(float(shown.max()), 1e-12), interpolation="nearest")
    heads = "all heads" if kept.all() else f"heads {', '.join(str(h) for h in np.flatnonzero(kept))}"
    ax.set_title(f"attention of block {layer} ({heads}, mean); row = query, column = key", fontsize=9)
    if N <= 48:
        ax.set_xticks(range(N), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(N), tokens, fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig


def grid_figure(values: np.ndarray, row_labels: list[str], col_labels: list[str], title: str, value_label: str,
                signed: bool, fixed_range: list[float], cell_text: list[list[str]], marked_col: int,
                row_title: str = "", col_title: str = "") -> InlineFigure:
    """A GridView's numbers [R, C] (logit lens, direct attribution, patching) as a heatmap: diverging around 0 when
    signed, the view's fixed range when it has one, each cell's text when the grid is small, the marked column (the
    explained position) outlined."""
    from matplotlib.patches import Rectangle

    values = np.asarray(values, dtype=np.float64)
    R, C = values.shape
    if fixed_range:
        lo, hi = float(fixed_range[0]), float(fixed_range[1])
    else:
        norm = colour_scale(values.ravel(), signed)
        lo, hi = float(norm.vmin), float(norm.vmax)
    fig = InlineFigure(figsize=(min(9.0, 2.5 + 0.55 * C), min(7.0, 1.5 + 0.35 * R)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap=SIGNED_CMAP if signed else "viridis", vmin=lo, vmax=hi, aspect="auto",
                      interpolation="nearest")
    ax.set_title(title, fontsize=9, loc="left")
    if C <= 40:
        ax.set_xticks(range(C), col_labels, rotation=90, fontsize=7)
    if R <= 40:
        ax.set_yticks(range(R), row_labels, fontsize=7)
    ax.set_xlabel(col_title, fontsize=8)
    ax.set_ylabel(row_title, fontsize=8)
    if cell_text and R * C <= 400:
        for r in range(R):
            for c in range(C):
                ax.text(c, r, cell_text[r][c], ha="center", va="center", fontsize=6, color="white")
    if 0 <= marked_col < C:
        ax.add_patch(Rectangle((marked_col - 0.5, -0.5), 1, R, fill=False, edgecolor="#111111", linewidth=1.5))
    fig.colorbar(image, ax=ax, label=value_label, fraction=0.05)
    return fig


def flow_figure(nodes: np.ndarray, edges: np.ndarray, tokens: list[str], threshold: float, top_k: int,
                name: str = "") -> InlineFigure:
    """One model's attention-flow graph (FlowView's picture): node (l, j) is token j after l blocks (l = 0: the
    input, drawn at the bottom), sized by R_l[j] (nodes [B + 1, N]); the edge from (l + 1, i) to (l, j) drawn when
    its weight edges[l, i, j] ([B, N, N]) reaches ``threshold``, at most the ``top_k`` strongest (at most 1,500 in the
    picture), its width and opacity by weight."""
    from matplotlib.collections import LineCollection

    B, N = edges.shape[0], edges.shape[-1]
    weights = np.asarray(edges, dtype=np.float64)
    l_idx, i_idx, j_idx = np.nonzero(weights >= max(threshold, 1e-12))
    w = weights[l_idx, i_idx, j_idx]
    keep = np.argsort(-w, kind="stable")[:min(int(top_k), 1500)]
    l_idx, i_idx, j_idx, w = l_idx[keep], i_idx[keep], j_idx[keep], w[keep]
    fig = InlineFigure(figsize=(min(10.0, 2.0 + 0.45 * N), min(6.5, 1.5 + 0.45 * (B + 1))), layout="constrained")
    ax = fig.add_subplot()
    top = max(float(w.max()) if w.size else 1.0, 1e-12)
    segments = [((j, l), (i, l + 1)) for l, i, j in zip(l_idx, i_idx, j_idx)]
    colours = [(0.12, 0.35, 0.75, float(0.15 + 0.85 * x / top)) for x in w]
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.4 + 2.6 * w / top))
    R = np.asarray(nodes, dtype=np.float64)
    size = 8 + 120 * R / max(float(R.max()), 1e-12)
    ys, xs = np.meshgrid(np.arange(B + 1), np.arange(N), indexing="ij")
    ax.scatter(xs.ravel(), ys.ravel(), s=size.ravel(), color="#e07020", zorder=3)
    ax.set_xlim(-0.7, N - 0.3)
    ax.set_ylim(-0.5, B + 0.5)
    ax.set_yticks(range(B + 1), ["input", *[f"after {l}" for l in range(B)]], fontsize=7)
    if N <= 60:
        ax.set_xticks(range(N), tokens, rotation=90, fontsize=7)
    ax.set_title(f"attention flow{f' ({name})' if name else ''}: {len(w)} edges >= {threshold:g}, node size = "
                 "relevance carried", fontsize=9, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


__all__ = ["attention_figure", "flow_figure", "grid_figure", "text_snapshot"]
