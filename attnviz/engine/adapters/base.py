"""The adapter record: where one architecture family keeps its blocks, attention, values and embeddings.

Module names differ between families and between transformers releases (ViT's ``encoder.layer[i].attention.
attention.value`` became ``layers[i].attention.v_proj`` in transformers 5), so every location is a tuple of dotted
paths tried in order. Nothing outside ``adapters/`` knows a module name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn


@dataclass(frozen=True)
class Adapter:
    """How to find the parts of one architecture family inside an unmodified Hugging Face model.

    Paths are dotted attribute paths; each field lists alternatives tried in order.
    - ``base``: the encoder inside the task model (``model.bert``), relative to the task model.
    - ``blocks``: the list of Transformer blocks, relative to the base.
    - ``value``: the value projection W_V (all heads), relative to a block.
    - ``input_embedding``: the module whose output is the input embedding e (word pieces or patches), relative to
      the base.
    - ``parts``: named sub-modules of a block (query, key, value, attn_out, ln1, ffn_in, ffn_out, ln2) used by the
      LRP pass; ``head``: the classifier modules in forward order, relative to the task model.
    - ``positions_from_ids``: the model derives position ids from input ids (so a [PAD] baseline would move them).
    - ``layout``: "post_ln" (BERT: x = LN(x + f(x))) or "pre_ln" (ViT, GPT-2, Llama: x = x + f(LN(x))).
    - ``causal``: a decoder (GPT-2, Llama): token i attends to j <= i only; the classifier reads the last token and
      the language-model head predicts the next token at every position.
    - ``fused_qkv``: query, key and value come from one module (GPT-2's ``c_attn``, output [.., 3D] = q | k | v);
      ``value`` then names that module and the value is its last third.
    - ``lrp_unsupported``: why the LRP pass does not apply to this family (empty when it does).
    - ``lrp_rules``: where Chefer's R(A) and the LRP input relevance come from: "chefer" (the LRP pass with Chefer's
      rules, ``methods/lrp_pass.py``) or "attnlrp" (AttnLRP's pass, ``methods/attnlrp.py``: the Llama family).
    - ``norm``: the normalisation before each sublayer and before the unembedding: "layernorm" (centre, divide by
      the standard deviation, scale and shift) or "rmsnorm" (divide by the root mean square, scale).
    - AttnLRP (``methods/attnlrp.py``) reads the parts "act" (the feed-forward's elementwise activation), "gate"
      (a gated feed-forward's gate projection: act(gate x) * (up x) before "ffn_out"), and the norms "ln1", "ln2",
      "q_norm", "k_norm" and ``final_norm``; a decoder without "act" has no AttnLRP rules here.
    """

    family: str
    model_types: tuple[str, ...]
    modality: Literal["text", "image"]
    base: tuple[str, ...]
    blocks: tuple[str, ...]
    value: tuple[str, ...]
    input_embedding: tuple[str, ...]
    layout: Literal["post_ln", "pre_ln"]
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    head: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    final_norm: tuple[str, ...] = ()
    positions_from_ids: bool = False  # RoBERTa numbers positions after padding_idx, skipping [PAD] ids
    causal: bool = False
    fused_qkv: bool = False
    lrp_unsupported: str = ""
    lrp_rules: Literal["chefer", "attnlrp"] = "chefer"
    adapter_file: str = ""
    norm: Literal["layernorm", "rmsnorm"] = "layernorm"

    def num_query_heads(self, model: nn.Module) -> int:
        """H, the attention heads per block (query heads under grouped-query attention)."""
        config = model.config
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", None)
        if not heads:
            raise AttributeError(f"{type(model).__name__}'s config names no number of attention heads")
        return int(heads)

    def num_kv_heads(self, model: nn.Module) -> int | None:
        """The key/value heads per block under grouped-query attention (Llama's ``num_key_value_heads``); None when
        every query head has its own."""
        kv = getattr(model.config, "num_key_value_heads", None)
        return int(kv) if kv else None

    def hidden_size(self, model: nn.Module) -> int:
        """D, the width of the residual stream."""
        config = model.config
        size = getattr(config, "hidden_size", None) or getattr(config, "dim", None) or getattr(config, "n_embd", None)
        if not size:
            raise AttributeError(f"{type(model).__name__}'s config names no hidden size")
        return int(size)

    def image_geometry(self, model: nn.Module) -> tuple[int, int, int]:
        """(image size, patch size, channels) an image model reads: its input is size x size, cut into patches."""
        config: Any = model.config
        return int(config.image_size), int(config.patch_size), int(getattr(config, "num_channels", 3))

    def max_positions(self, model: nn.Module) -> int:
        """The longest input the position embeddings allow (512 when the config does not say); RoBERTa's positions
        start after its padding index, which takes two of them (``positions_from_ids``)."""
        positions = int(getattr(model.config, "max_position_embeddings", None) or 512)
        return positions - 2 if self.positions_from_ids else positions

    def position_ids(self, model: nn.Module, length: int, device: torch.device) -> torch.Tensor | None:
        """Fixed position ids [1, length] for a model that derives them from the input ids (RoBERTa: padding_idx + 1
        onward), so a [PAD] baseline does not move them; None for the others."""
        if not self.positions_from_ids:
            return None
        padding_idx = getattr(model.config, "pad_token_id", 1)
        return padding_idx + 1 + torch.arange(length, device=device)[None]

    def vocab_size(self, model: nn.Module) -> int:
        """V, the vocabulary a language model predicts over (0 when the config does not say)."""
        return int(getattr(model.config, "vocab_size", 0) or 0)

    def label_names(self, model: nn.Module) -> list[str]:
        """A classifier's class names in index order (``id2label``; "LABEL_i" where it names none)."""
        config: Any = model.config
        id2label = getattr(config, "id2label", None) or {}
        num = getattr(config, "num_labels", len(id2label))
        return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(num)]

    def multi_label(self, model: nn.Module) -> bool:
        """Independent sigmoid per class (``problem_type="multi_label_classification"``) instead of a softmax."""
        return getattr(model.config, "problem_type", None) == "multi_label_classification"

    def pad_token_id(self, model: nn.Module) -> int | None:
        """The padding id the model knows (a decoder classifier finds its last token by it); None when unset."""
        pad = getattr(model.config, "pad_token_id", None)
        return None if pad is None else int(pad)

    def head_modules(self, model: nn.Module) -> list[nn.Module]:
        """The task head's modules in forward order (pooler, classifier, ...), relative to the task model; the ones
        a model lacks are left out."""
        found = []
        for paths in self.head.values():
            try:
                found.append(resolve(model, paths))
            except AttributeError:
                continue
        return found

    def get_final_norm(self, model: nn.Module) -> nn.Module:
        """The normalisation applied to the last block's output before the unembedding (GPT-2's ``ln_f``)."""
        if not self.final_norm:
            raise AttributeError(f"{self.family} has no final normalisation before its head")
        return resolve(self.get_base(model), self.final_norm)

    def get_unembedding(self, model: nn.Module) -> nn.Module:
        """The language-model head W_U (logits = norm(x) W_Uᵀ + b_U), relative to the task model."""
        return resolve(model, self.head["classifier"])

    def num_prefix_tokens(self, model: nn.Module) -> int:
        """Tokens before the patches (ViT: [CLS]; DeiT: [CLS] and the distillation token); 0 for text."""
        if self.modality == "text":
            return 0
        return 2 if getattr(model.config, "model_type", "") == "deit" else 1

    def get_base(self, model: nn.Module) -> nn.Module:
        return resolve(model, self.base)

    def get_blocks(self, model: nn.Module) -> list[nn.Module]:
        return list(resolve(self.get_base(model), self.blocks))

    def get_value(self, block: nn.Module) -> nn.Module:
        return resolve(block, self.value)

    def get_input_embedding(self, model: nn.Module) -> nn.Module:
        return resolve(self.get_base(model), self.input_embedding)

    def get_part(self, block: nn.Module, role: str) -> nn.Module:
        return resolve(block, self.parts[role])

    @property
    def attnlrp_supported(self) -> bool:
        """AttnLRP's rules are known for this family: a decoder whose activation (part "act") is named."""
        return self.causal and "act" in self.parts

    def norm_modules(self, model: nn.Module) -> list[nn.Module]:
        """Every normalisation the residual stream and the attention pass through: each block's "ln1", "ln2"
        (and a per-head "q_norm", "k_norm" where the family has them), then the final norm."""
        found = [self.get_part(block, role) for block in self.get_blocks(model)
                 for role in ("ln1", "ln2", "q_norm", "k_norm") if role in self.parts]
        if self.final_norm:
            found.append(self.get_final_norm(model))
        return found

    def value_of(self, output: torch.Tensor) -> torch.Tensor:
        """The value projection's output [b, N, H_kv·Dh] from the hooked module's output (the last third of a fused
        q | k | v projection)."""
        return output.chunk(3, dim=-1)[2] if self.fused_qkv else output


def linear_weight(module: nn.Module) -> torch.Tensor:
    """The weight of a linear map as [out, in], y = W x + b: nn.Linear's own, or the transpose of GPT-2's Conv1D
    (whose weight is [in, out], y = x W + b)."""
    weight: torch.Tensor = module.weight  # type: ignore[assignment]
    return weight.t() if is_conv1d(module) else weight


def is_conv1d(module: nn.Module) -> bool:
    """transformers' ``Conv1D`` (GPT-2): a linear layer with a transposed weight, despite its name."""
    weight = getattr(module, "weight", None)
    return type(module).__name__ == "Conv1D" and isinstance(weight, torch.Tensor) and weight.dim() == 2


def resolve(root: nn.Module, paths: tuple[str, ...]):
    """The first attribute path of ``paths`` that exists below ``root``; a clear error when none does."""
    for path in paths:
        obj = root
        try:
            for name in path.split("."):
                obj = getattr(obj, name)
        except AttributeError:
            continue
        return obj
    raise AttributeError(
        f"none of {paths} exists in {type(root).__name__}: this transformers release names the module differently; "
        "add its path to the adapter in attnviz/engine/adapters/"
    )
