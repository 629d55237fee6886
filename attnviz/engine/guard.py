"""What keeps an explanation honest about the model it came from: one lock per model, and a fingerprint of its
parameters.

- ``model_lock(model)``: every pass attnviz runs over a model (capture, recapture, LRP recording, integrated
  gradients) changes its state for the duration of the pass (eval mode, eager attention, hooks) and restores it in
  ``finally``. Two threads doing this on one model at once would each snapshot the other's temporary state and
  "restore" it, leaving the model in eval mode with eager attention for good. The lock serialises the passes per
  model (re-entrant, so a pass may nest another), whichever ``Explainer`` objects wrap it.
- ``fingerprint(model)``: the parameters' identities, autograd version counters, dtypes, devices and storage
  pointers. An in-place weight update (``optimizer.step()``, ``load_state_dict``, ``p.add_()`` under no_grad) bumps
  a version counter; ``model.half()`` or ``model.to(...)`` changes dtype, device or storage. An explanation whose
  model no longer matches cannot mix its recorded attention with new gradients: ``ModelChangedError``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class ModelChangedError(RuntimeError):
    """The model's weights, dtype or device changed after the explanation was captured."""


class DetachedExplanationError(RuntimeError):
    """A copied (pickled, deep-copied) explanation was asked for something only the live model can give."""


def _lock_for(model: nn.Module) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


@contextmanager
def model_lock(model: nn.Module) -> Iterator[None]:
    """Hold the model's re-entrant lock for the duration of the block (one pass over the model at a time)."""
    lock = _lock_for(model)
    with lock:
        yield


Fingerprint = tuple[tuple[int | str, int, str, str, int], ...]


def fingerprint(model: nn.Module) -> Fingerprint:
    """(id, version counter, dtype, device, data pointer) of every parameter, in order. Cheap: no data is read.
    A parameter that accelerate offloads (on "meta" between calls, a new tensor loaded for each forward) is known by
    its name, dtype and shape."""
    return tuple((id(p), int(p._version), str(p.dtype), str(p.device), int(p.data_ptr())) if p.device.type != "meta"
                 else (name, 0, str(p.dtype), str(tuple(p.shape)), 0)
                 for name, p in model.named_parameters())


def describe_change(before: Fingerprint, after: Fingerprint) -> str:
    """A short reason for the difference between two fingerprints ("" when they are equal)."""
    if before == after:
        return ""
    if len(before) != len(after) or any(a[0] != b[0] for a, b in zip(before, after)):
        return "its parameters were replaced"
    if any(a[2] != b[2] for a, b in zip(before, after)):
        return f"its dtype changed ({before[0][2]} -> {after[0][2]})" if before else "its dtype changed"
    if any(a[3] != b[3] for a, b in zip(before, after)):
        return "it moved to another device"
    if any(a[1] != b[1] for a, b in zip(before, after)):
        return "its weights were updated in place"
    return "its weights were re-allocated"


__all__ = ["DetachedExplanationError", "ModelChangedError", "describe_change", "fingerprint", "model_lock"]
