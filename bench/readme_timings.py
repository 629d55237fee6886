"""How long the README's evaluation snippet takes, call by call, on the sentiment demo (the figures the README
quotes). Prints one line per call: name, inputs, seconds.

    python bench/readme_timings.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

import attnviz
from attnviz import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    model, tokenizer = attnviz.demo.sentiment()
    explainer = attnviz.Explainer(model, tokenizer)
    samples = attnviz.demo.sentiment_samples()
    texts, labels = [s.text for s in samples[:50]], [s.label for s in samples[:50]]
    calls = [
        ("faithfulness attcat2022", 50, lambda: evaluate.faithfulness(explainer, texts, preset="attcat2022",
                                                                       target="label", labels=labels,
                                                                       progress=False)),
        ("agreement", 50, lambda: evaluate.agreement(explainer, texts, progress=False)),
        ("permutation", 50, lambda: evaluate.permutation(explainer, texts, progress=False)),
        ("adversarial", 5, lambda: evaluate.adversarial(explainer, texts[:5], progress=False)),
        ("sanity", 10, lambda: evaluate.sanity(explainer, texts[:10], progress=False)),
    ]
    print(f"{'call':26} {'inputs':>6} {'seconds':>8}")
    for name, n, call in calls:
        start = time.perf_counter()
        call()
        print(f"{name:26} {n:6d} {time.perf_counter() - start:8.1f}", flush=True)


if __name__ == "__main__":
    main()
