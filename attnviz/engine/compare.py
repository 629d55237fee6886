"""Two models on one input: how their attention differs, and how attention flows into the decision (DeRose, Wang
and Berger 2020, "Attention Flows"). Engine only: the FlowView draws what these functions return.

Definitions (docs/METHODS.md, "Model comparison and the flow graph"):

* Jensen-Shannon divergence of head (b, h), base 2, in [0, 1], averaged over query rows:
  JSD_bh = (1/N) Σ_i [½ KL(P_i ‖ M_i) + ½ KL(Q_i ‖ M_i)],  P_i = A_a^(b)[h, i, :],  Q_i = A_b^(b)[h, i, :],
  M_i = (P_i + Q_i) / 2, with 0 · log 0 = 0.
* Similarity of head (b, h): Pearson's r of the two flattened N x N maps (NaN when either map is constant).
* Flow graph traced backwards from the source token at the deepest layer (default: the explained position, [CLS]
  of an encoder classifier, the explained position of a decoder): with the augmented attention
  M_b = (mean_kept-heads A^(b) + I) / rowsum of block b, node layers 0 (inputs) .. B (output of the last block),
  R_B = e_source, R_b = R_{b+1} M_b (row vectors); the edge from upper node (b+1, i) to lower node (b, j)
  has weight W_b[i, j] = R_{b+1}[i] · M_b[i, j]: the rollout weight of the upper node times the augmented attention
  of the edge. Each layer's node weights sum to one, Σ_i W_b[i, j] = R_b[j], and R_0 is the source's rollout row.
* Influence of token j on the source: R_0[j] (rollout through every block); its change between models b - a.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .divergence import jensen_shannon
from .heads import HeadMask
from .methods.attention import augmented
from .progress import run_each


class ComparisonError(ValueError):
    """The two explanations cannot be compared (different inputs, tokenizers or shapes)."""


def flow_graph(attention: torch.Tensor, heads: torch.Tensor | None = None, source: int = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """The layered flow graph into ``source`` at the deepest layer (module docstring).

    attention: [B, H, N, N] post-softmax (row = query); heads: bool [B, H] kept heads (None: all).
    Returns (nodes [B + 1, N], edges [B, N, N]) in float64: nodes[b] = R_b, edges[b][i, j] = W_b[i, j]."""
    A = torch.as_tensor(attention).detach()
    B, H, N, _ = A.shape
    if not 0 <= source < N:
        raise ValueError(f"source must be a token index in [0, {N - 1}], got {source}")
    mask = HeadMask.parse(heads, B, H).tensor()
    nodes = torch.zeros(B + 1, N, dtype=torch.float64)
    edges = torch.zeros(B, N, N, dtype=torch.float64)
    nodes[B, source] = 1.0
    for b in range(B - 1, -1, -1):  # one block at a time in float64: [N, N], never [B, H, N, N]
        M = augmented(A[b : b + 1].to("cpu", torch.float64), mask[b : b + 1])[0]
        edges[b] = nodes[b + 1][:, None] * M
        nodes[b] = edges[b].sum(0)
    return nodes.numpy(), edges.numpy()


def _jsd_rows(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """JSD in bits of each row pair of P, Q [..., N] -> [...], in float64 (``divergence.jensen_shannon``)."""
    p, q = torch.as_tensor(P).to(torch.float64), torch.as_tensor(Q).to(torch.float64)
    return jensen_shannon(p, q, base=2).clamp(0.0, 1.0).numpy()


def _pearson(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pearson's r of the flattened last two axes of X, Y [b, H, N, N] -> [b, H] (NaN for a constant map), float64."""
    x = torch.as_tensor(X).to(torch.float64).flatten(2)
    y = torch.as_tensor(Y).to(torch.float64).flatten(2)
    x = x - x.mean(-1, keepdim=True)
    y = y - y.mean(-1, keepdim=True)
    den = ((x * x).sum(-1) * (y * y).sum(-1)).sqrt()
    r = (x * y).sum(-1) / torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, r, torch.full_like(r, float("nan"))).numpy()


def check_comparable(e_a: Any, e_b: Any) -> None:
    """Raise ComparisonError naming what differs between two explanations of (supposedly) the same input."""
    from .explanation import Explanation

    for name, e in (("first", e_a), ("second", e_b)):
        if not isinstance(e, Explanation):
            raise TypeError(f"compare() needs two attnviz.Explanation objects; the {name} is {type(e).__name__}")
    if e_a.kind != e_b.kind:
        raise ComparisonError(f"one explanation is of {e_a.kind} input, the other of {e_b.kind}")
    if e_a.causal != e_b.causal:
        enc, dec = ("first", "second") if e_b.causal else ("second", "first")
        raise ComparisonError(f"the {enc} explanation comes from an encoder (every token sees every other) and "
                              f"the {dec} from a decoder (causal attention): their attention maps do not mean the "
                              "same thing; compare two encoders or two decoders")
    if e_a.targets.kind != e_b.targets.kind:
        raise ComparisonError(f"one model's target is a {e_a.targets.kind}, the other's a {e_b.targets.kind}: compare "
                              "two models with the same kind of head")
    if len(e_a.tokens) != len(e_b.tokens):
        raise ComparisonError(f"the inputs have {len(e_a.tokens)} and {len(e_b.tokens)} tokens: explain the same "
                              "input with two models that share a tokenizer")
    diff = [i for i, (x, y) in enumerate(zip(e_a.tokens, e_b.tokens)) if x != y]
    if diff:
        i = diff[0]
        raise ComparisonError(f"the tokens differ at {len(diff)} position(s), first at {i}: {e_a.tokens[i]!r} vs "
                              f"{e_b.tokens[i]!r} (different inputs or tokenizers)")
    if e_a.position != e_b.position:
        raise ComparisonError(f"the explanations explain positions {e_a.position} and {e_b.position}: explain the "
                              "same position with both models (position=)")
    shape_a = (e_a.num_layers, e_a.num_heads)
    shape_b = (e_b.num_layers, e_b.num_heads)
    if shape_a != shape_b:
        raise ComparisonError(f"the models have {shape_a[0]} blocks x {shape_a[1]} heads and {shape_b[0]} blocks x "
                              f"{shape_b[1]} heads: compare models of the same shape")


@dataclasses.dataclass
class ModelComparison:
    """How two models' attention differs on one input (``attnviz.compare``). Arrays are float64.

    jsd, pearson: [B, H] per block and head (module docstring); rollout_a, rollout_b: [B, N], row l = the source's
    rollout row through blocks 0..l (as ``Explanation.maps("rollout")``); influence_a, influence_b: [N] = R_0 of
    each model's flow graph (the source's rollout through every block)."""

    tokens: list[str]
    names: tuple[str, str]
    jsd: np.ndarray
    pearson: np.ndarray
    rollout_a: np.ndarray
    rollout_b: np.ndarray
    influence_a: np.ndarray
    influence_b: np.ndarray
    source: int = 0
    flow_a: np.ndarray | None = None
    flow_b: np.ndarray | None = None

    @property
    def num_layers(self) -> int:
        """The number of blocks compared."""
        return int(self.jsd.shape[0])

    @property
    def num_heads(self) -> int:
        """The number of heads per block compared."""
        return int(self.jsd.shape[1])

    @property
    def rollout_change(self) -> np.ndarray:
        """[B, N] rollout_b - rollout_a per layer."""
        return self.rollout_b - self.rollout_a

    @property
    def flow_change(self) -> np.ndarray | None:
        """[B, N] attention flow (max-flow, Abnar & Zuidema) b - a per layer, when compared with ``flow=True``."""
        return None if self.flow_a is None or self.flow_b is None else self.flow_b - self.flow_a

    @property
    def influence_change(self) -> np.ndarray:
        """[N] influence_b - influence_a: how each token's influence on the source moved."""
        return self.influence_b - self.influence_a

    def block_change(self) -> np.ndarray:
        """[B] the largest JSD of each block's heads."""
        return self.jsd.max(axis=1)

    def unchanged_blocks(self, tol: float = 0.0) -> list[int]:
        """Blocks whose every head has JSD <= tol (0: attention identical to the last bit)."""
        return [int(b) for b in np.flatnonzero(self.block_change() <= tol)]

    def changed_heads(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The k heads whose attention changed most: (block, head, JSD), largest first."""
        order = np.argsort(-self.jsd, axis=None, kind="stable")[:k]
        return [(int(i // self.num_heads), int(i % self.num_heads), float(self.jsd.flat[i])) for i in order]

    def moved_tokens(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The k tokens whose influence on the source changed most (by |change|): (index, token, change)."""
        change = self.influence_change
        order = np.argsort(-np.abs(change), kind="stable")[:k]
        return [(int(i), self.tokens[i], float(change[i])) for i in order]

    def table(self):
        """pandas DataFrame, one row per head: block, head, jsd, pearson; largest JSD first."""
        import pandas as pd

        B, H = self.jsd.shape
        df = pd.DataFrame({"block": np.repeat(np.arange(B), H), "head": np.tile(np.arange(H), B),
                           "jsd": self.jsd.ravel(), "pearson": self.pearson.ravel()})
        return df.sort_values("jsd", ascending=False, kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        top = ", ".join(f"{b}.{h} ({j:.3g})" for b, h, j in self.changed_heads(3))
        same = self.unchanged_blocks()
        return (f"ModelComparison({self.names[0]!r} vs {self.names[1]!r}, {len(self.tokens)} tokens, "
                f"{self.num_layers} blocks x {self.num_heads} heads; most changed heads (block.head, JSD): {top}; "
                f"unchanged blocks: {same if same else 'none'})")


def check_names(names: Any) -> tuple[str, str]:
    """The two models' names: a pair of strings (a single string is not split into its letters)."""
    if isinstance(names, str) or not isinstance(names, (tuple, list)) or len(names) != 2:
        raise ValueError(f"names must be two names, one per model, e.g. ('pretrained', 'fine-tuned'); got {names!r}")
    return str(names[0]), str(names[1])


def resolve_source(e: Any, source: Any) -> int:
    """The token the flow is traced into: ``source`` checked against the input, or (None) the explanation's explained
    position: [CLS] (0) for an encoder classifier, the explained position of a decoder (token 0 of a causal model
    attends only to itself, so flow into it would be trivial)."""
    n = len(e.tokens)
    if source is None:
        return int(e.position)
    if isinstance(source, bool) or not isinstance(source, (int, np.integer)) or not -n <= source < n:
        raise ValueError(f"source must be a token index in [0, {n - 1}] (or negative from the end), got {source!r}")
    return int(source) % n


def compare(e_a: Any, e_b: Any, *, names: tuple[str, str] = ("a", "b"), source: int | None = None,
            flow: bool = False) -> ModelComparison:
    """Compare two explanations of the same input by two models with the same tokenizer and shape.

    ``source``: the token whose incoming flow and rollout row are compared; default: the explained position ([CLS]
    for an encoder classifier, the explained position of a decoder). Returns a ModelComparison (JSD and Pearson per
    head, rollout per layer, influence on ``source``; with ``flow=True`` also attention flow per layer, ~50 ms per
    input at 128 tokens). A clear ComparisonError names what differs when the inputs, tokens, kinds of model (encoder
    or decoder), explained positions or model shapes do not match."""
    check_comparable(e_a, e_b)
    names = check_names(names)
    source = resolve_source(e_a, source)
    A, Bm = e_a.attention(), e_b.attention()  # [B, H, N, N]; float64 one block at a time
    jsd = np.stack([_jsd_rows(A[b], Bm[b]).mean(-1) for b in range(len(A))])
    pearson = np.concatenate([_pearson(A[b : b + 1], Bm[b : b + 1]) for b in range(len(A))])
    nodes_a, _ = flow_graph(torch.from_numpy(A), source=source)
    nodes_b, _ = flow_graph(torch.from_numpy(Bm), source=source)
    return ModelComparison(
        tokens=list(e_a.tokens), names=(str(names[0]), str(names[1])),
        jsd=jsd, pearson=pearson,
        rollout_a=np.asarray(e_a.maps("rollout", row=source), np.float64),
        rollout_b=np.asarray(e_b.maps("rollout", row=source), np.float64),
        influence_a=nodes_a[0], influence_b=nodes_b[0], source=source,
        flow_a=np.asarray(e_a.maps("flow", source=source), np.float64) if flow else None,
        flow_b=np.asarray(e_b.maps("flow", source=source), np.float64) if flow else None)


@dataclasses.dataclass
class ModelsComparison:
    """``attnviz.compare_models`` over a data set: per input and head JSD and Pearson, with mean and spread.

    jsd, pearson: [n, B, H]; comparisons: the per-input ModelComparison objects (same order as the inputs)."""

    names: tuple[str, str]
    jsd: np.ndarray
    pearson: np.ndarray
    comparisons: list[ModelComparison]
    interrupted: bool = False

    @property
    def jsd_mean(self) -> np.ndarray:
        """[L, H]: the Jensen-Shannon divergence of each head's attention, averaged over the inputs."""
        return self.jsd.mean(0)

    @property
    def jsd_std(self) -> np.ndarray:
        """[L, H]: its standard deviation over the inputs (ddof=1; zeros for one input)."""
        return self.jsd.std(0, ddof=1) if len(self.jsd) > 1 else np.zeros_like(self.jsd[0])

    @property
    def pearson_mean(self) -> np.ndarray:
        """[L, H]: the Pearson correlation of each head's attention in the two models, averaged over the inputs
        (NaN-safe)."""
        return np.nanmean(self.pearson, 0)

    def unchanged_blocks(self, tol: float = 0.0) -> list[int]:
        """Blocks whose every head has JSD <= tol on every input."""
        return [int(b) for b in np.flatnonzero(self.jsd.max(axis=(0, 2)) <= tol)]

    def ranking(self):
        """pandas DataFrame, one row per head, the most changed first: block, head, jsd_mean, jsd_std,
        pearson_mean, n."""
        import pandas as pd

        B, H = self.jsd_mean.shape
        std = self.jsd_std
        df = pd.DataFrame({"block": np.repeat(np.arange(B), H), "head": np.tile(np.arange(H), B),
                           "jsd_mean": self.jsd_mean.ravel(), "jsd_std": std.ravel(),
                           "pearson_mean": self.pearson_mean.ravel(), "n": len(self.jsd)})
        return df.sort_values("jsd_mean", ascending=False, kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        top = self.ranking().head(3)
        heads = ", ".join(f"{r.block}.{r.head} ({r.jsd_mean:.3g} ± {r.jsd_std:.2g})" for r in top.itertuples())
        same = self.unchanged_blocks()
        return (f"ModelsComparison({self.names[0]!r} vs {self.names[1]!r}, {len(self.jsd)} inputs; most changed "
                f"heads (block.head, mean JSD ± sd): {heads}; unchanged blocks: {same if same else 'none'}"
                + (", interrupted" if self.interrupted else "") + ")")


def compare_models(explainer_a: Any, explainer_b: Any, inputs: list[Any], *, names: tuple[str, str] = ("a", "b"),
                   source: int | None = None, flow: bool = False, progress: bool | None = None) -> ModelsComparison:
    """``compare`` over a data set: both explainers explain every input (batched), then each pair is compared.

    A progress bar runs over the inputs; Ctrl-C keeps what was compared so far (``interrupted=True``)."""
    if not isinstance(inputs, list) or not inputs:
        raise ValueError("compare_models needs a non-empty list of inputs")
    names = check_names(names)
    show = len(inputs) > 1 if progress is None else bool(progress)
    ea = explainer_a.explain(inputs, keep_graph=False, progress=show)
    eb = explainer_b.explain(inputs, keep_graph=False, progress=show)
    n = min(len(ea), len(eb))
    out: list[ModelComparison] = []
    interrupted = n < len(inputs)
    interrupted |= run_each(n, lambda i: out.append(compare(ea[i], eb[i], names=names, source=source, flow=flow)), show,
                            what="inputs", desc="comparing")
    if not out:
        raise RuntimeError("interrupted before the first input was compared")
    return ModelsComparison(names=(str(names[0]), str(names[1])), jsd=np.stack([c.jsd for c in out]),
                            pearson=np.stack([c.pearson for c in out]), comparisons=out, interrupted=interrupted)


def token_matches(token: Any, word: str) -> bool:
    """Whether a token is ``word``: case-insensitive, without word-piece marks (##, Ġ, ▁) and the leading space a
    byte-level token is displayed with (" mat")."""
    return str(token).replace("##", "").strip().lstrip("Ġ▁").lower() == str(word).strip().lower()


def attention_to(explanations: Any, word: str) -> np.ndarray:
    """[B, H] how much each block and head attends to ``word``: the attention its tokens receive (matched without
    word-piece marks, case-insensitive), summed over them and averaged over the query rows that can see them (every
    row for an encoder; rows i >= j for token j of a causal model, whose earlier rows cannot attend to it); for a
    list, the mean over the explanations whose input contains the word. Raises ValueError when no input contains
    it."""
    from .explanation import Explanation

    items = explanations if isinstance(explanations, list) else [explanations]
    if not items:
        raise ValueError("attention_to needs an explanation or a non-empty list of them")
    bad = [i for i, e in enumerate(items) if not isinstance(e, Explanation)]
    if bad:
        raise TypeError(f"attention_to reads attnviz.Explanation objects; item {bad[0]} is "
                        f"{type(items[bad[0]]).__name__}")
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__} {word!r}")
    key = word.strip().lower()
    if not key:
        raise ValueError("attention_to needs a word")
    scores = []
    for e in items:
        hits = [j for j, t in enumerate(e.tokens) if token_matches(t, key)]
        if hits:
            A = np.asarray(e.attention(), np.float64)  # [B, H, N, N]
            first = hits if e.causal else [0] * len(hits)  # the first query row that can see each hit
            scores.append(sum(A[:, :, i0:, j].mean(-1) for i0, j in zip(first, hits)))
    if not scores:
        raise ValueError(f"no input contains the token {word!r} (matched per token: a word the tokenizer splits "
                         "into pieces matches by its pieces)")
    return np.mean(scores, axis=0)


__all__ = ["ComparisonError", "ModelComparison", "ModelsComparison", "attention_to", "compare", "compare_models",
           "flow_graph", "resolve_source", "token_matches"]
