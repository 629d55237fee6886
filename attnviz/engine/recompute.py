"""Block recomputation for the lean "hidden" capture: keep each block's inputs, not its activations.

A backward to the hidden states (AttCAT, gradient x input) needs every block's saved activations, the model's own
autograd graph: GPT-2 small at 1,024 tokens saves about 1.6 GB (its softmax outputs 0.6 GB, its GELU intermediates
0.7 GB), more than half of what the full capture used to take. ``recomputed_blocks`` runs each block under
``torch.utils.checkpoint`` (non-reentrant): the forward saves only the block's inputs, and the backward runs the
block's forward once more to rebuild its activations, one block at a time. The gradients are those of the plain
graph (the same operations on the same inputs, bit for bit in eval mode); the cost is one more forward.

The wrapper is an instance attribute ``block.forward`` set inside the ``with`` and removed (or the attribute that was
there before put back: accelerate's ``device_map`` hooks live there) in ``finally``. Module hooks stay outside the
checkpoint (``nn.Module.__call__`` runs them around ``forward``), so they fire once. The recorded graph replays the
block's forward whenever a backward reaches it, also after the ``with``: such a backward must run in the state the
forward ran in (eval mode, eager attention), so the capture re-enters ``prepared`` for it (``live.Graph``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from torch import nn
from torch.utils.checkpoint import checkpoint, set_checkpoint_early_stop

_MISSING = object()


def _checkpointed(forward: Any) -> Any:
    """forward(*args, **kwargs) run under non-reentrant ``checkpoint``: only its inputs are saved for the backward,
    which runs ``forward`` again to rebuild what its operations saved."""

    @functools.wraps(forward)
    def run(*args: Any, **kwargs: Any) -> Any:
        # No early stop: torch would end the replay with an exception once the last saved tensor is rebuilt, in the
        # middle of a submodule's call, so hooks that undo their own work after it (accelerate's offload puts the
        # weights back on "meta") would never run. The rest of the block is cheap beside a stale weight.
        with set_checkpoint_early_stop(False):
            return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run


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


__all__ = ["recomputed_blocks"]
