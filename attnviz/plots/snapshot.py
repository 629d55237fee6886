"""Static snapshots of what a view shows, for front ends without widgets (a saved notebook on GitHub, nbviewer,
VS Code's preview, or before its kernel runs): a text view as self-contained HTML (inline styles, the token text
escaped; drawing hundreds of tokens with matplotlib takes seconds), an attention block as a heatmap figure; the views
reach them through ``engine.facades`` ("text_snapshot", "attention_figure", "grid_figure", "flow_figure",
"head_math_figure"). Every number comes from the explanation."""

from __future__ import annotations

import html
import textwrap
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
    # a short grid (2 blocks) is shorter than a long label: wrapped, it stays beside the colour bar, off the title
    fig.colorbar(image, ax=ax, label="\n".join(textwrap.wrap(value_label, 22)), fraction=0.05)
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


#: Keys drawn by ``head_math_figure`` at most (besides the query's own position).
HEAD_MATH_KEYS = 40


def _plain(token: str, width: int = 14) -> str:
    """A token as a one-line tick label: newlines and tabs written as escapes, a blank token quoted, cut to
    ``width`` characters."""
    text = repr(token) if not token.strip() else token.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def head_math_figure(tokens: list[str], scores: np.ndarray, weights: np.ndarray, model_weights: np.ndarray,
                     query: int, title: str, subtitle: str, max_keys: int = HEAD_MATH_KEYS) -> InlineFigure:
    """One head's arithmetic for one query token (HeadMathView's picture): for each key token j, above the scaled
    score s·q·k_j and below the softmax weight A_qj as bars, the model's captured attention as a tick on each weight
    bar; the query's own column in orange.

    tokens [N]; scores [N] float (NaN where the causal mask hides the key); weights [N] and model_weights [N] in
    [0, 1]; query: the query position. At most ``max_keys`` visible keys are drawn (those with the largest weight, in
    position order) plus the query's own position; masked keys are drawn as hatched grey columns when they fit within
    ``max_keys`` columns in all, else left out, and the note under the axes says how many keys are not drawn. Text is
    drawn as plain text (no mathtext: a token's ``$`` stays a dollar sign); ``title`` and ``subtitle`` head the
    figure. The figure is 6 to 10 inches wide, 5.2 high."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scores = np.asarray(scores, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    model_weights = np.asarray(model_weights, dtype=np.float64)
    N = scores.shape[0]
    visible = np.flatnonzero(np.isfinite(scores))
    masked = np.flatnonzero(~np.isfinite(scores))
    shown = visible
    if visible.size > max_keys:
        shown = np.sort(visible[np.argsort(-weights[visible], kind="stable")[:max_keys]])
    if 0 <= query < N and query not in shown and np.isfinite(scores[query]):
        shown = np.sort(np.append(shown, query))
    draw_masked = masked.size > 0 and shown.size + masked.size <= max_keys
    columns = np.sort(np.concatenate([shown, masked])) if draw_masked else shown
    C = int(columns.size)
    x = np.arange(C)
    is_masked = ~np.isfinite(scores[columns])
    width = min(10.0, max(6.0, 2.5 + 0.17 * C))
    fig = InlineFigure(figsize=(width, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    fig.suptitle("\n".join(textwrap.wrap(title, int(width * 13))), fontsize=9, x=0.01, ha="left", parse_math=False)
    top.set_title("\n".join(textwrap.wrap(subtitle, int(width * 15))), fontsize=8, loc="left", color="#333333",
                  parse_math=False)
    score = np.where(is_masked, 0.0, scores[columns])
    colours = np.where(score >= 0, "#3b6fb6", "#c0504d")
    colours[columns == query] = "#e6a100"
    top.bar(x, score, color=colours, width=0.75)
    top.axhline(0.0, color="#555555", linewidth=0.6)
    top.set_ylabel("score s\u00b7q\u00b7k", fontsize=8, parse_math=False)
    bar_colours = np.where(columns == query, "#e6a100", "#3b6fb6")
    bottom.bar(x, np.where(is_masked, 0.0, weights[columns]), color=bar_colours, width=0.75)
    bottom.scatter(x[~is_masked], model_weights[columns][~is_masked], marker="_", s=60, color="#111111",
                   linewidths=1.2, zorder=3)
    bottom.set_ylabel("softmax weight", fontsize=8)
    bottom.set_ylim(0.0, max(float(weights[columns].max()) if C else 0.0, 1e-6) * 1.12)
    handles = [Patch(color="#e6a100", label="the query's own position"),
               Line2D([], [], marker="_", markersize=9, linestyle="", color="#111111",
                      label="the model's captured attention")]
    for ax in (top, bottom):
        for j in np.flatnonzero(is_masked):
            ax.axvspan(j - 0.42, j + 0.42, facecolor="#eeeeee", edgecolor="#bbbbbb", hatch="///", linewidth=0.0)
        ax.tick_params(labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if is_masked.any():
        handles.append(Patch(facecolor="#eeeeee", edgecolor="#bbbbbb", hatch="///", label="masked (\u2212\u221e)"))
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncols=len(handles), frameon=False)
    small = 7 if C <= 24 else 6
    bottom.set_xticks(x, [f"{j} {_plain(tokens[j])}" for j in columns], rotation=90, fontsize=small,
                      parse_math=False)
    for label, j in zip(bottom.get_xticklabels(), columns):
        if j == query:
            label.set_color("#b07800")
            label.set_fontweight("bold")
    bottom.set_xlim(-0.6, C - 0.4)
    left_out = N - C
    note = f"key (position, token): {C} of {N} keys drawn"
    if left_out:
        parts = []
        if shown.size < visible.size:
            parts.append(f"{visible.size - shown.size} visible keys with the smallest weights")
        if masked.size and not draw_masked:
            parts.append(f"{masked.size} masked keys after the query")
        note += " (not drawn: " + ", ".join(parts) + ")"
    bottom.set_xlabel(note, fontsize=7, parse_math=False)
    return fig


__all__ = ["attention_figure", "flow_figure", "grid_figure", "head_math_figure", "text_snapshot"]
