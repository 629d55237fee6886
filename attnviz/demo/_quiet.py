"""Load quietly: the demo overlays its own head on purpose, so the "newly initialized weights" report and the
progress bars of ``from_pretrained`` would only mislead the reader of a notebook."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_loading():
    """Inside: transformers logs errors only and shows no progress bars. Both restored on exit."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
