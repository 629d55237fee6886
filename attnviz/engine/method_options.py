"""A method's options, checked at the entry, and the checks every computed map passes (``Explanation.maps``)."""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

import numpy as np


@functools.cache
def option_spec(fn: Any) -> dict[str, tuple[bool, bool]]:
    """A method's options (its parameters after ``trace`` and ``heads``): name -> (boolean, may be None). Read once
    per method: ``maps`` runs on every head toggle."""
    spec = {}
    for name, param in list(inspect.signature(fn).parameters.items())[2:]:
        if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            continue
        annotation = str(param.annotation)
        spec[name] = (isinstance(param.default, bool) or annotation.startswith("bool"), "None" in annotation)
    return spec


def check_options(info: Any, options: dict[str, Any]) -> None:
    """A method's options, validated at the entry: known names only, one value each, True/False for the flags."""
    spec = option_spec(info.fn)
    for name, value in options.items():
        if name not in spec:
            raise TypeError(f"{info.name} has no option {name!r}; its options are: {', '.join(spec) or 'none'}")
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"{info.name}: option {name} must be one value (a string, number or bool), got "
                            f"{type(value).__name__} {value!r:.60}") from None
        boolean, optional = spec[name]
        if boolean and not (isinstance(value, (bool, np.bool_)) or (value is None and optional)):
            raise TypeError(f"{info.name}: option {name} must be True or False, got {value!r}")


def finite_checked(values: np.ndarray, method: str) -> np.ndarray:
    if not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        warnings.warn(f"{method}: {bad} of {values.size} values are NaN or inf (the model's logits or activations "
                      "overflowed?): this map is not meaningful", stacklevel=3)
    return values


@functools.cache
def option_defaults(fn: Any) -> dict[str, Any]:
    """A method's options with their default values (read once per method)."""
    params = inspect.signature(fn).parameters.items()
    return {k: p.default for k, p in params if p.default is not inspect.Parameter.empty}


__all__ = ["check_options", "finite_checked", "option_defaults", "option_spec"]
