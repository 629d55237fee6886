"""``HeadMask``: which attention heads are kept, parsed once from every form users give.

Forms (B blocks x H heads):

- ``None`` or ``"all"``: every head;
- a boolean grid ``[B, H]``, or a row ``[H]`` that applies to every block (numpy, torch or nested lists);
- head indices ``[h, ...]``: those heads in every block;
- ``{block: [heads]}`` (or ``{block: head}``) and ``(block, head)`` pairs: those heads of those blocks.

``meaning`` says what the given heads are: ``"kept"`` (the methods' head mask, a view's toggles, bertviz's
``heads``) or ``"switched_off"`` (ablation: the heads to ablate). Whatever the form, the value is one boolean grid of
kept heads, read as ``kept()`` (bool [B, H]), ``switched_off()`` ({block: (heads, ...)}) or ``tensor(device)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

MEANINGS = ("kept", "switched_off")


class HeadMaskError(ValueError, TypeError):
    """A head mask in a form attnviz cannot read, or naming heads the model does not have (a ValueError, and a
    TypeError for callers that catch a wrong type)."""


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


@dataclasses.dataclass(frozen=True)
class HeadMask:
    """Kept heads of a model with ``num_layers`` blocks of ``num_heads`` heads: ``grid`` bool [B, H], True = kept."""

    grid: np.ndarray

    @property
    def num_layers(self) -> int:
        return int(self.grid.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.grid.shape[1])

    @classmethod
    def parse(cls, value: Any, num_layers: int, num_heads: int, meaning: str = "kept") -> HeadMask:
        """Every form of the module docstring -> a HeadMask; one error message, naming the forms, for the rest."""
        if meaning not in MEANINGS:
            raise ValueError(f"meaning must be one of {MEANINGS}, got {meaning!r}")
        B, H = int(num_layers), int(num_heads)
        forms = (f"a boolean mask of shape [{B}, {H}] (or [{H}] for every block), head indices, {{block: [heads]}} "
                 "or (block, head) pairs "
                 f"({'True = kept' if meaning == 'kept' else 'True = switched off'})")
        if value is None or (isinstance(value, str) and value == "all"):
            listed = np.zeros((B, H), bool) if meaning == "switched_off" else np.ones((B, H), bool)
            return cls._from_listed(listed, meaning)
        if isinstance(value, str):
            raise HeadMaskError(f"heads must be {forms}, or 'all'; got the string {value!r}")
        if isinstance(value, Mapping):
            return cls._from_listed(cls._pairs_grid(
                [(b, h) for b, hs in value.items() for h in ([hs] if _is_int(hs) else hs)], B, H, forms), meaning)
        given = value
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        try:
            array = np.asarray(value)
        except ValueError:
            array = np.asarray(value, dtype=object)
        if array.dtype == np.bool_:
            if array.shape == (H,):
                array = np.broadcast_to(array, (B, H))
            if array.shape != (B, H):
                raise HeadMaskError(f"heads must be {forms}; got a boolean mask of shape {list(array.shape)}")
            return cls._from_listed(np.array(array, dtype=bool), meaning)
        items = list(value) if array.dtype == object or array.ndim else []
        if array.ndim == 1 and array.dtype != object and all(_is_int(x) for x in array.tolist()):
            idx = [int(x) for x in array.tolist()]
            bad = [h for h in idx if not 0 <= h < H]
            if bad:
                raise HeadMaskError(f"head indices must be in [0, {H - 1}], got {idx}")
            grid = np.zeros((B, H), bool)
            grid[:, idx] = True
            return cls._from_listed(grid, meaning)
        def pair_like(p: Any) -> bool:  # a tuple is a pair; a list is one unless it holds booleans (a mask's row)
            return isinstance(p, tuple) or (isinstance(p, list) and not any(isinstance(x, (bool, np.bool_))
                                                                            for x in p))

        explicit_pairs = isinstance(given, (list, tuple)) and bool(items) and all(isinstance(p, tuple) for p in items)
        if array.ndim == 2 and array.dtype != object and array.shape == (B, H) and not explicit_pairs \
                and np.isin(array, (0, 1)).all():  # a 0/1 grid: a mask in integers, or pairs? refuse to guess
            raise HeadMaskError(f"heads must be booleans (True = kept), not 0/1 integers: a [{B}, {H}] grid of "
                                "integers could be a mask or (block, head) pairs; pass a boolean mask, or the pairs "
                                "as tuples")
        if isinstance(given, (list, tuple)) and items and all(pair_like(p) for p in items):
            return cls._from_listed(cls._pairs_grid([tuple(p) for p in items], B, H, forms), meaning)
        if array.ndim == 0 and array.dtype != object:
            raise HeadMaskError(f"heads must be {forms}; got {value!r}")
        raise HeadMaskError(f"heads must be {forms}; got {type(value).__name__} of {array.dtype} "
                            f"{'(a ragged list)' if array.dtype == object else ''}".rstrip())

    @staticmethod
    def _pairs_grid(pairs: list[tuple], B: int, H: int, forms: str) -> np.ndarray:
        grid = np.zeros((B, H), bool)
        for pair in pairs:
            if len(pair) != 2:
                raise HeadMaskError(f"heads as pairs are (block, head), got {pair!r}; heads must be {forms}")
            b, h = pair
            if not _is_int(b) or not _is_int(h):
                raise HeadMaskError(f"block and head must be integers, got {pair!r}")
            if not 0 <= b < B or not 0 <= h < H:
                raise HeadMaskError(f"head ({b}, {h}) is out of range: the model has {B} blocks x {H} heads")
            grid[int(b), int(h)] = True
        return grid

    @classmethod
    def _from_listed(cls, listed: np.ndarray, meaning: str) -> HeadMask:
        grid = listed if meaning == "kept" else ~listed
        grid = np.array(grid, dtype=bool)
        grid.setflags(write=False)
        return cls(grid)

    def kept(self) -> np.ndarray:
        """bool [B, H], True = kept (a copy)."""
        return self.grid.copy()

    def switched_off(self) -> dict[int, tuple[int, ...]]:
        """{block: (head, ...)} of the heads not kept, blocks and heads in order (only blocks with some)."""
        off = ~self.grid
        return {int(b): tuple(int(h) for h in np.flatnonzero(off[b])) for b in range(self.num_layers) if off[b].any()}

    def tensor(self, device: Any = None) -> torch.Tensor:
        """torch.bool [B, H], True = kept."""
        return torch.as_tensor(self.grid.copy(), dtype=torch.bool, device=device)

    def lists(self) -> list[list[bool]]:
        """Nested lists [B][H] of bool (a widget trait)."""
        return [[bool(x) for x in row] for row in self.grid]

    def __repr__(self) -> str:
        off = self.switched_off()
        said = "every head kept" if not off else "switched off: " + ", ".join(
            f"{b}.{h}" for b, hs in off.items() for h in hs)
        return f"HeadMask({self.num_layers} blocks x {self.num_heads} heads; {said})"


__all__ = ["HeadMask", "HeadMaskError"]
