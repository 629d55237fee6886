"""LRP benchmark: ``chefer`` (and ``lrp_full``) against one plain forward+backward, side by side in one run.

BERT-base (``BertConfig()`` defaults) at 128 and 512 tokens and ViT-B/16 (``ViTConfig()`` defaults, 197 tokens),
random weights, nothing from the hub. Rows, each the median over repeats after one warm-up round, all rows of a
model measured in interleaved rounds:

- plain forward+backward: the target logit's backward to the parameters, the model's default attention (as a
  user's own training step would run; same baseline as bench/engine.py);
- capture: attnviz's explain() (eager forward with hooks + one backward to attention/hidden states);
- chefer given the capture: e.maps("chefer") with the explanation's caches cleared: the LRP forward with
  recording hooks, the relevance pass down to block 0's attention, and the rollout of mean_h((∇A ⊙ R(A))⁺);
- capture + chefer: both, timed together;
- lrp_full given the capture: the pass with the "lrp" rules carried to the input.

    python bench/lrp.py                 # CPU: BERT 128 and 512, ViT 197 (about 3 minutes on 2 cores)
    python bench/lrp.py --quick         # BERT 128 and ViT 197
    python bench/lrp.py --threads 1 --clock process   # CPU time: steadier on a machine shared with other jobs
    python bench/lrp.py --device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from attnviz import Explainer  # noqa: E402
from bench.common import build, interleaved_medians  # noqa: E402


def bench_case(kind: str, tokens: int, device: str, repeats: int, clock) -> list[tuple[str, float]]:
    model, proc, item = build(kind, tokens, device)
    explainer = Explainer(model, proc)
    e = explainer.explain(item)
    assert e.num_tokens == tokens, (e.num_tokens, tokens)
    inputs, target = e.model_inputs, e.target

    def plain():
        model.zero_grad(set_to_none=True)
        model(**inputs).logits[0, target].backward()

    def fresh(method: str):
        def run():
            e._cache.clear()
            e.diagnostics.pop("lrp", None)
            e.maps(method)
        return run

    return list(interleaved_medians({
        "plain forward+backward": plain,
        "capture (explain: forward+backward)": lambda: explainer.explain(item),
        "chefer given the capture": fresh("chefer"),
        "capture + chefer": lambda: explainer.explain(item).maps("chefer"),
        "lrp_full given the capture": fresh("lrp_full"),
    }, repeats, device, clock).items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="BERT 128 and ViT 197 only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--clock", choices=("wall", "process"), default="wall",
                        help="wall time, or this process's CPU time (steadier on a machine shared with other jobs; "
                             "use with --threads 1)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "process" and args.device != "cpu":
        parser.error("--clock process measures CPU time: use the wall clock on a GPU")
    clock = time.process_time if args.clock == "process" else time.perf_counter
    print(f"attnviz LRP benchmark on {args.device} ({torch.get_num_threads()} threads, {args.clock} clock), "
          f"torch {torch.__version__}")
    print("medians over repeats after one warm-up; ratio = time / plain forward+backward (target: chefer < 3.00)\n")
    cases = [("bert", 128), ("vit", 197)] + ([] if args.quick else [("bert", 512)])
    print(f"{'model':10} {'tokens':>6}  {'what':36} {'median ms':>10} {'ratio':>7}")
    for kind, tokens in cases:
        repeats = args.repeats if tokens < 512 or args.device != "cpu" else max(2, args.repeats - 1)
        rows = bench_case(kind, tokens, args.device, repeats, clock)
        plain = rows[0][1]
        name = "BERT-base" if kind == "bert" else "ViT-B/16"
        for what, seconds in rows:
            print(f"{name:10} {tokens:6d}  {what:36} {seconds * 1e3:10.1f} {seconds / plain:7.2f}")
        print()


if __name__ == "__main__":
    main()
