"""The Llama family (Llama, Mistral, Qwen2): pre-RMSNorm causal decoders with rotary position embeddings, a SwiGLU
feed-forward and grouped-query attention (H query heads share H_kv key/value heads; the views show query heads).

The LRP methods do not apply: their rules here (docs/METHODS.md) cover LayerNorm, GELU and linear maps, and these
models' RMSNorm, SwiGLU gate and rotary embedding need rules of their own (e.g. AttnLRP, Achtibat et al. 2024) that
attnviz does not implement yet. Every other method works.
"""

from .base import Adapter

_LRP = ("the LRP methods (chefer, lrp_full, lrp_partial) are not implemented for the Llama family: RMSNorm, the "
        "SwiGLU gate and rotary embeddings need relevance rules attnviz does not have (AttnLRP, Achtibat et al. "
        "2024). Use raw, rollout, flow, redistribution, attn_gradcam, gae, attcat, grad_input or "
        "integrated_gradients")

LLAMA = Adapter(
    family="llama",
    model_types=("llama", "mistral", "qwen2"),
    modality="text",
    base=("model",),
    blocks=("layers",),
    value=("self_attn.v_proj",),
    input_embedding=("embed_tokens",),
    layout="pre_ln",
    parts={
        "query": ("self_attn.q_proj",),
        "key": ("self_attn.k_proj",),
        "value": ("self_attn.v_proj",),
        "attn_out": ("self_attn.o_proj",),
        "ln1": ("input_layernorm",),
        "ln2": ("post_attention_layernorm",),
        "ffn_out": ("mlp.down_proj",),
    },
    head={"classifier": ("lm_head", "score")},
    final_norm=("norm",),
    causal=True,
    lrp_unsupported=_LRP,
    norm="rmsnorm",
    adapter_file="attnviz/engine/adapters/llama.py",
)
