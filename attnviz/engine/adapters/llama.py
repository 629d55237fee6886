"""The Llama family (Llama, Mistral, Qwen2): pre-RMSNorm causal decoders with rotary position embeddings, a SwiGLU
feed-forward and grouped-query attention (H query heads share H_kv key/value heads; the views show query heads).

RMSNorm, the SwiGLU gate and rotary embeddings have no rules in Chefer's LRP pass; the LRP methods (chefer, lrp_full,
lrp_partial) read AttnLRP's relevances here (``lrp_rules="attnlrp"``, methods/attnlrp.py), as does ``attnlrp``.
"""

from .base import Adapter

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
        "act": ("mlp.act_fn",),
        "gate": ("mlp.gate_proj",),
    },
    head={"classifier": ("lm_head", "score")},
    final_norm=("norm",),
    causal=True,
    lrp_rules="attnlrp",
    norm="rmsnorm",
    adapter_file="attnviz/engine/adapters/llama.py",
)
