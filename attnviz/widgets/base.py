"""What every view shares: a strict constructor, validated traits, the kernel's answers (``revision``, ``error``),
PNGs sent back from the browser, and the offline HTML export.

Traits marked ``sync=True`` are the protocol with the front end (``js/src/*_view.js``): the browser writes the
controls (layer, method, target, heads, ...); the kernel answers kernel-bound changes with new tensor buffers and
``revision + 1`` (also on failure, with ``error`` set), so the page can tell when its change has been answered.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import warnings
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import ipywidgets
import numpy as np
import traitlets
from traitlets import Bool, Dict, Int, List, Unicode

from .assets import STATIC, bundle  # noqa: F401 - bundle: re-exported for views written outside the package
from .serialize import HeadMask, Tensor, head_mask

log = logging.getLogger("attnviz.widgets")

#: ipywidgets 7 (Colab's, classic Notebook 6) displays a widget through ``_ipython_display_``, which IPython prefers
#: to ``_repr_mimebundle_``: the views then display their own bundle (``DisplaysItsBundle``), static picture included.
IPYWIDGETS_7 = int(ipywidgets.__version__.split(".")[0]) < 8
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def widget_view_bundle(widget: Any) -> dict[str, Any]:
    """The display data of a live widget (what ipywidgets 8's ``_repr_mimebundle_`` returns): ``text/plain`` and the
    widget-view reference to its model."""
    return {"text/plain": repr(widget),
            WIDGET_VIEW_MIME: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}}


class DisplaysItsBundle:
    """Mixin (before the widget class) for widgets whose ``_repr_mimebundle_`` adds a static picture. On ipywidgets
    7 it displays that bundle as ``display_data`` and tells the widget it was displayed; ipywidgets 7's own
    ``_ipython_display_`` would show the live view only, without the picture and without anywidget's Colab metadata
    (Colab reads that metadata on ``display_data`` only, anywidget issue #63). On ipywidgets 8 it does nothing:
    IPython calls ``_repr_mimebundle_`` itself."""

    def _live_bundle(self, **kwargs: Any) -> Any:
        """The display data of the live widget alone: the next class's ``_repr_mimebundle_`` in the MRO (anywidget's,
        ipywidgets 8's), or the widget-view entry built here (ipywidgets 7's boxes have no such method)."""
        parent = getattr(super(), "_repr_mimebundle_", None)
        return parent(**kwargs) if parent is not None else widget_view_bundle(self)

    if IPYWIDGETS_7:
        def _ipython_display_(self, **kwargs: Any) -> None:
            from IPython.display import display

            shown = self._repr_mimebundle_(**kwargs)  # type: ignore[attr-defined]
            if shown is None:
                return
            data, metadata = shown if isinstance(shown, tuple) else (shown, {})
            display(data, metadata=metadata, raw=True)
            self._handle_displayed(**kwargs)  # type: ignore[attr-defined]


#: The colour-scale modes of the relevance views (js/src/colormap.js SCALES).
COLOR_SCALES = ("auto", "map", "zero", "symmetric", "blocks", "rank")


class Index(traitlets.Int):
    """An Int that also takes numpy integers (``np.argmax`` results, array elements)."""

    def validate(self, obj, value):
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool):
            self.error(obj, value)
        return super().validate(obj, value)


class Fraction(traitlets.Float):
    """A Float in [min, max] that also rejects NaN (a plain Float with bounds lets NaN through: NaN < 0 is False)."""

    def validate(self, obj, value):
        value = super().validate(obj, value)
        if not math.isfinite(value):
            self.error(obj, value)
        return value


class Target(Index):
    """A class index; from Python also a label name (looked up in the view's ``label_names``). A language model's
    view: an index into its next-token candidates, or from Python a token string (" John"), added to the
    candidates when it is not among them."""

    def validate(self, obj, value):
        if isinstance(value, str):
            return obj._candidate_index(value)
        return super().validate(obj, value)


#: Settings every new view starts from (``attnviz.set_options``).
OPTIONS: dict[str, Any] = {"scale": 1.0, "static_fallback": True}


def set_options(*, scale: float | None = None, static_fallback: bool | None = None) -> dict[str, Any]:
    """Settings for every view created afterwards; returns the previous settings.

    ``scale``: projector mode, how much larger text, controls, canvases and images are drawn (1 = normal, 1.5 for a
    class, between 0.5 and 4). One view: ``TextView(e, scale=1.5)`` or ``view.scale = 1.5``.
    ``static_fallback``: put a static picture of what a view shows in its output (default True: HTML for text views,
    a PNG for the others), so a saved notebook shows it where no widget runs (GitHub, nbviewer, VS Code's preview);
    False saves its drawing time on each display."""
    previous = dict(OPTIONS)
    if static_fallback is not None:
        if not isinstance(static_fallback, bool):
            raise TypeError(f"static_fallback must be True or False, got {static_fallback!r}")
        OPTIONS["static_fallback"] = static_fallback
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.5 <= float(scale) <= 4.0:
            raise ValueError(f"scale must be a number between 0.5 and 4, got {scale!r}")
        OPTIONS["scale"] = float(scale)
    return previous


class View(DisplaysItsBundle, anywidget.AnyWidget):
    """Base class of the attnviz views. Subclasses list the keyword arguments their constructor accepts."""

    _css = STATIC / "attnviz.css"

    #: Incremented by the kernel after every answer to a kernel-bound change (also a failed one).
    revision = Int(0, help="kernel answer counter (read only)").tag(sync=True)
    #: The kernel's last error while answering, shown in the view ("" when none).
    error = Unicode("", help="last error while recomputing (read only)").tag(sync=True)
    _static = Bool(False, help="true in the offline HTML export (no kernel answers there)").tag(sync=True)
    #: Projector mode: text, controls, canvases and images drawn this much larger (browser-side).
    scale = Fraction(1.0, min=0.5, max=4.0, help="projector mode: draw text, controls and pictures this much larger "
                                                 "(default from attnviz.set_options)").tag(sync=True)

    #: keyword arguments the constructor takes (besides the explanation and ``layout``)
    settable: ClassVar[tuple[str, ...]] = ()
    bundle_name: ClassVar[str] = ""

    def __init__(self, **kwargs: Any):
        self._ready = False
        self.last_png: bytes | None = None
        layout = kwargs.pop("layout", None)
        self._check_kwargs(kwargs)
        super().__init__(**({"layout": layout} if layout is not None else {}))
        self.scale = OPTIONS["scale"]
        self.on_msg(self._on_browser_message)

    # ------------------------------------------------------------------ construction
    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        accepted = (*self.settable, "scale")
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) "
                            f"{', '.join(map(repr, unknown))}; it accepts: {', '.join(accepted)}, layout")

    def _apply(self, kwargs: dict[str, Any]) -> None:
        """Assign user settings one by one (each validated against the explanation), then compute once. A bad
        setting closes the widget's comm before the error reaches the caller."""
        try:
            for name, value in kwargs.items():
                setattr(self, name, value)
        except Exception:
            self.close()
            raise
        self._ready = True
        self._refresh()

    def _refresh(self) -> None:
        """Recompute every kernel-side tensor (subclasses)."""

    # ------------------------------------------------------------------ kernel answers
    def _answer(self, work) -> None:
        """Run ``work()`` (which sets tensor traits) and bump ``revision`` in one message; on failure set ``error``."""
        if not self._ready:
            return
        with self.hold_sync():
            try:
                work()
                self.error = ""
            except Exception as err:  # shown in the view; the browser cannot see a traceback
                log.exception("attnviz: recomputing %s failed", type(self).__name__)
                self.error = f"{type(err).__name__}: {err}"
            self.revision += 1

    def _on_browser_message(self, widget: Any, content: Any, buffers: list) -> None:
        if isinstance(content, dict) and content.get("event") == "png" and buffers:
            self.last_png = bytes(buffers[0])

    # ------------------------------------------------------------------ the picture without a kernel
    def _static_figure(self) -> Any:
        """A matplotlib Figure of what the view shows now, for front ends without widgets (subclasses); None: the
        text fallback only."""
        return None

    def _static_html(self) -> str | None:
        """Self-contained HTML of what the view shows now (subclasses: a text view's tokens), or None."""
        return None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """anywidget's bundle (the live view, and Colab's display metadata) plus the static fallback
        (``with_static_fallback``). A front end with widgets draws the live view and ignores the fallback."""
        return with_static_fallback(self._live_bundle(**kwargs), self, type(self).__name__)

    # ------------------------------------------------------------------ export
    def to_html(self, path: str | Path | None = None, *, title: str | None = None) -> str:
        """A self-contained offline HTML page of this view (bundle, styles and state inlined; no CDN, no network).

        The page draws what the view shows and answers the browser-side controls (layer slider, opacity, shared
        scale, hover); controls that need the kernel (method, class, heads) are disabled. Returns the HTML and
        writes it to ``path`` when given."""
        from .export import standalone_html

        html = standalone_html(self, title=title)
        if path is not None:
            Path(path).write_text(html, encoding="utf-8")
        return html


def with_static_fallback(live: Any, view: View, name: str) -> Any:
    """A live widget bundle (data, or (data, metadata)) plus a static picture of what ``view`` shows at display
    time, for front ends without widgets (GitHub, nbviewer, VS Code's preview, a notebook opened before its kernel
    runs): ``text/html`` when the view has a snapshot (a text view's tokens), else an ``image/png`` of its figure
    (at most STATIC_PNG_BYTES), and a readable ``text/plain`` naming ``name``. Neither ever keeps the live view from
    showing: a failure is logged and left out."""
    if live is None or not OPTIONS.get("static_fallback", True):
        return live
    data, metadata = live if isinstance(live, tuple) else (live, {})
    data = {**data, "text/plain": f"{name}: an interactive attnviz view. It needs a notebook front end with widgets "
                                  "and a running kernel; run the cell to see it live."}
    try:
        snapshot = view._static_html()
    except Exception:
        log.exception("attnviz: the static snapshot of %s failed", name)
        snapshot = None
    if snapshot is not None:
        data["text/html"] = snapshot
        return data, metadata
    png = static_png(view)
    if png is not None:
        data["image/png"] = base64.b64encode(png).decode("ascii")
    return data, metadata


STATIC_PNG_BYTES = 200_000  # a saved notebook's fallback picture, per view (issue 21: <= 200 kB at 128 tokens)


def static_png(view: View) -> bytes | None:
    """The view's static figure as PNG bytes within STATIC_PNG_BYTES (drawn at a lower resolution when larger), or
    None when the view has no figure or drawing it fails (the live view is unaffected; the failure is logged)."""
    try:
        figure = view._static_figure()
        if figure is None:
            return None
        for dpi in (90, 60, 40):
            buf = io.BytesIO()
            with warnings.catch_warnings():  # a token's control character has no glyph: drawn as a box, no warning
                warnings.filterwarnings("ignore", message="Glyph .* missing from font")
                figure.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
            if buf.tell() <= STATIC_PNG_BYTES:
                return buf.getvalue()
    except Exception:  # a fallback picture must never keep the live view from showing
        log.exception("attnviz: drawing the static picture of %s failed", type(view).__name__)
    return None


def method_table(names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {description, signed, class_specific, uses_heads, family}}`` for the method pickers."""
    from ..engine import methods

    known = methods()
    return {n: {"description": known[n].description, "signed": bool(known[n].signed),
                "class_specific": bool(known[n].class_specific), "uses_heads": bool(known[n].uses_heads),
                "family": known[n].family} for n in names}


def check_explanation(explanation: Any, kind: str | None, view: str) -> Any:
    """The views read an ``attnviz.Explanation``; a text view needs a text one, an image view an image one."""
    from ..engine import Explanation

    if not isinstance(explanation, Explanation):
        raise TypeError(f"{view} needs an attnviz.Explanation (from Explainer.explain), "
                        f"got {type(explanation).__name__}")
    if kind is not None and explanation.kind != kind:
        other = {"text": "TextView", "image": "ImageView"}[explanation.kind]
        raise ValueError(f"{view} shows {kind} explanations; this one is {explanation.kind}: use {other} "
                         "(or attnviz.widgets.show(e), which picks the view)")
    return explanation


class ExplainedView(View):
    """Traits shared by the views of one method's maps (TextView, ImageView): method, class, heads, layer."""

    method = Unicode(help="the method drawn (one of available_methods)").tag(sync=True)
    available_methods = List(Unicode(), help="methods valid for this input (read only)").tag(sync=True)
    method_info = Dict(help="{method: {description, signed, class_specific, uses_heads, family}}").tag(sync=True)
    options = Dict(help="the method's own options, passed to Explanation.maps (e.g. {'rule': 'iii'})").tag(sync=True)
    target = Target(0, help="the class explained: an index, or a label name when set from Python; a language "
                            "model: an index into `candidates`, or a token (string or id) from Python").tag(sync=True)
    label_names = List(Unicode(), help="class labels; a language model: its candidates' text (read only)"
                       ).tag(sync=True)
    target_kind = Unicode("class", help="'class', or 'next token' for a language model (read only)").tag(sync=True)
    candidates = List(Int(), help="a language model's next-token picker: token ids, the most probable first "
                                  "(read only)").tag(sync=True)
    foil = Target(-1, help="a language model's contrastive token: an index into `candidates` (-1: none), so the "
                          "maps explain y_target − y_foil").tag(sync=True)
    explained_position = Int(-1, help="a decoder's explained position, the token whose next-token prediction is "
                                      "explained (-1 for an encoder; read only)").tag(sync=True)
    next_in_text = Int(-1, help="a language model explained before the text's end: the candidate index of the token "
                                "that follows in the text (its loss is shown with ablation; -1: none; read only)"
                       ).tag(sync=True)
    explained_unit = Int(-1, help="a decoder's explained position as a unit (token or word) index, marked in the "
                                  "view (-1: none; read only)").tag(sync=True)
    unit_unseen = List(Bool(), help="units after a decoder's explained position, which its prediction cannot see "
                                    "(drawn faded and uncoloured; read only)").tag(sync=True)
    probs = Tensor(help="float32 [C] class probabilities (read only)").tag(sync=True)
    predicted = Int(0, help="predicted class (read only)").tag(sync=True)
    multi_label = Bool(False, help="independent sigmoid per class: the header names every class at p >= 0.5 "
                                   "(read only)").tag(sync=True)
    prediction_warning = Unicode("", help="shown in the prediction line, e.g. when the logits hold NaN or inf "
                                          "(read only)").tag(sync=True)
    layer = Index(0, help="the block shown: row `layer` of the cumulative maps (browser-side)").tag(sync=True)
    heads = HeadMask(help="[B][H] kept heads (True = kept); a [H] mask applies to every block").tag(sync=True)
    ablate = Bool(False, help="also ablate the switched-off heads in the model's forward pass (their outputs zeroed) "
                              "and show the new prediction beside the old (kernel)").tag(sync=True)
    ablated_probs = Tensor("float32", help="float32 [C]: class probabilities with the switched-off heads ablated "
                                           "(read only; empty unless ablate)").tag(sync=True)
    uses_heads = Bool(True, help="whether the method reads the head mask (read only)").tag(sync=True)
    method_note = Unicode("", help="what the method noted about this map, shown beside the legend: an LRP map "
                                   "whose relevance is not conserved (Explanation.diagnostic), a Grad-CAM map "
                                   "clamped to zero (read only)").tag(sync=True)
    reads = List(List(Int()), help="per block l: [lo, hi], the blocks whose attention row l of the method reads "
                                   "(so whose heads can change it), or [] for none (read only; "
                                   "engine.methods.blocks_read)").tag(sync=True)
    signed = Bool(False, help="whether values can be negative: diverging colormap (read only)").tag(sync=True)
    colormap = Unicode("auto", help="auto, reds, blues, viridis, magma, inferno, greys, jet, rdbu").tag(sync=True)
    color_scale = traitlets.Enum(
        list(COLOR_SCALES), "auto",
        help="how values map to colours (browser-side, shown in the legend): 'map' (this map's min to max), "
             "'zero' (from zero), 'symmetric' (around zero), 'blocks' (one range over every block, so sliding shows "
             "relevance build up), 'rank' (percentile); 'auto': symmetric for signed methods, per map for the "
             "attention family and for near-uniform maps, from zero otherwise").tag(sync=True)
    maps = Tensor(help="float16 [B, ...]: row l = the method through blocks 0..l (read only)").tag(sync=True)

    COLORMAPS: ClassVar[tuple[str, ...]] = ("auto", "reds", "blues", "viridis", "magma", "inferno", "greys", "jet",
                                            "rdbu")

    def _setup(self, e: Any, default_method: str) -> None:
        self._e = e
        self._B, self._H = e.num_layers, e.num_heads
        names = e.method_names()
        self.available_methods = names
        self.method_info = method_table(names)
        ids, following = e.targets.picker(e, self.CANDIDATES)  # every class, or a language model's likely tokens
        self._set_candidates(ids)
        self.predicted = ids.index(int(e.predicted))
        self.next_in_text = ids.index(following) if following is not None else -1
        self.explained_position = int(e.position) if e.causal else -1
        self.multi_label = bool(e.explainer.multi_label)
        self.prediction_warning = ("the model's output holds NaN or inf: these probabilities and maps are not "
                                   "meaningful" if e.nonfinite else "")
        goal = e.explained_target
        self.target = ids.index(goal.index)
        self.foil = ids.index(goal.foil) if goal.foil is not None else -1
        self.layer = self._B - 1
        self.heads = head_mask(None, self._B, self._H)
        self.method = default_method if default_method in names else names[0]

    CANDIDATES: ClassVar[int] = 10  # the next-token picker's length (plus the target and foil when not among them)

    def _set_candidates(self, ids: list[int]) -> None:
        e = self._e
        with self.hold_sync():
            self.candidates = ids
            self.label_names = [e.targets.label(i) for i in ids]
            self.probs = _float32(e.probs[ids])
            self.target_kind = e.targets.kind

    def _candidate_index(self, value: Any) -> int:
        """A label name, or a language model's token (string or id) -> its index among the candidates (a new token
        is appended), checked by the engine's target space."""
        targets = self._e.targets
        try:
            key = targets.check(value)
        except (ValueError, TypeError) as err:
            raise traitlets.TraitError(str(err)) from None
        if isinstance(key, tuple) or key is None:
            raise traitlets.TraitError("set one token as the target; the contrastive token is `foil`")
        if key not in self.candidates:
            self._set_candidates([*self.candidates, int(key)])
        return self.candidates.index(key)

    def _show_units(self, units: Any) -> None:
        """The units drawn (``engine.units.Units``: tokens, or words): their text, segment, special flag, and a
        decoder's explained unit and the units after it."""
        explained, unseen = units.explained(self._e)
        self.units, self.unit_segments, self.unit_special = list(units.texts), list(units.segments), list(units.special)
        self.explained_unit, self.unit_unseen = explained, [bool(u) for u in unseen]

    def _target_value(self) -> Any:
        """What the engine explains: the chosen class or token (with a foil: the pair)."""
        token = self.candidates[self.target]
        return (token, self.candidates[self.foil]) if self.foil >= 0 else token

    # ------------------------------------------------------------------ validation
    @traitlets.validate("method")
    def _valid_method(self, proposal):
        name = proposal["value"]
        if self.available_methods and name not in self.available_methods:
            raise traitlets.TraitError(f"unknown method {name!r} for this input; choose one of "
                                       f"{', '.join(self.available_methods)}")
        return name

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        value = proposal["value"]
        n = len(self.label_names)
        if n and not 0 <= value < n:
            raise traitlets.TraitError(f"target {value} is out of range: the model has {n} classes {self.label_names}")
        return value

    @traitlets.validate("foil")
    def _valid_foil(self, proposal):
        value = proposal["value"]
        if value == -1:
            return value
        if not (hasattr(self, "_e") and self._e.targets.contrastive):
            raise traitlets.TraitError("foil (a contrastive token) applies to language models")
        if not 0 <= value < len(self.candidates):
            raise traitlets.TraitError(f"foil {value} is out of range: {len(self.candidates)} candidates (-1: none)")
        if value == self.target:
            raise traitlets.TraitError(f"the foil must differ from the target: both are {self.label_names[value]}")
        return value

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        value = proposal["value"]
        B = getattr(self, "_B", None)
        if B is not None:
            if not -B <= value < B:
                raise traitlets.TraitError(f"layer must be in [0, {B - 1}] (or negative from the end), got {value}")
            value %= B
        return value

    @traitlets.validate("colormap")
    def _valid_colormap(self, proposal):
        value = str(proposal["value"]).lower()
        if value not in self.COLORMAPS:
            raise traitlets.TraitError(f"colormap must be one of {', '.join(self.COLORMAPS)}, "
                                       f"got {proposal['value']!r}")
        return value

    @traitlets.validate("options")
    def _valid_options(self, proposal):
        value = proposal["value"]
        if any(not isinstance(k, str) for k in value):
            raise traitlets.TraitError("options must be a dict of the method's keyword arguments")
        return value

    # ------------------------------------------------------------------ kernel answers
    @traitlets.observe("method", "target", "foil", "heads", "options")
    def _kernel_change(self, change):
        with self.hold_sync():  # new heads with ablation on: the maps and the ablated run go in one message
            self._refresh()
            if change["name"] == "heads" and self.ablate:
                self._answer(self._send_ablation)

    @traitlets.observe("ablate")
    def _ablation_change(self, change):
        self._answer(self._send_ablation)

    def _send_ablation(self) -> None:
        """ablated_probs: the model run again on this input with the switched-off heads zero-ablated."""
        from ..engine.ablation import probs_with_ablation

        if not self.ablate:
            self.ablated_probs = _float32(np.zeros(0))
            return
        mask = np.asarray(self.heads, dtype=bool)
        off = {int(b): tuple(int(h) for h in np.flatnonzero(~row)) for b, row in enumerate(mask) if (~row).any()}
        probs = probs_with_ablation(self._e.explainer, self._e.model_inputs, off, position=self._e.position)[0]
        self.ablated_probs = _float32(probs[self.candidates])

    def _static_figure(self) -> Any:
        """``Explanation.plot`` of the method, class, block and heads shown (ImageView)."""
        return self._e.plot(self.method, target=self._target_value(), layer=self.layer,
                            heads=np.asarray(self.heads, dtype=bool), width=7.0, **dict(self.options))

    def _method_maps(self, method: str) -> np.ndarray:
        """[B, N] maps of ``method`` for the current class and heads (the engine does every number)."""
        options = self.options if method == self.method else {}
        return self._e.maps(method, target=self._target_value(), heads=np.asarray(self.heads, dtype=bool), **options)

    def _method_flags(self) -> None:
        from ..engine.methods import blocks_read

        info = self.method_info.get(self.method, {})
        self.signed = bool(info.get("signed", False))
        self.uses_heads = bool(info.get("uses_heads", True))
        spans = [blocks_read(self.method, l, self._B, self.options, self._e.kind) for l in range(self._B)]
        self.reads = [list(r) if r is not None else [] for r in spans]
        report = self._e.diagnostic(self.method, target=self._target_value(), **self.options)
        self.method_note = str((report or {}).get("note", ""))


def _float32(values: Any) -> dict:
    from .serialize import encode

    return encode(np.asarray(values, np.float32), "float32")
