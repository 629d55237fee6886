"""AttentionView: raw attention as a head view and a model view, drawn on canvas in the browser."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from traitlets import Bool, Dict, Enum, Int, List, TraitError, Unicode, validate

from ..engine.head_scores import SCORES, head_scores
from .attention_input import attention_array, check_tokens
from .base import Fraction, Index, View, bundle, check_explanation
from .serialize import HeadMask, Tensor, encode, head_mask

#: Blocks on either side of the one shown that go with the first message when the whole tensor is larger than
#: FIRST_MESSAGE_BYTES (0: only the block shown, 6.3 MB at 512 tokens x 12 heads, so the first message stays under
#: 8 MB); the browser asks for the others as soon as it has drawn (prefetching neighbours) or the slider gets there.
FIRST_BLOCKS_AROUND = 0
#: Below this size (float16 bytes of [B, H, N, N]) every block goes in the first message.
FIRST_MESSAGE_BYTES = 4 * 2**20
#: A block larger than this (float16 bytes of [H, N, N]; 6 MiB is 512 tokens x 12 heads) is not in the first
#: message at all: the view opens with the thumbnails and a "loading block" note and asks for it at once, so the
#: first message stays under DESIGN.md's 8 MB at any length (GPT-2 small at 1,024 tokens: 24 MiB a block).
FIRST_MESSAGE_BLOCK_BYTES = 6 * 2**20
#: Side of the model view's thumbnails (the kernel pools each head's N x N map to at most this many cells).
THUMBNAIL_CELLS = 56


def pooled(attention: Any, cells: int) -> np.ndarray:
    """Mean-pool the last two axes of ``attention`` [..., N, N] (numpy or torch) into ``t x t`` cells,
    ``t = min(N, cells)``.

    Row i goes to cell ``floor(i t / N)`` (columns alike), each cell the mean of its weights: the model view's
    thumbnails, sent instead of the whole tensor. Returns float32 [..., t, t]."""
    a = torch.as_tensor(attention).to(torch.float32)
    n = a.shape[-1]
    t = min(n, cells)
    index = torch.arange(n) * t // n
    rows = torch.zeros((*a.shape[:-2], t, n)).index_add_(a.dim() - 2, index, a)
    sums = torch.zeros((*a.shape[:-2], t, t)).index_add_(a.dim() - 1, index, rows)
    counts = torch.bincount(index, minlength=t).to(torch.float32)
    return (sums / (counts[:, None] * counts[None, :])).numpy()


class AttentionView(View):
    """bertviz's head view and model view, fluid at 512 tokens. The block shown (and its neighbours) travel as float16
    (2 bytes per weight) in the first message, the other blocks when the slider reaches them, the model view as
    pooled thumbnails; every control (layer, heads, mode, hover, search) is answered in the browser.

    ``AttentionView(e, layer=None, heads=None, mode="head", threshold=0.02, coverage=0.5, color_heads="",
    scale=None)``

    The head view draws, for each query and head, its strongest weights that together hold ``coverage`` of the
    query's attention (1 draws every weight at or above ``threshold``); hovering a token draws all of its lines.
    """

    _esm = bundle("attention_view")
    bundle_name = "attention_view"
    settable: ClassVar[tuple[str, ...]] = ("layer", "heads", "mode", "threshold", "coverage", "color_heads")

    tokens = List(Unicode(), help="the tokens [N] (read only)").tag(sync=True)
    segments = List(Int(), help="segment of each token (read only)").tag(sync=True)
    attention_shape = List(Int(), help="[B, H, N, N] of the whole attention (read only)").tag(sync=True)
    attention = Tensor(help="float16 [b, H, N, N]: the blocks listed in attention_blocks, post-softmax, row = query "
                            "(read only; the others arrive on demand)").tag(sync=True)
    attention_blocks = List(Int(), help="which blocks `attention` holds, in order (read only)").tag(sync=True)
    thumbnails = Tensor(help="float16 [B, H, t, t]: each head's map mean-pooled for the model view "
                             "(read only)").tag(sync=True)
    layer = Index(0, help="the block shown in the head view (an index into the blocks drawn)").tag(sync=True)
    block_labels = List(Int(), help="each drawn block's index in the model, when only some blocks were passed "
                                    "(bertviz's include_layers); empty: 0..B-1 (read only)").tag(sync=True)
    heads = HeadMask(help="[B][H] heads drawn (True = drawn); a [H] mask applies to every block").tag(sync=True)
    mode = Enum(["head", "model"], "head", help="head view or model view").tag(sync=True)
    threshold = Fraction(0.02, min=0.0, max=1.0,
                         help="weights below this are not drawn in the head view").tag(sync=True)
    head_scores = Dict(help="{previous_token, duplicate_token, induction: float32 [B, H]}: head-type scores "
                            "(engine/head_scores.py; read only)").tag(sync=True)
    color_heads = Unicode("", help="colour the model view's heads by a head-type score: '', 'previous_token', "
                                   "'duplicate_token' or 'induction' (browser-side)").tag(sync=True)
    causal = Bool(False, help="a decoder's attention: token i attends to j <= i only, so the upper triangle is drawn "
                              "empty (not as zero weight) in the thumbnails (read only)").tag(sync=True)
    coverage = Fraction(0.5, min=0.0, max=1.0,
                        help="per query and head, draw the strongest weights that together hold this share of the "
                             "query's attention (1: every weight above the threshold)").tag(sync=True)

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, None, "AttentionView")
        super().__init__(**kwargs)
        self._setup(torch.as_tensor(e.attention()), [str(t) for t in e.tokens], [int(s) for s in e.segments], kwargs,
                    causal=e.causal)

    @classmethod
    def from_attention(cls, attention: Any, tokens: Any, *, segments: list[int] | None = None,
                       batch_index: int = 0, **kwargs: Any) -> AttentionView:
        """An AttentionView of attention you computed yourself, no model needed, any architecture.

        attention: a tuple of [batch, H, N, N] tensors (transformers' ``outputs.attentions``), a [B, H, N, N] tensor
        or array, or a TransformerLens ``ActivationCache`` (its ``blocks.{l}.attn.hook_pattern`` entries);
        ``batch_index`` picks the batch row. tokens: one string per position. Other keyword arguments as for
        ``AttentionView(e, ...)``. Shapes, tokens, NaN and negative weights are checked with a clear error. Attention
        whose upper triangle is exactly zero in every head is a decoder's (causal) and drawn as such."""
        A = attention_array(attention, batch_index)
        toks = check_tokens(tokens, A.shape[-1])
        if segments is not None and len(segments) != len(toks):
            raise ValueError(f"{len(segments)} segments for {len(toks)} tokens")
        view = cls.__new__(cls)
        View.__init__(view, **kwargs)  # checks the keyword arguments
        causal = A.shape[-1] > 1 and not bool(torch.triu(torch.as_tensor(A), diagonal=1).any())
        view._setup(A, toks, [int(s) for s in (segments or [0] * len(toks))], kwargs, causal=causal)
        return view

    def _setup(self, attention: torch.Tensor, tokens: list[str], segments: list[int], kwargs: dict[str, Any],
               causal: bool = False) -> None:
        B, H, N, _ = attention.shape
        self._B, self._H = B, H
        # kept as given; each block becomes float16 (what the browser draws) only when it is sent, so a long input's
        # first message costs one block's conversion, not all of them (torch converts ~50x faster than numpy)
        self._attention = attention.detach().to("cpu")
        self._half_bytes = 2 * B * H * N * N
        with self.hold_sync():  # one update message with the whole initial state
            self.tokens = tokens
            self.segments = segments
            self.causal = bool(causal)
            self.attention_shape = [B, H, N, N]
            # thumbnails only when some blocks stay behind: with every block in the first message the browser pools
            # them itself (they would repeat the weights: for N <= THUMBNAIL_CELLS they are the weights)
            whole = self._half_bytes <= FIRST_MESSAGE_BYTES
            self.thumbnails = encode(np.zeros(0, np.float32) if whole else pooled(self._attention, THUMBNAIL_CELLS),
                                     scale=1.0)
            scores = head_scores(attention, tokens)
            self.head_scores = {k: encode(np.nan_to_num(v, nan=0.0), "float32") for k, v in scores.items()}
            self.layer = B - 1
            self.heads = head_mask(None, B, H)
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})
            self._send_first_blocks()

    def _send_first_blocks(self) -> None:
        """The first message: every block when small, else the block shown (and FIRST_BLOCKS_AROUND neighbours),
        or none when one block alone is over FIRST_MESSAGE_BLOCK_BYTES (the browser asks for it as it opens)."""
        if self._half_bytes <= FIRST_MESSAGE_BYTES:
            blocks = list(range(self._B))
        elif self._half_bytes // self._B > FIRST_MESSAGE_BLOCK_BYTES:
            blocks = []
        else:
            lo, hi = max(0, self.layer - FIRST_BLOCKS_AROUND), min(self._B, self.layer + FIRST_BLOCKS_AROUND + 1)
            blocks = list(range(lo, hi))
        self.attention_blocks = blocks
        self.attention = encode(self._blocks_half(blocks), scale=1.0)

    def _on_browser_message(self, widget: Any, content: Any, buffers: list) -> None:
        """The browser asks for blocks it has not got: ``{"event": "attention_blocks", "layers": [...]}``; each one
        is answered with its own message ``{"event": "attention_block", "layer", "shape"}`` and a float16 buffer."""
        if isinstance(content, dict) and content.get("event") == "attention_blocks":
            for layer in content.get("layers", [])[: self._B]:
                if isinstance(layer, int) and not isinstance(layer, bool) and 0 <= layer < self._B:
                    block = self._blocks_half([layer])
                    self.send({"event": "attention_block", "layer": layer, "shape": list(block.shape)},
                              buffers=[block.tobytes()])
            return
        super()._on_browser_message(widget, content, buffers)

    def _export_state(self) -> dict[str, Any]:
        """The offline HTML page holds every block (no kernel answers there)."""
        return {"attention": encode(self._blocks_half(list(range(self._B))), scale=1.0),
                "attention_blocks": list(range(self._B))}

    def _static_figure(self) -> Any:
        """The block shown, mean over its selected heads, as a heatmap (``plots.snapshot.attention_figure``)."""
        from ..engine import facades

        return facades.call("attention_figure", self._attention[self.layer].float().numpy(),
                            np.asarray(self.heads, dtype=bool)[self.layer], self.layer, list(self.tokens))

    def _blocks_half(self, blocks: list[int]) -> np.ndarray:
        """float16 [len(blocks), H, N, N] of the given blocks (converted now: a block is sent once)."""
        return self._attention[blocks].to(torch.float16).contiguous().numpy()

    @validate("color_heads")
    def _valid_color_heads(self, proposal):
        value = proposal["value"]
        if value not in ("", *SCORES):
            raise TraitError(f"color_heads must be '' or one of {', '.join(SCORES)}, got {value!r}")
        return value

    @validate("layer")
    def _valid_layer(self, proposal):
        value = proposal["value"]
        if hasattr(self, "_B"):
            if not -self._B <= value < self._B:
                raise TraitError(f"layer must be in [0, {self._B - 1}] (or negative from the end), got {value}")
            value %= self._B
        return value
