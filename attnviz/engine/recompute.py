"""Block recomputation for the lean "hidden" capture: keep each block's inputs, not its activations.

A backward to the hidden states (AttCAT, gradient x input) needs every block's saved activations, the model's own
autograd graph: GPT-2 small at 1,024 tokens saves about 1.6 GB (its softmax outputs 0.6 GB, its GELU intermediates
0.7 GB), more than half of what the full capture used to take. ``recomputed_blocks`` runs each block under
``torch.utils.checkpoint`` (non-reentrant): the forward saves only the block's inputs, and the backward runs the
block's forward once more to rebuild its activations, one block at a time. The gradients are those of the plain
graph (the same operations on the same inputs, bit for bit in eval mode); the cost is one more forward.

The wrapper is an instance attribute ``block.forward`` set inside the ``with`` and removed (or the attribute that was
there before put back: accelerate's ``device_map`` hooks live there) in ``finally``. The block's own hooks stay
outside the checkpoint (``nn.Module.__call__`` runs them around ``forward``), so they fire once; hooks on its
submodules fire again in each backward. The recorded graph replays the block's forward whenever a backward reaches
it, also after the ``with``. Such a backward must run in the state the forward ran in: the capture re-enters
``prepared`` for it (eval mode, eager attention) and refuses when the blocks' hooks changed since (``live.Graph``);
other state the model's fingerprint does not see (an adapter switched off, a config flag) must not change.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from torch import nn
from torch.utils.checkpoint import checkpoint, set_checkpoint_early_stop

_MISSING = object()


# No early stop: torch would end the replay with an exception once the last saved tensor is rebuilt, in the middle of
# a submodule's call, so hooks that undo their own work after it (accelerate's offload puts the weights back on
# "meta") would never run. The rest of the block is cheap beside a stale weight. Per call where torch takes it (its
# context manager sets a process-wide flag, which another thread's capture could see).
_PER_CALL_EARLY_STOP = "early_stop" in inspect.signature(checkpoint).parameters


def _checkpointed(forward: Any) -> Any:
    """forward(*args, **kwargs) run under non-reentrant ``checkpoint``: only its inputs are saved for the backward,
    which runs ``forward`` again to rebuild what its operations saved."""

    @functools.wraps(forward)
    def run(*args: Any, **kwargs: Any) -> Any:
        if _PER_CALL_EARLY_STOP:
            return checkpoint(forward, *args, use_reentrant=False, early_stop=False, **kwargs)
        with set_checkpoint_early_stop(False):
            return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run


def block_hooks(blocks: Sequence[nn.Module]) -> tuple:
    """The forward hooks and pre-hooks of every module inside ``blocks`` (their keys): what a replay would run that
    the recorded forward may not have."""
    return tuple((tuple(m._forward_hooks), tuple(m._forward_pre_hooks))
                 for block in blocks for m in block.modules())


@contextlib.contextmanager
def recomputed_blocks(blocks: Sequence[nn.Module], enabled: bool = True) -> Iterator[None]:
    """Inside the block, each of ``blocks`` runs under checkpoint (see the module docstring); every block's
    ``forward`` is as before afterwards, also after an exception. enabled=False: nothing changes."""
    if not enabled:
        yield
        return
    before = [(block, block.__dict__.get("forward", _MISSING)) for block in blocks]
    try:
        for block, _ in before:
            block.forward = _checkpointed(block.forward)
        yield
    finally:
        for block, attribute in before:
            if attribute is _MISSING:
                block.__dict__.pop("forward", None)
            else:
                block.__dict__["forward"] = attribute


__all__ = ["block_hooks", "recomputed_blocks"]
