"""What every evaluation protocol shares: checking inputs, methods, options and numbers, resolving targets, and
explaining inputs so that one the explainer refuses is skipped (``SkippedInput``) and the rest go on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.progress import SkippedInput

DEFAULT_EXCLUDED = ("integrated_gradients",)  # n_steps passes per input: ask for it by name


def default_methods(explainer) -> list[str]:
    """Every method that applies to the explainer's model (``Explainer.method_names``), integrated gradients aside
    (it costs n_steps passes)."""
    return [name for name in explainer.method_names() if name not in DEFAULT_EXCLUDED]


def check_inputs(explainer, inputs: Any) -> list[Any]:
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"inputs must be a list of inputs, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError("no inputs to evaluate: the list is empty")
    kinds = {type(x).__name__ for x in inputs}
    if explainer.modality == "text":
        bad = [i for i, x in enumerate(inputs) if not isinstance(x, (str, tuple))]
        if bad:
            raise TypeError(f"a text model's inputs are sentences or (text_a, text_b) pairs; input {bad[0]} is "
                            f"{type(inputs[bad[0]]).__name__} (the list mixes {sorted(kinds)})")
    elif any(isinstance(x, str) for x in inputs) and not all(isinstance(x, str) for x in inputs):
        raise TypeError(f"the inputs mix kinds ({sorted(kinds)}): pass images only (arrays, PIL images or paths)")
    return list(inputs)


def require_classifier(explainer, what: str) -> None:
    """A clear error when ``what`` (an evaluation protocol written for classifiers) is asked of a language model."""
    explainer.targets.require_classes(what, type(explainer.model).__name__)


def explain_input(explainer, items: Sequence[Any], i: int, **kwargs: Any):
    """``explainer.explain(items[i], **kwargs)``; an input the explainer refuses (empty, only special tokens, a bad
    image, ...) raises ``SkippedInput`` naming ``i``, its index in the caller's list, so the loop skips it and keeps
    the instances already finished."""
    try:
        return explainer.explain(items[i], **kwargs)
    except (ValueError, TypeError) as err:
        raise SkippedInput(i, str(err)) from err


def explain_chunk(explainer, items: Sequence[Any], chunk: Sequence[int], targets: Sequence[Any],
                  skipped: list[dict]) -> tuple[list[int], list[Any]]:
    """One batched explain of ``items[chunk]``; when the batch is refused, each input alone, so one bad input is
    skipped (listed in ``skipped`` with its index in the caller's list) and the others are still explained.
    -> (the indices explained, their explanations)."""
    try:
        es = explainer.explain([items[i] for i in chunk], target=[targets[i] for i in chunk], keep_graph=False,
                               progress=False)
        return list(chunk), list(es)
    except (ValueError, TypeError):
        kept, explained = [], []
        for i in chunk:
            try:
                explained.append(explain_input(explainer, items, i, target=targets[i], keep_graph=False))
                kept.append(i)
            except SkippedInput as err:
                skipped.append({"instance": err.index, "reason": err.reason})
        return kept, explained


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, or a ValueError naming the parameter (bools and fractional
    numbers are refused: ``n_permutations=1.5`` is not 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name: str, value: Any, allow_zero: bool = False) -> float:
    """A finite number > 0 (>= 0 with ``allow_zero``), or a ValueError naming the parameter."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_options(names: list[str], options: dict | None) -> dict:
    """``{method: {option: value}}`` for methods that are evaluated (an option for another method is a typo)."""
    options = dict(options or {})
    stray = sorted(set(options) - set(names))
    if stray:
        raise ValueError(f"options are given for {stray}, which are not among the methods evaluated {names}")
    return options


def check_methods(explainer, methods: Sequence[str] | None) -> list[str]:
    from ..engine import methods as registry

    known = registry()
    if isinstance(methods, str):  # one method by name, not its letters
        methods = [methods]
    names = default_methods(explainer) if methods is None else list(methods)
    applicable = explainer.method_names()
    for name in names:
        if name not in known:
            raise ValueError(f"unknown method {name!r}; known methods: {', '.join(known)}")
        if explainer.modality not in known[name].modalities:
            raise ValueError(f"method {name!r} does not apply to {explainer.modality} models")
        if name not in applicable:
            raise ValueError(f"method {name!r} does not apply to {type(explainer.model).__name__}; the methods that "
                             f"do: {', '.join(applicable)}")
    if not names:
        raise ValueError("no methods to evaluate")
    return names


def _label(explainer, label: Any, index: int) -> int:
    """One label: a class index (an integer, or a float with an integer value such as 1.0 from a CSV) or a class
    name; a clear error for NaN, a fractional float or an unknown name, naming the input."""
    if isinstance(label, (float, np.floating)):
        if not np.isfinite(label) or float(label) != int(label):
            last = len(explainer.label_names) - 1
            raise ValueError(f"labels[{index}] is {label!r}: a label is a class index (0..{last}) or a class name "
                             f"{explainer.label_names}, not a fractional or missing number")
        label = int(label)
    try:
        return int(explainer.check_target(label))
    except (TypeError, ValueError) as err:
        raise type(err)(f"labels[{index}]: {err}") from None


def resolve_targets(explainer, n: int, target: Any, labels: Sequence[int] | None) -> list[int | None]:
    """"predicted" -> None (each input's prediction); "label" -> ``labels``; a class (index or name) or a list."""
    if labels is not None and len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} inputs")
    if isinstance(target, str) and target == "predicted":
        return [None] * n
    if isinstance(target, str) and target == "label":
        if labels is None:
            raise ValueError('target="label" needs labels=[...] (one class per input)')
        return [_label(explainer, t, i) for i, t in enumerate(labels)]
    if isinstance(target, list):
        if len(target) != n:
            raise ValueError(f"{len(target)} targets for {n} inputs")
        return [explainer.check_target(t) for t in target]
    t = explainer.check_target(target)
    if t is None:
        return [None] * n
    return [t] * n


def show_progress(total: int, progress: bool | None) -> bool:
    """Whether to show a bar: asked for, or by default when there are more than a few inputs."""
    return total > 8 if progress is None else bool(progress)


__all__ = ["DEFAULT_EXCLUDED", "check_inputs", "check_int", "check_methods", "check_options", "check_positive",
           "default_methods", "explain_chunk", "explain_input", "require_classifier", "resolve_targets",
           "show_progress"]
