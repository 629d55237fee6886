"""AttnLRP (Achtibat et al., ICML 2024) on decoders, as the reference library lxt 2.1 computes it ("efficient"
variant; docs/METHODS.md, AttnLRP): relevance = input x modified gradient.

One forward and one backward of the explained score s (the next-token logit y_t at the explained position, or
y_a − y_b) in which every operation keeps its exact forward value and only these backward rules differ from the
plain Jacobian:

- elementwise activation y = f(x) (GPT-2's gelu_new, the SiLU of a gated feed-forward): identity rule,
  backward g · f(x) / (x + 1e-10);
- gated product act(gate x) · (up x): uniform rule, half the gradient to the product, then its exact Jacobian;
- RMSNorm and LayerNorm: the divisor (root mean square, standard deviation) is a constant (identity rule);
  LayerNorm's centring stays linear;
- attention: the gradient reaching q and k is scaled by ¼, the value's by ½ (uniform rule at A·V and at q·kᵀ);
  the softmax keeps its exact Jacobian (its DTD rule);
- linear maps, rotary embeddings, residual sums, masks and ``repeat_kv``: exact Jacobians (LRP-0; biases keep
  their share, which is what makes the total differ from s by design).

The gradient of s is 1 (seed="logit", lxt's seed: relevance starts at the logit's value) or 1/s (seed="onehot",
Chefer's: relevance starts at 1). Read-outs, each input x modified gradient:

    R_input[i]      = Σ_d e[i, d] · ∂̃s/∂e[i, d]       at the token embedding (GPT-2: without the position embedding)
    R(A^(b))[h,i,j] = ½ · A[h, i, j] · ∂̃s/∂A[h, i, j]  the attention operand's half of A·V (Chefer's R(A))

Nothing is patched: the rules are forward hooks and one attention intervention (``intervention.qkv_gradient``),
installed inside ``intervened`` and removed in ``finally``; the user's model is left exactly as it was. A float16 or
bfloat16 model's pass runs in float32 on upcast copies of its weights (``torch.func.functional_call``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..capture import LOW_PRECISION, cast_inputs, embedding_leaf
from ..intervention import Intervention, intervened, scale_gradient

#: lxt's stabiliser of the identity rule's ratio f(x) / (x + ε), added unsigned.
IDENTITY_EPSILON = 1e-10
#: The uniform rule's shares of the gradient at q, k (¼ each) and v (½).
QKV_SHARES = (0.25, 0.25, 0.5)
SEEDS = ("logit", "onehot")


class AttnLRPUnsupportedError(NotImplementedError):
    """AttnLRP asked of an architecture whose rules attnviz does not have."""


@dataclass
class AttnLRPPass:
    """One AttnLRP pass for one target: input [N], attention [B, H, N, N] (R(A) as above; None for a pass that took
    the input relevance only), totals per stage (the seeded total at the logit, at the head's input, at each block's
    output, at the input)."""

    target: Any
    seed: str
    input: torch.Tensor
    attention: torch.Tensor | None
    rules: str = "attnlrp"
    pixels: None = None
    totals: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {k: (round(v, 6) if isinstance(v, float) else [round(x, 6) for x in v]) for k, v in self.totals.items()}
        return f"AttnLRPPass(target={self.target}, seed={self.seed!r}, totals={shown})"


def check_supported(adapter: Any, model: nn.Module) -> None:
    if not adapter.attnlrp_supported:
        raise AttnLRPUnsupportedError(
            f"AttnLRP's rules are implemented for decoders (GPT-2, Llama, Mistral, Qwen2, Qwen3); "
            f"{type(model).__name__} ({adapter.family}) is not one. On an encoder use chefer, lrp_full or lrp_partial")


def _keep_value(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new``'s gradient with ``old``'s exact value."""
    return old.detach() + (new - new.detach())


def _identity_rule(_module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    x = inputs[0]
    ratio = (output / (x + IDENTITY_EPSILON)).detach()
    return _keep_value(x * ratio, output)


def _gate_half(_module: nn.Module, inputs: tuple) -> tuple:
    return (scale_gradient(inputs[0], 0.5), *inputs[1:])


def _norm_rule(kind: str):
    """The norm recomputed with its divisor detached (value kept bit for bit)."""

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        with _weights_of(module, output.device):  # accelerate's offload puts them back on "meta" after the forward
            return _rule(module, inputs[0], output)

    def _rule(module: nn.Module, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        weight = getattr(module, "weight", None)
        if kind == "layernorm":
            eps = float(getattr(module, "eps", 1e-5))
            centred = x - x.mean(-1, keepdim=True)
            std = torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps)
            y = centred / std.detach()
            if weight is not None:
                y = y * weight
            bias = getattr(module, "bias", None)
            if bias is not None:
                y = y + bias
        else:  # RMSNorm, in float32 as the model's own (HF keeps its body in float32 for every dtype)
            eps = float(getattr(module, "variance_epsilon", getattr(module, "eps", 1e-6)))
            x32 = x.to(torch.float32)
            y = (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps).detach()).to(x.dtype)
            if weight is not None:
                y = weight * y
        return _keep_value(y.to(output.dtype), output)

    return hook


def _weights_of(module: nn.Module, device: torch.device):
    """A context in which an offloaded module's weights are real tensors on ``device`` (accelerate's
    ``align_module_device``); nothing for a module whose weights are loaded."""
    weight = getattr(module, "weight", None)
    if weight is None or weight.device.type != "meta" or getattr(module, "_hf_hook", None) is None:
        return contextlib.nullcontext()
    from accelerate.utils import align_module_device

    return align_module_device(module, device)


def _output_tensor(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def attnlrp_pass(model: nn.Module, adapter: Any, model_inputs: dict[str, torch.Tensor], target: Any,
                 seed: str = "logit", attention: bool = True) -> AttnLRPPass:
    """One AttnLRP pass over ``model_inputs`` (a batch of one) for ``target`` (a ``Target`` at its position).
    attention=False: the input relevance only (``.attention`` None): no attention gradient is taken, which at long
    contexts is most of the pass's memory (B x H x N x N floats twice)."""
    check_supported(adapter, model)
    if seed not in SEEDS:
        raise ValueError(f"seed must be one of {SEEDS}, got {seed!r}")
    embedded: list[torch.Tensor] = []
    blocks = adapter.get_blocks(model)
    outputs: list[torch.Tensor | None] = [None] * len(blocks)
    head_in: list[torch.Tensor] = []

    def keep_output(b: int):
        def hook(_module, _inputs, output):
            outputs[b] = _output_tensor(output)
        return hook

    def keep_head_input(_module, inputs):
        head_in.append(inputs[0])

    upcast = any(p.dtype in LOW_PRECISION for p in model.parameters())
    intervention = Intervention(qkv_gradient=QKV_SHARES, embeddings=embedding_leaf(embedded))
    with intervened(model, adapter, intervention), torch.enable_grad():  # every hook below removed on exit
        for module in adapter.norm_modules(model):
            module.register_forward_hook(_norm_rule(adapter.norm))
        for b, block in enumerate(blocks):
            adapter.get_part(block, "act").register_forward_hook(_identity_rule)
            if "gate" in adapter.parts:
                adapter.get_part(block, "ffn_out").register_forward_pre_hook(_gate_half)
            block.register_forward_hook(keep_output(b))
        adapter.get_unembedding(model).register_forward_pre_hook(keep_head_input)
        out = _run(model, model_inputs, upcast)
        attentions = list(out.attentions)
        score = target.score(out.logits[0])
        value = float(score.detach())
        if seed == "onehot" and not abs(value) > 1e-6:
            raise ValueError(f"seed='onehot' starts the relevance at 1 by dividing by the explained score, and the "
                             f"score is {value:.3g}: the map would be undefined. Use seed='logit'")
        grad_out = torch.ones_like(score) if seed == "logit" else 1.0 / score.detach()
        emb = embedded[-1]
        kept = [o for o in outputs if o is not None]
        wanted = attentions if attention else []
        grads = torch.autograd.grad(score, [emb, *wanted, *kept, head_in[-1]], grad_outputs=grad_out,
                                    allow_unused=True)
    B = len(wanted)
    g_emb, g_att, g_out, g_head = grads[0], grads[1:1 + B], grads[1 + B:1 + B + len(kept)], grads[-1]
    work = torch.float64 if emb.dtype == torch.float64 else torch.float32  # a float64 model keeps float64
    relevance_in = (emb[0] * g_emb[0]).detach().sum(-1).to(work)
    R_A = torch.stack([(0.5 * a[0].detach() * (g[0] if g is not None else torch.zeros_like(a[0]))).to(emb.device)
                       for a, g in zip(attentions, g_att)]).to(work) if attention else None  # gathered on one device
    totals: dict[str, Any] = {
        "logits": float(score.detach() * grad_out),
        "head_input": float((head_in[-1][0].detach() * g_head[0]).sum()) if g_head is not None else 0.0,
        "block_output": [float((o[0].detach() * g[0]).sum()) if g is not None else 0.0 for o, g in zip(kept, g_out)],
        "input": float(relevance_in.sum()),
    }
    if R_A is not None:
        totals["attention"] = R_A.sum(dim=(1, 2, 3)).tolist()
    return AttnLRPPass(target.key, seed, relevance_in, R_A, totals=totals)


def _run(model: nn.Module, model_inputs: dict[str, torch.Tensor], upcast: bool) -> Any:
    """The model's forward with attention weights; a half-precision model in float32 on upcast copies."""
    kwargs = {"return_dict": True, "output_attentions": True, "use_cache": False}
    if not upcast:
        return model(**cast_inputs(model, model_inputs), **kwargs)
    state = {name: (t.float() if t.is_floating_point() and t.dtype in LOW_PRECISION else t)
             for name, t in [*model.named_parameters(), *model.named_buffers()]}
    inputs = {k: (v.float() if v.is_floating_point() else v) for k, v in model_inputs.items()}
    return torch.func.functional_call(model, state, args=(), kwargs={**inputs, **kwargs})


__all__ = ["QKV_SHARES", "SEEDS", "AttnLRPPass", "AttnLRPUnsupportedError", "attnlrp_pass", "check_supported"]
