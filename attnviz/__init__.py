"""attnviz: see why a Transformer decided what it decided, inside a notebook.

    import attnviz
    model, tokenizer = attnviz.demo.sentiment()
    e = attnviz.Explainer(model, tokenizer).explain("a gripping, funny film")
    e.map("chefer")          # numpy [N] relevance per token
    e.show()                 # the interactive widget
"""

from .engine import (
    AttentionUnavailableError,
    ComparisonError,
    Explainer,
    Explanation,
    MethodInfo,
    ModelComparison,
    ModelsComparison,
    UnsupportedModelError,
    attention_to,
    compare,
    compare_models,
    explain,
    head_scores,
    methods,
    patch,
    supported_model_types,
)
from .engine import facades as _facades

__version__ = "0.1.0"


# The package is the top floor: it registers the views' and figures' entry points with the engine, which never
# imports them itself (attnviz/engine/facades.py). Each loads its module on first use, so `import attnviz` stays light.
def _show(explanation, **kwargs):
    from .widgets import show

    return show(explanation, **kwargs)


def _plot(explanation, *args, **kwargs):
    from .plots import plot

    return plot(explanation, *args, **kwargs)


def _compare_view(explanation, **kwargs):
    from .widgets import CompareView

    return CompareView(explanation, **kwargs)


def _evaluation_plot(result, **kwargs):
    from .plots.evaluation import bokeh_figure

    return bokeh_figure(result, **kwargs)


def _evaluation_figure(result, **kwargs):
    from .plots.evaluation import matplotlib_figure

    return matplotlib_figure(result, **kwargs)


def _text_snapshot(*args, **kwargs):
    from .plots.snapshot import text_snapshot

    return text_snapshot(*args, **kwargs)


def _attention_figure(*args, **kwargs):
    from .plots.snapshot import attention_figure

    return attention_figure(*args, **kwargs)


def _flow_figure(*args, **kwargs):
    from .plots.snapshot import flow_figure

    return flow_figure(*args, **kwargs)


def _grid_figure(*args, **kwargs):
    from .plots.snapshot import grid_figure

    return grid_figure(*args, **kwargs)


def _head_math_figure(*args, **kwargs):
    from .plots.snapshot import head_math_figure

    return head_math_figure(*args, **kwargs)


for _name, _fn in (("show", _show), ("plot", _plot), ("compare_view", _compare_view),
                   ("evaluation_plot", _evaluation_plot), ("evaluation_figure", _evaluation_figure),
                   ("text_snapshot", _text_snapshot), ("attention_figure", _attention_figure),
                   ("grid_figure", _grid_figure), ("flow_figure", _flow_figure),
                   ("head_math_figure", _head_math_figure)):
    _facades.register(_name, _fn)

_LAZY = {"TextView": "widgets", "ImageView": "widgets", "AttentionView": "widgets", "CompareView": "widgets",
         "FlowView": "widgets", "LogitLensView": "widgets", "HeadMathView": "widgets", "DirectAttributionView":
         "widgets", "PatchingView": "widgets", "Row": "widgets", "Column": "widgets", "head_view": "widgets",
         "model_view": "widgets", "show": "widgets", "set_options": "widgets", "plot": "plots", "demo": None,
         "evaluate": None, "testing": None}


def __getattr__(name: str):
    """Widgets, plots and the demo models load on first use, so ``import attnviz`` stays light."""
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'attnviz' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{module}", __name__), name)

__all__ = ["AttentionUnavailableError", "AttentionView", "Column", "CompareView", "ComparisonError",
           "DirectAttributionView", "Explainer", "Explanation", "FlowView", "HeadMathView", "ImageView",
           "LogitLensView", "MethodInfo", "ModelComparison", "ModelsComparison", "PatchingView", "Row", "TextView",
           "UnsupportedModelError", "__version__", "attention_to", "compare", "compare_models", "demo", "evaluate",
           "explain", "head_scores", "head_view", "methods", "model_view", "patch", "plot", "set_options", "show",
           "supported_model_types", "testing"]
