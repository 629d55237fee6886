"""Tiny seeded random models of every supported architecture, for tests and examples.

``tiny_model(arch)`` builds a Hugging Face model from a small config with seeded random weights and a tokenizer
(trained on the few sentences below) or an image processor. Nothing touches the network, so these work on every
machine, in CI and in air-gapped classrooms. The weights are random: the explanations they give mean nothing, but
every method's maths runs on them exactly as on a real model.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

ARCHITECTURES = ("bert", "roberta", "distilbert", "electra", "vit", "deit", "gpt2", "llama", "qwen3")
DECODERS = ("gpt2", "llama", "qwen3")

# A small corpus for the tokenizers: enough words that test sentences split into whole words and word pieces.
_CORPUS = [
    "the movie was wonderful and the actors were brilliant",
    "the film was a boring mess and i want my money back",
    "a gripping story told with warmth and wit",
    "the plot is thin but the music is lovely",
    "this is the worst film of the year",
    "an instant classic that everyone should see",
    "the dialogue feels flat and the pacing drags",
    "she gives a moving performance as the lonely painter",
    "it is not good , it is great !",
    "nobody in the theater laughed at the jokes",
    "a man walks into a bar and orders a drink",
    "the cat sat on the mat near the door",
    "is this review positive or negative ?",
    "teachers and students explore attention in transformers",
    "relevance flows from the classifier back to the tokens",
    "unbelievably charming , surprisingly funny and deeply sad",
    "the sequel is louder , longer and dumber",
    "what a waste of talent and time",
]

_VOCAB_SIZE = 300


_PIECES = ["un", "charm", "##bel", "##iev", "##ably", "##ing", "##ly", "##ed", "##s", "##er", "##est"]


@functools.cache
def _wordpiece_tokenizer_object():
    """A WordPiece tokenizer over an explicit, sorted vocabulary (the WordPiece trainer orders ties differently in
    every process, which would change the tiny models' embeddings from run to run)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for line in _CORPUS for w in line.split()})
    chars = sorted({c for w in words for c in w})
    whole = [w for w in words if len(w) <= 7]  # longer words split into pieces, as real vocabularies do
    vocab_list = specials + chars + [f"##{c}" for c in chars] + _PIECES + whole
    vocab = {token: i for i, token in enumerate(dict.fromkeys(vocab_list))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


@functools.cache
def _bytelevel_tokenizer_object():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE + 200, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.RobertaProcessing(("</s>", eos), ("<s>", bos))
    return tok


def _decoder_tokenizer(arch: str):
    """Byte-level BPE over the corpus, as GPT-2's: no special tokens added (GPT-2), or a leading <s> (Llama)."""
    from copy import deepcopy

    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    obj = deepcopy(_bytelevel_tokenizer_object())
    if arch == "llama":
        obj.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                           special_tokens=[("<s>", obj.token_to_id("<s>"))])
        names = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    else:
        obj.post_processor = None
        names = dict(bos_token="</s>", eos_token="</s>", unk_token="<unk>")
    return PreTrainedTokenizerFast(tokenizer_object=obj, model_max_length=64, **names)


def _text_tokenizer(arch: str):
    from transformers import PreTrainedTokenizerFast

    if arch in DECODERS:
        return _decoder_tokenizer(arch)
    if arch == "roberta":
        obj = _bytelevel_tokenizer_object()
        names = dict(bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                     pad_token="<pad>", mask_token="<mask>")
    else:
        obj = _wordpiece_tokenizer_object()
        names = dict(unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
    from copy import deepcopy

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=deepcopy(obj), model_max_length=64, **names)
    if arch == "distilbert":
        tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer


def _image_processor(arch: str, image_size: int):
    try:  # transformers 5 splits processors by backend; the PIL one needs no torchvision
        from transformers import ViTImageProcessorPil as ViTImageProcessor
    except ImportError:
        from transformers import ViTImageProcessor

    mean, std = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]) if arch == "vit" else ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    return ViTImageProcessor(size={"height": image_size, "width": image_size}, image_mean=mean, image_std=std,
                             do_resize=True, do_rescale=True, do_normalize=True)


def tiny_model(arch: str, num_labels: int = 2, seed: int = 0, *, layers: int = 2, heads: int = 2,
               hidden: int = 32, task: str | None = None, kv_heads: int | None = None) -> tuple[Any, Any]:
    """A small Hugging Face model with seeded random weights and its tokenizer or image processor.

    arch: one of ``"bert", "roberta", "distilbert", "electra", "vit", "deit"`` (classifiers) or the decoders ``"gpt2",
    "llama"``. task: "classification" (the encoders' default; a decoder then gets ``*ForSequenceClassification``) or
    "next_token" (the decoders' default: ``GPT2LMHeadModel`` / ``LlamaForCausalLM``). kv_heads: Llama's key/value
    heads (default: half the query heads, so grouped-query attention is exercised). Text models get a vocabulary of
    ~200-500 tokens and 64 positions; image models take 32x32 RGB images in 8x8 patches (16 patches + prefix
    tokens). The model is in eval mode with eager attention, as ``from_pretrained(..., attn_implementation="eager")``
    gives.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown tiny architecture {arch!r}; choose one of {ARCHITECTURES}")
    import transformers as tf

    if arch in DECODERS:
        return _tiny_decoder(arch, num_labels, seed, layers, heads, hidden, task or "next_token", kv_heads)
    if task not in (None, "classification"):
        raise ValueError(f"{arch} is an encoder: task must be 'classification', got {task!r}")

    id2label = {i: f"class_{i}" for i in range(num_labels)}
    # initializer_range 0.2 (not 0.02): random weights that large give peaked attention and distinct classes,
    # so the tests can tell methods and targets apart.
    common = dict(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                  initializer_range=0.2)
    torch.manual_seed(seed)
    if arch in ("bert", "roberta", "distilbert", "electra"):
        tokenizer = _text_tokenizer("bert" if arch == "electra" else arch)
        vocab = len(tokenizer)
        if arch == "bert":
            config = tf.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                   num_attention_heads=heads, intermediate_size=2 * hidden,
                                   max_position_embeddings=64, type_vocab_size=2, **common)
            model = tf.BertForSequenceClassification(config)
        elif arch == "roberta":
            config = tf.RobertaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                      num_attention_heads=heads, intermediate_size=2 * hidden,
                                      max_position_embeddings=64 + 2, pad_token_id=tokenizer.pad_token_id,
                                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                      type_vocab_size=1, **common)
            model = tf.RobertaForSequenceClassification(config)
        elif arch == "electra":
            config = tf.ElectraConfig(vocab_size=vocab, embedding_size=hidden, hidden_size=hidden,
                                      num_hidden_layers=layers, num_attention_heads=heads,
                                      intermediate_size=2 * hidden, max_position_embeddings=64, type_vocab_size=2,
                                      **common)
            model = tf.ElectraForSequenceClassification(config)
        else:
            config = tf.DistilBertConfig(vocab_size=vocab, dim=hidden, n_layers=layers, n_heads=heads,
                                         hidden_dim=2 * hidden, max_position_embeddings=64,
                                         pad_token_id=tokenizer.pad_token_id, **common)
            model = tf.DistilBertForSequenceClassification(config)
        processor = tokenizer
    else:
        image_size = 32
        kwargs = dict(image_size=image_size, patch_size=8, num_channels=3, hidden_size=hidden,
                      num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=2 * hidden, **common)
        if arch == "vit":
            model = tf.ViTForImageClassification(tf.ViTConfig(**kwargs))
        else:
            model = tf.DeiTForImageClassificationWithTeacher(tf.DeiTConfig(**kwargs))
        processor = _image_processor(arch, image_size)
    model.config._attn_implementation = "eager"
    model.eval()
    return model, processor


def _tiny_decoder(arch: str, num_labels: int, seed: int, layers: int, heads: int, hidden: int, task: str,
                  kv_heads: int | None) -> tuple[Any, Any]:
    import transformers as tf

    if task not in ("classification", "next_token"):
        raise ValueError(f"task must be 'classification' or 'next_token', got {task!r}")
    tokenizer = _text_tokenizer(arch)
    id2label = {i: f"class_{i}" for i in range(num_labels)}
    common = dict(vocab_size=len(tokenizer), initializer_range=0.2, bos_token_id=tokenizer.bos_token_id,
                  eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=(arch == "gpt2"))
    if task == "classification":
        common.update(num_labels=num_labels, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                      pad_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    if arch == "gpt2":
        config: Any = tf.GPT2Config(n_positions=64, n_embd=hidden, n_layer=layers, n_head=heads, n_inner=2 * hidden,
                                    **common)
        model = (tf.GPT2LMHeadModel if task == "next_token" else tf.GPT2ForSequenceClassification)(config)
    elif arch == "llama":
        config = tf.LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, num_key_value_heads=kv_heads or max(1, heads // 2),
                                max_position_embeddings=64, **common)
        model = (tf.LlamaForCausalLM if task == "next_token" else tf.LlamaForSequenceClassification)(config)
    else:  # qwen3: Llama's shape plus per-head q/k RMSNorm; head_dim set explicitly, as Qwen3 configs do
        config = tf.Qwen3Config(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                                num_attention_heads=heads, num_key_value_heads=kv_heads or max(1, heads // 2),
                                head_dim=hidden // heads, max_position_embeddings=64, **common)
        model = (tf.Qwen3ForCausalLM if task == "next_token" else tf.Qwen3ForSequenceClassification)(config)
    model.config._attn_implementation = "eager"
    model.eval()
    return model, tokenizer


def flow_graph_networkx(aug):
    """The attention graph of Abnar & Zuidema's ``attention_graph_util.py``, the reference attention flow is checked
    against (needs networkx): an ``nx.DiGraph`` on the (B+1)·N nodes b·N + i, an edge (b, i) -> (b-1, j) with
    capacity ``aug[b-1][i, j]`` for every non-zero entry (their ``from_numpy_matrix`` drops zeros).

    aug: float [B, N, N], the per-block augmented attention. Max-flow from node B·N + source to node j (an input
    token) is the flow value of token j."""
    import networkx as nx
    import numpy as np

    aug = np.asarray(aug, dtype=np.float64)
    B, N, _ = aug.shape
    G = nx.DiGraph()
    G.add_nodes_from(range((B + 1) * N))
    for b, i, j in zip(*np.nonzero(aug)):
        G.add_edge((int(b) + 1) * N + int(i), int(b) * N + int(j), capacity=float(aug[b, i, j]))
    return G
