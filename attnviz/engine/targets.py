"""What an explanation explains: one ``Target`` value, made and checked once by the model's target space.

A classifier's target is a class c; a language model's is the next token t at a position p, or a contrastive pair
(a, b) there ("why Mary rather than John"). Every consumer (capture, methods, Explanation, views, plots, ablation,
evaluation, internals) reads the same value:

    score s = Σ_k sign_k · y_{index_k}(x)[p]          (``Target.terms``: [(c, +1)], [(t, +1)] or [(a, +1), (b, −1)])

with y the pre-softmax logits (a classifier's one output row has no p). ``Target.text`` is its readable
description ("'positive'", "' Mary' vs ' John'"), used by titles, pickers and hovers.

The target space of a model (``targets_for``) is the only place that knows whether the model classifies or predicts
the next token: ``ClassTargets`` (class indices and label names) or ``TokenTargets`` (token strings and ids, a
position). It validates users' values before any forward pass, picks the row each input is read at, describes
targets, and lists the candidates a view's picker offers. A copy of an explanation (pickled) keeps a detached space
that knows the targets already described and refuses new tokens with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .guard import DetachedExplanationError

_NO_LIMIT = 1 << 30  # a length no input reaches: check_positions checks types, not ranges

#: A target's key, as users see it on ``Explanation.target``: a class index or token id, or a pair (token, foil).
Key = int | tuple[int, int]


@dataclass(frozen=True)
class Target:
    """One explained output: ``index`` (class or token id), optionally contrasted with ``foil`` (a token id), read
    at ``position`` (a language model's row of logits; None for a classifier's single output row)."""

    index: int
    foil: int | None = None
    position: int | None = None
    text: str = ""

    @property
    def key(self) -> Key:
        """The user-facing form: the index, or (index, foil)."""
        return self.index if self.foil is None else (self.index, self.foil)

    @property
    def terms(self) -> list[tuple[int, float]]:
        """The signed logits the score sums: [(index, 1)] or [(index, 1), (foil, −1)]."""
        return [(self.index, 1.0)] if self.foil is None else [(self.index, 1.0), (self.foil, -1.0)]

    def score_row(self, logits: torch.Tensor) -> torch.Tensor:
        """s from logits already at the explained row, [..., V] -> [...]: y_t, or y_a − y_b."""
        if self.foil is None:
            return logits[..., self.index]
        return logits[..., self.index] - logits[..., self.foil]

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """s from one input's (or a batch's) model logits: [..., N, V] at ``position`` for a language model,
        [..., C] for a classifier -> [...]."""
        if self.position is not None:
            logits = logits[..., self.position, :]
        return self.score_row(logits)

    def probability(self, probs: Any) -> float:
        """The model's probability of ``index`` (the first token of a pair) from probabilities [V] at the row."""
        return float(probs[self.index])

    def at(self, position: int | None) -> Target:
        """The same target read at another row."""
        return Target(self.index, self.foil, position, self.text)

    def __str__(self) -> str:
        return self.text or repr(self.key)


def check_position(position: Any, num_tokens: int) -> int:
    """None -> the last position; an index (negative from the end) -> the index, checked against the input."""
    if position is None:
        return num_tokens - 1
    if isinstance(position, (bool, np.bool_)) or not isinstance(position, (int, np.integer)):
        raise TypeError(f"position must be a token index, got {type(position).__name__} {position!r}")
    p = int(position)
    if not -num_tokens <= p < num_tokens:
        raise ValueError(f"position {p} is beyond the input: it has {num_tokens} tokens (positions 0..{num_tokens - 1}"
                         f", or -1..-{num_tokens} from the end)")
    return p % num_tokens


def _tensor_to_int(value: Any, what: str) -> Any:
    """A one-element integer tensor -> its int (a target given as ``logits.argmax()``); anything else unchanged."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_floating_point() or value.dtype == torch.bool:
            raise TypeError(f"a tensor target must hold one integer {what}, got {value!r}")
        return int(value)
    return value


def _token_id(token: Any, tokenizer: Any, vocab_size: int) -> int:
    if isinstance(token, (bool, np.bool_)):
        raise TypeError(f"a next-token target is a token string or id, not the bool {token!r}")
    token = _tensor_to_int(token, "token id")
    if isinstance(token, (int, np.integer)):
        index = int(token)
        if not 0 <= index < vocab_size:
            raise ValueError(f"token id {index} is out of range: the vocabulary has ids 0..{vocab_size - 1}")
        return index
    if isinstance(token, str):
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"the target {token!r} gives no token: pass a word, e.g. ' Mary' (with its leading "
                             "space, as the tokenizer writes a word inside a sentence)")
        unk = getattr(tokenizer, "unk_token_id", None)
        if unk is not None and ids == [unk] and token.strip() != str(getattr(tokenizer, "unk_token", "")):
            raise ValueError(f"the target {token!r} is not in the tokenizer's vocabulary: it becomes the unknown token "
                             f"{tokenizer.unk_token!r} (id {unk}), and explaining that would explain every unknown "
                             "word at once. Pass a word the model knows (e.g. one of e.top_tokens(10))")
        if len(ids) > 1:
            pieces = tokenizer.convert_ids_to_tokens(ids)
            raise ValueError(
                f"the target {token!r} is {len(ids)} tokens for this tokenizer ({', '.join(map(repr, pieces))}): a "
                f"next-token target is one token. Pass its first piece, target={ids[0]} ({pieces[0]!r}), to explain "
                "the first step of the word, or a word that is one token (mind the leading space: ' Mary')")
        return int(ids[0])
    raise TypeError(f"a next-token target is a token string, a token id or a pair of them (contrastive), got "
                    f"{type(token).__name__} {token!r:.60}")


def check_next_token_target(target: Any, tokenizer: Any, vocab_size: int) -> Key | None:
    """None (the predicted token), a token (string or id) -> its id, or a pair -> (id_a, id_b)."""
    if target is None:
        return None
    if isinstance(target, (tuple, list)):
        if len(target) != 2:
            raise ValueError(f"a contrastive target is a pair (token, foil), e.g. (' Mary', ' John'); got "
                             f"{len(target)} items")
        a, b = (_token_id(t, tokenizer, vocab_size) for t in target)
        if a == b:
            raise ValueError(f"a contrastive target compares two different tokens: {target[0]!r} and "
                             f"{target[1]!r} are the same token (id {a}), so y_a - y_b is zero everywhere")
        return (a, b)
    return _token_id(target, tokenizer, vocab_size)




def check_class_target(target: Any, names: list[str], modality: str) -> int | None:
    """None (the predicted class), a class index (Python or numpy integer, or a one-element integer tensor) or a
    label name -> the index, or None; a clear error otherwise."""
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)):
        raise TypeError(f"target must be a class index or a label name, not the bool {target!r}")
    if isinstance(target, str):
        if target in names:
            return names.index(target)
        hint = (" To explain a sentence pair, pass it as one tuple: explain((text_a, text_b))."
                if modality == "text" else "")
        raise ValueError(f"unknown label {target!r}; the model's labels are {names}.{hint}")
    target = _tensor_to_int(target, "class index")
    if isinstance(target, (int, np.integer)):
        index = int(target)
        if not 0 <= index < len(names):
            raise ValueError(f"target {index} is out of range: the model has {len(names)} classes {names}")
        return index
    raise TypeError(f"target must be None, a class index or a label name, got {type(target).__name__} {target!r}")


class Targets:
    """A model's target space: how its targets are checked, read, described and offered. Subclasses:
    ``ClassTargets`` (a classifier) and ``TokenTargets`` (a language model's next token)."""

    #: "class" or "next token": what a picker lists.
    kind = "class"
    #: True when the explained output depends on a position (a language model).
    per_position = False
    #: True when a target may be a contrastive pair (y_a − y_b).
    contrastive = False
    #: True when the model finds the row it reads through the padding id (a decoder classifier's last token).
    row_found_by_padding = False

    def check(self, value: Any) -> Key | None:
        """Validate a user's target before any forward pass -> its key, or None (the prediction)."""
        raise NotImplementedError

    def rows(self, positions: list[Any], lengths: list[int]) -> list[int]:
        """The row each input is read at, from the users' ``position`` values (None: the default) and the inputs'
        token counts."""
        raise NotImplementedError

    def check_positions(self, positions: list[Any]) -> None:
        """Refuse bad ``position`` values before any work: a classifier refuses any, a language model checks each
        one's type (their range is checked against each input's length by ``rows``, once it is tokenised)."""
        self.rows(positions, [_NO_LIMIT] * len(positions))

    def describe(self, key: Key) -> str:
        """A key in words: "'positive'", "' Mary'", "' Mary' vs ' John'"."""
        raise NotImplementedError

    def explained_logits(self, logits: torch.Tensor, rows: list[int]) -> torch.Tensor:
        """The model's output [b, C] (or [b, N, V] for a language model) -> the explained row of each input [b, V]."""
        return logits

    def make(self, key: Key, row: int) -> Target:
        """A checked key read at ``row`` -> the Target value, described."""
        first, foil = (key[0], key[1]) if isinstance(key, tuple) else (key, None)
        return Target(int(first), None if foil is None else int(foil),
                      row if self.per_position else None, self.describe(key))

    def resolve(self, value: Any, predicted: int, row: int) -> Target:
        """A user's target (None: the prediction ``predicted``) at ``row`` -> the Target value."""
        key = self.check(value)
        return self.make(predicted if key is None else key, row)

    @property
    def label_names(self) -> list[str]:
        """The class names; empty for a language model (its targets are tokens)."""
        return []

    def summary(self) -> str:
        """What the model outputs, in a few words (for reprs)."""
        raise NotImplementedError

    def subject(self, kind: str, position: int, tokens: list[str]) -> str:
        """What an explanation explains, for its repr: "text", or "next token after position 3 ('the')"."""
        return kind

    def prediction(self, probs: np.ndarray, predicted: int) -> str:
        """The model's answer in words: "predicted 'positive' (p=0.973)"."""
        return f"predicted {self.describe(predicted)} (p={probs[predicted]:.3f})"

    def target_phrase(self, key: Key) -> str:
        """The target for a repr: "1 ('positive')", or "' Mary'"."""
        return self.describe(key)

    def require_classes(self, what: str, model_name: str) -> None:
        """A clear error unless the targets are classes (the evaluation protocols score classifiers)."""

    def label(self, key: int) -> str:
        """One choice of a view's picker in words: the class name, or the token's text quoted."""
        return self.describe(key)

    def picker(self, e: Any, k: int) -> tuple[list[int], int | None]:
        """What a view's target picker offers for explanation ``e``: (choices, the token that follows in the text or
        None). Every class; or a language model's k most probable next tokens, then its own target tokens and the
        text's next token when not among them."""
        return list(range(len(self.label_names))), None

    def detached(self, known: list[Key]) -> Targets:
        """What a copy of an explanation keeps: this space, without the live tokenizer (``known``: the keys already
        described)."""
        return self


class ClassTargets(Targets):
    """A classifier's targets: class indices or label names, read at its one output row."""

    def __init__(self, names: list[str], modality: str, model_name: str, causal: bool, multi_label: bool = False):
        self.names = list(names)
        self.multi_label = multi_label
        self.modality = modality
        self.model_name = model_name
        self.causal = causal
        self.row_found_by_padding = causal

    def check(self, value: Any) -> int | None:
        return check_class_target(value, self.names, self.modality)

    def rows(self, positions: list[Any], lengths: list[int]) -> list[int]:
        if any(p is not None for p in positions):
            raise ValueError(f"position= applies to language models; {self.model_name} is a classifier and reads "
                             f"{'the last token' if self.causal else 'the first token ([CLS])'}")
        return [n - 1 if self.causal else 0 for n in lengths]

    def describe(self, key: Key) -> str:
        return repr(self.names[int(key)])  # type: ignore[arg-type]

    def label(self, key: int) -> str:
        return str(self.names[int(key)])

    @property
    def label_names(self) -> list[str]:
        return list(self.names)

    def summary(self) -> str:
        return f"{len(self.names)} classes"

    def prediction(self, probs: np.ndarray, predicted: int) -> str:
        if not self.multi_label:
            return super().prediction(probs, predicted)
        # independent sigmoids: name every class the model says is present
        present = [int(i) for i in np.argsort(-probs, kind="stable") if probs[i] >= 0.5]
        said = ", ".join(f"{self.names[i]!r} (p={probs[i]:.3f})" for i in present) or "no label at p >= 0.5"
        return f"labels {said}"

    def target_phrase(self, key: Key) -> str:
        return f"{key} ({self.describe(key)})"


class TokenTargets(Targets):
    """A language model's targets: the next token (string or id), or a contrastive pair, at a position."""

    kind = "next token"
    per_position = True
    contrastive = True

    def __init__(self, tokenizer: Any, vocab_size: int):
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size

    def check(self, value: Any) -> Key | None:
        return check_next_token_target(value, self.tokenizer, self.vocab_size)

    def rows(self, positions: list[Any], lengths: list[int]) -> list[int]:
        return [check_position(p, n) for p, n in zip(positions, lengths)]

    def explained_logits(self, logits: torch.Tensor, rows: list[int]) -> torch.Tensor:
        return torch.stack([logits[i, p] for i, p in enumerate(rows)])

    def describe(self, key: Key) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return " vs ".join(repr(self.token_text(int(i))) for i in parts)

    def token_text(self, token_id: int) -> str:
        return token_text(self.tokenizer, token_id)

    def picker(self, e: Any, k: int) -> tuple[list[int], int | None]:
        ids = [i for i, _, _ in e.top_tokens(k)]
        following = None
        if e.position < e.num_tokens - 1:  # the text goes on: its next token is a choice (and the loss's label)
            following = int(e.model_inputs["input_ids"][0, e.position + 1])
        target = e.explained_target
        for t in (target.index, target.foil, following):
            if t is not None and t not in ids:
                ids.append(int(t))
        return ids, following

    def summary(self) -> str:
        return f"next token, vocabulary {self.vocab_size}"

    def subject(self, kind: str, position: int, tokens: list[str]) -> str:
        return f"next token after position {position} ({tokens[position]!r})"

    def require_classes(self, what: str, model_name: str) -> None:
        raise ValueError(f"{what} perturbs the input and reads the probability of a class: it is written for "
                         f"classifiers, and {model_name} is a language model (its target is the next token). For a "
                         "language model use evaluate.sanity(explainer, texts) (cascading randomisation works on "
                         "decoders) or attnviz.patch(explainer, clean, corrupted) (which positions and blocks carry "
                         "the prediction)")

    def detached(self, known: list[Key]) -> Targets:
        ids = {int(i) for k in known for i in (k if isinstance(k, tuple) else (k,))}
        return DetachedTokenTargets(self.vocab_size, {i: self.token_text(i) for i in ids})


class DetachedTokenTargets(TokenTargets):
    """A copied explanation's token targets: the tokens described before the copy, and no tokenizer."""

    def __init__(self, vocab_size: int, texts: dict[int, str]):
        super().__init__(None, vocab_size)
        self.texts = texts

    def check(self, value: Any) -> Key | None:
        ids = value if isinstance(value, tuple) else (value,)
        if value is None or all(isinstance(i, (int, np.integer)) and int(i) in self.texts for i in ids):
            return value
        raise DetachedExplanationError("this explanation is a copy (pickled or deep-copied): a new next-token "
                                       "target needs the live model and its tokenizer: explain again")

    def token_text(self, token_id: int) -> str:
        return self.texts.get(int(token_id), str(token_id))


def targets_for(model: Any, adapter: Any, processor: Any, task: str) -> Targets:
    """The target space of a model: tokens for a language model's head, classes otherwise."""
    if task == "next_token":
        return TokenTargets(processor, adapter.vocab_size(model))
    return ClassTargets(adapter.label_names(model), adapter.modality, type(model).__name__, adapter.causal,
                        adapter.multi_label(model))


def token_text(tokenizer: Any, token_id: int) -> str:
    """The text a token id stands for (byte-level stand-ins decoded: ' Mary', not 'ĠMary'); a token holding part of
    a character's bytes (decoding to U+FFFD alone) is shown as its token string."""
    raw = str(tokenizer.convert_ids_to_tokens(int(token_id)))
    try:
        text = str(tokenizer.decode([int(token_id)], clean_up_tokenization_spaces=False))
    except Exception:  # noqa: BLE001 - a tokenizer without decode: its token string
        return raw
    return raw if "\ufffd" in text else text



__all__ = ["ClassTargets", "DetachedTokenTargets", "Key", "Target", "Targets", "TokenTargets", "check_class_target",
           "check_next_token_target", "check_position", "targets_for", "token_text"]
