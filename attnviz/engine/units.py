"""What a view draws for one text: its units, tokens or words (word pieces grouped), and how a token map becomes a
unit map. The one place word grouping is written; every view and figure reads it (``Units.of``).

A word is the run of consecutive tokens with the same (segment, word) id (``Sample.word_ids``); a special token
([CLS], [SEP], <s>) is a unit of its own. A token map x [..., N] becomes a unit map u [..., U] with

    u_k = Σ_{j ∈ unit k} x_j      (reduce="sum": word pieces add up, so a word's share is its pieces' total)
    u_k = max_{j ∈ unit k} x_j    (reduce="max")

A decoder's explained position p is the unit holding token p; the units after it are the ones its prediction cannot
see (``explained``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

REDUCTIONS = ("sum", "max")


@dataclass(frozen=True)
class Units:
    """texts [U], segments [U] (0/1 of a sentence pair), special [U]; starts [U]: the first token of each unit
    (units are runs of consecutive tokens); num_tokens N; word_level: whether word pieces were grouped."""

    texts: list[str]
    segments: list[int]
    special: list[bool]
    starts: np.ndarray
    num_tokens: int
    word_level: bool

    @classmethod
    def of(cls, e: Any, word_level: bool = False) -> Units:
        """The units of explanation ``e``: its tokens, or with ``word_level`` its words (text only)."""
        sample = e.sample
        n = int(sample.length)
        if not word_level or e.kind != "text":
            return cls([str(t) for t in sample.tokens], [int(s) for s in sample.segments],
                       [bool(s) for s in sample.special], np.arange(n), n, False)
        texts: list[str] = []
        segments: list[int] = []
        special: list[bool] = []
        starts: list[int] = []
        last: Any = object()
        for j, key in enumerate(sample.word_ids[:n]):
            if key is not None and key == last:
                special[-1] = special[-1] or bool(sample.special[j])
                continue
            texts.append(str(sample.tokens[j]) if key is None else sample.word_texts[key])
            segments.append(int(sample.segments[j]))
            special.append(bool(sample.special[j]))
            starts.append(j)
            last = key
        return cls(texts, segments, special, np.asarray(starts, dtype=np.int64), n, True)

    def __len__(self) -> int:
        return len(self.texts)

    def pool(self, values: Any, reduce: str = "sum") -> np.ndarray:
        """A token map [..., N] -> the unit map [..., U] (float32), summed or maxed over each unit's tokens."""
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be 'sum' or 'max', got {reduce!r}")
        values = np.asarray(values)
        if values.shape[-1:] != (self.num_tokens,):
            raise ValueError(f"values must have shape [..., {self.num_tokens}], got {list(values.shape)}")
        if not self.word_level:
            return values.astype(np.float32)
        ufunc = np.add if reduce == "sum" else np.maximum
        return ufunc.reduceat(values.astype(np.float64), self.starts, axis=-1).astype(np.float32)

    def unit_of(self, token: int) -> int:
        """The unit holding token index ``token``."""
        return int(np.searchsorted(self.starts, token, side="right") - 1)

    def explained(self, e: Any) -> tuple[int, np.ndarray]:
        """A decoder's explained position among these units: (its unit index, bool [U] of the units after it, which
        its prediction cannot see). An encoder's: (-1, all False)."""
        if not e.causal or e.kind != "text":
            return -1, np.zeros(len(self), dtype=bool)
        at = self.unit_of(int(e.position))
        unseen = self.starts > int(e.position)
        return at, unseen


__all__ = ["REDUCTIONS", "Units"]
