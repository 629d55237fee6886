"""The residual stream of one input, block by block: what the logit lens, direct logit attribution, one head's
arithmetic and activation patching read.

A pre-norm decoder (GPT-2, the Llama family) writes everything into one stream:

    x_0 = embeddings,   x_{l+1} = x_l + attn_l(norm(x_l)) + mlp_l(norm(x_l + attn_l(...))),
    attn_l(...) = Σ_h z_{l,h} W_O[h]ᵀ + b_O,          logits = norm_f(x_B) W_Uᵀ + b_U,

so the stream after block l can be read through the final norm and the unembedding (the logit lens), and the
final stream is the sum of the embeddings, every head's write z_{l,h} W_O[h]ᵀ, the attention biases and every
MLP's output (direct logit attribution). ``record`` runs one forward without gradients and keeps exactly those
terms; every hook is removed in ``finally`` and the model is left as it was (``intervention.intervened``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..adapters import Adapter
from ..adapters.base import linear_weight
from ..intervention import Intervention


class InternalsError(ValueError):
    """A request the internals views cannot answer (an encoder classifier, a block out of range, ...)."""


def require_language_model(explainer: Any, what: str) -> None:
    """A clear error unless ``explainer`` explains a decoder's next token (the internals read its unembedding)."""
    if not explainer.targets.per_position:
        raise InternalsError(
            f"{what} reads the residual stream through the final norm and the unembedding of a language model; "
            f"{type(explainer.model).__name__} is a classifier (its head reads one token, not the stream at every "
            "position). Use a decoder's language-model head: GPT2LMHeadModel or a *ForCausalLM (Llama, Mistral, "
            "Qwen2), e.g. attnviz.demo.induction().")


def check_index(name: str, value: Any, size: int) -> int:
    """An integer index in 0..size-1 (negative counts from the end), or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    index = int(value)
    if not -size <= index < size:
        raise InternalsError(f"{name} {index} does not exist: the model has {name}s 0..{size - 1}")
    return index % size


@dataclass
class ResidualRecord:
    """One input's residual stream (float32, on the model's device).

    resid: [B+1, N, D]: resid[l] the stream entering block l, resid[B] the stream entering the final norm.
    attn_out: [B, N, D]: what block l's attention adds to the stream (Σ_h z W_O[h]ᵀ + b_O).
    mlp_out: [B, N, D]: what block l's MLP adds.
    z: [B, N, H, Dh]: every head's output before W_O (its weighted sum of values A·V).
    logits: [N, V]: the model's own logits.
    qkv: block -> (query [H, N, Dh], key [H_kv, N, Dh], value [H_kv, N, Dh], scaling) for the blocks asked for:
    the tensors the model's attention multiplies (after rotary embeddings) and the factor of its scores.
    """

    resid: torch.Tensor
    attn_out: torch.Tensor
    mlp_out: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor
    qkv: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # what the readers derive once (the lens's normaliser)

    @property
    def num_blocks(self) -> int:
        return int(self.attn_out.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.z.shape[2])


def work(t: torch.Tensor) -> torch.Tensor:
    """The precision the internals compute in: float64 for a float64 model (exact tests), else float32."""
    return t.double() if t.dtype == torch.float64 else t.float()


def hidden_of(args: tuple, kwargs: dict) -> torch.Tensor:
    """A block's input hidden states, passed positionally or as ``hidden_states=``."""
    return args[0] if args else kwargs["hidden_states"]


def with_hidden(args: tuple, kwargs: dict, hidden: torch.Tensor) -> tuple[tuple, dict]:
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


def output_tensor(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def record(explainer: Any, model_inputs: dict[str, torch.Tensor], qkv_blocks: tuple[int, ...] = ()) -> ResidualRecord:
    """One forward without gradients over a single input (``model_inputs`` [1, N]); see ``ResidualRecord``."""
    model, adapter = explainer.model, explainer.adapter
    blocks = adapter.get_blocks(model)
    num = len(blocks)
    resid: list[torch.Tensor | None] = [None] * (num + 1)
    attn: list[torch.Tensor | None] = [None] * num
    mlp: list[torch.Tensor | None] = [None] * num
    z: list[torch.Tensor | None] = [None] * num
    qkv: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]] = {}

    def keep(store: list, index: int, pre: bool):
        if pre:
            def pre_hook(_module, args, kwargs):
                store[index] = work(hidden_of(args, kwargs).detach()[0])
            return pre_hook

        def hook(_module, _args, output):
            store[index] = work(output_tensor(output).detach()[0])
        return hook

    def keep_z(index: int):
        def hook(_module, args):
            z[index] = work(args[0].detach()[0])
        return hook

    def keep_qkv(b: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scaling: float) -> None:
        if b in qkv_blocks:
            qkv[b] = (work(q[0]), work(k[0]), work(v[0]), scaling)

    handles = []
    try:
        for i, block in enumerate(blocks):
            handles.append(block.register_forward_pre_hook(keep(resid, i, True), with_kwargs=True))
            handles.append(adapter.get_part(block, "attn_out").register_forward_hook(keep(attn, i, False)))
            handles.append(adapter.get_part(block, "attn_out").register_forward_pre_hook(keep_z(i)))
            handles.append(adapter.get_part(block, "ffn_out").register_forward_hook(keep(mlp, i, False)))
        handles.append(adapter.get_final_norm(model).register_forward_pre_hook(keep(resid, num, True),
                                                                                with_kwargs=True))
        logits = explainer.forward(model_inputs, Intervention(record=keep_qkv), grad=False)
    finally:
        for handle in handles:
            handle.remove()
    heads = adapter.num_query_heads(model)
    zs = torch.stack([t for t in z if t is not None])  # [B, N, H·Dh]
    return ResidualRecord(
        resid=torch.stack([t for t in resid if t is not None]),
        attn_out=torch.stack([t for t in attn if t is not None]),
        mlp_out=torch.stack([t for t in mlp if t is not None]),
        z=zs.view(zs.shape[0], zs.shape[1], heads, -1),
        logits=work(logits.detach()[0]),
        qkv=qkv,
    )


def norm_parameters(adapter: Adapter, module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """The final norm's scale γ [D], shift β [D] (None for RMSNorm) and epsilon (float32, float64 for a float64
    model)."""
    weight: torch.Tensor = module.weight  # type: ignore[assignment]
    weight = work(weight.detach())
    bias = getattr(module, "bias", None)
    eps = getattr(module, "eps", None) or getattr(module, "variance_epsilon", None) or 1e-6
    shift = work(bias.detach()) if (adapter.norm == "layernorm" and bias is not None) else None
    return weight, shift, float(eps)


def apply_final_norm(adapter: Adapter, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """norm_f(x) [..., D] in float32, the architecture's own formula (LayerNorm or RMSNorm)."""
    weight, shift, eps = norm_parameters(adapter, module)
    if adapter.norm == "layernorm":
        return F.layer_norm(x, (x.shape[-1],), weight, shift, eps)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def norm_scale(adapter: Adapter, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The divisor the final norm applies to x [..., D] -> [..., 1]: sqrt(var(x) + ε) for LayerNorm, sqrt(mean(x²) +
    ε) for RMSNorm. Direct logit attribution freezes it, so norm_f becomes a linear map of each component."""
    _, _, eps = norm_parameters(adapter, module)
    if adapter.norm == "layernorm":
        return torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)
    return torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def unembedding(adapter: Adapter, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """W_U [V, D] and b_U [V] (None when the head has no bias), float32."""
    head = adapter.get_unembedding(model)
    weight = work(linear_weight(head).detach())
    bias = getattr(head, "bias", None)
    return weight, (work(bias.detach()) if bias is not None else None)


def head_writes(adapter: Adapter, model: nn.Module, block: int, z: torch.Tensor) -> torch.Tensor:
    """Each head's write into the stream, z_h W_O[h]ᵀ: z [..., H, Dh] -> [..., H, D] (the output bias excluded;
    a z of fewer heads than the block has is an error)."""
    blocks = adapter.get_blocks(model)
    w_o = work(linear_weight(adapter.get_part(blocks[block], "attn_out")).detach())  # [D, H·Dh]
    heads, dh = z.shape[-2], z.shape[-1]
    per_head = w_o.view(w_o.shape[0], heads, dh).to(z.dtype)  # [D, H, Dh]
    return torch.einsum("...hd,Dhd->...hD", z, per_head)


def head_write(adapter: Adapter, model: nn.Module, block: int, head: int, z: torch.Tensor) -> torch.Tensor:
    """One head's write z_h W_O[h]ᵀ: z [Dh] -> [D]."""
    w_o = work(linear_weight(adapter.get_part(adapter.get_blocks(model)[block], "attn_out")).detach())  # [D, H·Dh]
    dh = z.shape[-1]
    return w_o[:, head * dh:(head + 1) * dh].to(z.dtype) @ z


def output_bias(adapter: Adapter, model: nn.Module, block: int) -> torch.Tensor | None:
    bias = getattr(adapter.get_part(adapter.get_blocks(model)[block], "attn_out"), "bias", None)
    return work(bias.detach()) if bias is not None else None


__all__ = ["InternalsError", "ResidualRecord", "apply_final_norm", "check_index", "head_write", "head_writes",
           "norm_scale", "record", "require_language_model", "unembedding"]
