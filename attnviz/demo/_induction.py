"""The induction demo: a 2-block GPT-2 trained from scratch (scripts/train_induction.py) on word sequences whose second
half repeats the first, so that it grows the two-head circuit of Olsson et al. (2022): a *previous-token head* in
block 0 (each position attends to the one before it, and writes "my predecessor was X") and *induction heads* in
block 1 (at a repeated word, attend to the word that followed its earlier occurrence, and copy it).

    model, tokenizer = attnviz.demo.induction()
    text = attnviz.demo.induction_sequence(length=12)     # "fox tea ... cup fox tea ... cup": 12 + 12 words
    attnviz.demo.metrics("induction")                     # the heads, scores and ablation losses the script measured

The vocabulary (``WORDS``), the special tokens and the sequence generator (``random_halves``) live here, and the
training script imports them, so a notebook's inputs come from exactly the training distribution (with a seed the
training never used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._quiet import quiet_loading
from ._setup import to_device

WEIGHTS = Path(__file__).resolve().parent / "weights"
MODEL_DIR = WEIGHTS / "induction"

#: The 64 words of the vocabulary: short, common, all different (one token each).
WORDS = (
    "cat", "dog", "sun", "red", "big", "hat", "cup", "box", "pen", "map", "egg", "fox", "owl", "bee", "cow", "pig",
    "hen", "bat", "key", "car", "bus", "van", "toy", "bag", "bed", "bun", "pie", "tea", "jam", "ice", "sea", "sky",
    "oak", "elm", "ivy", "fig", "nut", "pea", "yam", "ink", "oil", "gum", "mud", "fog", "dew", "air", "fir", "bow",
    "saw", "axe", "rug", "mop", "jug", "pot", "pan", "tub", "cap", "fan", "kit", "log", "net", "rod", "web", "zip",
)
BOS, EOS, UNK = "<bos>", "<eos>", "<unk>"
SPECIALS = (BOS, EOS, UNK)  # ids 0, 1, 2; word w has id 3 + WORDS.index(w)
#: The model's context: <bos> plus two halves of at most MAX_HALF words.
N_POSITIONS = 64
MAX_HALF = (N_POSITIONS - 1) // 2
#: The seed ``induction_sequence`` draws from by default (the training script's held-out seed; training used 0).
HELD_OUT_SEED = 12345


def random_halves(rng: np.random.Generator, length: int) -> list[str]:
    """``length`` different words drawn uniformly from ``WORDS`` (without replacement), then the same words again:
    2 * length words. Distinct words make the repeat unambiguous: in the second half each word has exactly one
    earlier occurrence, so the next word is fully determined by induction, while the first half is unpredictable."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 1 <= length <= MAX_HALF:
        raise ValueError(f"length (words per half) must be an integer in 1..{MAX_HALF}, got {length!r}")
    first = [WORDS[i] for i in rng.choice(len(WORDS), size=int(length), replace=False)]
    return first + first


def induction_sequence(length: int = 16, seed: int = HELD_OUT_SEED) -> str:
    """A text of ``length`` random different vocabulary words followed by the same ``length`` words again
    (``2 * length`` words separated by spaces; the tokenizer adds ``<bos>``), drawn with ``random_halves`` from
    ``numpy.random.default_rng(seed)``. The default seed is the held-out one the training script measured on; the
    training itself drew from seed 0. length: 1..MAX_HALF (31), so that the text fits the model's context."""
    return " ".join(random_halves(np.random.default_rng(seed), length))


def build_tokenizer() -> Any:
    """The word-level tokenizer the model was trained with: ``<bos>`` ``<eos>`` ``<unk>`` then ``WORDS``, split on
    whitespace, ``<bos>`` prepended to every text (a fast tokenizer: offsets and word ids work)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate((*SPECIALS, *WORDS))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                           special_tokens=[(BOS, vocab[BOS])])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, eos_token=EOS, unk_token=UNK,
                                   model_max_length=N_POSITIONS)


def induction(device: Any = "cpu") -> tuple[Any, Any]:
    """The demo induction model and its tokenizer, loaded from the package (never from a hub).

    Returns ``(model, tokenizer)``: a fresh ``GPT2LMHeadModel`` (2 blocks x 4 heads, 64-dim, 64 positions, 108k
    parameters, float32, eval mode, eager attention so ``output_attentions`` works) and its word-level fast
    tokenizer (``WORDS`` plus ``<bos>``, ``<eos>``, ``<unk>``; ``<bos>`` is prepended to every text). Trained from
    scratch by scripts/train_induction.py on ``induction_sequence``-like texts (k uniform in 4..31; during the first
    half of training, half the batches were in-context Markov chains over the same words), so its loss is low only
    on the repeated half. Block 0 has a previous-token head and all four heads of block 1 are induction heads (they
    back each other up: ablating one costs little, ablating all of them destroys the copying). Which heads, their
    scores on held-out sequences and the losses with heads zero-ablated: ``attnviz.demo.metrics("induction")``
    (``weights/induction_metrics.json``). Each call builds new objects.

    ``device``: where the model goes: "cpu" (the default), "auto" (the GPU when torch sees one, as in Colab
    with a GPU runtime) or a name such as "cuda:1".
    """
    import torch
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    with quiet_loading():
        model = GPT2LMHeadModel.from_pretrained(MODEL_DIR, attn_implementation="eager", dtype=torch.float32,
                                                local_files_only=True)
        tokenizer = PreTrainedTokenizerFast.from_pretrained(MODEL_DIR, local_files_only=True)
    model.eval()
    return to_device(model, device), tokenizer


__all__ = ["HELD_OUT_SEED", "MAX_HALF", "N_POSITIONS", "SPECIALS", "WORDS", "build_tokenizer", "induction",
           "induction_sequence", "random_halves"]
