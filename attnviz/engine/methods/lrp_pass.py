"""The LRP relevance pass over an unmodified Hugging Face model: record one forward, then carry relevance back.

``record`` re-runs the forward of one input inside ``prepared`` (eval mode, eager attention) with forward hooks on
every Linear and LayerNorm of each block, on the classifier head, the final norm and (for the input-level map) the
patch embedding; the hooks are removed in ``finally`` and ``prepared`` restores everything else, also after an
exception. Nothing is patched: the hooks only read.

``relevance_pass`` then propagates relevance from the logits down, block by block, with the rules of
``lrp_rules`` and the block layout of the adapter:

- post_ln (BERT, RoBERTa, DistilBERT): x1 = LN1(x + attn_out(ctx)), x2 = LN2(x1 + ffn_out(gelu(ffn_in(x1))));
- pre_ln (ViT, DeiT, GPT-2): x1 = x + attn_out(ctx(LN1(x))), x2 = x1 + ffn_out(gelu(ffn_in(LN2(x1)))),

with ctx = A·V per head, A = softmax(Q·Kᵀ/√d) the captured attention, and Q, K, V the query/key/value Linear
outputs split per head. GPT-2's Conv1D layers are linear maps with a transposed weight (``linear_weight``), and its
fused q | k | v projection is recorded once and split into the three Linears it is. A decoder's head reads the
explained position's hidden state (a language model: the next-token logits there; a classifier: its last token). Shapes
inside the pass drop the batch dimension: hidden [N, D], per head [H, N, Dh]."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..adapters import Adapter, resolve
from ..adapters.base import is_conv1d, linear_weight
from ..capture import LOW_PRECISION, cast_inputs
from . import lrp_rules as rules_

ROLES = ("query", "key", "value", "attn_out", "ln1", "ffn_in", "ffn_out", "ln2")
SEEDS = ("onehot", "logit")


class LRPStructureError(RuntimeError):
    """The recorded forward does not have the structure the adapter describes."""


@dataclass
class Part:
    """One recorded module: its input x [N, D_in] (or [D_in] in the head), its output y, and for a Linear its weight
    and W x = y − bias (None when the model runs in a lower precision than the pass: then W x is recomputed)."""

    x: torch.Tensor
    y: torch.Tensor
    weight: torch.Tensor | None = None
    wx: torch.Tensor | None = None


@dataclass
class Recording:
    """What one forward of one input leaves behind for the relevance pass (compute dtype, no batch dimension).

    blocks: per block, role -> Part; head: head role -> Part (inputs [D]); final [N, D]: the hidden states the head
    reads; logits [C]; pixels [C, h, w] and patches [P, D] (the patch-embedding input and output) for images."""

    layout: str
    blocks: list[dict[str, Part]]
    head: dict[str, Part]
    final: torch.Tensor
    logits: torch.Tensor
    pixels: torch.Tensor | None = None
    patches: torch.Tensor | None = None
    conv: nn.Conv2d | None = None
    attention: torch.Tensor | None = None  # [B, H, N, N] of the recorded forward, when it was upcast
    head_token: int | None = None  # a decoder's explained position (the head reads that token); None: [CLS]


@dataclass
class RelevancePass:
    """The result of one relevance pass for one target.

    attention [B, H, N, N]: R(A^(b)), the relevance of the attention operand of A·V after halving (row = query);
    block_input [B, N, D] or None: relevance at the input of each block (None below block 0 when the pass stopped at
    block 0's attention); input [N] or None: the input-level map (text: Σ over the hidden dimension at the input of
    block 0; images: Σ over RGB and the pixels of each patch after the z^B rule, 0 at the prefix tokens);
    pixels [h, w] or None: images only, the input relevance per pixel (Σ over RGB), Chefer's LRP baseline map;
    totals: Σ relevance at each stage, to read conservation off (``explanation.diagnostics["lrp"]``)."""

    target: int
    rules: str
    seed: str
    attention: torch.Tensor
    input: torch.Tensor | None = None
    pixels: torch.Tensor | None = None
    totals: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {k: (round(v, 6) if isinstance(v, float) else [round(x, 6) for x in v]) for k, v in self.totals.items()}
        return f"RelevancePass(target={self.target}, rules={self.rules!r}, seed={self.seed!r}, totals={shown})"


def _squeeze(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if t.dim() < 2 or t.shape[0] != 1:
        raise LRPStructureError(f"expected a batch of one input, recorded a tensor of shape {list(t.shape)}")
    return t[0].detach().to(dtype)


def _join(calls: list[tuple[torch.Tensor, torch.Tensor]], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """One module's recorded (input, output); several calls (chunked feed-forward) are joined along the tokens."""
    xs = [_squeeze(x, dtype) for x, _ in calls]
    ys = [_squeeze(y, dtype) for _, y in calls]
    if len(calls) == 1:
        return xs[0], ys[0]
    return torch.cat(xs, dim=-2), torch.cat(ys, dim=-2)


def _optional(model: nn.Module, paths: tuple[str, ...]) -> nn.Module | None:
    try:
        return resolve(model, paths)
    except AttributeError:
        return None


def _low_precision(model: nn.Module) -> bool:
    return any(p.dtype in LOW_PRECISION for p in model.parameters())


def _forward(model: nn.Module, model_inputs: dict[str, torch.Tensor], upcast: bool, causal: bool = False):
    """The model's forward; with ``upcast``, run in float32 on float32 copies of its parameters and buffers
    (``torch.func.functional_call``: the user's module keeps its own half-precision tensors)."""
    extra = {"use_cache": False} if causal else {}
    if not upcast:
        return model(**cast_inputs(model, model_inputs), return_dict=True, **extra)
    state = {name: (t.float() if t.is_floating_point() and t.dtype in LOW_PRECISION else t)
             for name, t in [*model.named_parameters(), *model.named_buffers()]}
    inputs = {k: (v.float() if v.is_floating_point() else v) for k, v in model_inputs.items()}
    return torch.func.functional_call(model, state, args=(), kwargs={**inputs, "return_dict": True,
                                                                      "output_attentions": True, **extra})


def _roles(adapter: Adapter) -> tuple[str, ...]:
    """The block modules to record: the eight roles, with GPT-2's fused "qkv" in place of query, key and value."""
    return ("qkv", *ROLES[3:]) if "qkv" in adapter.parts else ROLES


def _split_qkv(part: Part) -> dict[str, Part]:
    """A fused q | k | v projection (GPT-2's c_attn, y = W x + b with W [3D, D]) as its three Linears."""
    assert part.weight is not None
    ys, ws = part.y.chunk(3, dim=-1), part.weight.chunk(3, dim=0)
    wxs = part.wx.chunk(3, dim=-1) if part.wx is not None else (None, None, None)
    return {role: Part(part.x, y, w, wx) for role, y, w, wx in zip(ROLES[:3], ys, ws, wxs)}


def _at(part: Part, j: int) -> Part:
    """A head Part applied to every token, kept at token j (a decoder's head reads one position)."""
    return Part(part.x[j], part.y[j], part.weight, None if part.wx is None else part.wx[j])


def record(model: nn.Module, adapter: Adapter, model_inputs: dict[str, torch.Tensor], prepared: Any,
           dtype: torch.dtype, with_pixels: bool = False, position: int | None = None) -> Recording:
    """Run one forward of ``model_inputs`` (a batch of one) with read-only forward hooks; remove them in finally.

    A float16/bfloat16 model is recorded in float32 (``dtype``) on upcast copies of its weights, so the relevance
    pass, whose quotients of small relevances underflow in half precision, computes what the same weights give in
    float32; ``Recording.attention`` then holds that forward's attention. position: a decoder's explained
    position (its head's input and logits are kept there)."""
    if adapter.lrp_unsupported:
        raise LRPStructureError(adapter.lrp_unsupported)
    blocks = adapter.get_blocks(model)
    roles = _roles(adapter)
    calls: dict[tuple, list] = {}
    targets: list[tuple[tuple, nn.Module]] = []
    for b, block in enumerate(blocks):
        targets += [((b, role), adapter.get_part(block, role)) for role in roles]
    for role, paths in adapter.head.items():
        module = _optional(model, paths)
        if module is not None:
            targets.append((("head", role), module))
    final_norm = _optional(adapter.get_base(model), adapter.final_norm) if adapter.final_norm else None
    if final_norm is not None:
        targets.append((("final_norm",), final_norm))
    embedding = adapter.get_input_embedding(model) if with_pixels else None
    if embedding is not None:
        targets.append((("embedding",), embedding))

    def keep(key: tuple):
        def hook(_module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            calls.setdefault(key, []).append((inputs[0].detach(), out.detach()))

        return hook

    upcast = _low_precision(model) and dtype in (torch.float32, torch.float64)
    handles = []
    with prepared():
        try:
            for key, module in targets:
                handles.append(module.register_forward_hook(keep(key)))
            with torch.no_grad():
                out = _forward(model, model_inputs, upcast, adapter.causal)
        finally:
            for handle in handles:
                handle.remove()

    def get(key: tuple, module: nn.Module) -> Part:
        if key not in calls:
            raise LRPStructureError(f"{type(module).__name__} at {key} did not run in the forward pass; the adapter "
                                    f"({adapter.adapter_file}) does not match this model")
        x, y = _join(calls[key], dtype)
        if not (isinstance(module, nn.Linear) or is_conv1d(module)):
            return Part(x, y)
        wx = None
        if calls[key][0][1].dtype == dtype:
            bias = getattr(module, "bias", None)
            wx = y if bias is None else y - bias.detach().to(dtype)
        return Part(x, y, linear_weight(module).detach().to(dtype), wx)

    parts = [{role: get((b, role), adapter.get_part(block, role)) for role in roles} for b, block in enumerate(blocks)]
    if "qkv" in roles:
        parts = [{**_split_qkv(p.pop("qkv")), **p} for p in parts]
    head = {key[1]: get(key, module) for key, module in targets if key[0] == "head"}
    logits = _squeeze(out.logits, dtype)
    head_token = None
    if adapter.causal:  # the head ran on every token; the explained output reads one position
        head_token = parts[0]["query"].x.shape[0] - 1 if position is None else position
        head = {name: _at(part, head_token) for name, part in head.items()}
        logits = logits[head_token] if logits.dim() == 2 else logits
    if "classifier" not in head or head["classifier"].weight is None:
        raise LRPStructureError(f"{type(model).__name__}: no Linear classifier found at {adapter.head}")
    if final_norm is not None:
        final = get(("final_norm",), final_norm).y
    elif adapter.layout == "post_ln":
        final = parts[-1]["ln2"].y
    else:
        final = parts[-1]["ln2"].x + parts[-1]["ffn_out"].y
    rec = Recording(adapter.layout, parts, head, final, logits, head_token=head_token)
    if upcast:  # the pass must use the attention of the float32 forward it recorded, not the half-precision one
        rec.attention = torch.stack([_squeeze(a, dtype) for a in out.attentions])
    if embedding is not None:
        pixels, patches = calls[("embedding",)][-1]
        if patches.dim() == 4:  # [1, D, h, w] patch map (older releases)
            patches = patches.flatten(2).transpose(1, 2)
        rec.pixels, rec.patches = _squeeze(pixels, dtype), _squeeze(patches, dtype)
        convs = [m for m in embedding.modules() if isinstance(m, nn.Conv2d)]
        if len(convs) != 1:
            raise LRPStructureError(f"expected one Conv2d in the patch embedding, found {len(convs)}")
        rec.conv = convs[0]
    return rec


# ---------------------------------------------------------------------------------------------------- the pass
def _linear(part: Part, R: torch.Tensor, rules: str) -> torch.Tensor:
    if part.weight is None:
        raise LRPStructureError(f"expected a Linear layer, recorded a module with input {list(part.x.shape)}")
    return rules_.linear(part.x, part.weight, R, rules, part.wx)


def _per_head(t: torch.Tensor, heads: int) -> torch.Tensor:
    """[N, H·Dh] -> [H, N, Dh]."""
    return t.view(t.shape[0], heads, -1).transpose(0, 1)


def _merge_heads(t: torch.Tensor) -> torch.Tensor:
    """[H, N, Dh] -> [N, H·Dh]."""
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def attention_relevance(p: dict[str, Part], A: torch.Tensor, R_out: torch.Tensor, rules: str,
                        stop: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Relevance through attn_out(A·V) with V, Q, K from the value/query/key Linears of the same input.

    A [H, N, N], R_out [N, D] (relevance of attn_out's output) -> (relevance of the attention input [N, D], or None
    with stop=True, and R(A) [H, N, N]). Softmax is the identity, so R(Q·Kᵀ) = R(A)."""
    H, N, _ = A.shape
    R_ctx = _per_head(_linear(p["attn_out"], R_out, rules), H)  # [H, N, Dh]
    V = _per_head(p["value"].y, H)
    R_A, R_V = rules_.matmul(A, V, R_ctx)
    if stop:
        return None, R_A
    Q, K = _per_head(p["query"].y, H), _per_head(p["key"].y, H)
    R_Q, R_Kt = rules_.matmul(Q, K.transpose(-1, -2), R_A)
    R_in = rules_.clone(
        _linear(p["query"], _merge_heads(R_Q), rules),
        _linear(p["key"], _merge_heads(R_Kt.transpose(-1, -2)), rules),
        _linear(p["value"], _merge_heads(R_V), rules),
    )
    return R_in, R_A


def block_relevance(p: dict[str, Part], A: torch.Tensor, R_out: torch.Tensor, layout: str, rules: str,
                    stop: bool = False) -> tuple[torch.Tensor | None, torch.Tensor]:
    """One block, output relevance R_out [N, D] -> (input relevance [N, D] or None with stop=True, R(A) [H, N, N]).

    LayerNorm, GELU and Dropout are the identity; each residual is an Add whose skip operand is a Clone."""
    if layout == "post_ln":
        x, x1 = p["query"].x, p["ffn_in"].x  # block input; LN1 output
    elif layout == "pre_ln":
        x, x1 = p["ln1"].x, p["ln2"].x  # block input; x + attention
    else:
        raise ValueError(f"unknown block layout {layout!r}")
    R_skip1, R_f = rules_.add(x1, p["ffn_out"].y, R_out, rules)
    R_g = _linear(p["ffn_out"], R_f, rules)
    R_x1 = rules_.clone(R_skip1, _linear(p["ffn_in"], R_g, rules))
    R_skip0, R_o = rules_.add(x, p["attn_out"].y, R_x1, rules)
    R_attn, R_A = attention_relevance(p, A, R_o, rules, stop)
    return (None if R_attn is None else rules_.clone(R_skip0, R_attn)), R_A


# The token each head module reads (CLS pooling is an index select): [CLS] = 0; DeiT's distillation head reads 1.
_HEAD_TOKEN = {"distillation_classifier": 1}


def _token_of(final: torch.Tensor, x: torch.Tensor, name: str, head_token: int | None = None) -> int:
    """The pooled token of head module ``name``, checked against the recorded input (tokens may be equal, as the
    zero-initialised [CLS] and [DIST] of an untrained DeiT, so the index comes from the head, not from values).
    head_token: a decoder's explained position."""
    j = _HEAD_TOKEN.get(name, 0) if head_token is None else head_token
    if (final[j] - x).abs().max() > 1e-4 * (1 + x.abs().max()):
        raise LRPStructureError(f"the head's {name} input is not the final hidden state of token {j}: attnviz "
                                "expects the classifier to read one token ([CLS] pooling)")
    return j


def head_relevance(rec: Recording, seed_R: torch.Tensor, rules: str) -> torch.Tensor:
    """Logit relevance [C] -> relevance of the final hidden states [N, D] (zero except the pooled tokens).

    The pooler/pre-classifier and the classifier are Linears (Tanh/ReLU/Dropout between them are the identity);
    DeiT with a teacher averages two heads, logits = (c + d)/2: an Add of c/2 and d/2, so each head gets its share
    of the averaged logit."""
    h = rec.head
    R_final = torch.zeros_like(rec.final)
    if "distillation_classifier" in h:
        shares = rules_.add(h["classifier"].y / 2, h["distillation_classifier"].y / 2, seed_R, rules)
        chains = [(["classifier"], shares[0]), (["distillation_classifier"], shares[1])]
    else:
        chains = [(["classifier", "pooler"] if "pooler" in h else ["classifier"], seed_R)]
    for names, R in chains:
        for name in names:
            R = _linear(h[name], R, rules)
        j = _token_of(rec.final, h[names[-1]].x, names[-1], rec.head_token)
        R_final[j] += R
    return R_final


def relevance_pass(rec: Recording, A: torch.Tensor, target: Any, rules: str = "chefer", seed: str = "onehot",
                   to_input: bool = False, num_prefix_tokens: int = 0, division: str | None = None) -> RelevancePass:
    """Relevance from the logit of ``target`` down to every block's attention (and to the input with to_input).

    A [B, H, N, N] the captured attention. seed="onehot" starts from R = onehot(t) (Chefer's released code);
    seed="logit" from onehot(t)·y_t (METHODS.md). Without to_input the pass stops at block 0's attention.
    division: the stabilised division of every rule, "authors" (Chefer's released ``safe_divide``, the default)
    or "clamp" (``lrp_rules.safe_divide``); None keeps the current ``lrp_rules.division_mode``."""
    with rules_.division_mode(division or rules_.current_division()):
        return _relevance_pass(rec, A, target, rules, seed, to_input, num_prefix_tokens)


def _relevance_pass(rec: Recording, A: torch.Tensor, target: Any, rules: str, seed: str, to_input: bool,
                    num_prefix_tokens: int) -> RelevancePass:
    if rules not in rules_.RULE_SETS:
        raise ValueError(f"rules must be one of {rules_.RULE_SETS}, got {rules!r}")
    if seed not in SEEDS:
        raise ValueError(f"seed must be one of {SEEDS}, got {seed!r}")
    B, H, N, _ = A.shape
    if len(rec.blocks) != B or rec.final.shape[0] != N or rec.blocks[0]["query"].y.shape[-1] % H:
        raise LRPStructureError(f"recorded {len(rec.blocks)} blocks of {rec.final.shape[0]} tokens with query width "
                                f"{rec.blocks[0]['query'].y.shape[-1]}; the capture has A of shape {list(A.shape)}")
    seed_R = torch.zeros_like(rec.logits)
    for t, sign in ((target[0], 1.0), (target[1], -1.0)) if isinstance(target, tuple) else ((target, 1.0),):
        # a contrastive pair (a, b) explains y_a − y_b: onehot(a) − onehot(b), or with seed="logit" y_a and −y_b
        seed_R[t] = sign * (1.0 if seed == "onehot" else rec.logits[t])
    R = head_relevance(rec, seed_R, rules)
    totals: dict[str, Any] = {"logits": float(seed_R.sum()), "head_input": float(R.sum())}
    R_A = torch.empty_like(A)  # every block is filled below
    block_out = []
    R_in: torch.Tensor | None = R
    for b in range(B - 1, -1, -1):
        assert R_in is not None
        block_out.append(float(R_in.sum()))
        R_in, R_A[b] = block_relevance(rec.blocks[b], A[b], R_in, rec.layout, rules, stop=(b == 0 and not to_input))
    totals["block_output"] = block_out[::-1]
    totals["attention"] = R_A.sum(dim=(1, 2, 3)).tolist()
    result = RelevancePass(target, rules, seed, R_A, totals=totals)
    if R_in is not None:
        totals["block0_input"] = float(R_in.sum())
        result.input, result.pixels = input_relevance(rec, R_in, num_prefix_tokens)
        totals["input"] = float(result.input.sum())
    return result


def input_relevance(rec: Recording, R0: torch.Tensor,
                    num_prefix_tokens: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Relevance at the input of block 0, R0 [N, D] -> (the input-level map [N], the per-pixel map [h, w] or None).

    Text: Σ over the hidden dimension (the embedding output, as Chefer's BERT code). Images: the embedding output is
    cat(prefix tokens, patch embeddings) + position embeddings; the prefix tokens' relevance is dropped (they have no
    pixels), the Add's plain z-rule (elementwise) gives the patch embeddings' share, and z^B on the convolution
    carries it to the pixels: summed over RGB, that is the per-pixel map of Chefer's LRP baseline; summed further
    over each patch's pixels, the per-token map."""
    if rec.pixels is None or rec.patches is None or rec.conv is None:
        return R0.sum(-1), None
    p = num_prefix_tokens
    x0 = rec.blocks[0]["ln1"].x if rec.layout == "pre_ln" else rec.blocks[0]["query"].x
    patches = rec.patches
    if x0.shape[0] != p + patches.shape[0]:
        raise LRPStructureError(f"{x0.shape[0]} tokens at block 0 but {p} prefix tokens and {patches.shape[0]} patches")
    R_patch, _ = rules_.add(patches, x0[p:] - patches, R0[p:], "lrp")
    per_value = rules_.patch_embedding(rec.pixels, rec.conv, R_patch)  # [P, C·k·k]
    C, h, w = rec.pixels.shape
    kernel, stride = tuple(rec.conv.kernel_size), tuple(rec.conv.stride)
    per_pixel = torch.nn.functional.fold(per_value.T[None], (h, w), kernel, stride=stride)[0].sum(0)  # [h, w]
    return torch.cat([R0.new_zeros(p), per_value.sum(-1)]), per_pixel
