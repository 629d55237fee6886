"""What an explanation explains: a class, or for a language model the next token at a position.

A classifier's target is a class index (``explainer.check_target``). A language model's target is
- a token id (an int), or a token given as a string (" Mary", which must be one token for the tokenizer),
- or a contrastive pair (a, b): the logit difference y_a − y_b ("why Mary rather than John"), each a string or id,

explained at one position p of the input (default: the last, so the prediction is the token after the text). The
score a gradient method differentiates is s = y_t(x)[p], or y_a(x)[p] − y_b(x)[p] for a pair, with y the pre-softmax
logits. Bad targets get a clear error before any forward pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

Target = int | tuple[int, int]


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


def _token_id(token: Any, tokenizer: Any, vocab_size: int) -> int:
    if isinstance(token, (bool, np.bool_)):
        raise TypeError(f"a next-token target is a token string or id, not the bool {token!r}")
    if isinstance(token, torch.Tensor):
        if token.numel() != 1 or token.is_floating_point() or token.dtype == torch.bool:
            raise TypeError(f"a tensor target must hold one integer token id, got {token!r}")
        token = int(token)
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


def check_next_token_target(target: Any, tokenizer: Any, vocab_size: int) -> Target | None:
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


def score(logits: torch.Tensor, target: Target) -> torch.Tensor:
    """The explained score from logits [..., V] (one position): y_t, or y_a − y_b for a contrastive pair. [...]."""
    if isinstance(target, tuple):
        return logits[..., target[0]] - logits[..., target[1]]
    return logits[..., target]


def describe(target: Target, tokenizer: Any) -> str:
    """A readable target: "' Mary'" or "' Mary' vs ' John'"."""
    def text(i: int) -> str:
        return repr(token_text(tokenizer, i))

    if isinstance(target, tuple):
        return f"{text(target[0])} vs {text(target[1])}"
    return text(target)


def token_text(tokenizer: Any, token_id: int) -> str:
    """The text a token id stands for (byte-level stand-ins decoded: ' Mary', not 'ĠMary'); a token holding part of
    a character's bytes (decoding to U+FFFD alone) is shown as its token string."""
    raw = str(tokenizer.convert_ids_to_tokens(int(token_id)))
    try:
        text = str(tokenizer.decode([int(token_id)], clean_up_tokenization_spaces=False))
    except Exception:  # noqa: BLE001 - a tokenizer without decode: its token string
        return raw
    return raw if "\ufffd" in text else text


__all__ = ["Target", "check_next_token_target", "check_position", "describe", "score", "token_text"]
