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


class SkippedInput(Exception):
    """Raised by a per-input step for an input that cannot be used (empty, only special tokens, ...): the loop
    records it with its index in the caller's list and goes on with the others (``run_each(..., skipped=)``)."""

    def __init__(self, index: int, reason: str):
        super().__init__(f"input {index}: {reason}")
        self.index, self.reason = index, f"input {index}: {reason}"


def warn_skipped(skipped: list[dict], total: int, who: str, stacklevel: int = 3) -> None:
    """One warning for the inputs a loop skipped: how many, the first reasons, where they are listed."""
    if not skipped:
        return
    reasons = [str(s["reason"]) for s in skipped]
    whole = " (every input: the table is empty)" if len(skipped) >= total else ""
    more = f"; and {len(reasons) - 3} more" if len(reasons) > 3 else ""
    warnings.warn(f"{len(skipped)} of {total} inputs were skipped by {who}{whole}: {'; '.join(reasons[:3])}{more}. "
                  "They are listed in result.params['skipped']", stacklevel=stacklevel)


def run_each(n: int, work: Callable[[int], None], show: bool, what: str = "instances",
             desc: str = "evaluating", skipped: list[dict] | None = None) -> bool:
    """``work(i)`` for i = 0..n−1 under a progress bar. Ctrl-C (the notebook's interrupt) stops the loop with a
    warning instead of a traceback; returns True when it did (the caller's result is then partial). An input whose
    ``work`` raises ``SkippedInput`` is appended to ``skipped`` ({"instance", "reason"}) and the loop goes on
    (without a ``skipped`` list the error propagates, naming the input's index)."""
    bar = progress_bar(n, show, desc, unit=what.rstrip("s") or "item")
    done = 0
    try:
        for i in range(n):
            try:
                work(i)
            except SkippedInput as err:
                if skipped is None:
                    raise ValueError(str(err)) from None
                skipped.append({"instance": err.index, "reason": err.reason})
            done += 1
            bar.update(1)
    except KeyboardInterrupt:
        warnings.warn(f"interrupted: the result holds the {done} {what} finished so far (of {n})", stacklevel=3)
        return True
    finally:
        bar.close()
    return False


__all__ = ["SkippedInput", "progress_bar", "run_each", "warn_skipped"]
