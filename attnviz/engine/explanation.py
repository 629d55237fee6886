"""``Explanation``: the result object every view reads. Lazy, cached per (method, target, heads, options)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import facades
from .capture import GradientCapture
from .guard import Fingerprint, ModelChangedError, describe_change, fingerprint
from .heads import HeadMask
from .inputs import Sample
from .live import Detached, Graph, ModelContext
from .method_options import check_options, finite_checked, option_defaults
from .methods import get as get_method
from .methods import methods as all_methods
from .methods.common import Capture, Grads, Trace, compute_dtype
from .targets import Key, Target, Targets
from .units import Units

if TYPE_CHECKING:
    from .explainer import Explainer


class Explanation:
    """Everything attnviz captured about one input, and every method's relevance map on demand.

    ``map(method, target, layer, heads, **options)`` -> numpy [N]; ``maps(...)`` -> numpy [B, N] where row l is
    the method carried through blocks 0..l (for ``raw``, block l's [CLS] row) and the last row is the answer.
    Tensors stay on the model's device; results are cached per (method, target, heads, options).
    """

    def __init__(self, explainer: Explainer, sample: Sample, capture: Capture, model_inputs: dict[str, torch.Tensor],
                 probs: np.ndarray, predicted: int, target: Target, grads: GradientCapture | None,
                 graph: Graph | None, batch_index: int, fingerprint: Fingerprint = (), position: int = 0,
                 gradients: str = "attention", recompute: bool = False):
        self.explainer = explainer
        self.recompute = bool(recompute)  # the capture recomputed its blocks: a re-forward for a target does too
        self.sample = sample
        self.capture = capture
        self.model_inputs = model_inputs
        self.probs = probs.astype(np.float32)
        self.predicted = int(predicted)
        self.explained_target = target  # the Target value (engine/targets.py): key, row, text, score
        self.target: Key = target.key
        self.position = int(position)  # the row explained: [CLS] (0), a decoder classifier's last token, or the
        # language model's explained position (its prediction is the token after it)
        self.diagnostics: dict[str, Any] = {}
        self.warned: set[tuple] = set()  # the notes a method warned about once
        n, prefix = sample.length, sample.num_prefix_tokens
        self.gradient_level = gradients  # what the capture's backward took ("none", "hidden", "attention"): the lean
        # capture's level, and how far a later backward for another target goes (the level a method reads, or all)
        self._grads: dict[Key, Grads] = {} if grads is None else {
            target.key: Grads.from_capture(grads, batch_index, n, prefix)}
        self._graph = graph
        self._batch_index = batch_index
        self._cache: dict[tuple, np.ndarray] = {}
        self._fingerprint = fingerprint

    # ------------------------------------------------------------------ copies and the live model
    def __getstate__(self) -> dict[str, Any]:
        """A copy is a snapshot: the captured tensors, the gradients and maps computed so far; no autograd graph
        and no model (a new target then raises "needs the live model: explain again")."""
        state = dict(self.__dict__)
        state["_graph"] = None
        if not isinstance(self.explainer, Detached):
            state["explainer"] = Detached(self.explainer, [self.target, self.predicted, *self._grads])
        state["_fingerprint"] = ()
        return state

    @property
    def is_live(self) -> bool:
        """False for a copy (pickled, deep-copied): it cannot compute what needs the model."""
        return not isinstance(self.explainer, Detached)

    def _live(self):
        """The explainer, checked: a copy has none, and a model changed since the capture would mix new weights
        with the recorded attention."""
        explainer = self.explainer
        if isinstance(explainer, Detached):
            explainer.model  # raises DetachedExplanationError  # noqa: B018
        if self._fingerprint:
            change = describe_change(self._fingerprint, fingerprint(explainer.model))
            if change:
                raise ModelChangedError(f"the model changed since this explanation was captured ({change}): its "
                                        "recorded attention no longer matches the model's gradients. Explain again.")
        return explainer

    @property
    def nonfinite(self) -> bool:
        """True when the model's logits for this input hold NaN or inf (then no map means anything)."""
        return not bool(np.isfinite(self.capture.logits.cpu().numpy()).all())

    # ------------------------------------------------------------------ description of the input
    @property
    def kind(self) -> str:
        """"text" or "image"."""
        return self.sample.kind

    @property
    def tokens(self) -> list[str]:
        """The input's tokens as text [N] (an image's: the class token(s), then one name per patch)."""
        return list(self.sample.tokens)

    @property
    def segments(self) -> np.ndarray:
        """int [N]: the segment of each token (0, or 1 for the second text of a pair)."""
        return self.sample.segments.copy()

    @property
    def special(self) -> np.ndarray:
        """bool [N]: True at special tokens ([CLS], [SEP], <bos>, ...)."""
        return self.sample.special.copy()

    @property
    def image(self) -> np.ndarray | None:
        """The image as the model saw it, uint8 [H, W, 3] (None for text)."""
        return self.sample.image

    @property
    def patch_grid(self) -> tuple[int, int] | None:
        """(rows, columns) of an image's patches (None for text)."""
        return self.sample.patch_grid

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before an image's patches (1 for ViT's [CLS], 2 for DeiT's [CLS] and distillation token; 0 for
        text)."""
        return self.sample.num_prefix_tokens

    @property
    def label_names(self) -> list[str]:
        """The class names; empty for a language model."""
        return self.explainer.label_names

    @property
    def task(self) -> str:
        """"classification", or "next_token" for a language model (its target is a token at ``position``)."""
        return str(getattr(self.explainer, "task", "classification"))

    @property
    def causal(self) -> bool:
        """A decoder's explanation: token i attended to tokens j <= i only (the upper triangle of A is empty)."""
        return bool(getattr(self.explainer, "causal", False))

    @property
    def targets(self) -> Targets:
        """The model's target space (engine/targets.py): what a target is, how it is checked and described."""
        return self.explainer.targets

    def resolve(self, target: Any = None) -> Target:
        """Any target a user gives (None: this explanation's own) -> the checked ``Target`` value at ``position``."""
        if target is None:
            return self.explained_target
        return self.targets.resolve(target, self.predicted, self.position)

    def describe_target(self, target: Any = None) -> str:
        """The target in words: a class name, or the next token's text (a pair: "' Mary' vs ' John'")."""
        return self.targets.describe(self.target if target is None else target)

    def top_tokens(self, k: int = 10) -> list[tuple[int, str, float]]:
        """A language model's k most probable next tokens at ``position``: (token id, text, probability)."""
        if not self.targets.per_position:
            raise ValueError("top_tokens() applies to language-model explanations; a classifier has probs")
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(self.probs):
            raise ValueError(f"top_tokens(k) takes k from 1 to the vocabulary size {len(self.probs)}, got {k!r}")
        order = np.argsort(-self.probs, kind="stable")[:k]
        return [(int(i), self._token_text(int(i)), float(self.probs[i])) for i in order]

    def _token_text(self, token_id: int) -> str:
        return self.targets.token_text(token_id)  # type: ignore[attr-defined]

    @property
    def num_layers(self) -> int:
        """The number of blocks L."""
        return int(self.capture.attention_shape[0])

    @property
    def num_heads(self) -> int:
        """The number of attention heads per block H."""
        return int(self.capture.attention_shape[1])

    @property
    def num_tokens(self) -> int:
        """The number of tokens N."""
        return int(self.capture.attention_shape[-1])

    @property
    def logits(self) -> np.ndarray:
        """The model's output logits, float [C] (a language model: at the explained position, [V])."""
        return self.capture.logits.cpu().numpy()

    def __repr__(self) -> str:
        warning = "; WARNING: the logits hold NaN or inf, nothing here is meaningful" if self.nonfinite else ""
        copy = "; a copy (no live model)" if not self.is_live else ""
        shape = f"{self.num_tokens} tokens, {self.num_layers} blocks x {self.num_heads} heads"
        t = self.targets
        return (f"<Explanation {t.subject(self.kind, self.position, self.tokens)}: {shape}; "
                f"{t.prediction(self.probs, self.predicted)}; target {t.target_phrase(self.target)}{warning}{copy}>")

    # ------------------------------------------------------------------ maps
    def method_names(self) -> list[str]:
        """The methods valid for this explanation's modality (and architecture: no LRP for the Llama family)."""
        if self.is_live:
            return [n for n in self.explainer.method_names() if self.kind in all_methods()[n].modalities]
        return [name for name, info in all_methods().items() if self.kind in info.modalities and not info.needs]

    def resolve_heads(self, heads: Any) -> torch.Tensor:
        """The kept heads, bool [B, H] on the capture's device, from any form ``HeadMask.parse`` reads: None (all),
        a bool mask [H] or [B, H], head indices, {block: [heads]} or (block, head) pairs."""
        return HeadMask.parse(heads, self.num_layers, self.num_heads).tensor(self.capture.attention_device)

    def _gradients(self, target: Target | Key, level: str = "attention") -> Grads:
        """The target's gradients with at least ``level`` ("hidden": hidden states and input embeddings;
        "attention": also the attention's): cached, or one more backward on the kept graph (a forward and a
        backward without one). A full capture (``gradients="attention"``) takes every gradient in that backward."""
        target = target if isinstance(target, Target) else self.resolve(target)
        known = self._grads.get(target.key)
        if known is None or (level == "attention" and known.A is None):
            self._live()
            attention = level == "attention" or self.gradient_level == "attention"
            if self._graph is not None:
                raw = self._graph.gradients(self._batch_index, target, attention)
                index = self._batch_index
            else:
                raw = self.explainer.recapture(self, target, attention)
                index = 0
            self._grads[target.key] = Grads.from_capture(raw, index, self.num_tokens, self.num_prefix_tokens)
        return self._grads[target.key]

    def _trace(self, target: Target | Key) -> Trace:
        target = target if isinstance(target, Target) else self.resolve(target)
        return Trace(self.capture, target, lambda level: self._gradients(target, level), ModelContext(self), self.kind,
                     self.num_prefix_tokens, position=self.position, causal=self.causal)

    def _prepare(self, method: str, target: Any, heads: Any, options: dict):
        info = get_method(method)
        if self.kind not in info.modalities:
            raise ValueError(f"method {method!r} does not apply to {self.kind} inputs")
        check_options(info, options)
        t = self.resolve(target)
        mask = self.resolve_heads(heads)
        key = (method, t.key if info.class_specific else None,
               mask.cpu().numpy().tobytes() if info.uses_heads else None, tuple(sorted(options.items())))
        return info, t, mask, key

    def maps(self, method: str, target: int | str | None = None, heads: Any = None, **options) -> np.ndarray:
        """numpy float32 [B, N]: row l = ``method`` carried through blocks 0..l; the last row is the answer.

        target: None (the explanation's target: the predicted class unless ``explain`` was given one), a class
        index or a label name. heads: bool mask [H] or [B, H] (True = kept), or head indices; None = all heads.
        options: the method's own options (e.g. ``rule="iii"`` for redistribution, ``start_layer=1`` for rollout).
        """
        info, t, mask, key = self._prepare(method, target, heads, options)
        if key not in self._cache:
            with torch.no_grad():
                result = info.fn(self._trace(t), mask, **options)
            self._cache[key] = finite_checked(compute_dtype(result.detach()).cpu().numpy(), method)
        return self._cache[key]

    def map(self, method: str, target: int | str | None = None, layer: int | None = None, heads: Any = None,
            **options) -> np.ndarray:
        """numpy float32 [N]: the method's map through block ``layer`` (default: the last block, the answer)."""
        B = self.num_layers
        if layer is not None:
            if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
                raise TypeError(f"layer must be an integer block index in [0, {B - 1}] (or negative from the end), "
                                f"got {type(layer).__name__} {layer!r}")
            layer = int(layer)
            if not -B <= layer < B:
                raise ValueError(f"layer must be in [0, {B - 1}] (or negative from the end), got {layer}")
        info, t, mask, key = self._prepare(method, target, heads, options)
        if key in self._cache or info.last is None or layer not in (None, -1, B - 1):
            return self.maps(method, target, heads, **options)[-1 if layer is None else layer]
        last_key = (*key, "last")
        if last_key not in self._cache:
            with torch.no_grad():
                result = info.last(self._trace(t), mask, **options)
            self._cache[last_key] = finite_checked(compute_dtype(result.detach()).cpu().numpy(), method)
        return self._cache[last_key]

    def blocks_read(self, method: str, layer: int | None = None, **options) -> tuple[int, int] | None:
        """The blocks (lo, hi), inclusive, whose attention row ``layer`` (default: the last, the answer) of
        ``method`` reads, so whose heads a head mask can change; None when it reads no attention. E.g. rollout's
        row l reads 0..l, chefer on text reads block l alone (the authors' start_layer)."""
        from .methods import blocks_read

        B = self.num_layers
        layer = B - 1 if layer is None else int(layer) % B
        return blocks_read(method, layer, B, options, self.kind)

    def diagnostic(self, method: str, target: int | str | None = None, **options) -> dict | None:
        """What ``method`` noted about its map for ``target`` (default: the explanation's target) and ``options``, or
        None: for the LRP methods the relevance's conservation (``seed``, total per ``stages``, ``worst`` ratio,
        ``trusted``, ``note``), for ``attn_gradcam`` the blocks whose map clamped to zero, for
        ``integrated_gradients`` the convergence delta. Kept per (method, target, options), so another target's or
        option's map never shows this one's note. Compute the map first."""
        notes = self.diagnostics.get(method)
        if not isinstance(notes, dict):
            return None
        t = self.resolve(target).key
        full = {**option_defaults(get_method(method).fn), **options}
        for (t_key, opts), report in reversed(list(notes.items())):  # the newest matching note
            if t_key == t and all(full.get(k) == v for k, v in opts):
                return report
        return None

    def attention(self) -> np.ndarray:
        """Raw post-softmax attention, numpy [B, H, N, N] in the compute dtype (row = query, column = key)."""
        return self.capture.A.cpu().numpy()

    def pixel_map(self, method: str = "lrp_full", target: int | str | None = None, **options) -> np.ndarray:
        """Per-pixel relevance [h, w] of the image as the model saw it (image explanations, ``lrp_full`` only):
        the LRP relevance at the input pixels summed over RGB, the map of Chefer et al.'s LRP baseline.
        ``map("lrp_full")`` is its sum over each patch (one value per token, as every method)."""
        from .methods.lrp import explanation_pixel_map

        if self.kind == "image" and method == "lrp_full":  # else the kind's or the method's error comes first
            check_options(get_method(method), options)
        return explanation_pixel_map(self, method, target, options)

    # ------------------------------------------------------------------ how the model computed it (decoders)
    def logit_lens(self, token: Any = None, top_k: int | None = None, rank: bool = False):
        """The logit lens: numpy [B, N, V] log-probabilities, row l the residual stream after block l read through
        the final norm and the unembedding (row B−1 is the model's own log-softmax); ``token`` (or a pair: the
        log-probability difference) gives [B, N], with ``rank=True`` the token's rank (0 = most probable);
        ``top_k`` a ``LensTop`` (ids and log-probabilities [B, N, k])."""
        from .internals import explanation_logit_lens

        return explanation_logit_lens(self, token, top_k, rank)

    def direct_attribution(self, target: Any = None):
        """Each head's, MLP's and the embeddings' direct contribution to the explained logit (or logit difference)
        through the final norm with its scale frozen: a ``DirectAttribution`` (heads [B, H], mlps [B], embeddings,
        biases, total = the logit)."""
        from .internals import explanation_direct_attribution

        return explanation_direct_attribution(self, target)

    def head_math(self, block: int, head: int, query: int | None = None, target: Any = None):
        """One head's arithmetic for one query token (default: the explained position), with the model's own
        numbers: a ``HeadMath`` (q, keys, scores, mask, weights, values, output, direct contribution)."""
        from .internals import explanation_head_math

        return explanation_head_math(self, block, head, query, target)

    # ------------------------------------------------------------------ views and figures
    def show(self, **kwargs):
        """The interactive widget: TextView for text, ImageView for images (keyword arguments go to the view)."""
        return facades.call("show", self, **kwargs)

    def plot(self, method: str, target: int | str | None = None, layer: int | None = None, heads: Any = None,
             **kwargs):
        """A matplotlib Figure of one method's map (coloured tokens, or the image overlay) for PNG/SVG/PDF export."""
        return facades.call("plot", self, method, target=target, layer=layer, heads=heads, **kwargs)

    # ------------------------------------------------------------------ helpers for views
    def units(self, word_level: bool = False) -> Units:
        """What a view draws: the tokens, or the words with ``word_level`` (``engine/units.py``)."""
        return Units.of(self, word_level)

    def words(self, values: np.ndarray, reduce: str = "sum") -> tuple[list[str], np.ndarray, list[int]]:
        """Aggregate a token map [N] to words: (word strings, values [W], segment of each word).

        Word pieces of one word are summed (reduce="sum") or maxed ("max"); special tokens stay as they are."""
        if self.kind != "text":
            raise ValueError("words() applies to text explanations")
        values = np.asarray(values)
        if values.shape != (self.num_tokens,):
            raise ValueError(f"values must have shape [{self.num_tokens}], got {list(values.shape)}")
        units = Units.of(self, word_level=True)
        return list(units.texts), units.pool(values, reduce), list(units.segments)

    def explained_units(self, word_level: bool = False) -> tuple[int, np.ndarray]:
        """A decoder's explained position among the units drawn (tokens, or words with word_level): (its unit
        index, bool [U] of the units after it, which its prediction cannot see). An encoder's: (-1, all False)."""
        return Units.of(self, word_level).explained(self)

    def patch_map(self, values: np.ndarray) -> np.ndarray:
        """The patch part of a token map [N] as the patch grid [gh, gw] (prefix tokens dropped)."""
        if self.patch_grid is None:
            raise ValueError("patch_map() applies to image explanations")
        values = np.asarray(values)
        return values[self.num_prefix_tokens:].reshape(self.patch_grid)
