"""Doors from the lower floors to the upper ones: the views (``attnviz.widgets``) and figures (``attnviz.plots``)
register their entry points here when the package loads (``attnviz/__init__.py``), so ``Explanation.show()`` and
``.plot()``, and the evaluation results' ``.plot()``, ``.figure()`` and ``.compare_view()``, keep working while
nothing in ``attnviz.engine`` or ``attnviz.evaluate`` imports a view or a plot (docs/ARCHITECTURE.md, layers).

Names: "show" (explanation, **view options), "plot" (explanation, method, ...), "compare_view" (explanation,
methods=, scores=, ...), "evaluation_plot" (result, ...), "evaluation_figure" (result, ...), and the views' static
fallbacks "text_snapshot", "attention_figure", "grid_figure" and "flow_figure" (``plots/snapshot.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_FACADES: dict[str, Callable[..., Any]] = {}


def register(name: str, fn: Callable[..., Any]) -> None:
    """Make ``fn`` the entry point ``name`` (the upper floors call this once, when ``attnviz`` is imported)."""
    _FACADES[name] = fn


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the registered entry point ``name``; a clear error when the views and plots were never registered."""
    fn = _FACADES.get(name)
    if fn is None:
        raise RuntimeError(f"{name}() is drawn by attnviz's views and figures, which are not registered: import "
                           "attnviz (the package) before calling it")
    return fn(*args, **kwargs)


__all__ = ["call", "register"]
