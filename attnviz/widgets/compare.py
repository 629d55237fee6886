"""CompareView: several methods side by side for one input, with an optional shared colour scale and scores."""

from __future__ import annotations

from typing import Any

import numpy as np
from traitlets import Bool, Dict, Enum, Int, List, TraitError, Unicode, observe, validate

from .base import ExplainedView, Fraction, Index, bundle, check_explanation
from .serialize import Tensor, TensorList, encode

DEFAULT_METHODS = ("rollout", "gae", "attnlrp", "chefer", "attcat")  # the first three that apply (a decoder: AttnLRP)


class CompareView(ExplainedView):
    """Several methods side by side for one text or image input.

    ``CompareView(e, methods=None, target=None, layer=None, heads=None, shared_scale=False, color_scale="auto",
    scores=None, word_level=False, ignore_special=True, colormap="auto", opacity=0.6, size=224, options=None,
    scale=None)``

    ``scores`` is ``{method: number | {metric: number}}``, shown beside each method when present (the evaluation
    code fills it, e.g. per-input faithfulness). ``options`` is ``{method: {option: value}}``. Answered in the
    browser: layer, shared_scale, color_scale, colormap, opacity, size. Answered by the kernel: methods, target, heads,
    options, word_level (new ``maps``: one float16 [B, U] or [B, gh, gw] tensor per method, ``revision + 1``).
    """

    _esm = bundle("compare_view")
    bundle_name = "compare_view"
    settable = ("methods", "target", "layer", "heads", "shared_scale", "color_scale", "scores", "word_level",
                "ignore_special", "colormap", "opacity", "size", "options")

    kind = Enum(["text", "image"], "text", help="text or image input (read only)").tag(sync=True)
    methods = List(Unicode(), help="the methods compared, in order").tag(sync=True)
    maps = TensorList(help="one float16 tensor [B, ...] per method (read only)").tag(sync=True)
    signed = List(Bool(), help="per method: diverging colormap (read only)").tag(sync=True)  # type: ignore[assignment]
    scores = Dict(help="{method: number | {metric: number}}, shown when present").tag(sync=True)
    notes = Dict(help="{method: what it noted about its map}, e.g. an LRP map whose relevance is not conserved "
                      "(Explanation.diagnostic); shown in its panel (read only)").tag(sync=True)
    shared_scale = Bool(False, help="one scale comparable across methods: every panel coloured by rank (percentile), "
                                     "since methods have different units").tag(sync=True)
    units = List(Unicode()).tag(sync=True)
    unit_segments = List(Int()).tag(sync=True)
    unit_special = List(Bool()).tag(sync=True)
    word_level = Bool(False, help="aggregate word pieces into words (text)").tag(sync=True)
    ignore_special = Bool(True, help="leave special tokens out of the colour ranges (text)").tag(sync=True)
    image = Tensor(dtype="uint8").tag(sync=True)
    patch_grid = List(Int()).tag(sync=True)
    opacity = Fraction(0.6, min=0.0, max=1.0).tag(sync=True)
    size = Index(224, min=64, max=2048).tag(sync=True)

    def _static_html(self) -> str | None:
        """A text input: each method's tokens as HTML (``plots.snapshot.text_snapshot``), one under another."""
        if self._e.kind != "text":
            return None
        from ..engine import facades

        heads = np.asarray(self.heads, dtype=bool)
        return "".join(facades.call("text_snapshot", self._e, m, self._target_value(), self.layer, heads,
                                    bool(self.word_level), bool(self.ignore_special), dict(self.options.get(m, {})))
                       for m in self.methods)

    def _static_figure(self) -> Any:
        """An image input: one ``Explanation.plot`` panel per method, side by side."""
        from matplotlib.figure import Figure

        from ..engine import methods

        n = len(self.methods)
        figure = Figure(figsize=(3.6 * n, 3.8), layout="constrained")
        heads = np.asarray(self.heads, dtype=bool)
        for ax, m in zip(figure.subplots(1, n, squeeze=False)[0], self.methods):
            self._e.plot(m, target=self._target_value(), layer=self.layer, heads=heads, ax=ax,
                         **self.options.get(m, {}))
            for loc in ("left", "center", "right"):
                ax.set_title("", loc=loc)
            ax.set_title(methods()[m].display_name, fontsize=8)
        t = self._e.resolve(self._target_value())
        figure.suptitle(f"{self._e.targets.kind} {t.text} (p = {t.probability(self._e.probs):.3f})", fontsize=9)
        return figure

    def __init__(self, explanation: Any, **kwargs: Any):
        e = check_explanation(explanation, None, "CompareView")
        super().__init__(**kwargs)
        with self.hold_sync():  # one update message with the whole initial state
            self._setup(e, DEFAULT_METHODS[0])
            self.kind = e.kind
            self.methods = [m for m in DEFAULT_METHODS if m in self.available_methods][:3] or self.available_methods[:2]
            if e.kind == "image":
                self.patch_grid = [int(n) for n in e.patch_grid]
                if e.image is not None:
                    self.image = encode(np.ascontiguousarray(e.image, dtype=np.uint8), "uint8")
            self._apply({k: v for k, v in kwargs.items() if v is not None and k != "layout"})

    @validate("methods")
    def _valid_methods(self, proposal):
        value = list(proposal["value"])
        if not value:
            raise TraitError("methods must name at least one method")
        bad = [m for m in value if m not in self.available_methods]
        if bad:
            raise TraitError(f"unknown method(s) {bad} for this input; choose from {', '.join(self.available_methods)}")
        if len(set(value)) != len(value):
            raise TraitError(f"methods must not repeat: {value}")
        return value

    @validate("scores")
    def _valid_scores(self, proposal):
        value = dict(proposal["value"])
        for k, v in value.items():
            number = (int, float)
            ok = isinstance(v, number) or (isinstance(v, dict) and all(isinstance(x, number) for x in v.values()))
            if not ok:
                raise TraitError(f"scores[{k!r}] must be a number or a dict of numbers, got {v!r}")
        return {k: (float(v) if isinstance(v, (int, float)) else {m: float(x) for m, x in v.items()})
                for k, v in value.items()}

    @validate("options")
    def _valid_options(self, proposal):
        value = proposal["value"]
        if any(not isinstance(v, dict) for v in value.values()):
            raise TraitError("CompareView options must be {method: {option: value}}")
        return value

    @observe("methods", "word_level")
    def _compare_change(self, change):
        self._refresh()

    def _method_maps(self, method: str) -> np.ndarray:
        options = self.options.get(method, {})
        return self._e.maps(method, target=self._target_value(), heads=np.asarray(self.heads, dtype=bool), **options)

    def _refresh(self) -> None:
        def work():
            e = self._e
            tensors, signed, failed, notes = [], [], [], {}
            for m in self.methods:
                try:
                    rows = self._method_maps(m)
                    report = e.diagnostic(m, target=self._target_value(), **self.options.get(m, {}))
                    if report and report.get("note"):
                        notes[m] = str(report["note"])
                except Exception as err:  # one failing method must not blank the others
                    failed.append(f"{m}: {type(err).__name__}: {err}")
                    rows = np.zeros((e.num_layers, e.num_tokens), np.float32)
                if e.kind == "image":
                    rows = np.stack([e.patch_map(r) for r in rows])
                else:
                    rows = e.units(self.word_level).pool(rows)
                tensors.append(encode(rows))
                signed.append(bool(self.method_info[m]["signed"]))
            units = e.units(self.word_level and e.kind == "text")
            if e.kind == "text":
                self._show_units(units)
            else:
                explained, unseen = units.explained(e)
                self.explained_unit, self.unit_unseen = explained, [bool(u) for u in unseen]
            self.uses_heads = any(self.method_info[m]["uses_heads"] for m in self.methods)
            self.signed = signed
            self.notes = notes
            self.maps = tensors
            if failed:
                raise RuntimeError("; ".join(failed))

        self._answer(work)
