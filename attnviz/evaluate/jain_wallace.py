"""Jain & Wallace (2019), "Attention is not Explanation", adapted to Transformers.

Their model has one attention layer over a BiLSTM's states. A Transformer has B blocks of H heads, so the
adaptation says which attention is intervened on (docs/METHODS.md, "Jain & Wallace on Transformers"): by default
the last block's [CLS] row, every head alike (``block=-1, rows="cls"``); ``rows="all"`` intervenes on every query
row, ``block=b`` on another block. The rest of the forward runs unchanged (``engine.intervention``).

- ``agreement``: Kendall τ between a map (raw last layer, rollout, flow; any method) and (a) gradient importance
  with every block's attention detached, (b) leave-one-out importance (the token deleted); the first and last
  tokens excluded; also the top-k Kendall distance, k = max(10, 10% of the mean length).
- ``permutation``: the chosen attention weights permuted over the non-special positions 1..L−2, 100 times; per
  instance the median total variation distance ½Σ|p − p′| and the median mean-over-classes |Δσ|, against the
  instance's max attention (head-mean of the intervened row).
- ``adversarial``: k = 5 candidate distributions for the intervened row, optimised with Adam (500 steps, lr
  0.01) on −JSD(α, α̃) + 500·ReLU(Σ_c|Δσ_c| − ε) − mean pairwise JSD between candidates, from log(uniform) +
  N(0, 3²) logits; candidates whose output change exceeds ``select`` (0.05) are dropped; the max JSD per instance
  (natural log, ≤ ln 2) against max attention. α̃ is one distribution over all N keys, written into every head's
  row; α is the head-mean of the original row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..engine.capture import embedding_leaf
from ..engine.divergence import jensen_shannon
from ..engine.intervention import Intervention
from ..engine.progress import run_each, warn_skipped
from .perturb import Variant, probabilities, target_log_probs, token_variant, wide
from .protocol import (
    check_inputs,
    check_int,
    check_methods,
    check_options,
    check_positive,
    explain_input,
    require_classifier,
    resolve_targets,
    show_progress,
)
from .results import AdversarialResult, AgreementResult, PermutationResult
from .stats import kendall, topk_kendall_distance, total_variation

ROWS = ("cls", "all")


def _check_text(explainer, what: str, language_models: bool = False) -> None:
    if not language_models:
        require_classifier(explainer, what)
    if explainer.modality != "text":
        raise ValueError(f"{what} deletes and permutes tokens: it measures text models, and this explainer is for "
                         f"{explainer.modality}")


def _block(explainer, block: int | None) -> int:
    B = len(explainer.adapter.get_blocks(explainer.model))
    b = B - 1 if block is None else block
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not -B <= b < B:
        raise ValueError(f"block must be a block index in [0, {B - 1}] (or negative from the end), got {block!r}")
    return int(b) % B


def _rows(rows: str) -> str:
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}, got {rows!r}")
    return rows


# ---------------------------------------------------------------------------------------------- agreement
def gradient_importance(explainer, model_inputs: dict[str, torch.Tensor], goal: Any = None) -> np.ndarray:
    """Jain & Wallace's gradient importance for one input (a batch of one): g_j = Σ_c |Σ_d ∂σ_c/∂e_{j,d} · e_{j,d}|
    with every block's attention detached (a constant in the backward pass), normalised to sum 1. [N].

    goal: a ``Target`` read at a position (a language model's next token): the sum runs over its own probability
    only, σ_t at that row (Σ over a vocabulary of tens of thousands would measure every other token)."""

    embedded: list[torch.Tensor] = []
    intervention = Intervention(detach=True, embeddings=embedding_leaf(embedded))
    with torch.enable_grad():
        logits = wide(explainer.forward(model_inputs, intervention, grad=True))
        if goal is not None and goal.position is not None:
            probs = explainer.probabilities(logits[:, goal.position])[:, [goal.index]]  # [1, 1]: σ_t at its row
        else:
            probs = explainer.probabilities(logits)
        emb = embedded[-1]
        total = torch.zeros(emb.shape[1], dtype=torch.float64, device=emb.device)
        for c in range(probs.shape[-1]):
            (grad,) = torch.autograd.grad(probs[0, c], emb, retain_graph=c < probs.shape[-1] - 1)
            total += (grad[0] * emb[0]).sum(-1).abs().double()
    g = total.detach().cpu().numpy()
    return g / g.sum() if g.sum() > 0 else g


def loo_importance(explainer, e: Any, forward_batch: int = 64) -> np.ndarray:
    """Leave-one-out importance [N]: mean over classes |σ(ŷ(x)) − σ(ŷ(x without j))|, token j deleted; 0 at the
    first and last positions (never deleted). A language model's (a target at a position p): |p_t(x) − p_t(x
    without j)| for the context j < p, the text cut after p and p_t read at the last token; 0 elsewhere."""
    N = e.num_tokens
    goal = e.explained_target
    if goal.position is not None:
        kept = {k: v[:, :goal.position + 1] for k, v in e.model_inputs.items()}
        variants = [Variant({k: v[0] for k, v in kept.items()})]
        variants += [token_variant(kept, [j], "delete", {}) for j in range(goal.position)]
        logp = target_log_probs(explainer, variants, [goal.at(None)] * len(variants), forward_batch)
        out = np.zeros(N)
        out[:goal.position] = np.abs(np.exp(logp[1:]) - np.exp(logp[0]))
        return out
    variants = [Variant({k: v[0] for k, v in e.model_inputs.items()})]
    variants += [token_variant(e.model_inputs, [j], "delete", {}) for j in range(1, N - 1)]
    probs = probabilities(explainer, variants, forward_batch)
    out = np.zeros(N)
    out[1:N - 1] = np.abs(probs[1:] - probs[0]).mean(axis=1)
    return out


def agreement(explainer, inputs: Sequence[Any], methods: Sequence[str] = ("last_layer", "rollout", "flow"),
              target: Any = "predicted", *, labels: Sequence[int] | None = None, k: int | None = None,
              options: dict[str, dict] | None = None, forward_batch: int = 64, progress: bool | None = None,
              bootstrap: int = 1000, seed: int = 0) -> AgreementResult:
    """Per instance and method: ``tau_gradient``, ``tau_loo`` (Kendall τ over positions 1..L−2) and
    ``topk_gradient``, ``topk_loo`` (top-k Kendall distance, k = max(10, 10% of the mean length) unless given).
    Text models. A language model's (next-token targets): the gradient importance of the explained token's
    probability alone, leave-one-out over the context before the explained position, and τ over that context."""
    _check_text(explainer, "agreement", language_models=True)
    items = check_inputs(explainer, inputs)
    names = check_methods(explainer, methods)
    options = check_options(names, options)
    if k is not None:
        check_int("k", k)
    check_int("bootstrap", bootstrap, minimum=0)
    targets = resolve_targets(explainer, len(items), target, labels)
    rows: list[dict] = []
    lengths: list[int] = []

    def one(i: int) -> None:
        e = explain_input(explainer, items, i, target=targets[i], keep_graph=False)
        N = e.num_tokens
        lengths.append(N)
        kk = k or max(10, int(round(0.1 * float(np.mean(lengths)))))
        g = gradient_importance(explainer, e.model_inputs, e.explained_target)
        loo = loo_importance(explainer, e, forward_batch)
        p = e.explained_target.position
        inner = slice(1, N - 1) if p is None else slice(0, p)  # a decoder: the context before its position
        for m in names:
            a = e.map(m, target=e.target, **options.get(m, {}))
            for ref_name, ref in (("gradient", g), ("loo", loo)):
                rows.append({"instance": i, "method": m, "metric": f"tau_{ref_name}",
                             "value": kendall(a[inner], ref[inner]), "length": N})
                rows.append({"instance": i, "method": m, "metric": f"topk_{ref_name}",
                             "value": topk_kendall_distance(a[inner], ref[inner], kk), "length": N})

    skipped: list[dict] = []
    partial = run_each(len(items), one, show_progress(len(items), progress), skipped=skipped)
    params = {"experiment": "agreement", "methods": names, "target": target if isinstance(target, str) else "given",
              "k": k or "max(10, 10% of the mean length)",
              "excluded": "first and last tokens (a classifier); the explained position and after (a language model)",
              "gradient": "Σ_c |Σ_d ∂σ_c/∂e · e|, attention detached in every block (a language model: c = the "
                          "explained token)", "loo": "token deleted",
              "bootstrap": bootstrap, "seed": seed, "instances": len(items), "skipped": skipped}
    warn_skipped(skipped, len(items), "agreement()")
    return AgreementResult(per_instance=pd.DataFrame(rows), params=params, partial=partial)


# ---------------------------------------------------------------------------------------------- permutation
def permute_rows(A: torch.Tensor, perm: torch.Tensor, rows: str) -> torch.Tensor:
    """A [b, H, N, N] with the chosen query rows' columns permuted: A'[b, h, r, j] = A[b, h, r, perm[b, j]].

    perm [b, N] (a permutation of 0..N−1 per copy; identity where nothing moves). rows: "cls" (row 0) or "all"."""
    index = perm[:, None, None, :].expand(A.shape[0], A.shape[1], 1 if rows == "cls" else A.shape[2], A.shape[3])
    out = A.clone()
    if rows == "cls":
        out[:, :, :1, :] = torch.gather(A[:, :, :1, :], 3, index)
    else:
        out = torch.gather(A, 3, index)
    return out


def random_permutations(n: int, N: int, rng: np.random.Generator) -> np.ndarray:
    """n permutations [n, N] of 0..N−1 that move only positions 1..N−2 (the first and last tokens stay)."""
    perms = np.tile(np.arange(N), (n, 1))
    for p in perms:
        p[1:N - 1] = rng.permutation(np.arange(1, N - 1))
    return perms


def _intervened_probs(explainer, model_inputs: dict[str, torch.Tensor], block: int, fn, copies: int) -> np.ndarray:
    """Probabilities [copies, C] of ``copies`` copies of one input with block ``block``'s attention A -> fn(A)."""

    batch = {k: v.expand(copies, *v.shape[1:]) for k, v in model_inputs.items()}
    logits = wide(explainer.forward(batch, Intervention(attention={block: fn})))
    probs = explainer.probabilities(logits)
    return probs.cpu().numpy().astype(np.float64)


def permutation(explainer, inputs: Sequence[Any], n_permutations: int = 100, *, block: int | None = None,
                rows: str = "cls", forward_batch: int = 100, seed: int = 0, progress: bool | None = None,
                bootstrap: int = 1000) -> PermutationResult:
    """Jain & Wallace's permutation experiment (module docstring). Per instance: ``median_tvd`` and
    ``median_delta`` over the permutations, and the column ``max_attention``."""
    _check_text(explainer, "permutation")
    items = check_inputs(explainer, inputs)
    b, rows = _block(explainer, block), _rows(rows)
    check_int("n_permutations", n_permutations)
    check_int("forward_batch", forward_batch)
    check_int("bootstrap", bootstrap, minimum=0)
    rng = np.random.default_rng(seed)
    records: list[dict] = []

    def one(i: int) -> None:
        e = explain_input(explainer, items, i, keep_graph=False)
        N = e.num_tokens
        A = e.capture.block(b).mean(0)  # [N, N], head mean
        row = A[0] if rows == "cls" else A
        max_att = float(row[..., 1:N - 1].max()) if N > 2 else float("nan")
        base = _intervened_probs(explainer, e.model_inputs, b, lambda A_: A_, 1)[0]
        perms = torch.as_tensor(random_permutations(n_permutations, N, rng))
        tvd, delta = [], []
        for start in range(0, n_permutations, forward_batch):
            chunk = perms[start:start + forward_batch].to(e.capture.attention_device)
            probs = _intervened_probs(explainer, e.model_inputs, b,
                                      lambda A_, p=chunk: permute_rows(A_, p, rows), len(chunk))
            tvd.extend(total_variation(probs, base[None]).tolist())
            delta.extend(np.abs(probs - base[None]).mean(axis=1).tolist())
        for metric, values in (("median_tvd", tvd), ("median_delta", delta)):
            records.append({"instance": i, "method": "attention", "metric": metric,
                            "value": float(np.median(values)), "max_attention": max_att, "length": N})

    skipped: list[dict] = []
    partial = run_each(len(items), one, show_progress(len(items), progress), skipped=skipped)
    params = {"experiment": "permutation", "block": b, "rows": rows, "heads": "all",
              "n_permutations": n_permutations, "positions": "1..L-2", "seed": seed, "bootstrap": bootstrap,
              "instances": len(items), "skipped": skipped}
    warn_skipped(skipped, len(items), "permutation()")
    return PermutationResult(per_instance=pd.DataFrame(records), params=params, partial=partial)


# ---------------------------------------------------------------------------------------------- adversarial
def adversarial(explainer, inputs: Sequence[Any], *, candidates: int = 5, steps: int = 500, lr: float = 0.01,
                epsilon: float = 0.01, select: float = 0.05, init_std: float = 3.0, penalty: float = 500.0,
                block: int | None = None, seed: int = 0, progress: bool | None = None,
                bootstrap: int = 1000) -> AdversarialResult:
    """Jain & Wallace's adversarial attention (module docstring; the authors' settings are the defaults). Per
    instance: ``max_jsd`` of the kept candidates (NaN when every candidate changed the output by more than
    ``select``), ``kept`` candidates, and the column ``max_attention``."""
    _check_text(explainer, "adversarial")
    items = check_inputs(explainer, inputs)
    b = _block(explainer, block)
    for name, value in (("candidates", candidates), ("steps", steps)):
        check_int(name, value)
    for name, value in (("lr", lr), ("init_std", init_std), ("select", select)):
        check_positive(name, value)
    for name, value in (("epsilon", epsilon), ("penalty", penalty)):
        check_positive(name, value, allow_zero=True)
    check_int("seed", seed, minimum=0)
    check_int("bootstrap", bootstrap, minimum=0)
    gen = torch.Generator().manual_seed(seed)
    records: list[dict] = []

    def one(i: int) -> None:
        e = explain_input(explainer, items, i, keep_graph=False)
        records.extend(_adversarial_one(explainer, e, i, b, candidates, steps, lr, epsilon, select, init_std,
                                        penalty, gen))

    skipped: list[dict] = []
    slow = True if progress is None else bool(progress)  # a bar by default
    partial = run_each(len(items), one, slow, skipped=skipped)
    params = {"experiment": "adversarial", "block": b, "row": "cls", "heads": "all (one distribution)",
              "candidates": candidates, "steps": steps, "lr": lr, "epsilon": epsilon, "select": select,
              "init_std": init_std, "penalty": penalty, "seed": seed, "bootstrap": bootstrap,
              "instances": len(items), "skipped": skipped}
    warn_skipped(skipped, len(items), "adversarial()")
    return AdversarialResult(per_instance=pd.DataFrame(records), params=params, partial=partial)


def _adversarial_one(explainer, e, i, b, k, steps, lr, epsilon, select, init_std, penalty, gen) -> list[dict]:
    from ..engine.capture import cast_inputs

    model = explainer.model
    N = e.num_tokens
    device = e.capture.attention_device
    alpha = e.capture.block(b).mean(0)[0].double()  # [N] original row, head mean
    alpha = alpha / alpha.sum()
    base = torch.as_tensor(_intervened_probs(explainer, e.model_inputs, b, lambda A_: A_, 1)[0], device=device)
    theta = (torch.log(torch.full((k, N), 1.0 / N, dtype=torch.float64))
             + init_std * torch.randn(k, N, generator=gen, dtype=torch.float64)).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([theta], lr=lr)
    batch = cast_inputs(model, {key: v.expand(k, *v.shape[1:]) for key, v in e.model_inputs.items()})
    pairs = [(x, y) for x in range(k) for y in range(x + 1, k)]

    def replace(A_: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        out = A_.clone()
        out[:, :, 0, :] = cand[:, None, :].to(A_.dtype)
        return out

    def run(cand: torch.Tensor) -> torch.Tensor:
        logits = explainer.forward(batch, Intervention(attention={b: lambda A_: replace(A_, cand)}), grad=None)
        logits = logits.double()
        return explainer.probabilities(logits)

    for _ in range(steps):
        with torch.enable_grad():
            cand = torch.softmax(theta, -1)
            change = (run(cand) - base[None]).abs().sum(-1)  # [k]
            spread = torch.stack([jensen_shannon(cand[x], cand[y]) for x, y in pairs]).mean() if pairs else 0.0
            loss = (-jensen_shannon(alpha[None], cand) + penalty * torch.relu(change - epsilon)).sum() - spread
            (grad,) = torch.autograd.grad(loss, theta)
        theta.grad = grad
        optimiser.step()
    with torch.no_grad():
        cand = torch.softmax(theta, -1)
        change = (run(cand) - base[None]).abs().sum(-1).cpu().numpy()
        divergence = jensen_shannon(alpha[None], cand).cpu().numpy()
    kept = change <= select
    max_att = float(alpha[1:N - 1].max()) if N > 2 else float("nan")
    value = float(divergence[kept].max()) if kept.any() else float("nan")
    return [{"instance": i, "method": "attention", "metric": "max_jsd", "value": value, "kept": int(kept.sum()),
             "max_attention": max_att, "length": N}]


__all__ = ["adversarial", "agreement", "gradient_importance", "loo_importance", "permutation", "permute_rows",
           "random_permutations"]
