"""GPT-2: a pre-LayerNorm causal decoder (``x = x + f(LN(x))``) with Conv1D layers and a fused q | k | v projection.

``GPT2LMHeadModel`` predicts the next token at every position (``lm_head``, tied to the token embedding);
``GPT2ForSequenceClassification`` applies ``score`` to every position and reads the last real token. Conv1D is a
linear layer with its weight stored [in, out]: ``base.linear_weight`` gives it as [out, in].
"""

from .base import Adapter

GPT2 = Adapter(
    family="gpt2",
    model_types=("gpt2",),
    modality="text",
    base=("transformer",),
    blocks=("h",),
    value=("attn.c_attn",),
    input_embedding=("wte",),
    layout="pre_ln",
    parts={
        "qkv": ("attn.c_attn",),
        "attn_out": ("attn.c_proj",),
        "ln1": ("ln_1",),
        "ffn_in": ("mlp.c_fc",),
        "ffn_out": ("mlp.c_proj",),
        "ln2": ("ln_2",),
        "act": ("mlp.act",),
    },
    head={"classifier": ("lm_head", "score")},
    final_norm=("ln_f",),
    causal=True,
    fused_qkv=True,
    adapter_file="attnviz/engine/adapters/gpt2.py",
)
