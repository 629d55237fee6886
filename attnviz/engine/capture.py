"""One forward (+ one backward per target) over an unmodified model -> the tensors every method reads.

``prepared(model)`` puts the model in eval mode with eager attention (SDPA and flash attention return no attention
probabilities) and restores the training flags and attention implementation of every module in ``finally``, also
after an exception. ``capture_forward`` registers forward hooks for the per-head values and the input embeddings
and removes them in ``finally``. ``capture_gradients`` takes d y_t / d (attention, hidden states, input embeddings)
with ``torch.autograd.grad``: nothing accumulates in the user's ``.grad`` fields and ``requires_grad`` of the
parameters is never touched (the input embedding is made a leaf that requires grad instead).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .adapters import Adapter
from .guard import model_lock
from .recompute import recomputed_blocks
from .targets import Target


class AttentionUnavailableError(RuntimeError):
    """The model ran but returned no attention probabilities (no eager attention path)."""


def _configs(model: nn.Module) -> list:
    """Every distinct config object reachable from the model's modules (sub-configs included)."""
    seen: dict[int, object] = {}
    stack = [getattr(m, "config", None) for m in model.modules()]
    while stack:
        config = stack.pop()
        if config is None or id(config) in seen or not hasattr(config, "to_dict"):
            continue
        seen[id(config)] = config
        for key in getattr(config, "sub_configs", {}) or {}:
            stack.append(getattr(config, key, None))
    return list(seen.values())


_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks_with_kwargs", "_backward_hooks", "_backward_pre_hooks")
_HOOKED_FLAG = "_output_capturing_hooks_installed"  # transformers 5 hooks a model on its first output_attentions call
_MISSING = object()


def _hook_snapshot(model: nn.Module) -> list[tuple[nn.Module, dict[str, set], object]]:
    return [(m, {d: set(getattr(m, d, {})) for d in _HOOK_DICTS}, m.__dict__.get(_HOOKED_FLAG, _MISSING))
            for m in model.modules()]


def _restore_hooks(snapshot: list[tuple[nn.Module, dict[str, set], object]]) -> None:
    """Remove every hook added since the snapshot (ours, and those transformers 5 installs to record attentions)."""
    for module, keys, flag in snapshot:
        for name, before in keys.items():
            hooks = getattr(module, name, None) or {}
            for key in [k for k in hooks if k not in before]:
                del hooks[key]
        if flag is _MISSING:
            module.__dict__.pop(_HOOKED_FLAG, None)
        else:
            module.__dict__[_HOOKED_FLAG] = flag


@contextlib.contextmanager
def prepared(model: nn.Module, eager: bool = True, attn_implementation: str = "eager") -> Iterator[nn.Module]:
    """Eval mode (and eager attention unless ``eager=False``: methods that need no attention probabilities, such as
    integrated gradients, keep the model's faster kernel) inside the block; every module's previous state (training
    flag, attention implementation, hooks) restored afterwards, also after an exception. Holds the model's lock
    (``guard.model_lock``): concurrent calls from other threads wait, so no call snapshots another's temporary
    state. attn_implementation: the attention function set when ``eager`` (``intervention`` sets its own)."""
    with model_lock(model):
        with _prepared(model, eager, attn_implementation):
            yield model


@contextlib.contextmanager
def _prepared(model: nn.Module, eager: bool, attn_implementation: str) -> Iterator[nn.Module]:
    training = [(m, m.training) for m in model.modules()]
    hooks = _hook_snapshot(model)
    attn_impls = []
    for config in _configs(model):
        field = "_attn_implementation_internal" if hasattr(config, "_attn_implementation_internal") else None
        if field is None and "_attn_implementation" not in vars(config):
            continue
        field = field or "_attn_implementation"
        attn_impls.append((config, field, getattr(config, field)))
    try:
        model.eval()
        for config, field, _ in attn_impls if eager else ():
            setattr(config, field, attn_implementation)
        yield model
    finally:
        _restore_hooks(hooks)
        for config, field, value in attn_impls:
            setattr(config, field, value)
        for module, was_training in training:
            module.training = was_training


@dataclass
class ForwardCapture:
    """Forward-pass tensors of one batch of b inputs (still attached to the autograd graph).

    logits [b, C] (a classifier) or [b, N, V] (a language model: next-token logits at every position), or [b, K, V]
    at the positions ``logit_rows`` only (the explained rows: a language model's logits over the whole context are
    N x V floats, 206 MB for GPT-2 at 1,024 tokens, and their gradient as much again);
    attentions: B tensors [b, H, N, N] (post-softmax, the very tensors used in A·V; a decoder's are causal);
    values: B tensors [b, N, H_kv·Dh] (output of W_V, before W_O; H_kv < H under grouped-query attention); hidden: B+1
    tensors [b, N, D] (hidden[l] = input of block l, hidden[B] = output of the last block); embeddings [b, N_e, D]
    (word-piece or patch embeddings, a leaf that requires grad)."""

    logits: torch.Tensor
    attentions: list[torch.Tensor]
    values: list[torch.Tensor]
    hidden: list[torch.Tensor]
    embeddings: torch.Tensor
    logit_rows: list[int] | None = None

    def score(self, index: int, target: Target) -> torch.Tensor:
        """Input ``index``'s target score s from the kept logits (a language model's at its row)."""
        if self.logit_rows is None or target.position is None:
            return target.score(self.logits[index])
        return target.score_row(self.logits[index, self.logit_rows.index(target.position)])

    def explained_rows(self, rows: list[int]) -> list[int]:
        """The rows ``rows`` of the model's output as indices into the kept ``logits``."""
        return rows if self.logit_rows is None else [self.logit_rows.index(r) for r in rows]


LOW_PRECISION = (torch.float16, torch.bfloat16)


def model_float_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating parameter (float32 when it has none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def cast_inputs(model: nn.Module, model_inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating inputs (pixel_values) in the model's dtype. Explanations keep the processor's (or the user's)
    precision, so a float32 relevance pass of a half-precision model sees the float32 pixels."""
    dtype = model_float_dtype(model)
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model_inputs.items()}


def embedding_leaf(store: list[torch.Tensor]):
    """fn(E) -> E for the input embedding's output [b, N, D]: made a tensor that requires grad (a leaf when the
    embedding's weights are frozen), so d score / d E exists, and appended to ``store``. The one leaf every gradient
    with respect to the input embeddings reads (the capture, Jain & Wallace's gradient importance)."""

    def leaf(output: torch.Tensor) -> torch.Tensor:
        if not output.requires_grad:
            output = output.detach().requires_grad_(True)
        store.append(output)
        return output

    return leaf


def capture_forward(model: nn.Module, adapter: Adapter, model_inputs: dict[str, torch.Tensor],
                    grad: bool = True, logit_rows: list[int] | None = None,
                    recompute: bool = False) -> ForwardCapture:
    """Run one forward pass with hooks on the value projections and the input embedding. Call inside ``prepared``.
    grad=False: no autograd graph (the lean capture of methods that read no gradient: nothing is saved for a
    backward, so the pass keeps only the returned tensors). logit_rows: a language model's positions whose logits
    are needed (the explained rows), computed alone where the model takes ``logits_to_keep``. recompute: each block
    saves only its inputs and runs again in the backward (``recompute.recomputed_blocks``: one more forward for a
    fraction of the memory; a later backward on this graph must run inside ``prepared``)."""
    blocks = adapter.get_blocks(model)
    values: list[torch.Tensor | None] = [None] * len(blocks)
    embedded: list[torch.Tensor] = []

    def keep_value(index: int):
        def hook(_module, _inputs, output):
            values[index] = adapter.value_of(output).detach()

        return hook

    leaf = embedding_leaf(embedded) if grad else embedded.append
    extra: dict = {"use_cache": False} if adapter.causal else {}
    rows = sorted(set(logit_rows)) if logit_rows is not None and _takes_logits_to_keep(model) else None
    if rows is not None:
        extra["logits_to_keep"] = torch.tensor(rows, device=model_inputs["input_ids"].device)
    model_inputs = cast_inputs(model, model_inputs)
    handles = [adapter.get_value(block).register_forward_hook(keep_value(i)) for i, block in enumerate(blocks)]
    handles.append(adapter.get_input_embedding(model).register_forward_hook(lambda _m, _i, output: leaf(output)))
    try:
        with torch.set_grad_enabled(grad), recomputed_blocks(blocks, recompute and grad):
            out = model(**model_inputs, output_attentions=True, output_hidden_states=True, return_dict=True, **extra)
    finally:
        for handle in handles:
            handle.remove()
    attentions = list(out.attentions or [])
    if len(attentions) != len(blocks) or any(a is None for a in attentions):
        raise AttentionUnavailableError(
            f"{type(model).__name__} returned no attention probabilities even with eager attention: its attention "
            "module has no eager path. Load it with attn_implementation='eager' or use a supported architecture."
        )
    if grad and not attentions[0].requires_grad:
        raise AttentionUnavailableError("the attention probabilities are detached from the graph: no gradients")
    embeddings = embedded[-1]
    if embeddings.dim() == 4:  # a [b, D, h, w] patch map (older releases): flatten to [b, P, D]
        embeddings = embeddings.flatten(2).transpose(1, 2)
    return ForwardCapture(
        logits=out.logits,
        attentions=attentions,
        values=[v for v in values if v is not None],
        hidden=list(out.hidden_states),
        embeddings=embeddings,
        logit_rows=rows,
    )


def _takes_logits_to_keep(model: nn.Module) -> bool:
    import inspect

    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


@dataclass
class GradientCapture:
    """d y_t / d (captured tensors) for one target per input; shapes as in ForwardCapture. attentions is None when
    the backward was asked for the hidden states and input embeddings only (``attention=False``)."""

    attentions: list[torch.Tensor] | None
    hidden: list[torch.Tensor]
    embeddings: torch.Tensor


def capture_gradients(forward: ForwardCapture, targets: list[Target], retain_graph: bool,
                      attention: bool = True) -> GradientCapture:
    """One backward pass of Σ_i s_i(x_i), s_i = ``targets[i].score`` of input i's pre-softmax logits (at its row).
    Inputs are independent, so each input's gradient is that of its own score. attention=False: no gradient is
    returned for the attention probabilities (B tensors [b, H, N, N] the methods of the "hidden" level never read)."""
    with torch.enable_grad():
        total = torch.stack([forward.score(i, t) for i, t in enumerate(targets)]).sum()
    return gradients_of(total, forward, retain_graph, attention)


class DisconnectedGradientError(RuntimeError):
    """A captured tensor does not reach the target's logit in the autograd graph (its gradient would be missing)."""


def gradients_of(score: torch.Tensor, forward: ForwardCapture, retain_graph: bool,
                 attention: bool = True) -> GradientCapture:
    """d score / d (attentions, hidden states, input embeddings) of ``forward`` (attention=False: the hidden states
    and input embeddings only).

    Every captured tensor must be connected to the score: a missing gradient is an error, never silently zero
    (a compiled or detached graph would otherwise give all-zero gradient maps that look like an answer)."""
    if not forward.embeddings.requires_grad:
        raise RuntimeError("this capture was taken without an autograd graph (grad=False): capture again")
    attentions = forward.attentions if attention else []
    names = ([f"attention of block {b}" for b in range(len(attentions))]
             + [f"hidden state {l}" for l in range(len(forward.hidden))] + ["input embeddings"])
    inputs = [*attentions, *forward.hidden, forward.embeddings]
    with torch.enable_grad():
        raw = torch.autograd.grad(score, inputs, retain_graph=retain_graph, allow_unused=True)
    missing = [name for name, g in zip(names, raw) if g is None]
    if missing:
        raise DisconnectedGradientError(
            f"the target logit does not depend on the captured {', '.join(missing[:3])}"
            f"{f' (and {len(missing) - 3} more)' if len(missing) > 3 else ''} in the autograd graph, so their "
            "gradients do not exist. This happens with compiled models (explain the uncompiled module: "
            "model._orig_mod) or when the model detaches tensors in its forward."
        )
    num_blocks = len(attentions)
    return GradientCapture(
        attentions=list(raw[:num_blocks]) if attention else None,
        hidden=list(raw[num_blocks:-1]),
        embeddings=raw[-1],
    )
