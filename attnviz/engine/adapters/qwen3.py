"""Qwen3: a Llama-shaped pre-RMSNorm causal decoder (rotary embeddings, SwiGLU, grouped-query attention) that also
RMS-normalises each head's query and key before the rotary embedding (``q_norm``, ``k_norm``). attnviz reads q and
k where the model multiplies them (after both), so the head arithmetic, ablation and every attention and gradient
method work as on Llama; AttnLRP's rules apply to q_norm and k_norm as to every RMSNorm (see llama.py)."""

from dataclasses import replace

from .llama import LLAMA

QWEN3 = replace(LLAMA, family="qwen3", model_types=("qwen3",), adapter_file="attnviz/engine/adapters/qwen3.py",
                parts={**LLAMA.parts, "q_norm": ("self_attn.q_norm",), "k_norm": ("self_attn.k_norm",)})
