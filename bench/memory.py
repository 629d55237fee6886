"""Peak and kept memory of each step of an explanation, against the estimate that sizes batches.

Each step runs in a fresh process (so the high-water mark is its own): random-weight BERT-base, CPU (or
``--device cuda``). Columns: peak = the step's high-water mark above the loaded model (CPU: ``ru_maxrss``; CUDA:
``max_memory_allocated``); kept = memory still held while the result is alive, after garbage collection (CPU:
resident set size after ``malloc_trim``); explanation tensors = the storages the Explanation objects hold (capture,
gradients, inputs; each counted once); kept graph = the tensors the forward saved for backward (counted with
``torch.autograd.graph.saved_tensors_hooks``, weights left out), which a kept graph holds; estimated peak =
``engine.memory.ModelShape.capture_bytes`` x the largest batch of the step, what ``batch_size="auto"`` plans with.

    python bench/memory.py [--tokens 128 512] [--device cuda]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
from pathlib import Path

STEPS = {
    "explain, keep_graph=True": "keep",
    "explain, keep_graph=False": "nograph",
    "another target, kept graph": "keep_target",
    "another target, no graph (re-forward)": "nograph_target",
    "4 inputs, batch_size=4, no graph": "batch4",
    "4 inputs, batch_size=4, keep_graph=True": "batch4_keep",
    "4 inputs, batch_size='auto', 1.5 x one input's estimate": "batch_auto",
}


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _peak(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _now(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.memory_allocated())
    try:  # hand freed heap pages back first, so the resident set is what is still held
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    return _rss()


def held_bytes(explanations, saved: dict[int, int]) -> tuple[int, int]:
    """(bytes of the tensors the explanations hold, bytes of the autograd graph they keep alive), each storage
    counted once. ``saved``: data pointer -> bytes of every tensor the forward saved for backward."""
    import torch

    own: dict[int, int] = {}

    def visit(x) -> None:
        if isinstance(x, torch.Tensor):
            st = x.untyped_storage()
            own[st.data_ptr()] = st.nbytes()
        elif isinstance(x, dict):
            for v in x.values():
                visit(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                visit(v)
        elif hasattr(x, "__dict__") and type(x).__module__.startswith("attnviz.engine.methods"):
            visit(vars(x))

    graph = 0
    for e in explanations:
        visit([vars(e.capture), e.model_inputs, [vars(g) for g in e._grads.values()]])
        if e._graph is not None:
            graph = sum(saved.values())
    return sum(own.values()), graph


def run_step(step: str, tokens: int, device: str) -> dict:
    """One step in this process: returns peak and kept bytes above the loaded model, and the estimate."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import random_bert

    from attnviz import Explainer
    from attnviz.engine.explainer import model_shape

    torch.set_num_threads(2)
    model, tok, text = random_bert(tokens, device)
    shape = model_shape(model, Explainer(model, tok).adapter, torch.float32)
    per_input = shape.capture_bytes(tokens)
    texts = [text] * 4
    # warm the allocator and the tokenizer on a short input, so the step's own growth is what is measured
    Explainer(model, tok).explain("w1 w2", keep_graph=False).map("gae")
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base_now, base_peak = _now(device), _peak(device)
    saved: dict[int, int] = {}

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(t):
        st = t.untyped_storage()
        if st.data_ptr() not in weights:  # a saved weight costs nothing extra
            saved[st.data_ptr()] = st.nbytes()
        return t

    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    hooks.__enter__()
    if step in ("keep", "nograph"):
        result = Explainer(model, tok).explain(text, keep_graph=step == "keep")
        result.map("gae")
    elif step in ("keep_target", "nograph_target"):
        result = Explainer(model, tok).explain(text, keep_graph=step == "keep_target")
        result.map("gae", target=1 - result.target)
    elif step in ("batch4", "batch4_keep"):
        result = Explainer(model, tok, batch_size=4).explain(texts, keep_graph=step == "batch4_keep")
    elif step == "batch_auto":
        result = Explainer(model, tok, memory_budget=int(1.5 * per_input)).explain(texts)
    else:
        raise ValueError(step)
    hooks.__exit__(None, None, None)
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
    tensors, graph = held_bytes(result if isinstance(result, list) else [result], saved)
    kept = _now(device) - base_now
    peak = _peak(device) - base_peak if device == "cuda" else _peak(device) - max(base_peak, base_now)
    del result
    batch = 4 if step.startswith("batch4") else 1
    if step == "batch_auto":
        batch = max(Explainer(model, tok, memory_budget=int(1.5 * per_input))._batch_sizes(texts))
    return {"peak": max(peak, 0), "kept": max(kept, 0), "tensors": tensors, "graph": graph,
            "estimate": batch * per_input, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # the child process
        print(json.dumps(run_step(args.step, args.tokens[0], args.device)))
        return
    mib = 2**20
    print(f"BERT-base (random weights), {args.device}; MiB above the loaded model; each row a fresh process\n")
    print("| tokens | step | peak MiB | estimated peak MiB (largest batch) | kept MiB (resident) | "
          "explanation tensors MiB | kept graph MiB |")
    print("|---|---|---|---|---|---|---|")
    for tokens in args.tokens:
        for label, step in STEPS.items():
            out = subprocess.run([sys.executable, __file__, "--step", step, "--tokens", str(tokens), "--device",
                                  args.device], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {tokens} | {label} | {r['peak'] / mib:,.0f} | {r['estimate'] / mib:,.0f} ({r['batch']}) | "
                  f"{r['kept'] / mib:,.0f} | {r['tensors'] / mib:,.1f} | {r['graph'] / mib:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
