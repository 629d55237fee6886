"""``faithfulness(explainer, inputs, methods, preset)``: delete or perturb what each method calls most relevant and
measure how the model's output moves, over a data set, batched, with a progress bar; an interrupt keeps the
instances finished so far.

Per chunk of inputs: one batched capture (``Explainer.explain``, no graph kept), then for every instance and
method the preset's perturbed copies; every copy of the chunk, the unperturbed inputs included (so p_t(x) and
p_t(x̃) come from the same plain forward), is scored in batched plain forwards (``perturb.probabilities``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..engine.progress import progress_bar, warn_skipped
from .distributed import gather, shard
from .localisation import localisation_scores
from .perturb import REPLACEMENTS, Variant, probabilities, target_log_probs
from .presets import PRESETS, Chefer2021, Preset, make_preset
from .protocol import (
    check_inputs,
    check_int,
    check_methods,
    check_options,
    check_positive,
    default_methods,
    explain_chunk,
    explain_input,
    require_classifier,
    resolve_targets,
    show_progress,
)
from .results import FaithfulnessResult


def faithfulness(explainer, inputs: Sequence[Any], methods: Sequence[str] | None = None, preset: str = "attcat2022",
                 target: Any = "predicted", *, labels: Sequence[int] | None = None,
                 masks: Sequence[np.ndarray] | None = None, replace: str | None = None,
                 options: dict[str, dict] | None = None, chunk_size: int = 16, forward_batch: int = 64,
                 progress: bool | None = None, bootstrap: int = 1000, seed: int = 0, distributed: bool = False,
                 **preset_params: Any) -> FaithfulnessResult:
    """Faithfulness of each method's maps over ``inputs``, by one paper's protocol.

    preset: "attcat2022" (AOPC, LOdds), "eraser" (comprehensiveness, sufficiency), "ferret" (AOPC
    comprehensiveness/sufficiency over every k), "dig" (log-odds), "chefer2021" (ViT positive/negative
    perturbation AUC; needs ``labels``), "localisation" (pixel accuracy, mIoU, mAP against ``masks``, one bool
    [h, w] per input: the target's object). ``**preset_params`` override the preset's fields (e.g. ``bins``,
    ``min_tokens``), all recorded in ``result.params``. replace: "delete", "pad", "mask" or "baseline" (text).
    target: "predicted", "label" (the authors' AttCAT protocol, with ``labels``), a class, or one per input.
    options: ``{method: {option: value}}`` passed to ``Explanation.map``. distributed: split the inputs across the
    processes of an ``accelerate launch`` (or torch.distributed) run, each on its own device, and merge the
    results on every process (``evaluate.distributed``).
    -> ``FaithfulnessResult`` (``.table``, ``.per_instance``, ``.curves``, ``.plot()``, ``.figure()``)."""
    check_int("chunk_size", chunk_size)
    check_int("forward_batch", forward_batch)
    _check_targets(explainer, preset)
    items = check_inputs(explainer, inputs)
    names = check_methods(explainer, methods)
    options = check_options(names, options)
    check_int("bootstrap", bootstrap, minimum=0)
    check_int("seed", seed, minimum=0)
    if preset == "localisation":
        return localisation_scores(explainer, items, names, masks, target, labels, options, progress,
                                   bootstrap, seed)
    spec = make_preset(preset, replace=replace, **preset_params)
    _check_preset(explainer, spec, labels)
    if getattr(spec, "mask_special", False) and explainer.modality == "text" and "attcat" in names:
        options.setdefault("attcat", {}).setdefault("mask_special", True)
    targets = resolve_targets(explainer, len(items), target, labels)
    token_ids = _token_ids(explainer)
    params = {**spec.params(), "target": target if isinstance(target, str) else "given", "methods": names,
              "options": options, "bootstrap": bootstrap, "seed": seed, "instances": len(items),
              "chunk_size": chunk_size}
    rows: list[dict] = []
    curve_rows: list[dict] = []
    skipped: list[dict] = []
    mine, world = shard(len(items), distributed)
    params["processes"] = world
    bar = progress_bar(len(mine), show_progress(len(mine), progress), "evaluating")
    partial = False
    try:
        for start in range(0, len(mine), chunk_size):
            chunk = mine[start:start + chunk_size]
            _evaluate_chunk(explainer, spec, items, chunk, targets, labels, names, options, token_ids,
                            forward_batch, rows, curve_rows, skipped)
            bar.update(len(chunk))
    except KeyboardInterrupt:
        partial = True
        done = len({r["instance"] for r in rows})
        warnings.warn(f"interrupted: the result holds the {done} instances finished so far (of {len(items)})",
                      stacklevel=2)
    finally:
        bar.close()
    if world > 1:
        rows, curve_rows, skipped, partial = gather(rows, curve_rows, skipped, partial)
    params["skipped"] = sorted(skipped, key=lambda s: s["instance"])
    warn_skipped(params["skipped"], len(mine), f"preset {spec.name!r}")
    per_instance = pd.DataFrame(rows, columns=["instance", "method", "metric", "value", "target"])
    curves = pd.DataFrame(curve_rows, columns=["instance", "method", "curve", "x", "value"])
    if world > 1:  # the same order as one process gives
        per_instance = per_instance.sort_values("instance", kind="stable").reset_index(drop=True)
        curves = curves.sort_values("instance", kind="stable").reset_index(drop=True)
    return FaithfulnessResult(per_instance=per_instance, curves=curves, params=params, partial=partial)


def _check_targets(explainer, preset: str) -> None:
    """A preset scores either a classifier's class or a language model's next token: a clear error for the wrong
    kind of model, naming the presets that fit."""
    kind = explainer.targets.kind
    spec = PRESETS.get(preset)
    wanted = spec.targets if spec is not None else "class"  # "localisation" and unknown names: classifiers
    if wanted == kind:
        return
    fits = [n for n, p in PRESETS.items() if p.targets == kind and p.modality == explainer.modality]
    model = type(explainer.model).__name__
    use = f"use preset={fits[0]!r}" + (f" (or {', '.join(map(repr, fits[1:]))})" if len(fits) > 1 else "")
    if kind == "next token":
        raise ValueError(f"preset {preset!r} is written for classifiers (it reads a class's probability), and {model} "
                         f"is a language model (its target is the next token): {use}, the next-token perturbation "
                         "test; evaluate.sanity(explainer, texts) and attnviz.patch also work on decoders")
    raise ValueError(f"preset {preset!r} reads a language model's next token, and {model} is a classifier (its "
                     f"target is a class): {use}")


def _check_preset(explainer, spec: Preset, labels) -> None:
    if spec.modality != explainer.modality:
        usable = [n for n, p in PRESETS.items() if p.modality == explainer.modality]
        if explainer.modality == "image":
            usable.append("localisation")
        raise ValueError(f"preset {spec.name!r} measures {spec.modality} models; this explainer is for "
                         f"{explainer.modality}: use {', '.join(usable)}")
    if spec.modality == "text" and spec.replace not in REPLACEMENTS:
        raise ValueError(f"replace must be one of {REPLACEMENTS}, got {spec.replace!r}")
    if isinstance(spec, Chefer2021) and labels is None:
        raise ValueError("preset 'chefer2021' scores top-1 accuracy against the label: pass labels=[...]")


def _token_ids(explainer) -> dict[str, int]:
    proc = explainer.processor
    pad = getattr(proc, "pad_token_id", None)
    mask = getattr(proc, "mask_token_id", None)
    return {"pad": int(pad) if pad is not None else 0, "mask": int(mask) if mask is not None else -1}


def _evaluate_chunk(explainer, spec: Preset, items, chunk, targets, labels, names, options, token_ids,
                    forward_batch, rows, curve_rows, skipped) -> None:
    chunk, explanations = explain_chunk(explainer, items, chunk, targets, skipped)
    jobs: list[tuple[int, Any, str, np.ndarray, slice]] = []
    variants: list[Variant] = []
    originals: dict[int, int] = {}
    for i, e in zip(chunk, explanations):
        reason = spec.skip(e)
        if reason:
            skipped.append({"instance": i, "reason": f"input {i}: {reason}"})
            continue
        if spec.replace == "mask" and token_ids["mask"] < 0:
            raise ValueError("replace='mask' needs a tokenizer with a [MASK] token")
        originals[i] = len(variants)
        variants.append(spec.original(e))
        for method in names:
            values = e.map(method, target=e.target, **options.get(method, {}))
            vs = spec.variants(e, values, e.target, token_ids)
            jobs.append((i, e, method, values, slice(len(variants), len(variants) + len(vs))))
            variants.extend(vs)
    if not variants:
        return
    if spec.targets == "next token":  # log p_t at each copy's last token
        goals = [None] * len(variants)
        for i, e in zip(chunk, explanations):
            if i in originals:
                goals[originals[i]] = e.explained_target
        for _, e, _, _, where in jobs:
            goals[where] = [e.explained_target] * (where.stop - where.start)
        scores = target_log_probs(explainer, variants, goals, forward_batch, baseline_token=token_ids["pad"])
        for i, e, method, values, where in jobs:
            _keep(rows, curve_rows, spec, i, e, method, values, float(scores[originals[i]]), scores[where])
        return
    probs = probabilities(explainer, variants, forward_batch, baseline_token=token_ids["pad"])
    for i, e, method, values, where in jobs:
        if isinstance(spec, Chefer2021):
            label = int(labels[i])  # type: ignore[index]
            p0 = float(np.argmax(probs[originals[i]]) == label)
            scored = (np.argmax(probs[where], axis=1) == label).astype(np.float64)
        else:
            p0 = float(probs[originals[i], e.target])
            scored = probs[where, e.target].astype(np.float64)
        _keep(rows, curve_rows, spec, i, e, method, values, p0, scored)


def _keep(rows, curve_rows, spec: Preset, i: int, e, method: str, values, p0: float, scored: np.ndarray) -> None:
    """One (input, method)'s metrics and curves, scored by the preset."""
    metrics, curves = spec.score(p0, scored, e, values)
    for metric, value in metrics.items():
        rows.append({"instance": i, "method": method, "metric": metric, "value": value, "target": e.target})
    for curve, xs, ys in curves:
        curve_rows.extend({"instance": i, "method": method, "curve": curve, "x": float(x), "value": float(y)}
                          for x, y in zip(xs, ys))


__all__ = ["check_inputs", "check_int", "check_methods", "check_options", "check_positive", "default_methods",
           "explain_chunk", "explain_input", "faithfulness", "require_classifier", "resolve_targets"]
