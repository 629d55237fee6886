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
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from .faithfulness import _bar, check_inputs, check_methods
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
    classes = len(explainer.label_names)
    if classes < 2:
        raise ValueError("class-specificity needs a model with at least two classes")
    agnostic = [m for m in names if not registry()[m].class_specific]
    options = dict(options or {})
    tau = kendall_of_orders if variant == "attcat2022" else kendall
    rows: list[dict] = []
    partial = False
    bar = _bar(len(items), progress)
    try:
        for i, (item, label) in enumerate(zip(items, labels)):
            t = explainer.check_target(int(label))
            e = explainer.explain(item, target=t)
            for m in names:
                own = e.map(m, target=t, **options.get(m, {}))
                others = [tau(own, e.map(m, target=c, **options.get(m, {}))) for c in range(classes) if c != t]
                rows.append({"instance": i, "method": m, "metric": "tau", "value": float(np.nanmean(others))
                             if np.isfinite(others).any() else float("nan"), "target": t})
            bar.update(1)
    except KeyboardInterrupt:
        partial = True
        warnings.warn("interrupted: the result holds the instances finished so far", stacklevel=2)
    finally:
        bar.close()
    params = {"experiment": "class_specificity", "variant": variant, "methods": names, "options": options,
              "class_agnostic_methods": agnostic, "bootstrap": bootstrap, "seed": seed, "instances": len(items)}
    return ClassSpecificityResult(per_instance=pd.DataFrame(rows), params=params, partial=partial)


def randomisation_stages(explainer, model) -> list[tuple[str, list[torch.nn.Module]]]:
    """(name, modules) from the top: the classifier head, then blocks B−1 .. 0 of ``model`` (a copy)."""
    adapter = explainer.adapter
    head = []
    for paths in adapter.head.values():
        try:
            from ..engine.adapters import resolve

            head.append(resolve(model, paths))
        except AttributeError:
            continue
    blocks = adapter.get_blocks(model)
    return [("head", head)] + [(f"block {b}", [blocks[b]]) for b in range(len(blocks) - 1, -1, -1)]


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
    options = dict(options or {})
    with torch.no_grad():
        model = copy.deepcopy(explainer.model)  # the user's model is never re-initialised
    shadow = Explainer(model, explainer.processor, batch_size=explainer.batch_size)
    originals = explainer.explain(items, keep_graph=False, progress=False)
    targets = [e.target for e in originals]
    reference = [{m: e.map(m, **options.get(m, {})) for m in names} for e in originals]
    stages = randomisation_stages(explainer, model)
    torch.manual_seed(seed)
    curve_rows: list[dict] = []
    for i in range(len(items)):
        for m in names:
            curve_rows.append({"instance": i, "method": m, "curve": "spearman", "x": 0.0, "value": 1.0})
    bar = _bar(len(stages), progress)
    partial = False
    done = 0
    try:
        for depth, (_name, modules) in enumerate(stages, start=1):
            _reinitialise(model, modules)
            shadow = Explainer(model, explainer.processor, batch_size=explainer.batch_size)
            now = shadow.explain(items, target=targets, keep_graph=False, progress=False)
            for i, e in enumerate(now):
                for m in names:
                    rho = spearmanr(reference[i][m], e.map(m, **options.get(m, {}))).statistic
                    curve_rows.append({"instance": i, "method": m, "curve": "spearman", "x": float(depth),
                                       "value": float(rho)})
            done = depth
            bar.update(1)
    except KeyboardInterrupt:
        partial = True
        warnings.warn(f"interrupted after {done} of {len(stages)} randomisation stages", stacklevel=2)
    finally:
        bar.close()
    curves = pd.DataFrame(curve_rows)
    last = curves[curves["x"] == curves["x"].max()]
    per_instance = pd.DataFrame({"instance": last["instance"], "method": last["method"], "metric": "spearman_final",
                                 "value": last["value"]})
    params = {"experiment": "sanity", "stages": [s for s, _ in stages][:max(done, 0)], "seed": seed,
              "methods": names, "options": options, "init": "model._init_weights (Hugging Face), seeded",
              "target": "the original model's prediction", "bootstrap": bootstrap, "instances": len(items)}
    del shadow
    return SanityResult(per_instance=per_instance.reset_index(drop=True), curves=curves, params=params,
                        partial=partial)


__all__ = ["class_specificity", "randomisation_stages", "sanity"]
