"""Bring your own attention: ``AttentionView.from_attention`` and bertviz-compatible ``head_view`` / ``model_view``.

No model is needed: attention as transformers returns it (a tuple of [batch, H, N, N] tensors, one per block), a
[B, H, N, N] tensor or array, or a TransformerLens ``ActivationCache`` (its ``blocks.{l}.attn.hook_pattern``
entries). A bertviz user changes one import: ``from attnviz import head_view, model_view``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .attention_input import attention_array, check_tokens


def _prettify(tokens: list[str]) -> list[str]:
    """bertviz's prettify_tokens: byte-level 'Ġ' and sentencepiece '▁' become a leading space."""
    return [t.replace("Ġ", " ").replace("▁", " ") for t in tokens]


def _segments(n: int, sentence_b_start: int | None) -> list[int]:
    if sentence_b_start is None:
        return [0] * n
    if not 0 < sentence_b_start < n:
        raise ValueError(f"sentence_b_start must be in [1, {n - 1}], got {sentence_b_start}")
    return [0] * sentence_b_start + [1] * (n - sentence_b_start)


def _unsupported(kwargs: dict[str, Any], name: str) -> None:
    encoder = [k for k in ("encoder_attention", "decoder_attention", "cross_attention", "encoder_tokens",
                           "decoder_tokens") if kwargs.get(k) is not None]
    if encoder:
        raise NotImplementedError(f"attnviz.{name} draws one self-attention stack; encoder-decoder arguments "
                                  f"({', '.join(encoder)}) are not supported: pass the encoder's or the decoder's "
                                  "self-attention as `attention`")
    rest = sorted(set(kwargs) - {"encoder_attention", "decoder_attention", "cross_attention", "encoder_tokens",
                                 "decoder_tokens", "display_mode"})
    if rest:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {rest}")


def _head_mask(heads: list[int] | None, num_heads: int, name: str) -> list[bool] | None:
    """[H] booleans, True for the listed heads (None: every head)."""
    from ..engine.heads import HeadMask, HeadMaskError

    if heads is None:
        return None
    if isinstance(heads, (str, bytes)) or not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool)
                                                 for h in heads):
        raise ValueError(f"{name} must be a list of head indices (integers), got {heads!r}")
    try:
        return HeadMask.parse(list(heads), 1, num_heads).lists()[0]
    except HeadMaskError:
        raise ValueError(f"{name} must be head indices in [0, {num_heads - 1}], got {heads}") from None


def _view(attention: Any, tokens: Any, *, sentence_b_start: int | None, prettify_tokens: bool,
          include_layers: list[int] | None, mode: str, layer: int | None, heads: Any, html_action: str):
    from .attention import AttentionView

    A = attention_array(attention)
    toks = check_tokens(tokens, A.shape[-1])
    if prettify_tokens:
        toks = _prettify(toks)
    layers = list(range(A.shape[0]))
    if include_layers is not None:
        layers = [int(x) for x in include_layers]
        bad = [x for x in layers if not 0 <= x < A.shape[0]]
        if bad or not layers or len(set(layers)) != len(layers):
            raise ValueError(f"include_layers must list distinct block indices in [0, {A.shape[0] - 1}], got "
                             f"{include_layers}")
        A = A[layers]
    shown = None
    if layer is not None:  # as in bertviz: `layer` names a block of the original stack, one of include_layers
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or int(layer) not in layers:
            raise ValueError(f"layer {layer!r} is not among the blocks shown {layers}: pass one of them (layer names "
                             "a block of the model, as in bertviz)")
        shown = layers.index(int(layer))
    view = AttentionView.from_attention(A, toks, segments=_segments(len(toks), sentence_b_start), mode=mode,
                                        layer=shown, heads=heads)
    if include_layers is not None:
        view.block_labels = layers
    if html_action == "view":
        return view
    if html_action == "return":
        return view.to_html()
    raise ValueError(f"html_action must be 'view' or 'return', got {html_action!r}")


def head_view(attention: Any, tokens: Any, sentence_b_start: int | None = None, prettify_tokens: bool = True,
              layer: int | None = None, heads: list[int] | None = None, include_layers: list[int] | None = None,
              html_action: str = "view", **kwargs: Any):
    """bertviz's ``head_view`` with attnviz's AttentionView: the same arguments, a layer slider, binary transport,
    offline. ``heads`` lists the heads shown first; ``html_action="return"`` gives the offline HTML page."""
    _unsupported(kwargs, "head_view")
    A = attention_array(attention)
    mask = _head_mask(heads, A.shape[1], "heads")
    return _view(A, tokens, sentence_b_start=sentence_b_start, prettify_tokens=prettify_tokens,
                 include_layers=include_layers, mode="head", layer=layer, heads=mask, html_action=html_action)


def model_view(attention: Any, tokens: Any, sentence_b_start: int | None = None, prettify_tokens: bool = True,
               display_mode: str = "light", include_layers: list[int] | None = None,
               include_heads: list[int] | None = None, html_action: str = "view", **kwargs: Any):
    """bertviz's ``model_view`` with attnviz's AttentionView in model mode (B x H thumbnails; click one to open it).
    ``include_heads`` keeps those heads drawn at full strength (the others dimmed); ``display_mode`` is accepted
    and ignored (the views follow the notebook's theme)."""
    _unsupported(kwargs, "model_view")
    A = attention_array(attention)
    mask = _head_mask(include_heads, A.shape[1], "include_heads")
    return _view(A, tokens, sentence_b_start=sentence_b_start, prettify_tokens=prettify_tokens,
                 include_layers=include_layers, mode="model", layer=None, heads=mask, html_action=html_action)
