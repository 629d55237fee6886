"""Two checks of what a map depends on: the class asked about (AttCAT's class-specificity) and the model's weights
(Adebayo et al.'s cascading randomisation).

- ``class_specificity``: Kendall τ between the map for the true class and the map for each other class, averaged
  over the other classes; lower = more class-specific. ``variant="attcat2022"`` reproduces the authors' quirk,
  τ between the two index orders ``argsort(-map)``; the default is τ between the values.
- ``sanity``: the model's weights re-initialised stage by stage from the top (the classifier head, then block
  B−1, B−2, ... 0; ``_init_weights`` of the Hugging Face model, seeded) on a deep copy, so the user's model is not
  touched; per stage the Spearman ρ of each method's map (for the class the original model predicted) with the
  original map. A method whose ρ stays near 1 explains the input, not the model.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ..engine.progress import run_each, warn_skipped
from .protocol import (
    check_inputs,
    check_int,
    check_methods,
    check_options,
    explain_input,
    require_classifier,
    show_progress,
)
from .results import ClassSpecificityResult, SanityResult
from .stats import kendall, kendall_of_orders

VARIANTS = ("plain", "attcat2022")


def class_specificity(explainer, inputs: Sequence[Any], labels: Sequence[int], methods: Sequence[str] | None = None,
                      *, variant: str = "plain", options: dict[str, dict] | None = None,
                      progress: bool | None = None, bootstrap: int = 1000, seed: int = 0) -> ClassSpecificityResult:
    """Per instance and method: metric ``tau`` = mean over the other classes c of τ(map_label, map_c)."""
    from ..engine import methods as registry

    items = check_inputs(explainer, inputs)
    names = check_methods(explainer, methods)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if len(labels) != len(items):
        raise ValueError(f"{len(labels)} labels for {len(items)} inputs")
    require_classifier(explainer, "class_specificity")
    classes = len(explainer.label_names)
    if classes < 2:
        raise ValueError("class-specificity needs a model with at least two classes")
    agnostic = [m for m in names if not registry()[m].class_specific]
    options = check_options(names, options)
    tau = kendall_of_orders if variant == "attcat2022" else kendall
    rows: list[dict] = []

    def one(i: int) -> None:
        t = explainer.check_target(int(labels[i]))
        e = explain_input(explainer, items, i, target=t)
        for m in names:
            own = e.map(m, target=t, **options.get(m, {}))
            others = [tau(own, e.map(m, target=c, **options.get(m, {}))) for c in range(classes) if c != t]
            value = float(np.nanmean(others)) if np.isfinite(others).any() else float("nan")
            rows.append({"instance": i, "method": m, "metric": "tau", "value": value, "target": t})

    skipped: list[dict] = []
    partial = run_each(len(items), one, show_progress(len(items), progress), skipped=skipped)
    params = {"experiment": "class_specificity", "variant": variant, "methods": names, "options": options,
              "class_agnostic_methods": agnostic, "bootstrap": bootstrap, "seed": seed, "instances": len(items),
              "skipped": skipped}
    warn_skipped(skipped, len(items), "class_specificity()")
    return ClassSpecificityResult(per_instance=pd.DataFrame(rows), params=params, partial=partial)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of two maps; NaN when either is constant (undefined: no ranks to correlate), without scipy's
    ConstantInputWarning on stderr (the result says how many were undefined, ``params["undefined"]``)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def randomisation_stages(explainer, model) -> list[tuple[str, list[torch.nn.Module]]]:
    """(name, modules) from the top: the classifier head, then blocks B−1 .. 0 of ``model`` (a copy)."""
    adapter = explainer.adapter
    blocks = adapter.get_blocks(model)
    stages = [(f"block {b}", [blocks[b]]) for b in range(len(blocks) - 1, -1, -1)]
    return [("head", adapter.head_modules(model)), *stages]


def _reinitialise(model, modules: list[torch.nn.Module]) -> None:
    init = getattr(model, "_init_weights", None)
    with torch.no_grad():
        for module in modules:
            for sub in module.modules():
                if callable(init):
                    init(sub)
                elif hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()


def sanity(explainer, inputs: Sequence[Any], methods: Sequence[str] | None = None, *, seed: int = 0,
           options: dict[str, dict] | None = None, progress: bool | None = None,
           bootstrap: int = 1000) -> SanityResult:
    """Cascading randomisation (module docstring). per_instance: metric ``spearman_final`` (every stage
    randomised) per instance and method; curves: curve "spearman", x = stages randomised (0 = the original)."""
    from ..engine import Explainer

    items = check_inputs(explainer, inputs)
    names = check_methods(explainer, methods)
    options = check_options(names, options)
    check_int("seed", seed, minimum=0)
    check_int("bootstrap", bootstrap, minimum=0)
    with torch.no_grad():
        model = copy.deepcopy(explainer.model)  # the user's model is never re-initialised
    shadow = Explainer(model, explainer.processor, batch_size=explainer.batch_size)  # explains the copy each stage
    originals = explainer.explain(items, keep_graph=False, progress=False)
    targets = [e.target for e in originals]
    reference = [{m: e.map(m, **options.get(m, {})) for m in names} for e in originals]
    stages = randomisation_stages(explainer, model)
    # Hugging Face's _init_weights draws from torch's global generator: fork it, so the caller's random state is
    # the same after sanity() as before (and the stages are still seeded)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    curve_rows: list[dict] = []
    for i in range(len(items)):
        for m in names:
            curve_rows.append({"instance": i, "method": m, "curve": "spearman", "x": 0.0, "value": 1.0})

    def stage(k: int) -> None:
        _reinitialise(model, stages[k][1])
        now = shadow.explain(items, target=targets, keep_graph=False, progress=False)
        curve_rows.extend({"instance": i, "method": m, "curve": "spearman", "x": float(k + 1),
                           "value": _spearman(reference[i][m], e.map(m, **options.get(m, {})))}
                          for i, e in enumerate(now) for m in names)  # a whole stage or none of it

    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        partial = run_each(len(stages), stage, show_progress(len(stages), progress), what="randomisation stages")
    done = int(max(row["x"] for row in curve_rows))
    curves = pd.DataFrame(curve_rows)
    last = curves[curves["x"] == curves["x"].max()]
    per_instance = pd.DataFrame({"instance": last["instance"], "method": last["method"], "metric": "spearman_final",
                                 "value": last["value"]})
    params = {"experiment": "sanity", "stages": [s for s, _ in stages][:max(done, 0)], "seed": seed,
              "methods": names, "options": options, "init": "model._init_weights (Hugging Face), seeded",
              "target": "the original model's prediction", "bootstrap": bootstrap, "instances": len(items)}
    undefined = int(curves["value"].isna().sum())
    if undefined:
        params["undefined"] = (f"{undefined} of {len(curves)} Spearman values are NaN: a map was constant (every token "
                               "equal, e.g. clamped to zero after randomisation), where the rank correlation is "
                               "undefined; they are left out of the means")
    return SanityResult(per_instance=per_instance.reset_index(drop=True), curves=curves, params=params,
                        partial=partial)


__all__ = ["class_specificity", "randomisation_stages", "sanity"]
