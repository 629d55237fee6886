"""The result objects of the evaluation: long tables per instance, curves, the summary table with bootstrap
intervals, the parameters that produced them, save/load (parquet or CSV), and the figures.

Every result keeps what the user needs to redo or cite the run: ``params`` records every parameter the preset
used, and ``partial`` says when an interrupt stopped it early.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..engine import facades
from .stats import bootstrap_interval


@dataclass
class EvaluationResult:
    """A table of per-instance values (long: one row per instance, method and metric) and optional curves.

    per_instance: columns instance, method, metric, value (+ any extra columns the experiment adds).
    curves: columns instance, method, curve, x, value (deletion/perturbation curves; empty when none).
    params: every parameter of the run. partial: True when an interrupt stopped the run early."""

    kind: ClassVar[str] = "evaluation"
    per_instance: pd.DataFrame
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["instance", "method", "curve", "x",
                                                                                 "value"]))
    params: dict[str, Any] = field(default_factory=dict)
    partial: bool = False

    # ------------------------------------------------------------------ the summary table
    @property
    def table(self) -> pd.DataFrame:
        """One row per method: for each metric its mean over instances and a 95% percentile-bootstrap interval
        (``<metric> lo`` / ``<metric> hi``, resamples and seed from ``params``), and ``n`` instances."""
        return summary_table(self.per_instance, int(self.params.get("bootstrap", 1000)),
                             int(self.params.get("seed", 0)))

    @property
    def methods(self) -> list[str]:
        """The methods evaluated, in order."""
        return list(dict.fromkeys(self.per_instance["method"]))

    @property
    def metrics(self) -> list[str]:
        """The metrics computed, in order."""
        return list(dict.fromkeys(self.per_instance["metric"]))

    def scores(self, instance: int = 0) -> dict[str, dict[str, float]]:
        """``{method: {metric: value}}`` for one instance: the ``scores`` a CompareView shows beside each map."""
        rows = self.per_instance[self.per_instance["instance"] == instance]
        out: dict[str, dict[str, float]] = {}
        for row in rows.itertuples():
            if np.isfinite(row.value):  # a NaN (e.g. a constant map's τ) is left out, not sent as a number
                out.setdefault(str(row.method), {})[str(row.metric)] = float(row.value)
        return out

    def compare_view(self, explanation: Any, instance: int, **kwargs: Any):
        """A CompareView of ``explanation`` (the explanation of input ``instance``) with this result's methods and
        that input's scores beside each map."""
        methods = kwargs.pop("methods", [m for m in self.methods if m in explanation.method_names()])
        return facades.call("compare_view", explanation, methods=methods, scores=self.scores(instance), **kwargs)

    def __repr__(self) -> str:
        n = self.per_instance["instance"].nunique() if len(self.per_instance) else 0
        state = ", partial (interrupted)" if self.partial else ""
        return (f"<{type(self).__name__} {self.params.get('preset', self.kind)}: {n} instances, "
                f"{len(self.methods)} methods, metrics {', '.join(self.metrics)}{state}>")

    def _repr_html_(self) -> str:
        head = f"<p>{type(self).__name__}: {self.params.get('preset', self.kind)}"
        if self.partial:
            head += " <b>(partial: interrupted)</b>"
        return head + "</p>" + self.table.to_html(float_format=lambda v: f"{v:.4g}")

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write the run to a folder: per_instance and curves as parquet (``format="parquet"``, needs pyarrow) or
        CSV (the default when pyarrow is missing), and params.json. Returns the folder."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        fmt = format or ("parquet" if _has_pyarrow() else "csv")
        if fmt not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', got {format!r}")
        for name, frame in (("per_instance", self.per_instance), ("curves", self.curves)):
            if fmt == "parquet":
                frame.to_parquet(folder / f"{name}.parquet", index=False)
            else:
                frame.to_csv(folder / f"{name}.csv", index=False)
        meta = {"kind": type(self).__name__, "partial": self.partial, "params": self.params}
        (folder / "params.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> EvaluationResult:
        """Read a folder written by ``save`` (either format) back into the same result class."""
        folder = Path(path)
        meta_path = folder / "params.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{str(folder)!r} holds no params.json: not a folder written by .save()")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{str(meta_path)!r} is not valid JSON ({err}): the file is damaged or was not written "
                             "by .save(); save the result again") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{str(meta_path)!r} holds {type(meta).__name__}, not the object .save() writes")
        frames = {}
        for name in ("per_instance", "curves"):
            if (folder / f"{name}.parquet").is_file():
                frames[name] = pd.read_parquet(folder / f"{name}.parquet")
            elif (folder / f"{name}.csv").is_file():
                frames[name] = pd.read_csv(folder / f"{name}.csv")
            else:
                raise FileNotFoundError(f"{str(folder)!r} has no {name}.parquet or {name}.csv")
        target = _RESULT_CLASSES.get(meta.get("kind", ""), cls)
        return target(per_instance=frames["per_instance"], curves=frames["curves"], params=meta.get("params", {}),
                      partial=bool(meta.get("partial", False)))

    # ------------------------------------------------------------------ figures
    def plot(self, **kwargs: Any):
        """An interactive bokeh figure (INLINE resources when shown: works offline)."""
        return facades.call("evaluation_plot", self, **kwargs)

    def figure(self, **kwargs: Any):
        """The matplotlib twin of ``plot()``, for papers (PNG, SVG, PDF)."""
        return facades.call("evaluation_figure", self, **kwargs)


class FaithfulnessResult(EvaluationResult):
    """``evaluate.faithfulness``: deletion / perturbation metrics per method (table, per_instance, curves)."""

    kind = "faithfulness"


class AgreementResult(EvaluationResult):
    """``evaluate.agreement``: Kendall τ and top-k Kendall distance between a map and gradient / leave-one-out
    importance, per instance (metrics tau_gradient, tau_loo, topk_gradient, topk_loo)."""

    kind = "agreement"


class PermutationResult(EvaluationResult):
    """``evaluate.permutation``: per instance the median output change over permutations of the attention
    (metrics median_tvd, median_delta), and the instance's max attention (column max_attention)."""

    kind = "permutation"


class AdversarialResult(EvaluationResult):
    """``evaluate.adversarial``: per instance the largest JSD of an attention that keeps the output within ε
    (metric max_jsd), against the instance's max attention."""

    kind = "adversarial"


class ClassSpecificityResult(EvaluationResult):
    """``evaluate.class_specificity``: Kendall τ between the maps for the true class and each other class."""

    kind = "class_specificity"


class SanityResult(EvaluationResult):
    """``evaluate.sanity``: Spearman ρ of each method's map with the original, per randomisation depth (curves:
    curve "spearman", x = number of blocks randomised from the top)."""

    kind = "sanity"


_RESULT_CLASSES = {c.__name__: c for c in (EvaluationResult, FaithfulnessResult, AgreementResult, PermutationResult,
                                           AdversarialResult, ClassSpecificityResult, SanityResult)}


def summary_table(per_instance: pd.DataFrame, resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Mean per method and metric with a 95% bootstrap interval, one row per method (methods in their order)."""
    if per_instance.empty:
        return pd.DataFrame(columns=["method", "n"]).set_index("method")
    rows = []
    for method, group in per_instance.groupby("method", sort=False):
        row: dict[str, Any] = {"method": method}
        for metric, values in group.groupby("metric", sort=False)["value"]:
            v = values.to_numpy(np.float64)
            lo, hi = bootstrap_interval(v, resamples, seed=seed)
            row[str(metric)] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            row[f"{metric} lo"], row[f"{metric} hi"] = lo, hi
        row["n"] = int(group["instance"].nunique())
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["AdversarialResult", "AgreementResult", "ClassSpecificityResult", "EvaluationResult",
           "FaithfulnessResult", "PermutationResult", "SanityResult", "summary_table"]
