"""The method registry: one entry per method, each a short function over a Trace returning [B, N].

A method function has the signature ``fn(trace, heads, **options) -> Tensor [B, N]`` where ``heads`` is a bool
[B, H] mask and row l is the method carried through blocks 0..l (the last row is the method's answer). To add a
method, write the function in its family's module and add a ``MethodInfo`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import attention, gradient, lrp, redistribution
from .common import Trace


@dataclass(frozen=True)
class MethodInfo:
    """A method's name, family, one-line description and how to draw it.

    signed: values can be negative (draw with a diverging colormap); class_specific: depends on the target class
    (needs a backward pass); uses_heads: the head mask changes it; last: optional fast path for the last row only.
    span: which blocks' attention row l reads: "upto" (blocks start..l, a product or sum carried up to l), "own"
    (block l alone), or "none" (no attention: the head mask changes nothing); ``blocks_read`` resolves it with the
    options (start_layer, per_layer).
    """

    name: str
    family: str
    description: str
    fn: Callable[..., torch.Tensor]
    signed: bool = False
    class_specific: bool = True
    uses_heads: bool = True
    modalities: tuple[str, ...] = ("text", "image")
    last: Callable[..., torch.Tensor] | None = None
    title: str = ""  # the readable name figures and tables show, e.g. "Chefer et al. 2021 (LRP)"
    span: str = "upto"
    needs: str = ""  # an adapter property that must be true for the method to apply (e.g. "attnlrp_supported")
    gradients: str = "none"  # what it reads of the capture's backward: "none", "hidden" (hidden states, input
    # embeddings) or "attention" (also the attention's gradients); the lean capture keeps only that

    @property
    def display_name(self) -> str:
        """The name a view shows: the title, or the registered name."""
        return self.title or self.name

    def __repr__(self) -> str:
        flags = [self.family, "class-specific" if self.class_specific else "class-agnostic"]
        if self.signed:
            flags.append("signed")
        return f"<method {self.name!r}: {self.display_name}; {', '.join(flags)}>"


class MethodTable(dict):
    """``{name: MethodInfo}`` with a readable table as its repr (text and HTML, for notebooks)."""

    COLUMNS = ("name", "title", "family", "class-specific", "signed", "description")

    def rows(self) -> list[tuple[str, ...]]:
        return [(i.name, i.display_name, i.family, "yes" if i.class_specific else "no", "yes" if i.signed else "no",
                 i.description) for i in self.values()]

    def __repr__(self) -> str:
        rows = [self.COLUMNS[:-1], *[r[:-1] for r in self.rows()]]
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines) + "\n(descriptions: attnviz.methods()[name].description, or the HTML table)"

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in self.COLUMNS)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{escape(v)}</td>" for v in r) + "</tr>"
                       for r in self.rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flow(trace: Trace, heads: torch.Tensor, source: int | None = None, row: int | str | None = None) -> torch.Tensor:
    """Attention flow from token ``source`` (default: the trace's position, [CLS] for a classifier); ``row="max"``: for
    each input token the largest flow from any output token (the max over rows, as rollout's ``row="max"``),
    renormalised to sum 1. [B, N].

    See docs/METHODS.md for the definition and where attnviz follows the authors' code."""
    from .flow import flow_maps, flow_maps_max

    source = _flow_source(trace, source, row)
    M = attention.augmented(trace.capture, heads)
    values = flow_maps_max(M) if row == "max" else flow_maps(M, source)
    return torch.as_tensor(values, dtype=M.dtype, device=M.device)


def _flow_last(trace: Trace, heads: torch.Tensor, source: int | None = None,
               row: int | str | None = None) -> torch.Tensor:
    from .flow import flow_map, flow_maps_max

    source = _flow_source(trace, source, row)
    M = attention.augmented(trace.capture, heads)
    values = flow_maps_max(M)[-1] if row == "max" else flow_map(M, source)
    return torch.as_tensor(values, dtype=M.dtype, device=M.device)


def _flow_source(trace: Trace, source: int | None, row: int | str | None) -> int:
    source = trace.position if source is None else source
    if row is not None and row != "max":
        if isinstance(row, bool) or not isinstance(row, int):
            raise ValueError(f"row must be a token index or 'max', got {row!r}")
        source = row  # row=i is the same as source=i, as in rollout
    if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < trace.num_tokens:
        raise ValueError(f"source must be a token index in [0, {trace.num_tokens - 1}], got {source!r}")
    return source


_REGISTRY: dict[str, MethodInfo] = {}


def register(info: MethodInfo) -> MethodInfo:
    """Add a method to the registry (a method family module calls this for each of its methods)."""
    _REGISTRY[info.name] = info
    return info


for _info in (
    MethodInfo("raw", "attention", "raw attention of one block, [CLS] row, mean over the selected heads",
               attention.raw, class_specific=False, title="Raw attention ([CLS] row)", span="own"),
    MethodInfo("last_layer", "attention", "raw attention of the last block, [CLS] row (row l: block l)",
               attention.raw, class_specific=False, title="Last-layer attention", span="own"),
    MethodInfo("rollout", "attention", "attention rollout (Abnar & Zuidema 2020): product of (A + I)/2 over blocks",
               attention.rollout, class_specific=False, title="Attention rollout (Abnar & Zuidema 2020)"),
    MethodInfo("flow", "attention", "attention flow (Abnar & Zuidema 2020): max-flow from [CLS] (option source=, "
               "row='max') to each input token",
               _flow, class_specific=False, last=_flow_last, title="Attention flow (Abnar & Zuidema 2020)"),
    MethodInfo("redistribution", "attention",
               "token-relevance redistribution rules i-iv (Sawaki & Murata 2025); option rule='i'..'iv'",
               redistribution.redistribution, class_specific=False,
               title="Token relevance redistribution (Sawaki & Murata 2025)"),
    MethodInfo("attn_gradcam", "gradient", "Grad-CAM on the attention of each block (Chefer's baseline)",
               gradient.attn_gradcam, title="Attention Grad-CAM", span="own", gradients="attention"),
    MethodInfo("gae", "gradient", "generic attention explainability (Chefer et al. ICCV 2021): Σ (∇A ⊙ A)⁺ rollout",
               gradient.gae, title="GAE (Chefer, Gur & Wolf, ICCV 2021)", gradients="attention"),
    MethodInfo("attcat", "gradient", "AttCAT (Qiang et al. 2022): hidden state x gradient, weighted by attention",
               gradient.attcat, signed=True, title="AttCAT (Qiang et al. 2022)", gradients="hidden"),
    MethodInfo("grad_input", "gradient", "gradient x input on the input embeddings (same map at every layer)",
               gradient.grad_input, signed=True, uses_heads=False, title="Gradient × input", span="none",
               gradients="hidden"),
    MethodInfo("integrated_gradients", "gradient",
               "integrated gradients on the input embeddings via captum (n_steps forward+backward passes)",
               gradient.integrated_gradients, signed=True, uses_heads=False,
               title="Integrated gradients (Sundararajan et al. 2017)", span="none"),
    MethodInfo("chefer", "lrp", "transformer attribution (Chefer et al. CVPR 2021): LRP relevance of the attention "
               "x its gradient, rolled out; option start_layer", lrp.chefer, title="Chefer et al. 2021 (LRP)",
               gradients="attention"),
    MethodInfo("lrp_full", "lrp", "LRP carried to the input embeddings / pixels (the 'LRP' baseline of Chefer's "
               "tables); option rules='chefer' for the conservative variant", lrp.lrp_full, signed=True,
               uses_heads=False, title="Full LRP (Bach et al. 2015)", span="none"),
    MethodInfo("lrp_partial", "lrp", "partial LRP (Voita et al. 2019): LRP relevance of the attention of one block, "
               "[CLS] row, positive part, mean over heads", lrp.lrp_partial, title="Partial LRP (Voita et al. 2019)",
               span="own"),
    MethodInfo("attnlrp", "lrp", "AttnLRP (Achtibat et al. 2024): input x gradient under LRP rules for attention, "
               "norms and gates, as lxt computes it (decoders); option seed='logit' or 'onehot'", lrp.attnlrp,
               signed=True, uses_heads=False, modalities=("text",), title="AttnLRP (Achtibat et al. 2024)",
               span="none", needs="attnlrp_supported"),
):
    register(_info)


def get(name: str) -> MethodInfo:
    """The registered method ``name``, or a clear error listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def blocks_read(name: str, layer: int, num_blocks: int, options: dict | None = None, modality: str = "text"
                ) -> tuple[int, int] | None:
    """The blocks (lo, hi), inclusive, whose attention row ``layer`` of method ``name`` reads, so whose heads the
    head mask can change; None when it reads no attention (the head mask changes nothing). Follows the options:
    rollout's and chefer's ``start_layer`` (chefer's default: "last" on text, the authors' start_layer=B−1, so row
    l reads block l alone; 1 on images), attcat's ``per_layer``."""
    info = get(name)
    options = options or {}
    if info.span == "none" or not info.uses_heads:
        return None
    if info.span == "own" or (name == "attcat" and options.get("per_layer")):
        return layer, layer
    start = options.get("start_layer")
    if name == "chefer" and start is None:
        start = min(1, num_blocks - 1) if modality == "image" else "last"
    if start == "last":
        return layer, layer
    start = int(start or 0)
    return None if layer < start else (start, layer)  # rows before start_layer carry nothing yet (e_row)


def methods() -> MethodTable:
    """Every registered method by name (``{name: info}``; ``info.description`` is a one-line summary); shown as a
    table in a notebook."""
    return MethodTable(_REGISTRY)


__all__ = ["MethodInfo", "MethodTable", "Trace", "blocks_read", "get", "methods", "register"]
