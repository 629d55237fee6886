"""The lean capture (issue 20, item 4) against today's capture and a plain forward+backward, GPT-2 small's shape.

Time: medians of interleaved rounds in one process, after a warm-up. "before" is the capture of commit ``--before``
(default b103897, the last commit before the lean capture), imported side by side from a copy of that commit's
``attnviz`` package renamed ``attnviz_before``. Peak memory: each mode in a fresh process, its high-water mark
(VmHWM, reset after the model is loaded) above the resident set then, the capture alone (``explain``) and with the
methods' maps.

    python bench/lean_capture.py [--tokens 256 1024] [--repeats 3]
    python bench/lean_capture.py --smollm2 2048        # SmolLM2-135M (real weights): rollout, gae, attnlrp
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import interleaved_medians  # noqa: E402
from bench.widgets import table  # noqa: E402

LEAN = {  # mode -> (methods= of the capture, the maps read after it, other explain() arguments)
    "before: capture of --before (full)": (None, (), {}),
    "full capture (methods=None)": (None, (), {}),
    "lean: methods=['raw', 'rollout']": (["raw", "rollout"], (), {}),
    "lean: methods=['attcat'] (default: blocks recomputed from 512 tokens)": (["attcat"], (), {}),
    "lean: methods=['attcat'], recompute=True": (["attcat"], (), {"recompute": True}),
    "lean: methods=['attcat'], recompute=False": (["attcat"], (), {"recompute": False}),
    "lean: methods=['raw', 'rollout', 'attcat']": (["raw", "rollout", "attcat"], (), {}),
    "lean: methods=['gae'] (the full level: gae, chefer)": (["gae"], (), {}),
    "  + raw, rollout, attcat maps": (["raw", "rollout", "attcat"], ("raw", "rollout", "attcat"), {}),
    "  + gae afterwards (one more backward)": (["attcat"], ("attcat", "gae"), {}),
}


def before_package(rev: str) -> str | None:
    """Extract ``attnviz/`` of commit ``rev`` as the package ``attnviz_before`` in a temporary folder; its path."""
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "attnviz"], check=True,
                                 capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    root = Path(tempfile.mkdtemp(prefix="attnviz-before-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    (root / "attnviz").rename(root / "attnviz_before")
    return str(root)


def explainer_class(before: bool, before_root: str | None):
    if before:
        if before_root not in sys.path:
            sys.path.insert(0, before_root)
        return importlib.import_module("attnviz_before").Explainer
    from attnviz import Explainer

    return Explainer


def times(tokens: int, repeats: int, before_root: str | None) -> list[tuple[str, str]]:
    from bench.language import gpt2_small

    model, tok, text = gpt2_small(tokens)
    new = explainer_class(False, None)(model, tok)
    old = explainer_class(True, before_root)(model, tok) if before_root else None
    inputs = new.explain(text, methods=["raw"]).model_inputs
    position = tokens - 1

    def plain():
        model.zero_grad(set_to_none=True)
        model(**inputs, use_cache=False).logits[0, position, 5].backward()

    embed = model.transformer.wte

    def plain_inputs():
        x = embed(inputs["input_ids"]).detach().requires_grad_(True)
        out = model(inputs_embeds=x, attention_mask=inputs["attention_mask"], use_cache=False)
        torch.autograd.grad(out.logits[0, position, 5], x)

    fns = {"plain forward+backward (the model's attention, parameter gradients)": plain,
           "plain forward+backward, gradients to the input embeddings only": plain_inputs}
    for mode, (methods, maps, extra) in LEAN.items():
        if mode.startswith("before"):
            if old is not None:
                fns[mode] = lambda: old.explain(text)
            continue

        def run(methods=methods, maps=maps, extra=extra):
            e = new.explain(text, methods=methods, **extra)
            for name in maps:
                e.maps(name)
        fns[mode] = run
    medians = interleaved_medians(fns, repeats)
    model.zero_grad(set_to_none=True)
    base = medians[next(iter(fns))]
    return [(name, f"{t * 1000:,.0f} ms  ({t / base:.2f}x plain)") for name, t in medians.items()]


def _rss() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _reset_peak() -> None:
    """Start the high-water mark (VmHWM) again from the current resident set (Linux: /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _peak() -> float:
    """The resident set's high-water mark since the last ``_reset_peak``, MiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_child(mode: str, tokens: int, before_root: str | None) -> None:
    """In a fresh process: the peak above the loaded model of one mode (the high-water mark reset after loading,
    so building the model does not count); prints JSON."""
    from bench.language import gpt2_small

    methods, maps, extra = LEAN[mode]
    model, tok, text = gpt2_small(tokens)
    ex = explainer_class(mode.startswith("before"), before_root)(model, tok)
    gc.collect()
    base = _rss()
    _reset_peak()
    e = ex.explain(text) if methods is None else ex.explain(text, methods=methods, **extra)
    capture = _peak() - base
    for name in maps:
        e.maps(name)
    total = _peak() - base
    print(json.dumps({"capture": capture, "total": total}))


def peaks(tokens: int, before_root: str | None) -> list[tuple[str, str]]:
    rows, reference = [], None
    for mode in LEAN:
        if mode.startswith("before") and before_root is None:
            continue
        out = subprocess.run([sys.executable, __file__, "--peak-child", mode, "--tokens", str(tokens),
                              "--before-root", before_root or ""], capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        reference = reference or figures["capture"]
        rows.append((mode, f"capture {figures['capture']:,.0f} MiB ({figures['capture'] / reference:.2f}x the "
                           f"first row); with its maps {figures['total']:,.0f} MiB"))
    return rows


def smollm2(tokens: int) -> list[tuple[str, str]]:
    """SmolLM2-135M (30 blocks, 9 query / 3 key-value heads, real weights) at ``tokens`` tokens: a lean capture for
    rollout, then gae (its attention gradients on demand) and attnlrp; time and the process's peak memory after
    each step (one run: a step takes minutes on 2 cores)."""
    import attnviz

    model, tok = attnviz.demo.smollm2()
    words = "When Mary and John went to the store , John gave a drink to her because she was thirsty .".split()
    text = " ".join(words[i % len(words)] for i in range(tokens))
    ids = tok(text, truncation=True, max_length=tokens)["input_ids"]
    text = tok.decode(ids[:tokens], skip_special_tokens=True)
    ex = attnviz.Explainer(model, tok)
    gc.collect()
    base = _rss()
    rows = [("model", f"SmolLM2-135M, {len(model.model.layers)} blocks, {torch.get_num_threads()} threads; "
                      f"resident after loading {base:,.0f} MiB")]
    for methods in (["rollout"], ["attnlrp"], ["gae"]):  # one explanation at a time: each step's own peak
        gc.collect()
        base = _rss()
        _reset_peak()
        start = time.perf_counter()
        e = ex.explain(text, methods=methods)
        capture = time.perf_counter() - start
        start = time.perf_counter()
        e.maps(methods[0])
        rows.append((f"explain(methods={methods}) + its map", f"capture {capture:,.1f} s, map "
                     f"{time.perf_counter() - start:,.1f} s; peak {_peak() - base:,.0f} MiB above the model; "
                     f"{e.num_tokens} tokens"))
        del e
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default="b103897")
    parser.add_argument("--smollm2", type=int, default=0, help="SmolLM2-135M at this many tokens")
    parser.add_argument("--peaks-only", action="store_true", help="the memory tables only")
    parser.add_argument("--peak-child", help=argparse.SUPPRESS)
    parser.add_argument("--before-root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_child:
        peak_child(args.peak_child, args.tokens[0], args.before_root or None)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if args.smollm2:
        table(f"SmolLM2-135M at {args.smollm2} tokens", smollm2(args.smollm2))
        return
    root = before_package(args.before)
    print(f"before: {args.before}" + ("" if root else " (not found: its rows are left out)"))
    for tokens in args.tokens:
        if not args.peaks_only:
            table(f"time, GPT-2 small shape, {tokens} tokens (median of {args.repeats} interleaved rounds)",
                  times(tokens, args.repeats, root))
        table(f"peak memory above the model, {tokens} tokens (each mode in a fresh process)", peaks(tokens, root))


if __name__ == "__main__":
    main()
