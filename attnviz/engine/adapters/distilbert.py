"""DistilBERT: a post-LayerNorm encoder with its own module names and no token types."""

from .base import Adapter

DISTILBERT = Adapter(
    family="distilbert",
    model_types=("distilbert",),
    modality="text",
    base=("distilbert",),
    blocks=("transformer.layer",),
    value=("attention.v_lin",),
    input_embedding=("embeddings.word_embeddings",),
    layout="post_ln",
    parts={
        "query": ("attention.q_lin",),
        "key": ("attention.k_lin",),
        "value": ("attention.v_lin",),
        "attn_out": ("attention.out_lin",),
        "ln1": ("sa_layer_norm",),
        "ffn_in": ("ffn.lin1",),
        "ffn_out": ("ffn.lin2",),
        "ln2": ("output_layer_norm",),
    },
    # pre_classifier -> ReLU -> classifier on the [CLS] token.
    head={"pooler": ("pre_classifier",), "classifier": ("classifier",)},
    adapter_file="attnviz/engine/adapters/distilbert.py",
)
