"""What the benchmarks share: random-weight BERT-base / ViT-B/16 classifiers (nothing from the hub) and timers."""

from __future__ import annotations

import statistics
import tempfile
import time

import torch

WORDS = 1000  # the word-level vocabulary of the benchmark tokenizer: w0 .. w999


def word_tokenizer():
    """A BertTokenizerFast over ``[PAD] [UNK] [CLS] [SEP] [MASK] w0 .. w999``: one token per word."""
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(WORDS)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(vocab))
    return BertTokenizerFast(f.name, model_max_length=512)


def random_bert(tokens: int, device: str = "cpu", stride: int = 1, **config):
    """(model, tokenizer, text): a BERT-base classifier with random weights (``BertConfig(**config)``, seed 0), in
    eval mode on ``device``, and a text of exactly ``tokens`` tokens ([CLS] + tokens - 2 words + [SEP]); word i is
    ``w{(stride * i) % 1000}``."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**config)).to(device).eval()
    text = " ".join(f"w{(stride * i) % WORDS}" for i in range(tokens - 2))
    return model, word_tokenizer(), text


def random_vit(device: str = "cpu"):
    """(model, image processor, image): a ViT-B/16 classifier (``ViTConfig()``, 10 labels, random weights, seed 0)
    and a random float image [224, 224, 3] in [0, 1] (197 tokens)."""
    from transformers import ViTConfig, ViTForImageClassification

    from attnviz.testing import _image_processor

    torch.manual_seed(0)
    model = ViTForImageClassification(ViTConfig(num_labels=10)).to(device).eval()
    return model, _image_processor("vit", 224), torch.rand(224, 224, 3).numpy()


def build(kind: str, tokens: int, device: str):
    """``random_bert(tokens, device)`` for kind "bert", ``random_vit(device)`` for "vit" (tokens is then 197)."""
    return random_bert(tokens, device) if kind == "bert" else random_vit(device)


def interleaved_medians(fns: dict, repeats: int, device: str = "cpu", clock=time.perf_counter) -> dict[str, float]:
    """Median time in seconds of each fn, measured in interleaved rounds (one warm-up round first; CUDA
    synchronised), so that load from other processes on a shared machine falls on every row alike. clock:
    ``time.perf_counter`` (wall) or ``time.process_time`` (this process's CPU time, all threads)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = clock()
            fn()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            if round_:
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def median_time(fn, repeats: int, device: str = "cpu") -> float:
    """Median wall time of fn() in seconds over ``repeats`` calls after one warm-up call (CUDA synchronised)."""
    return interleaved_medians({"fn": fn}, repeats, device)["fn"]
