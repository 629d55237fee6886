"""ELECTRA (Clark et al. 2020): a BERT-shaped post-LayerNorm encoder (``x = LN(x + f(x))``); its classification head
reads the first token through dense -> GELU -> out_proj (no pooler). With an embedding narrower than the blocks
(``embedding_size < hidden_size``) a projection sits between the embeddings and block 0; the input embedding the
gradient methods read is the word embedding before it."""

from dataclasses import replace

from .bert import BERT

ELECTRA = replace(
    BERT,
    family="electra",
    model_types=("electra",),
    base=("electra",),
    # ElectraClassificationHead: dense -> GELU -> out_proj on the first token; GELU is the identity for LRP
    head={"pooler": ("classifier.dense",), "classifier": ("classifier.out_proj",)},
    adapter_file="attnviz/engine/adapters/electra.py",
)
