"""Activation patching (Meng et al. 2022; Wang et al. 2023, IOI): which activations carry the difference between a
clean and a corrupted prompt.

Run the corrupted prompt, but copy one activation from the clean run, and measure the explained score m (a next-token
logit, or the logit difference y_a − y_b) at the explained position p. Normalised,

    effect = (m_patched − m_corrupted) / (m_clean − m_corrupted)      (0: nothing restored, 1: the clean answer)

- ``resid[l, i]``: the residual stream entering block l, at position i (TransformerLens's ``resid_pre``);
- ``resid_all[l]``: the whole stream entering block l, every position at once (1 by construction: everything the
  rest of the model reads is then clean; a check, and the row a class starts from);
- ``heads[l, h]``: head h of block l's output z (before W_O), at every position.

Every patched run is a copy in a batch (one batch per block: N copies for the positions, H for the heads); the
hooks are removed in ``finally`` and the model left as it was. Ctrl-C keeps the blocks finished (the rest NaN).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..intervention import Intervention, intervened
from ..progress import progress_bar
from ..targets import score
from .residual import InternalsError, hidden_of, record, with_hidden, work


@dataclass(frozen=True)
class PatchingResult:
    """resid [B, N], resid_all [B] and heads [B, H]: normalised effects (NaN where an interrupt stopped the work).

    clean_tokens / corrupted_tokens: the two prompts' tokens; clean_score / corrupted_score: m on each; target, its
    description and the position p; complete: False after an interrupt."""

    resid: np.ndarray
    resid_all: np.ndarray
    heads: np.ndarray
    clean_tokens: list[str]
    corrupted_tokens: list[str]
    clean_score: float
    corrupted_score: float
    target: Any
    description: str
    position: int
    complete: bool = True

    def __repr__(self) -> str:
        where = np.unravel_index(np.nanargmax(self.heads), self.heads.shape) if np.isfinite(self.heads).any() else None
        best = f"; strongest head {where[0]}.{where[1]} ({self.heads[where]:.2f})" if where is not None else ""
        partial = "; PARTIAL (interrupted)" if not self.complete else ""
        return (f"<PatchingResult {self.description} at position {self.position}: clean {self.clean_score:.3f}, "
                f"corrupted {self.corrupted_score:.3f}{best}{partial}>")


def _tokens(explainer: Any, text: Any, name: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    encoded = explainer.encode([text])
    sample = encoded.samples[0]
    inputs = {k: v[:, :sample.length].to(explainer.device) for k, v in encoded.model_inputs.items()}
    return inputs, list(sample.tokens)


def _resolve(explainer: Any, target: Any, clean: torch.Tensor, corrupted: torch.Tensor) -> Any:
    """None -> (the clean prediction, the corrupted prediction); else the checked target."""
    checked = explainer.check_target(target)
    if checked is not None:
        return checked
    a, b = int(clean.argmax()), int(corrupted.argmax())
    if a == b:
        raise InternalsError(
            f"clean and corrupted prompts both predict {explainer.describe_target(a)}: pass target=(clean answer, "
            "corrupted answer), e.g. target=(' Mary', ' John'), to measure their logit difference")
    return (a, b)


def _accepts_logits_to_keep(model: torch.nn.Module) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _batched_runs(explainer: Any, inputs: dict[str, torch.Tensor], copies: int, hook_module: torch.nn.Module,
                  patch: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], pre_kwargs: bool, position: int,
                  chunk: int) -> torch.Tensor:
    """logits [copies, V] at ``position`` of ``copies`` copies of ``inputs``, run ``chunk`` copies at a time, with
    ``patch(x, copy_indices)`` applied to ``hook_module``'s input x [chunk, ...]. Only that position goes through the
    unembedding where the model allows it (``logits_to_keep``): at 128 tokens of GPT-2 small that is 128x less of
    the largest matrix product."""
    extra: dict[str, Any] = {}
    if _accepts_logits_to_keep(explainer.model):
        extra["logits_to_keep"] = torch.tensor([position], device=inputs["input_ids"].device)
    out = []
    for start in range(0, copies, chunk):
        count = min(chunk, copies - start)
        batch = {k: v.expand(count, *v.shape[1:]).contiguous() for k, v in inputs.items()}
        index = torch.arange(start, start + count, device=inputs["input_ids"].device)
        if pre_kwargs:
            def hook(_module, args, kwargs, index=index):
                return with_hidden(args, kwargs, patch(hidden_of(args, kwargs), index))
            handle = hook_module.register_forward_pre_hook(hook, with_kwargs=True)
        else:
            def plain(_module, args, index=index):
                return (patch(args[0], index), *args[1:])
            handle = hook_module.register_forward_pre_hook(plain)
        try:
            logits = explainer.model(**batch, use_cache=False, return_dict=True, **extra).logits.detach()
        finally:
            handle.remove()
        out.append(work(logits[:, -1] if extra else logits[:, position]))
    return torch.cat(out)


def copies_per_run(num_tokens: int, num_heads: int, hidden: int, budget: int = 2**29) -> int:
    """How many patched copies one forward runs: the eager attention [copies, H, N, N] and a few [copies, N, D]
    activations of one block at a time within ``budget`` bytes (512 MiB), at least one."""
    per_copy = 4 * (2 * num_heads * num_tokens * num_tokens + 8 * num_tokens * hidden)
    return max(1, budget // per_copy)


def patch(explainer: Any, clean: str, corrupted: str, target: Any = None, position: Any = None,
          progress: bool | None = None, batch_size: int | None = None) -> PatchingResult:
    """Patch every block's residual stream at every position, and every head's output, from ``clean`` into
    ``corrupted``; see the module docstring. target: None (the clean vs the corrupted prediction), a token, or a
    pair (a, b) for y_a − y_b. position: the explained position (default: the last token). batch_size: patched
    copies per forward (default: as many as fit 512 MiB of one block's activations). progress: a progress bar over
    blocks (default: when there are more than 256 patched runs)."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    from ..targets import check_position

    clean_inputs, clean_tokens = _tokens(explainer, clean, "clean")
    bad_inputs, bad_tokens = _tokens(explainer, corrupted, "corrupted")
    if len(clean_tokens) != len(bad_tokens):
        raise InternalsError(
            f"clean and corrupted prompts must have the same number of tokens, so each position can be patched: "
            f"clean has {len(clean_tokens)} {clean_tokens}, corrupted has {len(bad_tokens)} {bad_tokens}")
    n = len(clean_tokens)
    p = check_position(position, n)
    model, adapter = explainer.model, explainer.adapter
    blocks = adapter.get_blocks(model)
    num_heads = adapter.num_query_heads(model)
    rec_clean = record(explainer, clean_inputs)
    rec_bad = record(explainer, bad_inputs)
    target = _resolve(explainer, target, rec_clean.logits[p], rec_bad.logits[p])
    m_clean = float(score(rec_clean.logits[p], target))
    m_bad = float(score(rec_bad.logits[p], target))
    if abs(m_clean - m_bad) <= 1e-6 * max(1.0, abs(m_clean)):
        raise InternalsError(
            f"the target {explainer.describe_target(target)} scores the same on both prompts ({m_clean:.6g}): the "
            "difference patching restores is zero. Choose prompts that differ in their answer, or another target")
    resid = np.full((len(blocks), n), np.nan, dtype=np.float32)
    resid_all = np.full(len(blocks), np.nan, dtype=np.float32)
    heads = np.full((len(blocks), num_heads), np.nan, dtype=np.float32)

    chunk = int(batch_size) if batch_size is not None else copies_per_run(n, num_heads, rec_clean.resid.shape[-1])

    def effect(logits: torch.Tensor) -> np.ndarray:
        m = score(logits, target)
        return ((m - m_bad) / (m_clean - m_bad)).cpu().numpy()

    bar = progress_bar(2 * len(blocks), progress if progress is not None else len(blocks) * (n + num_heads) > 256,
                       desc="patching", unit="block")
    complete = True
    try:
        with intervened(model, adapter, Intervention()), torch.no_grad():
            for l, block in enumerate(blocks):
                clean_stream = rec_clean.resid[l].to(model.dtype)  # [N, D]

                def patch_positions(hidden: torch.Tensor, index: torch.Tensor,
                                    stream: torch.Tensor = clean_stream) -> torch.Tensor:
                    hidden = hidden.clone()
                    rows = torch.arange(len(index), device=hidden.device)
                    single = index < n  # copy i < N gets the clean stream at position i; copy N gets all of it
                    hidden[rows[single], index[single]] = stream[index[single]]
                    hidden[rows[~single]] = stream
                    return hidden

                effects = effect(_batched_runs(explainer, bad_inputs, n + 1, block, patch_positions, True, p,
                                               chunk))
                resid[l], resid_all[l] = effects[:n], effects[n]
                bar.update(1)
                clean_z = rec_clean.z[l].to(model.dtype)  # [N, H, Dh]

                def patch_heads(z: torch.Tensor, index: torch.Tensor, head_out: torch.Tensor = clean_z) -> torch.Tensor:
                    z = z.view(*z.shape[:2], num_heads, -1).clone()
                    rows = torch.arange(len(index), device=z.device)
                    z[rows, :, index] = head_out.transpose(0, 1)[index]  # copy h gets head h's clean output
                    return z.flatten(2)

                heads[l] = effect(_batched_runs(explainer, bad_inputs, num_heads,
                                                adapter.get_part(block, "attn_out"), patch_heads, False, p, chunk))
                bar.update(1)
    except KeyboardInterrupt:
        complete = False
        warnings.warn("interrupted: returning the blocks patched so far (the rest are NaN)", stacklevel=2)
    finally:
        bar.close()
    return PatchingResult(resid=resid, resid_all=resid_all, heads=heads, clean_tokens=clean_tokens,
                          corrupted_tokens=bad_tokens,
                          clean_score=m_clean, corrupted_score=m_bad, target=target,
                          description=explainer.describe_target(target), position=p, complete=complete)


__all__ = ["PatchingResult", "patch"]
