"""ELECTRA (Clark et al. 2020): a BERT-shaped post-LayerNorm encoder (``x = LN(x + f(x))``); its classification head
reads the first token through dense -> GELU -> out_proj (no pooler). With an embedding narrower than the blocks
(``embedding_size < hidden_size``) a projection sits between the embeddings and block 0; the input embedding the
gradient methods read is the word embedding before it."""

from .base import Adapter
from .bert import _PARTS

ELECTRA = Adapter(
    family="electra",
    model_types=("electra",),
    modality="text",
    base=("electra",),
    blocks=("encoder.layer",),
    value=("attention.self.value",),
    input_embedding=("embeddings.word_embeddings",),
    layout="post_ln",
    parts=_PARTS,
    # ElectraClassificationHead: dense -> GELU -> out_proj on the first token; GELU is the identity for LRP
    head={"pooler": ("classifier.dense",), "classifier": ("classifier.out_proj",)},
    adapter_file="attnviz/engine/adapters/electra.py",
)
