"""Views of how a decoder computes its answer: the logit lens, direct logit attribution, activation patching (one
labelled grid each, ``js/src/grid_view.js``) and one head's arithmetic (``HeadMathView``, ``js/src/head_math_view.js``).

Every number comes from ``engine/internals`` (the views compute nothing); the browser draws, answers hover and the
block slider itself, and sends pickers and clicks to the kernel.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import ipywidgets
import numpy as np
from traitlets import Bool, Dict, Float, Int, List, Unicode, observe

from ..engine.internals import FROZEN_NOTE, PatchingResult
from ..engine.internals.residual import InternalsError, check_index
from .base import DisplaysItsBundle, Index, View, bundle, check_explanation

#: Tokens listed under each logit-lens cell's hover (the kernel sends only these, never [B, N, V]).
HOVER_TOKENS = 5
#: Next-token candidates offered by the logit lens's token picker (besides the explained target).
CANDIDATES = 10


def _text(e: Any, token_id: int) -> str:
    return e._token_text(int(token_id))


def _position_labels(e: Any) -> list[str]:
    return [f"{i} {t}" for i, t in enumerate(e.tokens)]


class GridView(View):
    """A labelled grid of numbers (rows x columns) with a colour legend, hover readouts, optional pickers, a block
    slider over the rows and clicks sent to the kernel. The logit lens, direct attribution and patching views are
    GridViews; subclasses fill the traits from the engine's results."""

    _esm = bundle("grid_view")
    bundle_name = "grid_view"

    kind = Unicode("", help="which grid: 'logit lens', 'direct attribution', 'patching' (read only)").tag(sync=True)
    title = Unicode("", help="the grid's title (read only)").tag(sync=True)
    note = Unicode("", help="a sentence under the grid: what is frozen, what 0 and 1 mean (read only)").tag(sync=True)
    summary = Unicode("", help="the grid's result in words, from its numbers (read only)").tag(sync=True)
    row_title = Unicode("").tag(sync=True)
    col_title = Unicode("").tag(sync=True)
    row_labels = List(Unicode()).tag(sync=True)
    col_labels = List(Unicode()).tag(sync=True)
    values = Dict(help="float32 [R, C] (read only)").tag(sync=True)
    value_label = Unicode("value").tag(sync=True)
    signed = Bool(False, help="diverging colours around 0 (read only)").tag(sync=True)
    fixed_range = List(Float(), help="[lo, hi] of the colour scale, or [] for the grid's own range").tag(sync=True)
    cell_text = List(List(Unicode()), help="text drawn in each cell [R][C] (e.g. the top token), or []").tag(sync=True)
    hover_text = List(List(Unicode()), help="extra hover lines per cell [R][C], or []").tag(sync=True)
    marked_col = Int(-1, help="a column outlined (the explained position), -1 for none").tag(sync=True)
    marked_cells = List(List(Int()), help="[[r, c], ...] cells outlined (e.g. the selected head)").tag(sync=True)
    layer = Int(-1, help="rows 0..layer drawn in full, later rows faded ('through block l'); -1 = no slider")\
        .tag(sync=True)
    pickers = List(Dict(), help="[{name, label, options: [{value, text}], value}] (read only)").tag(sync=True)
    choices = Dict(help="the browser's picks {name: value}").tag(sync=True)
    selected = List(Int(), help="[row, col] of the last clicked cell, [] for none").tag(sync=True)

    def _static_figure(self) -> Any:
        """The grid as a heatmap (``plots.snapshot.grid_figure``), or None before it has numbers."""
        from ..engine import facades
        from .serialize import decode

        values = decode(self.values) if self.values else np.zeros(0)
        if values.ndim != 2 or values.size == 0:
            return None
        title = self.title + (f"\n{self.summary}" if self.summary else "")
        return facades.call("grid_figure", values, list(self.row_labels), list(self.col_labels), title,
                            self.value_label, bool(self.signed), list(self.fixed_range),
                            [list(r) for r in self.cell_text], int(self.marked_col), self.row_title, self.col_title)

    def _set_grid(self, values: np.ndarray) -> None:
        from .serialize import encode

        self.values = encode(np.asarray(values, dtype=np.float32), "float32")

    @observe("choices")
    def _on_choices(self, change: dict) -> None:
        self._answer(self._refresh_grid)

    def _refresh(self) -> None:
        self._answer(self._refresh_grid)

    def _refresh_grid(self) -> None:
        """Recompute the grid from ``choices`` (subclasses)."""


class LogitLensView(GridView):
    """The logit lens of a language-model explanation: blocks x positions, each cell coloured by the probability
    (or the rank) of one token read from the residual stream after that block, its top token written in the cell,
    the top 5 on hover. ``LogitLensView(e, token=None, mode="probability", layer=None)``: token defaults to the
    explained target; the block slider fades the blocks after l."""

    settable: ClassVar[tuple[str, ...]] = ("token", "mode", "layer")

    def __init__(self, explanation: Any, **kwargs: Any):
        super().__init__(**{k: v for k, v in kwargs.items() if k == "layout"})
        self._check_kwargs({k: v for k, v in kwargs.items() if k != "layout"})
        e = check_explanation(explanation, "text", "LogitLensView")
        self.e = e
        top = e.logit_lens(top_k=HOVER_TOKENS)
        self._top = top
        self.kind = "logit lens"
        self.row_title, self.col_title = "after block", "position (token)"
        self.row_labels = [str(l) for l in range(e.num_layers)]
        self.col_labels = _position_labels(e)
        self.marked_col = e.position
        self.cell_text = [[_text(e, top.ids[l, i, 0]) for i in range(e.num_tokens)] for l in range(e.num_layers)]
        self.hover_text = [[", ".join(f"{_text(e, top.ids[l, i, k])!r} {math.exp(top.log_probs[l, i, k]):.3f}"
                                      for k in range(top.ids.shape[-1])) for i in range(e.num_tokens)]
                           for l in range(e.num_layers)]
        self._candidates = self._candidate_ids()
        self.note = ("row l: the residual stream after block l, read through the model's final norm and unembedding "
                     "(the last row is the model's own prediction); in each cell its most probable token")
        token = kwargs.get("token")
        mode = kwargs.get("mode", "probability")
        if mode not in ("probability", "rank"):
            raise ValueError(f"mode must be 'probability' or 'rank', got {mode!r}")
        first = self._token_choice(token)
        self.layer = e.num_layers - 1 if kwargs.get("layer") is None else check_index("block", kwargs["layer"],
                                                                                      e.num_layers)
        self.pickers = [
            {"name": "token", "label": "token", "value": str(first),
             "options": [{"value": str(t), "text": repr(_text(e, t))} for t in self._candidates]},
            {"name": "mode", "label": "colour by", "value": mode,
             "options": [{"value": "probability", "text": "probability"}, {"value": "rank", "text": "rank"}]},
        ]
        self.choices = {"token": str(first), "mode": mode}
        self._ready = True
        self._refresh()

    def _candidate_ids(self) -> list[int]:
        e = self.e
        ids: list[int] = []
        target = e.target if isinstance(e.target, tuple) else (e.target,)
        for t in [*target, *(i for i, _, _ in e.top_tokens(CANDIDATES))]:
            if int(t) not in ids:
                ids.append(int(t))
        return ids

    def _token_choice(self, token: Any) -> int:
        if token is None:
            return self._candidates[0]
        index = self.e.explainer.check_target(token)
        if isinstance(index, tuple):
            raise ValueError("the logit lens colours one token: pass a token, not a pair")
        if index not in self._candidates:
            self._candidates.append(int(index))
        return int(index)

    @property
    def token(self) -> int:
        """The token whose probability colours the grid (its id)."""
        return int(self.choices.get("token", self._candidates[0]))

    def _refresh_grid(self) -> None:
        e = self.e
        token = self.token
        mode = self.choices.get("mode", "probability")
        log_p = e.logit_lens(token=token)  # [B, N]
        word = repr(_text(e, token))
        if mode == "rank":
            self._set_grid(e.logit_lens(token=token, rank=True))
            self.value_label, self.signed, self.fixed_range = f"rank of {word} (0 = most probable)", False, []
        else:
            self._set_grid(np.exp(log_p))
            self.value_label, self.signed, self.fixed_range = f"p({word})", False, [0.0, 1.0]
        self.title = f"Logit lens: {word} at position {e.position} ({e.tokens[e.position]!r})"
        at_position = log_p[:, e.position]
        top_rows = np.flatnonzero(self._top.ids[:, e.position, 0] == token)
        if top_rows.size:
            self.summary = (f"{word} first becomes the most probable next token at the explained position after block "
                            f"{int(top_rows[0])} (of blocks 0..{e.num_layers - 1}); after the last block its "
                            f"probability is {math.exp(at_position[-1]):.3f}.")
        else:
            peak = int(np.argmax(at_position))
            self.summary = (f"{word} is never the most probable next token at the explained position; its "
                            f"probability is highest after block {peak} ({math.exp(at_position[peak]):.3f}).")


class DirectAttributionGrid(GridView):
    """The B x (H + 1) grid of direct logit attribution: each head's (and, in the last column, each MLP's) direct
    contribution to the explained logit. Clicking a head sets ``selected``."""

    settable: ClassVar[tuple[str, ...]] = ("target",)

    def __init__(self, explanation: Any, **kwargs: Any):
        super().__init__(**{k: v for k, v in kwargs.items() if k == "layout"})
        self._check_kwargs({k: v for k, v in kwargs.items() if k != "layout"})
        self.e = check_explanation(explanation, "text", "DirectAttributionView")
        self.kind = "direct attribution"
        self.target = kwargs.get("target")
        self.e.direct_attribution(self.target)  # a bad target or an encoder: the error now, not in the view
        self._ready = True
        self._refresh()

    def _refresh_grid(self) -> None:
        e = self.e
        d = e.direct_attribution(self.target)
        self.attribution = d
        grid = np.concatenate([d.heads, d.mlps[:, None]], axis=1)
        self._set_grid(grid)
        self.signed, self.fixed_range = True, []
        self.value_label = "direct contribution (logit units)"
        self.row_title, self.col_title = "block", "head (last column: MLP)"
        self.row_labels = [str(l) for l in range(e.num_layers)]
        self.col_labels = [str(h) for h in range(e.num_heads)] + ["MLP"]
        self.title = f"Direct logit attribution: {d.description} at position {d.position} ({e.tokens[d.position]!r})"
        self.note = (f"{FROZEN_NOTE}. Embeddings {d.embeddings:+.3f}, biases {d.biases:+.3f}; all parts add up to "
                     f"{d.total:.4f}, the model's logit is {d.logit:.4f}. Click a head to see inside it.")
        best = d.top(3)
        self.summary = "Largest direct contributions: " + ", ".join(f"{n} ({v:+.3f})" for n, v in best) + "."


class HeadMathView(View):
    """Inside one head: for a query token, q·k for every key, the scale, the causal mask, the softmax (equal to the
    model's attention), the weighted sum of values, the head's output norm and its direct contribution to the
    explained target. A temperature slider shows a what-if pattern (browser-side, never the model's).

    ``HeadMathView(e, block=0, head=0, query=None)`` (query defaults to the explained position)."""

    _esm = bundle("head_math_view")
    bundle_name = "head_math_view"
    settable: ClassVar[tuple[str, ...]] = ("block", "head", "query")

    block = Index(0, help="the block shown").tag(sync=True)
    head = Index(0, help="the head shown").tag(sync=True)
    query = Index(0, help="the query position").tag(sync=True)
    tokens = List(Unicode(), help="the tokens [N] (read only)").tag(sync=True)
    num_blocks = Int(0).tag(sync=True)
    num_heads = Int(0).tag(sync=True)
    position = Int(0, help="the explained position (read only)").tag(sync=True)
    target_text = Unicode("", help="the explained target in words (read only)").tag(sync=True)
    math = Dict(help="{q, keys, values, scores, weights, model_weights, z} float32 tensors (read only)")\
        .tag(sync=True)
    facts = Dict(help="{scaling, kv_head, write_norm, direct, causal, head_dim} (read only)").tag(sync=True)
    pattern = Dict(help="float16 [N, N]: the head's whole attention (read only)").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        super().__init__(**{k: v for k, v in kwargs.items() if k == "layout"})
        self._check_kwargs({k: v for k, v in kwargs.items() if k != "layout"})
        e = check_explanation(explanation, "text", "HeadMathView")
        self.e = e
        self.tokens = list(e.tokens)
        self.num_blocks, self.num_heads, self.position = e.num_layers, e.num_heads, e.position
        self.target_text = e.describe_target()
        block = check_index("block", kwargs.get("block", 0), e.num_layers)
        head = check_index("head", kwargs.get("head", 0), e.num_heads)
        query = e.position if kwargs.get("query") is None else check_index("query position", kwargs["query"],
                                                                           e.num_tokens)
        e.head_math(block, head, query)  # a decoder classifier or an encoder: the error now
        self.block, self.head, self.query = block, head, query
        self._ready = True
        self._refresh()

    @observe("block", "head", "query")
    def _on_change(self, change: dict) -> None:
        self._refresh()

    def show_head(self, block: int, head: int, query: int | None = None) -> None:
        """Show another head (and query) in one kernel answer."""
        block = check_index("block", block, self.e.num_layers)
        head = check_index("head", head, self.e.num_heads)
        ready, self._ready = self._ready, False
        try:
            self.block, self.head = block, head
            if query is not None:
                self.query = check_index("query position", query, self.e.num_tokens)
        finally:
            self._ready = ready
        self._refresh()

    def _static_figure(self) -> Any:
        """What the view shows for its query as bars (``plots.snapshot.head_math_figure``): for each key token the
        score s·q·k and the softmax weight (the model's attention as a tick), masked keys hatched or left out, at most
        the 40 keys with the largest weight plus the query's own; titled with the block, head, query token and the
        explained target, the head's write norm and direct contribution under it. None while the view shows an
        error (a block, head or query that does not exist)."""
        from ..engine import facades

        e = self.e
        if not (0 <= self.block < e.num_layers and 0 <= self.head < e.num_heads and 0 <= self.query < e.num_tokens):
            return None
        hm = e.head_math(self.block, self.head, self.query)
        scores = np.where(np.isfinite(hm.masked), hm.scores, np.nan)  # [N], NaN: a masked key (as the browser's)
        target = e.describe_target()
        title = (f"Inside block {self.block}, head {self.head} (key/value head {hm.kv_head}): query {self.query} "
                 f"{e.tokens[self.query]!r}, explaining {target}")
        subtitle = (f"scale s = {hm.scaling:.4g}; the head writes a vector of norm {hm.write_norm:.4g} into the "
                    f"residual stream, its direct contribution to {target}: {hm.direct:+.4f}")
        return facades.call("head_math_figure", list(e.tokens), np.asarray(scores, dtype=np.float32),
                            np.asarray(hm.weights, dtype=np.float32), np.asarray(hm.model_weights, dtype=np.float32),
                            int(self.query), title, subtitle)

    def _refresh(self) -> None:
        self._answer(self._compute)

    def _compute(self) -> None:
        from .serialize import encode

        e = self.e
        for name, size in (("block", e.num_layers), ("head", e.num_heads), ("query position", e.num_tokens)):
            value = {"block": self.block, "head": self.head, "query position": self.query}[name]
            if not 0 <= value < size:
                raise InternalsError(f"{name} {value} does not exist: the model has {name}s 0..{size - 1}")
        hm = e.head_math(self.block, self.head, self.query)
        scores = np.where(np.isfinite(hm.masked), hm.scores, np.nan)  # NaN marks a masked key for the browser
        self.math = {
            "q": encode(hm.q, "float32"), "keys": encode(hm.keys, "float32"), "values": encode(hm.values, "float32"),
            "scores": encode(scores, "float32"), "weights": encode(hm.weights, "float32"),
            "model_weights": encode(hm.model_weights, "float32"), "z": encode(hm.z, "float32"),
        }
        self.facts = {"scaling": hm.scaling, "kv_head": hm.kv_head, "write_norm": hm.write_norm,
                      "direct": hm.direct, "causal": bool(e.causal), "head_dim": int(hm.q.shape[0])}
        self.pattern = encode(e.capture.block(self.block)[self.head].float().cpu().numpy(), "float16", scale=1.0)


class DirectAttributionView(DisplaysItsBundle, ipywidgets.VBox):
    """Direct logit attribution as a B x H grid (plus each block's MLP), and below it the "inside one head" view of
    the head clicked (at first the head with the largest |contribution|).

    ``DirectAttributionView(e, target=None)``; ``.grid`` is the grid, ``.head_math`` the head's view,
    ``.attribution`` the numbers."""

    def __init__(self, explanation: Any, target: Any = None, **kwargs: Any):
        self.grid = DirectAttributionGrid(explanation, target=target, **kwargs)
        d = self.grid.attribution
        block, head = np.unravel_index(int(np.argmax(np.abs(d.heads))), d.heads.shape)
        self.head_math = HeadMathView(explanation, block=int(block), head=int(head))
        self.grid.marked_cells = [[int(block), int(head)]]
        super().__init__([self.grid, self.head_math])
        self.grid.observe(self._on_select, "selected")

    @property
    def attribution(self):
        """The ``DirectAttribution`` the grid shows (heads [B, H], mlps [B], total, logit)."""
        return self.grid.attribution

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """ipywidgets' bundle for the box, plus its grid's static picture (``base.with_static_fallback``)."""
        from .base import with_static_fallback

        return with_static_fallback(self._live_bundle(**kwargs), self.grid, type(self).__name__)

    def _on_select(self, change: dict) -> None:
        cell = list(change["new"] or [])
        if len(cell) != 2 or not 0 <= cell[1] < self.grid.e.num_heads:
            return  # an MLP cell or nothing: no head to open
        self.grid.marked_cells = [cell]
        self.head_math.show_head(cell[0], cell[1])


class PatchingView(GridView):
    """Activation patching (``attnviz.patch``) as grids: the residual stream entering each block at each position,
    or each head's output; 0 = the corrupted run, 1 = the clean run. A picker switches between the two.

    ``PatchingView(result)`` with a ``PatchingResult``."""

    settable: ClassVar[tuple[str, ...]] = ("show",)

    def __init__(self, result: PatchingResult, **kwargs: Any):
        super().__init__(**{k: v for k, v in kwargs.items() if k == "layout"})
        self._check_kwargs({k: v for k, v in kwargs.items() if k != "layout"})
        if not isinstance(result, PatchingResult):
            raise TypeError(f"PatchingView shows an attnviz.patch(...) result, got {type(result).__name__}")
        self.result = result
        self.kind = "patching"
        show = kwargs.get("show", "residual stream")
        if show not in ("residual stream", "heads"):
            raise ValueError(f"show must be 'residual stream' or 'heads', got {show!r}")
        self.pickers = [{"name": "show", "label": "patch", "value": show,
                         "options": [{"value": "residual stream", "text": "residual stream (block x position)"},
                                     {"value": "heads", "text": "head outputs (block x head)"}]}]
        self.choices = {"show": show}
        self._ready = True
        self._refresh()

    def _refresh_grid(self) -> None:
        r = self.result
        heads = self.choices.get("show") == "heads"
        values = r.heads if heads else r.resid
        self._set_grid(np.nan_to_num(values, nan=0.0))
        self.signed, self.fixed_range = True, []
        self.value_label = "share of the clean answer restored"
        self.row_title = "block" if heads else "stream entering block"
        self.row_labels = [str(l) for l in range(values.shape[0])]
        if heads:
            self.col_title, self.col_labels = "head", [str(h) for h in range(values.shape[1])]
            self.marked_col = -1
        else:
            self.col_title = "position (clean / corrupted token)"
            self.col_labels = [f"{i} {a}" if a == b else f"{i} {a} / {b}"
                               for i, (a, b) in enumerate(zip(r.clean_tokens, r.corrupted_tokens))]
            self.marked_col = r.position
        self.title = f"Activation patching: {r.description} at position {r.position}"
        partial = " (PARTIAL: interrupted; unfinished blocks drawn as 0)" if not r.complete else ""
        self.note = (f"0 = the corrupted run ({r.corrupted_score:.3f}), 1 = the clean run ({r.clean_score:.3f}): how "
                     f"much of the clean answer copying this activation from the clean run restores{partial}")
        finite = np.where(np.isfinite(values), values, -np.inf)
        l, c = np.unravel_index(int(np.argmax(finite)), values.shape)
        what = f"head {l}.{c}" if heads else f"the stream entering block {l} at position {c} ({r.clean_tokens[c]!r})"
        self.summary = f"Patching {what} restores the most: {values[l, c]:.2f} of the clean answer."


__all__ = ["DirectAttributionView", "GridView", "HeadMathView", "LogitLensView", "PatchingView"]
