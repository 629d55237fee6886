"""The adapter table: the only place that knows where each architecture keeps its parts.

To support a new family, add one small file here with an ``Adapter`` and list it in ``ADAPTERS``.
"""

from __future__ import annotations

from torch import nn

from .base import Adapter, resolve
from .bert import BERT, ROBERTA
from .distilbert import DISTILBERT
from .electra import ELECTRA
from .gpt2 import GPT2
from .llama import LLAMA
from .qwen3 import QWEN3
from .vit import DEIT, VIT

ADAPTERS: tuple[Adapter, ...] = (BERT, ROBERTA, DISTILBERT, ELECTRA, VIT, DEIT, GPT2, LLAMA, QWEN3)

_BY_MODEL_TYPE = {t: a for a in ADAPTERS for t in a.model_types}


class UnsupportedModelError(TypeError):
    """The model's architecture has no adapter, or its task head is not one attnviz explains."""


# The task heads attnviz explains: one logit per class, read from the [CLS] (or class) token, or for a decoder
# (GPT-2, Llama) from its last token; and a decoder's language-model head, the next token at a position.
SUPPORTED_HEADS = ("ForSequenceClassification", "ForImageClassification", "ForImageClassificationWithTeacher")
NEXT_TOKEN_HEADS = ("LMHeadModel", "ForCausalLM")


def task_of(model: nn.Module, adapter: Adapter) -> str:
    """"classification" (one logit per class) or "next_token" (a decoder's language-model head); a clear error for
    any other head."""
    names = [cls.__name__ for cls in type(model).__mro__]
    if any(name.endswith(SUPPORTED_HEADS) for name in names):
        return "classification"
    if adapter.causal and any(name.endswith(NEXT_TOKEN_HEADS) for name in names):
        return "next_token"
    raise UnsupportedModelError(
        f"attnviz explains classifiers and language models, and {type(model).__name__} is neither: the supported "
        f"heads are *{', *'.join(SUPPORTED_HEADS)} (e.g. BertForSequenceClassification, ViTForImageClassification) "
        f"and, for decoders, *{', *'.join(NEXT_TOKEN_HEADS)} (GPT2LMHeadModel, LlamaForCausalLM). Masked-LM, "
        "token-classification, question-answering and multiple-choice heads give no single logit to explain; "
        "load the encoder with AutoModelForSequenceClassification instead."
    )


def register_adapter(adapter: Adapter) -> Adapter:
    """Support another architecture: ``adapter`` answers for its ``model_types`` from now on (the recipe in
    docs/ARCHITECTURE.md; a built-in family is one file here, listed in ``ADAPTERS``)."""
    if not isinstance(adapter, Adapter):
        raise TypeError(f"register_adapter needs an attnviz Adapter, got {type(adapter).__name__}")
    if not adapter.model_types:
        raise ValueError(f"adapter {adapter.family!r} names no model_types")
    for model_type in adapter.model_types:
        _BY_MODEL_TYPE[model_type] = adapter
    return adapter


def supported_model_types() -> list[str]:
    """The Hugging Face ``model_type`` values attnviz has an adapter for, sorted."""
    return sorted(_BY_MODEL_TYPE)


def adapter_for(model: nn.Module) -> Adapter:
    """The adapter for ``model`` (looked up by ``model.config.model_type``), or a clear error."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in _BY_MODEL_TYPE:
        raise UnsupportedModelError(
            f"attnviz does not support {type(model).__name__} (model_type={model_type!r}). Supported: "
            f"{', '.join(supported_model_types())}. To add it, write one adapter file in "
            "attnviz/engine/adapters/ (see bert.py for the pattern) and list it in ADAPTERS."
        )
    adapter = _BY_MODEL_TYPE[model_type]
    task_of(model, adapter)
    try:
        adapter.get_blocks(model)
    except AttributeError as err:
        raise UnsupportedModelError(
            f"{type(model).__name__} has model_type={model_type!r} but not the expected structure ({err}). attnviz "
            "explains the task models (e.g. BertForSequenceClassification, ViTForImageClassification)."
        ) from None
    return adapter


__all__ = ["ADAPTERS", "NEXT_TOKEN_HEADS", "SUPPORTED_HEADS", "Adapter", "UnsupportedModelError", "adapter_for",
           "register_adapter", "resolve", "supported_model_types", "task_of"]
