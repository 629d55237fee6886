"""BERT and RoBERTa: post-LayerNorm encoders with the same block layout (``x = LN(x + f(x))``)."""

from .base import Adapter

_PARTS = {
    "query": ("attention.self.query",),
    "key": ("attention.self.key",),
    "value": ("attention.self.value",),
    "attn_out": ("attention.output.dense",),
    "ln1": ("attention.output.LayerNorm",),
    "ffn_in": ("intermediate.dense",),
    "ffn_out": ("output.dense",),
    "ln2": ("output.LayerNorm",),
}

BERT = Adapter(
    family="bert",
    model_types=("bert",),
    modality="text",
    base=("bert",),
    blocks=("encoder.layer",),
    value=("attention.self.value",),
    input_embedding=("embeddings.word_embeddings",),
    layout="post_ln",
    parts=_PARTS,
    head={"pooler": ("bert.pooler.dense",), "classifier": ("classifier",)},
    adapter_file="attnviz/engine/adapters/bert.py",
)

ROBERTA = Adapter(
    family="roberta",
    model_types=("roberta", "xlm-roberta", "camembert"),
    modality="text",
    base=("roberta",),
    blocks=("encoder.layer",),
    value=("attention.self.value",),
    input_embedding=("embeddings.word_embeddings",),
    layout="post_ln",
    parts=_PARTS,
    # RobertaClassificationHead: dense -> tanh -> out_proj on the <s> token (no pooler).
    head={"pooler": ("classifier.dense",), "classifier": ("classifier.out_proj",)},
    positions_from_ids=True,
    adapter_file="attnviz/engine/adapters/bert.py",
)
