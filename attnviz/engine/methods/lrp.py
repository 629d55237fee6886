"""LRP family: Chefer et al. (CVPR 2021) transformer attribution, the full-LRP baseline and partial LRP.

All three read the relevance R(A^(b)) that one LRP pass (``lrp_pass``) carries from the target's logit down to
every block's attention. The pass runs once per (target, rule set, seed) and is kept in
``explanation.diagnostics["lrp"][(target, rules, seed)]`` (``.attention`` [B, H, N, N], ``.input`` [N], and
``.totals``, the total relevance at each stage, to read conservation off), so the head mask, the layer slider and
the options act on the cached R(A) without another pass.

Defaults reproduce the authors' released code (hila-chefer/Transformer-Explainability) where it differs from the
paper, and the paper's variant is an option:

- ``chefer`` text (BERT_explainability ``generate_LRP``): ``start_layer="last"`` (their ``start_layer=11`` for
  12-block BERT: the last block's Ā alone; row l of the layer slider shows block l's own), rows normalised
  ``(I + Ā)/rowsum``, ``cls_entry="min"`` (entry 0 set to the row's minimum, as METHODS.md; one release of the
  code sets it to 0: ``cls_entry="zero"``). The paper's eq. 13 multiplies all blocks: ``start_layer=0,
  cls_entry="keep"``.
- ``chefer`` images (baselines/ViT: ``generate_LRP(start_layer=1, method="transformer_attribution")`` in the
  segmentation and perturbation scripts, map = ``rollout[:, 0, 1:]``): ``start_layer=1``, ``I + Ā`` without
  normalisation, the map over all N tokens with the prefix entries ([CLS]; DeiT: [CLS] and [DIST]) set to 0
  (``cls_entry="zero"``). The paper: ``start_layer=0``.
- ``lrp_full``: the "lrp" rules (METHODS.md; ``ViT_orig_LRP`` / ``layers_lrp.py``), ``cls_entry="zero"`` as
  the BERT ``generate_full_lrp``. ``lrp_partial``: ``rules="lrp"`` as the ViT baseline (``method="last_layer"``
  of ``ViT_orig_LRP``), ``rules="chefer"`` as the BERT ``generate_LRP_last_layer``; [CLS] entry zeroed in both.
- Every division in the rules is the released ``safe_divide`` (den = b + 1e-9, ``division="authors"``);
  ``division="clamp"`` keeps |den| >= 1e-9 instead (``lrp_rules.safe_divide``).
- Every method starts from R = onehot(t) (``seed="onehot"``, all the released generators); ``seed="logit"``
  starts from onehot(t)·y_t as METHODS.md writes it. The maps add Ā to I, so the seed's scale changes them.
"""

from __future__ import annotations

import warnings

import torch

from .attnlrp import AttnLRPPass, attnlrp_pass
from .common import Trace, cls_rows_of_product, head_mean, keep_note, repeat_rows
from .lrp_pass import SEEDS, RelevancePass, record, relevance_pass
from .lrp_rules import DIVISIONS, RULE_SETS

CLS_ENTRIES = ("min", "zero", "keep")


class PassCache(dict):
    """(target, rules, seed) -> RelevancePass for one explanation; a short repr, the tensors stay out of sight."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k}: {v!r}" for k, v in self.items()) + "}"


def relevance(trace: Trace, rules: str = "chefer", seed: str = "onehot", to_input: bool = False,
              division: str = "authors") -> RelevancePass | AttnLRPPass:
    """The LRP pass for the trace's target, run once per (target, rules, seed, division) and cached on the
    explanation. A float16/bfloat16 model's pass runs in float32 on upcast weights (``lrp_pass.record``)."""
    if rules not in RULE_SETS:
        raise ValueError(f"rules must be one of {RULE_SETS}, got {rules!r}")
    if seed not in SEEDS:
        raise ValueError(f"seed must be one of {SEEDS}, got {seed!r}")
    if division not in DIVISIONS:
        raise ValueError(f"division must be one of {DIVISIONS}, got {division!r}")
    ctx = trace.context
    cache = ctx.diagnostics.setdefault("lrp", PassCache())
    t = trace.target.key
    key = (t, rules, seed) if division == "authors" else (t, rules, seed, division)
    if trace.causal:
        key = (*key, "position", trace.position)
    if ctx.adapter.lrp_rules == "attnlrp":  # the Llama family: Chefer's R(A) and the input from AttnLRP's pass
        if division != "authors":
            raise ValueError(f"division={division!r} chooses the stabiliser of Chefer's LRP pass; the "
                             f"{ctx.adapter.family} family's LRP methods read AttnLRP's pass, which has none")
        return attnlrp_relevance(trace, seed)
    hit = cache.get(key)
    if hit is None or (to_input and hit.input is None):
        A = trace.capture.A
        if ctx.adapter.lrp_unsupported:
            raise NotImplementedError(ctx.adapter.lrp_unsupported)
        if any(p.device.type == "meta" for p in ctx.model.parameters()):
            raise NotImplementedError("Chefer's LRP pass reads the model's weights after its forward, and accelerate's "
                                      "offload (device_map with CPU or disk offload) has put them back on 'meta' by "
                                      "then: load this model without offload for chefer, lrp_full and lrp_partial, "
                                      "or use attnlrp, which works under offload")
        rec = record(ctx.model, ctx.adapter, ctx.model_inputs, ctx.prepared, A.dtype,
                     with_pixels=to_input and trace.modality == "image",
                     position=trace.position if trace.causal else None)
        A = rec.attention if rec.attention is not None else A
        hit = relevance_pass(rec, A, t, rules, seed, to_input, trace.num_prefix_tokens, division)
        cache[key] = hit
    return hit


def attnlrp_relevance(trace: Trace, seed: str = "logit", attention: bool = True) -> AttnLRPPass:
    """The AttnLRP pass for the trace's target (``attnlrp.attnlrp_pass``), run once per (target, seed) and cached
    on the explanation beside the LRP passes. attention=False: a pass without the attention relevance will do
    (the ``attnlrp`` map); a later reader of ``.attention`` (chefer, lrp_partial) runs the pass again with it."""
    ctx = trace.context
    cache = ctx.diagnostics.setdefault("lrp", PassCache())
    key = (trace.target.key, "attnlrp", seed, "position", trace.position)
    hit = cache.get(key)
    if hit is None or (attention and hit.attention is None):  # ctx.model checks the model is live and unchanged
        cache[key] = attnlrp_pass(ctx.model, ctx.adapter, ctx.model_inputs, trace.target, seed, attention)
    return cache[key]


def attnlrp(trace: Trace, heads: torch.Tensor, seed: str = "logit") -> torch.Tensor:
    """AttnLRP (Achtibat et al., ICML 2024) on a decoder: R_i = Σ_d e[i, d] · ∂̃s/∂e[i, d], the token embedding
    times the gradient under AttnLRP's rules (``attnlrp.py``: identity rule for activations and norm divisors, the
    uniform rule for products and attention, exact Jacobians elsewhere), as lxt 2.1 computes it. seed="logit"
    (lxt's: the map sums to about the logit) or "onehot" (sums to about 1). Signed; the same map at every row.
    [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the reference library."""
    p = attnlrp_relevance(trace, seed, attention=False)
    _record(trace, "attnlrp", p, {"seed": seed})
    return repeat_rows(p.input.to(trace.capture.attention_device), trace.num_blocks)


#: A map whose relevance, at some stage of the pass, sums to more than this many times the seeded value (or changes
#: sign by the input) is flagged: its values are not shares of the logit.
CONSERVATION_LIMIT = 10.0


def conservation(p: RelevancePass | AttnLRPPass) -> dict:
    """How well one pass kept the relevance it started with: the seeded total s on the logit (1 for onehot; 0 for a
    contrastive pair) against the total at the head's input, at each block's output and at the input.

    Returns {"seed", "stages": {name: total}, "worst": max_stage |total| / scale (scale = |s|, or 2 for a pair),
    "trusted": worst <= CONSERVATION_LIMIT and the input's sign is the seed's, "note": "" or what is wrong, "rules"}.
    An AttnLRP pass (``rules == "attnlrp"``) does not conserve by design: only the runaway total is flagged."""
    t = p.totals
    seed = float(t["logits"])
    pair = isinstance(p.target, tuple)
    scale = 2.0 if pair else max(abs(seed), 1e-12)
    stages = {"head input": float(t["head_input"])}
    stages.update({f"block {b} output": float(v) for b, v in enumerate(t.get("block_output", []))})
    if "input" in t:
        stages["input"] = float(t["input"])
    worst = max(abs(v) for v in stages.values()) / scale
    last_name, last = list(stages.items())[-1] if "input" not in stages else ("input", stages["input"])
    if p.rules == "attnlrp":  # not conserved by design (softmax, biases): only a runaway total is flagged
        trusted = worst <= CONSERVATION_LIMIT
        note = "" if trusted else (f"AttnLRP's relevance started at {seed:.3g} on the logit and grew to {worst:.3g}x "
                                   f"inside the pass (the {last_name} holds {last:.4g}): these values are not shares "
                                   "of the logit")
        return {"seed": seed, "stages": stages, "worst": worst, "trusted": trusted, "note": note, "rules": p.rules}
    flipped = not pair and seed != 0 and last * seed < 0
    trusted = worst <= CONSERVATION_LIMIT and not flipped
    note = ""
    if not trusted:
        note = (f"relevance started at {seed:.3g} on the logit but sums to {last:.4g} at the {last_name}"
                f"{' (its sign flipped)' if flipped else ''}, up to {worst:.3g}x the seed inside the pass: the "
                f"{p.rules!r} rules do not conserve it (the plain z-rule on the residual sums divides by near-zero "
                "sums), so these values are not shares of the logit; rules='chefer' conserves it")
    return {"seed": seed, "stages": stages, "worst": worst, "trusted": trusted, "note": note, "rules": p.rules}


def _record(trace: Trace, method: str, p: RelevancePass | AttnLRPPass, options: dict) -> None:
    """Keep ``conservation(p)`` per (method, target) in the explanation's diagnostics; warn once when flagged."""
    report = conservation(p)
    keep_note(trace, method, report, options)
    warned = trace.context.warned
    key = (method, trace.target.key, tuple(sorted(options.items())))
    if not report["trusted"] and key not in warned:
        warned.add(key)
        # one fixed text, so Python's default filter shows it once per call site, not once per input of an
        # evaluation; the numbers are in e.diagnostic(method) and the views' note
        warnings.warn(f"{method}: the relevance is not conserved (it leaves 10x the seed on the logit, or its sign "
                      f"flips): these values are not shares of the logit; e.diagnostic({method!r}) has the totals, "
                      "and rules='chefer' conserves it", stacklevel=4)


def _prefix(trace: Trace) -> int:
    """Entries the ``cls_entry`` option acts on: [CLS] (text) or the prefix tokens (ViT: [CLS]; DeiT: + [DIST]); a
    decoder has no [CLS] (its first token is a word or <s>), so none."""
    if trace.causal:
        return 0
    return trace.num_prefix_tokens if trace.modality == "image" else 1


def _set_cls_entry(rows: torch.Tensor, cls_entry: str, prefix: int) -> torch.Tensor:
    """rows [B, N]: "min" sets the prefix entries to the row's minimum (Chefer's BERT code), "zero" to 0, "keep"
    leaves them."""
    if cls_entry not in CLS_ENTRIES:
        raise ValueError(f"cls_entry must be one of {CLS_ENTRIES}, got {cls_entry!r}")
    if cls_entry == "min":
        rows[:, :prefix] = rows.amin(-1, keepdim=True)
    elif cls_entry == "zero":
        rows[:, :prefix] = 0
    return rows


def chefer(trace: Trace, heads: torch.Tensor, start_layer: int | str | None = None, cls_entry: str | None = None,
           normalize: bool | None = None, seed: str = "onehot", division: str = "authors") -> torch.Tensor:
    """Chefer, Gur & Wolf (CVPR 2021), eqs. 10-13: Ā_b = mean_h((∇A^(b) ⊙ R(A^(b)))⁺) over the selected heads,
    M_b = I + Ā_b (rows normalised when ``normalize``), C = M_l ⋯ M_s (later blocks on the left), map = C[0, :].

    Row l is C through block l. start_layer: s, or "last" (text default) for M_l alone at row l, so the last row is
    the released BERT code's start_layer = B − 1. None picks the authors' defaults (module docstring). [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    B = trace.num_blocks
    image = trace.modality == "image"
    if start_layer is None:
        start_layer = min(1, B - 1) if image else "last"
    if start_layer != "last" and not (isinstance(start_layer, int) and 0 <= start_layer < B):
        raise ValueError(f"start_layer must be 'last' or a block index in [0, {B - 1}], got {start_layer!r}")
    rel = relevance(trace, "chefer", seed, division=division)
    _record(trace, "chefer", rel, {"seed": seed, "division": division})
    R_A, dA = rel.attention, trace.grads.A
    assert R_A is not None  # relevance() takes the attention relevance
    p = trace.position  # [CLS] = 0; a decoder: the explained position
    if not isinstance(start_layer, int):  # "last": each row needs only row p of its own block's M
        R_A, dA = R_A[:, :, p:p + 1], dA[:, :, p:p + 1]
    M = head_mean((dA * R_A).clamp_(min=0), heads)  # Ā: [B, N, N], or its row p [B, 1, N] for "last"
    if isinstance(start_layer, int):
        M.diagonal(dim1=-2, dim2=-1).add_(1)  # M = Ā + I
    else:
        M[:, 0, p] += 1  # row p of Ā + I
    if (not image) if normalize is None else normalize:
        M = M / M.sum(-1, keepdim=True)
    rows = cls_rows_of_product(M, start_layer, p) if isinstance(start_layer, int) else M[:, 0, :]
    return _set_cls_entry(rows, cls_entry or ("zero" if image else "min"), _prefix(trace))


def lrp_full(trace: Trace, heads: torch.Tensor, seed: str = "onehot", cls_entry: str = "zero",
             division: str = "authors", rules: str = "lrp") -> torch.Tensor:
    """The "LRP" baseline (Chefer et al. 2021, tables; Bach et al. 2015): the pass with the "lrp" rules (Linear
    normalising positive and negative parts separately, Add the plain z-rule) carried to the input. Text: Σ over
    the hidden dimension at the embedding output; images: z^B on the patch embedding, Σ over RGB and each patch's
    pixels. cls_entry="zero" as Chefer's BERT ``generate_full_lrp`` (images: the prefix tokens have no pixels).
    Signed; the same map at every row. [B, N].

    rules="chefer": the conservative variant (Linear by the z⁺ rule, alpha = 1 and beta = 0 with one joint
    normaliser; Add with Chefer's rescaling), whose relevance sums to the seed at every stage. The authors' "lrp"
    rules are the default, as their code; where their sum leaves 10x the seed, ``e.diagnostic("lrp_full")`` and a
    warning say so (``conservation``).

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    p = relevance(trace, rules, seed, to_input=True, division=division)
    _record(trace, "lrp_full", p, {"seed": seed, "division": division, "rules": rules})
    m = p.input
    assert m is not None
    rows = repeat_rows(m, trace.num_blocks)
    return _set_cls_entry(rows, cls_entry, _prefix(trace))


def lrp_partial(trace: Trace, heads: torch.Tensor, rules: str = "lrp", seed: str = "onehot",
                cls_entry: str = "zero", division: str = "authors") -> torch.Tensor:
    """Partial LRP (Voita et al. 2019, as in Chefer's baselines): mean over the selected heads of R(A^(l))⁺, [CLS]
    row. Row l uses block l; the last row (block B) is the method. rules="lrp" as Chefer's ViT baseline
    (``ViT_orig_LRP``, method "last_layer"); rules="chefer" as his BERT ``generate_LRP_last_layer``; both zero the
    [CLS] entry. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    p = relevance(trace, rules, seed, to_input=(rules == "lrp"), division=division)
    _record(trace, "lrp_partial", p, {"seed": seed, "division": division, "rules": rules})
    R_A = p.attention
    assert R_A is not None  # relevance() takes the attention relevance
    rows = head_mean(R_A.clamp(min=0)[:, :, trace.position, :], heads)
    return _set_cls_entry(rows, cls_entry, _prefix(trace))


def explanation_pixel_map(e, method: str, target, options: dict):
    """``Explanation.pixel_map``: the LRP relevance at the input pixels summed over RGB, [h, w] (image explanations,
    ``lrp_full`` only; Chefer et al.'s LRP baseline map), ``options`` already checked. ``map("lrp_full")`` is its
    sum over each patch."""
    from ..method_options import finite_checked
    from .common import compute_dtype

    if e.kind != "image":
        raise ValueError("pixel_map() applies to image explanations")
    if method != "lrp_full":
        raise ValueError(f"pixel_map() is defined for 'lrp_full' (relevance carried to the pixels), not {method!r}")
    seed, division = options.get("seed", "onehot"), options.get("division", "authors")
    with torch.no_grad():
        result = relevance(e._trace(e.resolve(target)), "lrp", seed, to_input=True, division=division)
    assert result.pixels is not None
    return finite_checked(compute_dtype(result.pixels).cpu().numpy(), method)

