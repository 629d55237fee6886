"""One progress bar for everything slow (batched capture, evaluation): tqdm's notebook bar in Jupyter, a text bar
elsewhere (``tqdm.auto``), nothing when not shown or when tqdm is missing; and the per-instance loop of the
evaluation, which an interrupt stops with a warning, keeping the instances finished so far."""

from __future__ import annotations

import warnings
from collections.abc import Callable


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, show: bool, desc: str = "explaining", unit: str = "input"):
    """A bar with ``update(n)`` and ``close()``."""
    if not show:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def run_each(n: int, work: Callable[[int], None], show: bool, what: str = "instances",
             desc: str = "evaluating") -> bool:
    """``work(i)`` for i = 0..n−1 under a progress bar. Ctrl-C (the notebook's interrupt) stops the loop with a
    warning instead of a traceback; returns True when it did (the caller's result is then partial)."""
    bar = progress_bar(n, show, desc, unit=what.rstrip("s") or "item")
    done = 0
    try:
        for i in range(n):
            work(i)
            done += 1
            bar.update(1)
    except KeyboardInterrupt:
        warnings.warn(f"interrupted: the result holds the {done} {what} finished so far (of {n})", stacklevel=3)
        return True
    finally:
        bar.close()
    return False


__all__ = ["progress_bar", "run_each"]
