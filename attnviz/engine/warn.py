"""Warnings that point at the user's line: the frame outside attnviz that called in, however deep the call came
from (``explain``, an evaluation protocol, a view), so Python's filter shows each once per line of the user's code."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

PACKAGE = str(Path(__file__).resolve().parents[1])


def user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside the attnviz package, seen from the caller of ``warn``."""
    frame = sys._getframe(2)  # the caller of warn()
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the user's line (the first frame outside attnviz)."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


__all__ = ["warn"]
