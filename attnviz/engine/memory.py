"""How much memory capturing one input takes at its peak, and how many inputs fit in one batch of a budget.

A capture holds, per block, a few [H, N, N] attention tensors (scores, probabilities, the returned attention and
its gradient) and a few dozen [N, D] activations (Q, K, V, context, the feed-forward's 4D intermediate, norms, their
gradients). The estimate ``capture_bytes`` = itemsize · B · (c_att · H · N² + c_hid · N · D) uses coefficients fitted
to the peak memory per input measured for BERT-base in batches of 4 at 128 and 512 tokens (``bench/memory.py``,
docs/PERFORMANCE.md: 115 and 840 MiB per input); it sizes batches, it is not a promise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

ATTENTION_COEF = 3.5  # [H, N, N] tensors per block at the peak of a capture
HIDDEN_COEF = 18.0  # [N, D] tensors per block
MAX_AUTO_BATCH = 64
CPU_BUDGET_CAP = 4 * 2**30


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs: blocks B, heads H, hidden width D and the parameters' dtype."""

    blocks: int
    heads: int
    hidden: int
    dtype: torch.dtype

    def capture_bytes(self, n_tokens: int) -> int:
        """Estimated peak bytes of capturing (forward + backward) one input of ``n_tokens`` in a batch."""
        item = torch.finfo(self.dtype).bits // 8 if self.dtype.is_floating_point else 4
        per_block = ATTENTION_COEF * self.heads * n_tokens**2 + HIDDEN_COEF * n_tokens * self.hidden
        return int(item * self.blocks * per_block)


def default_budget(device: torch.device) -> int:
    """Bytes one batch may keep: half the free memory of a GPU; on the CPU a quarter of the available memory,
    at most 4 GiB."""
    if device.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(device)
        return int(free // 2)
    available = _available_ram()
    return int(min(CPU_BUDGET_CAP, available // 4)) if available else CPU_BUDGET_CAP


def _available_ram() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def plan_batches(lengths: list[int], shape: ModelShape, budget: int, max_batch: int = MAX_AUTO_BATCH) -> list[int]:
    """Consecutive batch sizes (in input order) whose padded cost ``b · capture_bytes(max length)`` stays within
    ``budget``; a single input is always its own batch, even above the budget."""
    sizes: list[int] = []
    start = 0
    while start < len(lengths):
        end, longest = start + 1, lengths[start]
        while end < len(lengths) and end - start < max_batch:
            longer = max(longest, lengths[end])
            if (end - start + 1) * shape.capture_bytes(longer) > budget:
                break
            end, longest = end + 1, longer
        sizes.append(end - start)
        start = end
    return sizes


__all__ = ["ModelShape", "default_budget", "plan_batches"]
