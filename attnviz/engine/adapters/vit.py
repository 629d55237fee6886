"""ViT and DeiT: pre-LayerNorm encoders over image patches (``x = x + f(LN(x))``).

transformers 5 renamed the modules (``layers[i].attention.v_proj``); 4.x has ``encoder.layer[i].attention.attention
.value``. Both are listed. DeiT has a distillation token after [CLS]; ``DeiTForImageClassificationWithTeacher``
averages the [CLS] and distillation heads.
"""

from .base import Adapter

_PARTS = {
    "query": ("attention.q_proj", "attention.attention.query"),
    "key": ("attention.k_proj", "attention.attention.key"),
    "value": ("attention.v_proj", "attention.attention.value"),
    "attn_out": ("attention.o_proj", "attention.output.dense"),
    "ln1": ("layernorm_before",),
    "ffn_in": ("mlp.fc1", "intermediate.dense"),
    "ffn_out": ("mlp.fc2", "output.dense"),
    "ln2": ("layernorm_after",),
}

VIT = Adapter(
    family="vit",
    model_types=("vit",),
    modality="image",
    base=("vit",),
    blocks=("layers", "encoder.layer"),
    value=_PARTS["value"],
    input_embedding=("embeddings.patch_embeddings",),
    layout="pre_ln",
    parts=_PARTS,
    head={"classifier": ("classifier",)},
    final_norm=("layernorm",),
    adapter_file="attnviz/engine/adapters/vit.py",
)

DEIT = Adapter(
    family="deit",
    model_types=("deit",),
    modality="image",
    base=("deit",),
    blocks=("layers", "encoder.layer"),
    value=_PARTS["value"],
    input_embedding=("embeddings.patch_embeddings",),
    layout="pre_ln",
    parts=_PARTS,
    head={"classifier": ("classifier", "cls_classifier"), "distillation_classifier": ("distillation_classifier",)},
    final_norm=("layernorm",),
    adapter_file="attnviz/engine/adapters/vit.py",
)
