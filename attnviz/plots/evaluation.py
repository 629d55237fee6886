"""Figures of the evaluation results: interactive bokeh (``result.plot()``) and matplotlib twins
(``result.figure()``), drawn from the result's tables only (no number is computed here but means over instances).

- faithfulness: the mean deletion / perturbation curve of each method (hover: method, step, value), and the
  table's metrics as bars with their 95% bootstrap intervals;
- agreement: histograms of Kendall τ per method (against gradients and leave-one-out);
- permutation: median output change against the instance's max attention; adversarial: max JSD against max
  attention (Jain & Wallace's scatter plots);
- class-specificity: bars with intervals; sanity: Spearman ρ against the number of randomised stages.

bokeh output loads BokehJS INLINE (``InteractivePlot``): nothing is fetched from a CDN, so the figures draw
offline in JupyterLab, Notebook 7 and exported HTML.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39")
_NOTEBOOK_READY = {"done": False}


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


class InteractivePlot:
    """A bokeh layout that shows itself in a notebook with BokehJS loaded INLINE (once per kernel).

    ``.layout`` is the bokeh object (for ``bokeh.io.save``, styling, embedding); ``to_html(path)`` writes a
    self-contained offline page."""

    def __init__(self, layout: Any, title: str):
        self.layout = layout
        self.title = title

    def _ipython_display_(self) -> None:
        from bokeh.io import output_notebook, show
        from bokeh.resources import INLINE

        if not _NOTEBOOK_READY["done"]:
            output_notebook(resources=INLINE, hide_banner=True)
            _NOTEBOOK_READY["done"] = True
        show(self.layout)

    def to_html(self, path: str | None = None) -> str:
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        html = file_html(self.layout, INLINE, self.title)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(html)
        return html

    def __repr__(self) -> str:
        return f"<InteractivePlot {self.title!r} (bokeh; display it in a notebook, or .to_html(path))>"


def _mean_curves(curves: pd.DataFrame) -> pd.DataFrame:
    means = curves.groupby(["curve", "method", "x"], sort=False)["value"].mean().reset_index()
    return means.sort_values(["x"], kind="stable")


#: What each curve of a perturbation test measures (y) and what was removed first (its title).
CURVE_AXES = {
    "positive": ("top-1 accuracy (explained class)", "positive perturbation: most relevant pixels removed first"),
    "negative": ("top-1 accuracy (explained class)", "negative perturbation: least relevant pixels removed first"),
}


def curve_axes(result, curve: str) -> tuple[str, str, str]:
    """(x label, y label, title) of a result's curve, saying what was perturbed first and what is measured."""
    if result.kind == "sanity":
        return "stages randomised from the top", "Spearman ρ with the original", "Spearman ρ per randomisation stage"
    if curve in CURVE_AXES:
        y, title = CURVE_AXES[curve]
        return "fraction of pixels removed", y, title
    return "fraction perturbed", str(curve), f"mean {curve} curve"


def _title(result) -> str:
    p = result.params
    name = p.get("preset") or p.get("experiment") or result.kind
    n = result.per_instance["instance"].nunique() if len(result.per_instance) else 0
    return f"{name}: {n} instances" + (" (partial)" if result.partial else "")


# ---------------------------------------------------------------------------------------------- bokeh
def bokeh_figure(result, width: int = 380, height: int = 300) -> InteractivePlot:
    from bokeh.layouts import column, row

    kind = result.kind
    parts = []
    if kind in ("faithfulness", "sanity") and len(result.curves):
        parts += _bokeh_curves(result, width, height)
    if kind in ("faithfulness", "class_specificity", "sanity"):
        parts += _bokeh_bars(result, width, height)
    if kind == "agreement":
        parts += _bokeh_histograms(result, width, height)
    if kind in ("permutation", "adversarial"):
        parts += [_bokeh_scatter(result, width, height)]
    if not parts:
        raise ValueError(f"nothing to plot: the {kind} result is empty")
    rows = [row(*parts[i:i + 2]) for i in range(0, len(parts), 2)]
    return InteractivePlot(column(*rows), _title(result))


LEGEND_COLUMNS = 3
LEGEND_ROW_PX = 20


def _legend_below(fig, items: list, height: int) -> None:
    """The legend under the plot in LEGEND_COLUMNS columns, the figure grown to hold it: a long list of methods
    never spills over the plot or hides behind the next one (a legend at the right is cut at the plot's height)."""
    from bokeh.models import Legend

    rows = -(-len(items) // LEGEND_COLUMNS)
    fig.add_layout(Legend(items=items, click_policy="hide", label_text_font_size="9pt", orientation="horizontal",
                          ncols=LEGEND_COLUMNS, spacing=4, margin=4), "below")
    fig.height = height + 24 + LEGEND_ROW_PX * rows


def _bokeh_curves(result, width, height) -> list:
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    means = _mean_curves(result.curves)
    methods = list(dict.fromkeys(means["method"]))
    out = []
    for curve, frame in means.groupby("curve", sort=False):
        xlabel, ylabel, title = curve_axes(result, str(curve))
        fig = figure(width=width + 40, height=height, title=title, x_axis_label=xlabel,
                     y_axis_label=ylabel, tools="pan,wheel_zoom,box_zoom,reset,save")
        renderers = []
        items = []
        for i, m in enumerate(methods):
            sub = frame[frame["method"] == m]
            if sub.empty:
                continue
            src = ColumnDataSource({"x": sub["x"].to_numpy(), "y": sub["value"].to_numpy(), "method": [m] * len(sub)})
            line = fig.line("x", "y", source=src, color=colour(i), line_width=2)
            dots = fig.scatter("x", "y", source=src, color=colour(i), size=5)
            items.append((m, [line, dots]))
            renderers.append(dots)
        _legend_below(fig, items, height)
        fig.add_tools(HoverTool(renderers=renderers, tooltips=[("method", "@method"), ("x", "@x{0.00}"),
                                                               ("value", "@y{0.000}")]))
        out.append(fig)
    return out


def _bokeh_bars(result, width, height) -> list:
    from bokeh.models import ColumnDataSource, HoverTool, Range1d, Whisker
    from bokeh.plotting import figure

    table = result.table
    metrics = [c for c in table.columns if c != "n" and not c.endswith((" lo", " hi"))]
    out = []
    for metric in metrics:
        methods = [str(m) for m in table.index]
        src = ColumnDataSource({"method": methods, "value": table[metric].to_numpy(),
                                "lo": table[f"{metric} lo"].to_numpy(), "hi": table[f"{metric} hi"].to_numpy(),
                                "n": table["n"].to_numpy(), "colour": [colour(i) for i in range(len(methods))]})
        span = np.concatenate([table[metric].to_numpy(), table[f"{metric} lo"].to_numpy(),
                               table[f"{metric} hi"].to_numpy(), [0.0]]).astype(np.float64)
        span = span[np.isfinite(span)]
        lo, hi = float(span.min()), float(span.max())
        pad = 0.08 * (hi - lo or 1.0)
        fig = figure(x_range=methods, y_range=Range1d(lo - pad if lo < 0 else 0.0, hi + pad if hi > 0 else 0.0),
                     width=width, height=height, title=f"{metric}: mean, 95% interval", tools="save,reset",
                     y_axis_label=metric)
        fig.vbar(x="method", top="value", width=0.7, source=src, color="colour", alpha=0.8)
        fig.add_layout(Whisker(source=src, base="method", lower="lo", upper="hi", line_color="#333333"))
        fig.xaxis.major_label_orientation = 0.9
        fig.add_tools(HoverTool(tooltips=[("method", "@method"), (metric, "@value{0.0000}"),
                                          ("95% interval", "@lo{0.0000} .. @hi{0.0000}"), ("instances", "@n")]))
        out.append(fig)
    return out


def _bokeh_histograms(result, width, height) -> list:
    from bokeh.models import HoverTool
    from bokeh.plotting import figure

    rows = result.per_instance
    out = []
    for metric in ("tau_gradient", "tau_loo"):
        sub = rows[rows["metric"] == metric]
        if sub.empty:
            continue
        fig = figure(width=width + 120, height=height, title=f"Kendall τ: map vs {metric[4:]}",
                     x_axis_label="Kendall τ", y_axis_label="instances", x_range=(-1, 1), tools="save,reset")
        edges = np.linspace(-1, 1, 21)
        items = []
        for i, (m, group) in enumerate(sub.groupby("method", sort=False)):
            counts, _ = np.histogram(group["value"].dropna(), bins=edges)
            quad = fig.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], fill_color=colour(i),
                            fill_alpha=0.35, line_color=colour(i))
            items.append((str(m), [quad]))
        _legend_below(fig, items, height)
        fig.add_tools(HoverTool(tooltips=[("τ from", "@left{0.00}"), ("to", "@right{0.00}"), ("instances", "@top")]))
        out.append(fig)
    return out


def _bokeh_scatter(result, width, height):
    from bokeh.models import ColumnDataSource, HoverTool, Title
    from bokeh.plotting import figure

    rows = result.per_instance
    metric = "median_tvd" if result.kind == "permutation" else "max_jsd"
    sub = rows[rows["metric"] == metric]
    label = "median output change (TVD)" if metric == "median_tvd" else "max JSD of an equivalent attention"
    src = ColumnDataSource({"x": sub["max_attention"].to_numpy(), "y": sub["value"].to_numpy(),
                            "instance": sub["instance"].to_numpy(), "length": sub["length"].to_numpy()})
    title = "output change under permutation" if metric == "median_tvd" else "adversarial attention"
    fig = figure(width=width + 120, height=height, title=title, x_axis_label="max attention of the instance",
                 y_axis_label=label, tools="pan,wheel_zoom,box_zoom,reset,save")
    fig.add_layout(Title(text=_title(result), text_font_size="9pt", text_font_style="italic"), "above")
    dots = fig.scatter("x", "y", source=src, size=7, alpha=0.7, color=colour(0))
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[("instance", "@instance"), ("tokens", "@length"),
                                                        ("max attention", "@x{0.000}"), (metric, "@y{0.0000}")]))
    return fig


# ---------------------------------------------------------------------------------------------- matplotlib
def matplotlib_figure(result, width: float = 10.0):
    from .figure import InlineFigure

    kind = result.kind
    panels: list[tuple[str, Any]] = []
    if kind in ("faithfulness", "sanity") and len(result.curves):
        means = _mean_curves(result.curves)
        panels += [("curve", (c, f)) for c, f in means.groupby("curve", sort=False)]
    if kind in ("faithfulness", "class_specificity", "sanity"):
        table = result.table
        panels += [("bars", (m, table)) for m in table.columns if m != "n" and not m.endswith((" lo", " hi"))]
    if kind == "agreement":
        panels += [("hist", m) for m in ("tau_gradient", "tau_loo")]
    if kind in ("permutation", "adversarial"):
        panels.append(("scatter", None))
    if not panels:
        raise ValueError(f"nothing to plot: the {kind} result is empty")
    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig = InlineFigure(figsize=(width, 3.6 * rows), layout="constrained")
    fig.suptitle(_title(result))
    for k, (what, data) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        if what == "curve":
            curve, frame = data
            for i, (m, sub) in enumerate(frame.groupby("method", sort=False)):
                ax.plot(sub["x"], sub["value"], marker="o", ms=3, color=colour(i), label=str(m))
            xlabel, ylabel, title = curve_axes(result, str(curve))
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title, fontsize=9)
            ax.legend(fontsize=7, ncol=2)
        elif what == "bars":
            metric, table = data
            x = np.arange(len(table))
            values = table[metric].to_numpy()
            err = np.vstack([values - table[f"{metric} lo"].to_numpy(), table[f"{metric} hi"].to_numpy() - values])
            ax.bar(x, values, color=[colour(i) for i in range(len(table))], alpha=0.85,
                   yerr=np.nan_to_num(err), capsize=3)
            ax.set_xticks(x, [str(m) for m in table.index], rotation=50, ha="right", fontsize=8)
            ax.set_ylabel(metric)
            ax.set_title(f"{metric} (95% bootstrap interval)", fontsize=9)
        elif what == "hist":
            sub = result.per_instance[result.per_instance["metric"] == data]
            for i, (m, group) in enumerate(sub.groupby("method", sort=False)):
                ax.hist(group["value"].dropna(), bins=np.linspace(-1, 1, 21), alpha=0.4, color=colour(i),
                        label=str(m))
            ax.set_xlabel(f"Kendall τ vs {data[4:]} importance")
            ax.set_ylabel("instances")
            ax.legend(fontsize=7)
        else:
            metric = "median_tvd" if kind == "permutation" else "max_jsd"
            sub = result.per_instance[result.per_instance["metric"] == metric]
            ax.scatter(sub["max_attention"], sub["value"], s=14, alpha=0.7, color=colour(0))
            ax.set_xlabel("max attention of the instance")
            ax.set_ylabel("median output change (TVD)" if metric == "median_tvd" else "max JSD")
    return fig


__all__ = ["InteractivePlot", "bokeh_figure", "matplotlib_figure"]
