"""Activation patching (Meng et al. 2022; Wang et al. 2023, IOI): which activations carry the difference between a
clean and a corrupted prompt.

Run the corrupted prompt, but copy one activation from the clean run, and measure the explained score m (a next-token
logit, or the logit difference y_a − y_b) at the explained position p. Normalised,

    effect = (m_patched − m_corrupted) / (m_clean − m_corrupted)      (0: nothing restored, 1: the clean answer)

- ``resid[l, i]``: the residual stream entering block l, at position i (TransformerLens's ``resid_pre``);
- ``resid_all[l]``: the whole stream entering block l, every position at once (1 by construction: everything the
  rest of the model reads is then clean; a check, and the row a class starts from);
- ``heads[l, h]``: head h of block l's output z (before W_O), at every position.

Every patched run is a copy in a batch (per block: N + 1 copies for the stream, H for the heads, chunked to a memory
budget). A patch at block l cannot change blocks 0..l−1, so each copy starts from the corrupted stream entering block
l (recorded once with the arguments the model passed each block) and runs only blocks l..B−1, then the final norm and
the unembedding at the explained position: on average half the blocks of a full forward, and 1/N of its unembedding.
The hooks are removed in ``finally`` and the model left as it was. Ctrl-C keeps the blocks finished (the rest NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..intervention import Intervention, intervened
from ..progress import progress_bar
from .residual import InternalsError, hidden_of, output_tensor, record, work


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


@dataclass
class _BlockCalls:
    """What the model passed each block in the corrupted run, so blocks l..B-1 can be re-run on patched streams
    without re-running blocks 0..l-1 (a patch at block l cannot change them): per block, the hidden states it
    received [1, N, D] (model dtype), the other positional arguments and the keyword arguments (attention mask,
    rotary cos/sin, position ids ...), and whether the hidden states came positionally."""

    hidden: list[torch.Tensor]
    args: list[tuple]
    kwargs: list[dict]
    positional: list[bool]


def _record_calls(explainer: Any, inputs: dict[str, torch.Tensor]) -> _BlockCalls:
    """One forward of ``inputs`` recording every block's call (call inside ``intervened``, under no_grad)."""
    blocks = explainer.adapter.get_blocks(explainer.model)
    calls = _BlockCalls([], [], [], [])

    def keep(_module, args, kwargs):
        positional = bool(args)
        calls.hidden.append(hidden_of(args, kwargs).detach())
        calls.args.append(tuple(args[1:]) if positional else tuple(args))
        calls.kwargs.append({k: v for k, v in kwargs.items() if k != "hidden_states"})
        calls.positional.append(positional)

    handles = [block.register_forward_pre_hook(keep, with_kwargs=True) for block in blocks]
    try:
        explainer.model(**inputs, use_cache=False, return_dict=True)
    finally:
        for handle in handles:
            handle.remove()
    if len(calls.hidden) != len(blocks):
        raise InternalsError(f"{type(explainer.model).__name__} called {len(calls.hidden)} of its {len(blocks)} "
                             "blocks once each: activation patching needs each block run once per forward")
    return calls


def _suffix_runs(explainer: Any, calls: _BlockCalls, block: int, copies: int, position: int, chunk: int,
                 patch_stream: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 hook_module: torch.nn.Module | None = None,
                 patch_input: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """logits [copies, V] at ``position``: ``copies`` copies of the corrupted stream entering ``block`` (patched by
    ``patch_stream(x, copy_indices)``, or with ``patch_input`` applied to ``hook_module``'s input), run through
    blocks ``block``..B-1, the final norm and the unembedding, ``chunk`` copies at a time. Only the explained
    position goes through the final norm and the unembedding (both act on each position alone)."""
    model, adapter = explainer.model, explainer.adapter
    blocks = adapter.get_blocks(model)
    norm, unembed = adapter.get_final_norm(model), adapter.get_unembedding(model)
    start_hidden = calls.hidden[block]
    out = []
    for start in range(0, copies, chunk):
        count = min(chunk, copies - start)
        index = torch.arange(start, start + count, device=start_hidden.device)
        x = start_hidden.expand(count, *start_hidden.shape[1:])
        x = patch_stream(x, index) if patch_stream is not None else x.contiguous()
        handle = None
        if hook_module is not None and patch_input is not None:
            def plain(_module, args, index=index):
                return (patch_input(args[0], index), *args[1:])
            handle = hook_module.register_forward_pre_hook(plain)
        try:
            for b in range(block, len(blocks)):
                if calls.positional[b]:
                    output = blocks[b](x, *calls.args[b], **calls.kwargs[b])
                else:
                    output = blocks[b](*calls.args[b], hidden_states=x, **calls.kwargs[b])
                x = output_tensor(output)
        finally:
            if handle is not None:
                handle.remove()
        out.append(work(unembed(norm(x[:, position:position + 1]))[:, 0].detach()))
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
    goal = explainer.targets.make(target, p)  # the Target value: score_row = y_t, or y_a − y_b
    m_clean = float(goal.score_row(rec_clean.logits[p]))
    m_bad = float(goal.score_row(rec_bad.logits[p]))
    if abs(m_clean - m_bad) <= 1e-6 * max(1.0, abs(m_clean)):
        raise InternalsError(
            f"the target {explainer.describe_target(target)} scores the same on both prompts ({m_clean:.6g}): the "
            "difference patching restores is zero. Choose prompts that differ in their answer, or another target")
    resid = np.full((len(blocks), n), np.nan, dtype=np.float32)
    resid_all = np.full(len(blocks), np.nan, dtype=np.float32)
    heads = np.full((len(blocks), num_heads), np.nan, dtype=np.float32)

    chunk = int(batch_size) if batch_size is not None else copies_per_run(n, num_heads, rec_clean.resid.shape[-1])

    def effect(logits: torch.Tensor) -> np.ndarray:
        m = goal.score_row(logits)
        return ((m - m_bad) / (m_clean - m_bad)).cpu().numpy()

    bar = progress_bar(2 * len(blocks), progress if progress is not None else len(blocks) * (n + num_heads) > 256,
                       desc="patching", unit="block")
    complete = True
    try:
        with intervened(model, adapter, Intervention()), torch.no_grad():
            calls = _record_calls(explainer, bad_inputs)
            for l, block in enumerate(blocks):
                clean_stream = rec_clean.resid[l].to(model.dtype)  # [N, D]

                def patch_positions(hidden: torch.Tensor, index: torch.Tensor,
                                    stream: torch.Tensor = clean_stream) -> torch.Tensor:
                    hidden = hidden.clone()  # an expanded view: one copy per patched position
                    rows = torch.arange(len(index), device=hidden.device)
                    single = index < n  # copy i < N gets the clean stream at position i; copy N gets all of it
                    hidden[rows[single], index[single]] = stream[index[single]]
                    hidden[rows[~single]] = stream
                    return hidden

                effects = effect(_suffix_runs(explainer, calls, l, n + 1, p, chunk, patch_stream=patch_positions))
                resid[l], resid_all[l] = effects[:n], effects[n]
                bar.update(1)
                clean_z = rec_clean.z[l].to(model.dtype)  # [N, H, Dh]

                def patch_heads(z: torch.Tensor, index: torch.Tensor, head_out: torch.Tensor = clean_z) -> torch.Tensor:
                    z = z.view(*z.shape[:2], num_heads, -1).clone()
                    rows = torch.arange(len(index), device=z.device)
                    z[rows, :, index] = head_out.transpose(0, 1)[index]  # copy h gets head h's clean output
                    return z.flatten(2)

                heads[l] = effect(_suffix_runs(explainer, calls, l, num_heads, p, chunk,
                                               hook_module=adapter.get_part(block, "attn_out"),
                                               patch_input=patch_heads))
                bar.update(1)
    except KeyboardInterrupt:
        complete = False
        warnings.warn("interrupted: returning the blocks patched so far (the rest are NaN)", stacklevel=2)
    finally:
        bar.close()
    return PatchingResult(resid=resid, resid_all=resid_all, heads=heads, clean_tokens=clean_tokens,
                          corrupted_tokens=bad_tokens,
                          clean_score=m_clean, corrupted_score=m_bad, target=target,
                          description=goal.text, position=p, complete=complete)


__all__ = ["PatchingResult", "patch"]
