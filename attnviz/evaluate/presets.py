"""The papers' deletion and perturbation protocols, one class each: which copies of an input to score, and how.

A preset turns (an explanation, one method's map, the target) into perturbed copies (``variants``) and, once their
probabilities are known, into per-instance metrics and curves (``score``). Every parameter is a field, recorded in
the result. The definitions are ``docs/METHODS.md``'s (faithfulness metrics); where a paper is ambiguous the
authors' released code decides, and the docstring says which.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .perturb import Variant, keep_only, pixel_variant, token_variant, zero_pixel_value

Curve = tuple[str, list[float], list[float]]  # (name, x, values)


@dataclass
class Preset:
    name: ClassVar[str] = ""
    modality: ClassVar[str] = "text"
    #: what the preset scores: "class" (a classifier's class probability) or "next token" (a language model's
    #: log-probability of the explained token at its position; ``Targets.kind``)
    targets: ClassVar[str] = "class"
    replace: str = "delete"

    def params(self) -> dict[str, Any]:
        return {"preset": self.name, **asdict(self)}

    def skip(self, e: Any) -> str:
        """A reason to leave the input out ("" to keep it)."""
        return ""

    def original(self, e: Any) -> Variant:
        """The unperturbed input every copy is compared with (the whole input)."""
        return Variant({k: v[0] for k, v in e.model_inputs.items()})

    def variants(self, e: Any, values: np.ndarray, target: int, token_ids: dict[str, int]) -> list[Variant]:
        raise NotImplementedError

    def score(self, p0: float, probs: np.ndarray, e: Any, values: np.ndarray) -> tuple[dict[str, float], list[Curve]]:
        """p0: p_t of the unperturbed input; probs [len(variants)]: p_t of each copy."""
        raise NotImplementedError


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """∫ y dx by the trapezoid rule."""
    y, x = np.asarray(y, np.float64), np.asarray(x, np.float64)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))


def _tiny() -> float:
    return float(np.finfo(np.float64).tiny)


def attcat_steps(n: int) -> list[int]:
    """k = the de-duplicated round(g·N), g in linspace(0, 1, 10), the first entry (0) dropped (AttCAT's scripts)."""
    return [k for _, k in attcat_fractions(n)]


def attcat_fractions(n: int) -> list[tuple[float, int]]:
    """(g, k) for each step of ``attcat_steps``: g the nominal fraction that first gives k (the curves' x, the
    same for every input whatever its length)."""
    seen: dict[int, float] = {}
    for g in np.linspace(0, 1, 10):
        seen.setdefault(int(round(g * n)), float(g))
    return [(g, k) for k, g in seen.items() if k > 0]


def attcat_positions(values: np.ndarray, special: np.ndarray, k: int) -> list[int]:
    """The top-k non-special tokens by ``np.argsort(-map)`` on the float32 map, walking the ranking but stopping
    before its last position (their loop ends at i = N − 1: the lowest-ranked token is never deleted)."""
    ranking = np.argsort(-np.asarray(values, dtype=np.float32))
    chosen: list[int] = []
    for i in range(len(ranking) - 1):
        j = int(ranking[i])
        if not special[j]:
            chosen.append(j)
            if len(chosen) == k:
                break
    return chosen


def top_non_special(values: np.ndarray, special: np.ndarray, k: int) -> list[int]:
    """The k non-special tokens with the largest values (stable order on ties)."""
    order = [int(j) for j in np.argsort(-np.asarray(values, dtype=np.float64), kind="stable") if not special[j]]
    return order[:k]


@dataclass
class AttCAT2022(Preset):
    """AOPC and LOdds (Qiang et al. 2022, released notebooks). k over ``attcat_steps(N)`` with N all tokens (special
    included), the top-k non-special tokens by ``attcat_positions``, deleted ("delete", their ``aopc_*``) or
    replaced by [PAD] ("pad", their ``aopc_*_del``; attention mask left at 1) or [MASK].
    AOPC = mean over steps |p_t(x) − p_t(x^(k))| (absolute, as the authors take it); LOdds = mean over steps
    log(p_t(x^(k)) / p_t(x)) (lower is better; p floored at the smallest float64). Inputs shorter than
    ``min_tokens`` are skipped and AttCAT is explained with [CLS]/[SEP] masked out of the explanation pass
    (``mask_special``), as their scripts do; their target is the true label (``target="label"``)."""

    name: ClassVar[str] = "attcat2022"
    min_tokens: int = 10
    mask_special: bool = True

    def skip(self, e: Any) -> str:
        return f"shorter than the preset's min_tokens={self.min_tokens}" if e.num_tokens < self.min_tokens else ""

    def variants(self, e, values, target, token_ids):
        ks = attcat_steps(e.num_tokens)
        return [token_variant(e.model_inputs, attcat_positions(values, e.special, k), self.replace, token_ids)
                for k in ks]

    def score(self, p0, probs, e, values):
        x = [g for g, _ in attcat_fractions(e.num_tokens)]
        aopc = float(np.mean(np.abs(p0 - probs)))
        lodds = float(np.mean(np.log(np.maximum(probs, _tiny()) / max(p0, _tiny()))))
        return {"aopc": aopc, "lodds": lodds}, [("p_target", x, [float(p) for p in probs])]


class _ComprehensivenessSufficiency(Preset):
    """What ERASER and ferret share: for each k of ``_ks``, x without its top-k non-special tokens
    (comprehensiveness: p_t(x) − p_t(x without them)) and x with only them, special tokens kept (sufficiency:
    p_t(x) − p_t(only them)); each metric is the mean over the ks."""

    metric_names: ClassVar[tuple[str, str]] = ("comprehensiveness", "sufficiency")

    def _ks(self, e) -> list[int]:
        raise NotImplementedError

    def _xs(self, e) -> list[float]:
        raise NotImplementedError

    def variants(self, e, values, target, token_ids):
        out = []
        for k in self._ks(e):
            top = top_non_special(values, e.special, k)
            out.append(token_variant(e.model_inputs, top, self.replace, token_ids))
            out.append(keep_only(e.model_inputs, top, e.special, self.replace, token_ids))
        return out

    def score(self, p0, probs, e, values):
        comp, suff = p0 - probs[0::2], p0 - probs[1::2]
        x = self._xs(e)
        return ({self.metric_names[0]: float(comp.mean()), self.metric_names[1]: float(suff.mean())},
                [("comprehensiveness", x, comp.tolist()), ("sufficiency", x, suff.tolist())])


@dataclass
class Eraser(_ComprehensivenessSufficiency):
    """ERASER's comprehensiveness and sufficiency (DeYoung et al. 2020) over the bins q ∈ ``bins`` %: the top
    k = ceil(q·L/100) non-special tokens (L = their number; at least one), t = the predicted class.
    comprehensiveness = mean over bins of p_t(x) − p_t(x without the top k); sufficiency = mean over bins of
    p_t(x) − p_t(x with only the top k, special tokens kept). Deletion by default."""

    name: ClassVar[str] = "eraser"
    bins: tuple[float, ...] = (1, 5, 10, 20, 50)

    def _ks(self, e) -> list[int]:
        L = int((~e.special).sum())
        return [min(L, max(1, math.ceil(q * L / 100))) for q in self.bins]

    def _xs(self, e) -> list[float]:
        return [q / 100 for q in self.bins]


@dataclass
class Ferret(_ComprehensivenessSufficiency):
    """ferret's AOPC comprehensiveness / sufficiency (Attanasio et al. 2023): the ERASER differences averaged over
    every k = 1..L non-special tokens instead of bins."""

    name: ClassVar[str] = "ferret"
    metric_names: ClassVar[tuple[str, str]] = ("aopc_comprehensiveness", "aopc_sufficiency")

    def _ks(self, e) -> list[int]:
        return list(range(1, int((~e.special).sum()) + 1))

    def _xs(self, e) -> list[float]:
        ks = self._ks(e)
        return [k / len(ks) for k in ks]


@dataclass
class DIG(Preset):
    """DIG's log-odds (Sanyal & Ren 2021, released ``metrics.eval_log_odds``): the top int(N · top / 100) tokens
    by ``torch.topk`` over all N tokens (special ones included, as their code does) get the word embedding of
    [PAD] (their ``base_token_emb``; position and segment embeddings kept); log-odds = log p_t(x̃) − log p_t(x),
    t = the predicted class. Lower is better."""

    name: ClassVar[str] = "dig"
    replace: str = "baseline"
    top: float = 20.0

    def variants(self, e, values, target, token_ids):
        k = int(e.num_tokens * self.top / 100)
        positions = torch.topk(torch.as_tensor(np.asarray(values, np.float32)), k).indices.tolist() if k else []
        return [token_variant(e.model_inputs, positions, self.replace, token_ids)]

    def score(self, p0, probs, e, values):
        return {"log_odds": float(np.log(max(probs[0], _tiny())) - np.log(max(p0, _tiny())))}, []


@dataclass
class Chefer2021(Preset):
    """Chefer et al.'s ViT perturbation test (CVPR 2021, released ``pertubation_eval_from_hdf5.py``): the map
    bilinearly upsampled to the model's input size; for p in ``steps`` the top ("positive") or bottom
    ("negative") p-fraction of pixels set to 0 in [0, 1] space; top-1 accuracy against the label at each p; AUC
    over p by the trapezoid rule (x = p). Positive: lower is better; negative: higher is better."""

    name: ClassVar[str] = "chefer2021"
    modality: ClassVar[str] = "image"
    replace: str = "zero"
    steps: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    label: list[int] = field(default_factory=list)  # filled per instance by the driver

    def _order(self, e, values) -> np.ndarray:
        from .localisation import upsample

        S = int(e.model_inputs["pixel_values"].shape[-1])
        pixels = upsample(e, np.asarray(values, np.float32), (S, S)).ravel()
        return np.argsort(-pixels, kind="stable")

    def variants(self, e, values, target, token_ids):
        order = self._order(e, values)
        pix = e.model_inputs["pixel_values"]
        zero = zero_pixel_value(e.explainer.processor, pix.device)
        out = []
        for sign in ("positive", "negative"):
            ranked = order if sign == "positive" else order[::-1]
            for p in self.steps:
                out.append(pixel_variant(pix, ranked[: int(len(order) * p)], zero))
        return out

    def score(self, p0, probs, e, values):  # probs here: 1.0 where top-1 == label, else 0.0
        n = len(self.steps)
        pos, neg = probs[:n], probs[n:]
        x = list(self.steps)
        return ({"positive_auc": float(np.trapezoid(pos, x)), "negative_auc": float(np.trapezoid(neg, x))},
                [("positive", x, pos.tolist()), ("negative", x, neg.tolist())])


@dataclass
class Achtibat2024(Preset):
    """The next-token perturbation test of AttnLRP (Achtibat et al., ICML 2024), for language models. The text up to
    the explained position p is kept (what the prediction reads); its context tokens (positions before p, special
    tokens such as <s> excepted; the token at p, whose next token is predicted, is kept) are removed in order of
    relevance, most relevant first (MoRF) and least relevant first (LeRF), k = round(g · L) of the L context
    tokens for g in ``steps`` evenly spaced fractions of [0, 1]; after each removal the explained token's
    log-probability log p_t (log p_a − log p_b for a contrastive target) is read at the last token.
    auc_morf / auc_lerf: the trapezoid area under each curve over g (MoRF lower is better, LeRF higher);
    faithfulness = auc_lerf − auc_morf (higher is better). replace: "delete" (default) or "baseline" (the word
    embedding of the padding token, so positions do not shift)."""

    name: ClassVar[str] = "achtibat2024"
    targets: ClassVar[str] = "next token"
    steps: int = 11

    def _context(self, e) -> np.ndarray:
        return np.array([j for j in range(e.position) if not e.special[j]], dtype=np.int64)

    def skip(self, e: Any) -> str:
        return "no context tokens before the explained position" if len(self._context(e)) == 0 else ""

    def _kept(self, e) -> dict:
        return {k: v[:, :e.position + 1] for k, v in e.model_inputs.items()}

    def original(self, e: Any) -> Variant:
        return Variant({k: v[0] for k, v in self._kept(e).items()})

    def fractions(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.steps)

    def variants(self, e, values, target, token_ids):
        context = self._context(e)
        order = context[np.argsort(-np.asarray(values, dtype=np.float64)[context], kind="stable")]
        ks = [int(round(g * len(context))) for g in self.fractions()]
        kept = self._kept(e)
        return [token_variant(kept, ranking[:k].tolist(), self.replace, token_ids)
                for ranking in (order, order[::-1]) for k in ks]

    def score(self, p0, probs, e, values):
        x = self.fractions()
        morf, lerf = probs[:len(x)], probs[len(x):]
        auc_morf, auc_lerf = _trapezoid(morf, x), _trapezoid(lerf, x)
        return ({"auc_morf": auc_morf, "auc_lerf": auc_lerf, "faithfulness": auc_lerf - auc_morf},
                [("morf", x.tolist(), morf.tolist()), ("lerf", x.tolist(), lerf.tolist())])


PRESETS: dict[str, type[Preset]] = {p.name: p for p in (AttCAT2022, Eraser, Ferret, DIG, Chefer2021, Achtibat2024)}


def make_preset(name: str, replace: str | None = None, **params: Any) -> Preset:
    """The preset ``name`` with its parameters (unknown parameters are an error)."""
    if name not in PRESETS and name != "localisation":
        raise ValueError(f"unknown preset {name!r}; the presets are: {', '.join([*PRESETS, 'localisation'])}")
    cls = PRESETS[name]
    fields = set(cls.__dataclass_fields__) - {"label", "name", "modality"}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise TypeError(f"preset {name!r} has no parameter {', '.join(unknown)}; its parameters: "
                        f"{', '.join(sorted(fields))}")
    if replace is not None:
        params["replace"] = replace
    for key in ("bins", "steps"):  # fractions (steps) or percentages (bins): a non-empty sequence of numbers > 0
        if key in params:
            value = params[key]
            ok = isinstance(value, (list, tuple)) and len(value) > 0 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
            if not ok:
                raise ValueError(f"preset {name!r}: {key} must be a non-empty list of positive numbers, got {value!r}")
            params[key] = tuple(value)
    if "min_tokens" in params and (isinstance(params["min_tokens"], bool)
                                   or not isinstance(params["min_tokens"], int) or params["min_tokens"] < 0):
        raise ValueError(f"preset {name!r}: min_tokens must be an integer >= 0, got {params['min_tokens']!r}")
    return cls(**params)


__all__ = ["PRESETS", "Achtibat2024", "AttCAT2022", "Chefer2021", "DIG", "Eraser", "Ferret", "Preset",
           "attcat_positions", "attcat_steps", "make_preset"]
