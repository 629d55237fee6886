"""Gradient family: Attention Grad-CAM, GAE, AttCAT, gradient x input, integrated gradients.

All are class-specific: they read d y_t / d (tensor) from ``trace.grads`` (one backward pass per target).
"""

from __future__ import annotations

import torch

from .common import Trace, cls_rows_of_product, head_mean, keep_note, repeat_rows


def attn_gradcam(trace: Trace, heads: torch.Tensor) -> torch.Tensor:
    """Chefer's "GradCAM" baseline on attention, computed per block (row l uses block l; the last row is the method).

    α_h = mean of ∇A[h] (ViT: over the [CLS]-row patch entries; text: over the whole N x N);
    cam = ReLU(mean_h α_h · A[h]), min-max normalised, [CLS] row. Where everything clamps to zero the authors'
    min-max divides 0 by 0: we return zeros and say so in ``explanation.diagnostic("attn_gradcam", target)``. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code.
    """
    A, dA = trace.capture.A, trace.grads.A
    p = trace.num_prefix_tokens
    if trace.modality == "image":
        alpha = dA[:, :, 0, p:].mean(-1)  # [B, H]
        cam = head_mean(alpha[..., None] * A[:, :, 0, p:], heads).clamp(min=0)  # [B, P]
        lo, hi = cam.amin(-1, keepdim=True), cam.amax(-1, keepdim=True)
        row = (cam - lo) / (hi - lo).clamp(min=torch.finfo(cam.dtype).tiny)
        out = torch.cat([row.new_zeros(row.shape[0], p), row], dim=1)
    else:
        alpha = dA.mean(dim=(-1, -2))  # [B, H]
        cam = head_mean(alpha[..., None, None] * A, heads).clamp(min=0)  # [B, N, N]
        lo, hi = cam.amin(dim=(-1, -2))[:, None], cam.amax(dim=(-1, -2))[:, None]
        out = (cam[:, trace.position, :] - lo) / (hi - lo).clamp(min=torch.finfo(cam.dtype).tiny)
    empty = (hi <= lo).view(-1)
    out[empty] = 0
    zero = [int(b) for b in torch.nonzero(empty).view(-1).tolist()]  # a correct answer (no positive evidence),
    keep_note(trace, "attn_gradcam", {  # not an error: said in the diagnostics
        "zero_blocks": zero, "trusted": True,
        "note": f"every value clamps to zero in block(s) {zero} (the authors' min-max would give NaN): zeros"}
        if zero else None)
    return out


def gae(trace: Trace, heads: torch.Tensor) -> torch.Tensor:
    """Chefer et al. (ICCV 2021): R = I; for each block in forward order R <- R + Ā_b R,
    Ā_b = mean_h((∇A^(b) ⊙ A^(b))⁺). No row normalisation. Row l = R after block l, [CLS] row. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    B, _, N, _ = trace.capture.attention_shape
    grads, capture = trace.grads, trace.capture
    Abar = torch.stack([head_mean((grads.block(b) * capture.block(b)).clamp(min=0)[None], heads[b:b + 1])[0]
                        for b in range(B)])  # [B, N, N], block by block (no [B, H, N, N] temporaries)
    M = Abar + torch.eye(N, dtype=Abar.dtype, device=Abar.device)
    return cls_rows_of_product(M, 0, trace.position)  # a decoder: the explained position's row


def attcat_terms(A: torch.Tensor, hidden: torch.Tensor, dhidden: torch.Tensor, heads: torch.Tensor,
                 rows: int | None = None) -> torch.Tensor:
    """AttCAT's per-layer terms T_l[j] = (Σ_d h^(l)_{j,d} · ∂y_t/∂h^(l)_{j,d}) · ā^(l)_j, l = 0..B-1.

    A [B, H, N, N]; hidden, dhidden [B+1, N, D] with h^(l) = hidden_states[l], the INPUT of block l;
    ā^(l)_j = mean_h mean_i A^(l)[h, i, j] (column mean over all query rows). Qiang et al., NeurIPS 2022, eq. 8.
    rows: the query rows averaged (a decoder explained at position p: rows 0..p, the ones its prediction reads;
    None = all). -> [B, N], signed."""
    B = A.shape[0]
    impact = (hidden[:B] * dhidden[:B]).sum(-1)  # [B, N]
    column_mean = head_mean((A if rows is None else A[:, :, :rows]).mean(dim=2), heads)  # [B, N]
    return impact * column_mean


def _masked_special_pass(trace: Trace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The AttCAT authors' explanation pass: [CLS]/[SEP] masked out of the attention mask (not the prediction)."""
    from ..capture import capture_forward, capture_gradients
    from .common import compute_dtype

    ctx = trace.context
    inputs = dict(ctx.model_inputs)
    mask = inputs["attention_mask"].clone()
    mask[0, torch.as_tensor(ctx.sample.special, device=mask.device)] = 0
    with ctx.prepared():
        forward = capture_forward(ctx.model, ctx.adapter, {**inputs, "attention_mask": mask})
    grads = capture_gradients(forward, [trace.target], False, attention=False)
    stack = lambda xs: compute_dtype(torch.stack([x[0] for x in xs]).detach())  # noqa: E731
    return stack(forward.attentions), stack(forward.hidden), stack(grads.hidden)


def _rows(trace: Trace) -> int | None:
    """A decoder's query rows up to the explained position (later rows play no part in its prediction)."""
    return trace.position + 1 if trace.causal else None


def attcat(trace: Trace, heads: torch.Tensor, per_layer: bool = False, mask_special: bool = False) -> torch.Tensor:
    """AttCAT_j = Σ_l T_l[j]. Row l = the running sum over blocks 0..l (per_layer=True: block l's own term).
    Signed, no clamp, no normalisation. mask_special=True (text): the authors' evaluation protocol, which masks
    [CLS]/[SEP] in the attention mask of the explanation pass (one more forward+backward). [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    if mask_special:
        if trace.modality != "text":
            raise ValueError("mask_special applies to text models")
        terms = attcat_terms(*_masked_special_pass(trace), heads, rows=_rows(trace))
    else:
        terms = attcat_terms(trace.capture.A, trace.capture.hidden, trace.grads.hidden, heads, rows=_rows(trace))
    return terms if per_layer else terms.cumsum(0)


def grad_input(trace: Trace, heads: torch.Tensor) -> torch.Tensor:
    """Σ_d e_{j,d} · ∂y_t/∂e_{j,d} on the input (word-piece or patch) embeddings. Same map at every row. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    return repeat_rows((trace.capture.emb * trace.grads.emb).sum(-1), trace.num_blocks)


def integrated_gradients(trace: Trace, heads: torch.Tensor, n_steps: int = 50,
                         internal_batch_size: int | None = None) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017) on the input embedding layer, via captum's
    LayerIntegratedGradients. Baseline: text = the input with every non-special token replaced by [PAD];
    image = an all-zero normalised image. Completeness: Σ_j map_j ≈ y_t(x) − y_t(baseline); captum's
    convergence delta is in ``explanation.diagnostic("integrated_gradients", target)``. Same map at every row. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    from captum.attr import LayerIntegratedGradients

    from ..capture import cast_inputs

    ctx = trace.context
    model, adapter, inputs = ctx.model, ctx.adapter, ctx.model_inputs
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    main_key = "input_ids" if trace.modality == "text" else "pixel_values"
    inputs = cast_inputs(model, inputs)
    main = inputs[main_key]
    others = {k: v for k, v in inputs.items() if k != main_key}
    positions = adapter.position_ids(model, main.shape[1], main.device)
    if positions is not None and "position_ids" not in others:
        # Fix the input's positions so the [PAD] baseline does not shift them (RoBERTa skips [PAD] ids).
        others["position_ids"] = positions
    if trace.modality == "text":
        pad_id = ctx.pad_token_id
        baseline = torch.where(torch.as_tensor(ctx.sample.special, device=main.device)[None], main,
                               torch.full_like(main, pad_id))
    else:
        baseline = torch.zeros_like(main)

    def forward(x, *extra):
        # the explained score per batch row [b]: the class logit, or the next-token score at the explained row
        return trace.target.score(model(**{main_key: x, **dict(zip(others, extra))}).logits)

    layer = adapter.get_input_embedding(model)
    lig = LayerIntegratedGradients(forward, layer)
    with ctx.prepared(eager=False):  # IG needs no attention probabilities: keep the model's fast attention
        attributions, delta = lig.attribute(main, baselines=baseline, target=None,
                                            n_steps=n_steps,
                                            additional_forward_args=tuple(others.values()),
                                            internal_batch_size=internal_batch_size or n_steps,
                                            return_convergence_delta=True)
    if attributions.dim() == 4:  # patch map [1, D, h, w]
        attributions = attributions.flatten(2).transpose(1, 2)
    scores = attributions[0].sum(-1).float()
    if trace.num_prefix_tokens:
        scores = torch.cat([scores.new_zeros(trace.num_prefix_tokens), scores])
    keep_note(trace, "integrated_gradients", {"convergence_delta": float(delta.abs().max()), "n_steps": n_steps,
                                              "trusted": True, "note": ""}, {"n_steps": n_steps})
    return repeat_rows(scores.to(trace.capture.attention_device), trace.num_blocks)
