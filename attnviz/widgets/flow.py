"""FlowView: the layered graph of attention flowing into the explained position (DeRose et al. 2020): [CLS] of an
encoder classifier, the explained position of a decoder; for one model or two."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from traitlets import Enum, List, TraitError, Unicode, observe, validate

from ..engine.compare import attention_to, check_comparable, compare, flow_graph, resolve_source, token_matches
from .base import Fraction, Index, View, bundle, check_explanation
from .serialize import HeadMask, Tensor, empty, encode, head_mask

#: Colours of the two models (also in js/src/flow_layout.js MODEL_COLORS).
MODEL_COLORS = ("#1f77b4", "#d62728")


class FlowView(View):
    """Attention flowing into the decision, layer by layer: ``FlowView(e)`` for one model, ``FlowView(e_a, e_b)``
    for two models on the same input (e.g. pretrained and fine-tuned), with a head-comparison grid.

    ``FlowView(e_a, e_b=None, names=None, source=None, threshold=0.01, top_k=2000, layers=None, heads=None,
    mode="both", scale=None)``

    The graph is traced backwards from ``source`` at the deepest layer (default: the explained position, [CLS] of an
    encoder classifier or the position a decoder predicts from; token 0 of a causal model sees only itself): node
    (l, j) is token j after l blocks (l = 0: the input), the edge from (l + 1, i) to (l, j) weighs
    R_{l+1}[i] x Â_l[i, j] (the rollout weight of the upper node times the augmented attention of the edge;
    docs/METHODS.md). Answered in the browser:
    threshold, top_k, layers, mode, clicking a token (only the paths through it), hover. Answered by the kernel:
    heads (the graph recomputed), selected_head (both models' attention of that head), query (which blocks and
    heads attend to a word).
    """

    _esm = bundle("flow_view")
    bundle_name = "flow_view"
    settable: ClassVar[tuple[str, ...]] = ("names", "source", "threshold", "top_k", "layers", "heads", "mode",
                                           "selected_head", "query")

    tokens = List(Unicode(), help="the tokens [N] (read only)").tag(sync=True)
    names = List(Unicode(), help="one name per model, shown in the legend").tag(sync=True)
    source = Index(0, help="the token the flow goes into at the deepest layer (read only after construction)"
                   ).tag(sync=True)
    nodes = Tensor(help="float16 [M, B + 1, N]: R_l per model, layer 0 = inputs (read only)").tag(sync=True)
    edges = Tensor(help="float16 [M, B, N, N]: edges[m, l, i, j] from node (l + 1, i) to (l, j) (read only)"
                   ).tag(sync=True)
    cls_attention = Tensor(help="float16 [M, N]: the source's attention in the last block, mean over the kept "
                                "heads (read only)").tag(sync=True)
    head_change = Tensor("float32", help="float32 [B, H]: Jensen-Shannon divergence per head between the two "
                                         "models (read only; empty for one model)").tag(sync=True)
    head_similarity = Tensor("float32", help="float32 [B, H]: Pearson r per head (read only)").tag(sync=True)
    threshold = Fraction(0.01, min=0.0, max=1.0, help="edges weaker than this are not drawn").tag(sync=True)
    top_k = Index(2000, min=1, max=200_000, help="at most this many edges drawn, the strongest").tag(sync=True)
    layers = List(Index(), help="[lo, hi]: the node layers shown (0 = inputs .. B)").tag(sync=True)
    heads = HeadMask(help="[B][H] kept heads (kernel: the graph is recomputed)").tag(sync=True)
    mode = Enum(["both", "difference"], "both", help="two models: both graphs (shared edges neutral, each "
                                                    "model's own in its colour) or the difference b - a"
                ).tag(sync=True)
    selected_head = List(Index(), help="[block, head] opened for both models, or []").tag(sync=True)
    head_maps = Tensor(help="float16 [M, N, N]: the selected head's attention per model (read only)").tag(sync=True)
    query = Unicode("", help="a word: which blocks and heads attend to it (kernel)").tag(sync=True)
    query_scores = Tensor("float32", help="float32 [M, B, H]: attention to the query word (read only)"
                          ).tag(sync=True)
    query_tokens = List(Index(), help="indices of the tokens matching the query (read only)").tag(sync=True)

    def __init__(self, explanation: Any, other: Any = None, **kwargs: Any):
        e_a = check_explanation(explanation, None, "FlowView")
        e_b = None if other is None else check_explanation(other, None, "FlowView")
        if e_b is not None:
            check_comparable(e_a, e_b)
        super().__init__(**kwargs)
        self._es = [e_a] if e_b is None else [e_a, e_b]
        self._A = [torch.as_tensor(e.attention()) for e in self._es]
        with self.hold_sync():  # one update message with the whole initial state
            self._B, self._H = e_a.num_layers, e_a.num_heads
            self.tokens = [str(t) for t in e_a.tokens]
            self.names = ["model"] if e_b is None else ["a", "b"]
            self.layers = [0, self._B]
            self.heads = head_mask(None, self._B, self._H)
            self.source = resolve_source(e_a, kwargs.pop("source", None))
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    # ------------------------------------------------------------------ validation
    @validate("names")
    def _valid_names(self, proposal):
        value = [str(v) for v in proposal["value"]]
        if hasattr(self, "_es") and len(value) != len(self._es):
            raise TraitError(f"names needs one name per model ({len(self._es)}), got {value}")
        return value

    @validate("source")
    def _valid_source(self, proposal):
        value = proposal["value"]
        n = len(self.tokens) or None
        if n is not None and not 0 <= value < n:
            raise TraitError(f"source must be a token index in [0, {n - 1}], got {value}")
        return value

    @validate("layers")
    def _valid_layers(self, proposal):
        value = list(proposal["value"])
        B = getattr(self, "_B", None)
        if B is not None and (len(value) != 2 or not 0 <= value[0] < value[1] <= B):
            raise TraitError(f"layers must be [lo, hi] with 0 <= lo < hi <= {B}, got {value}")
        return value

    @validate("selected_head")
    def _valid_selected(self, proposal):
        value = list(proposal["value"])
        if value and (len(value) != 2 or not 0 <= value[0] < self._B or not 0 <= value[1] < self._H):
            raise TraitError(f"selected_head must be [block, head] with block < {self._B} and head < {self._H}, "
                             f"or [], got {value}")
        return value

    # ------------------------------------------------------------------ kernel answers
    @observe("heads", "source")
    def _graph_change(self, change):
        self._refresh()

    @observe("selected_head")
    def _selected_change(self, change):
        self._answer(self._send_head_maps)

    @observe("query")
    def _query_change(self, change):
        self._answer(self._send_query)

    def _static_figure(self) -> Any:
        """The first model's flow graph as drawn now (``plots.snapshot.flow_figure``), or None before it has one."""
        from ..engine import facades
        from .serialize import decode

        if not self.nodes or not self.nodes.get("shape") or not self.nodes["shape"][0]:
            return None
        nodes, edges = decode(self.nodes), decode(self.edges)
        return facades.call("flow_figure", nodes[0], edges[0], list(self.tokens), float(self.threshold),
                            int(self.top_k), self.names[0] if self.names else "")

    def _refresh(self) -> None:
        def work():
            mask = torch.as_tensor(np.asarray(self.heads, dtype=bool))
            graphs = [flow_graph(A, mask, source=self.source) for A in self._A]
            self.nodes = encode(np.stack([g[0] for g in graphs]))
            self.edges = encode(np.stack([g[1] for g in graphs]))
            last = [(A[-1, :, self.source, :].double() * mask[-1, :, None]).sum(0) / max(1, int(mask[-1].sum()))
                    for A in self._A]
            self.cls_attention = encode(torch.stack(last).numpy(), scale=1.0)
            if len(self._es) == 2 and not self.head_change["shape"][0]:  # does not depend on the kept heads
                c = compare(self._es[0], self._es[1], names=(self.names[0], self.names[1]), source=self.source)
                self.head_change = encode(c.jsd, "float32")
                self.head_similarity = encode(np.nan_to_num(c.pearson, nan=0.0), "float32")
        self._answer(work)

    def _send_head_maps(self) -> None:
        if not self.selected_head:
            self.head_maps = empty()
            return
        b, h = self.selected_head
        self.head_maps = encode(torch.stack([A[b, h] for A in self._A]).numpy(), scale=1.0)

    def _send_query(self) -> None:
        word = self.query.strip()
        self.query_scores, self.query_tokens = empty(), []  # a failed query leaves no stale scores behind
        if not word:
            return
        matches = [j for j, t in enumerate(self.tokens) if token_matches(t, word)]
        if not matches:  # said in the view beside the box ("no token of this input is ..."), not an error
            return
        self.query_scores = encode(np.stack([attention_to(e, word) for e in self._es]), "float32")
        self.query_tokens = matches
