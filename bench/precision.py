"""Half-precision models against the same weights in float32: how far each method's map moves.

The embedded sentiment demo (``attnviz.demo.sentiment()``) is converted to float16 and bfloat16; the reference is
that converted model cast back to float32 (the very same weights), so every difference comes from computing in half
precision. For each method: the median over held-out snippets of max |map - ref| / max |ref|, the median Spearman
rank correlation, and the share of snippets whose top token is the same.

    python bench/precision.py [--snippets 20]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import warnings

import numpy as np
import torch
from scipy.stats import spearmanr

METHODS = ("lrp_full", "lrp_partial", "chefer", "gae", "attcat", "grad_input", "rollout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=20)
    args = parser.parse_args()
    from attnviz import Explainer, demo

    torch.set_num_threads(2)
    model, tok = demo.sentiment()
    texts = [s.text for s in demo.sentiment_samples()[: args.snippets]]
    print(f"sentiment demo, {len(texts)} held-out snippets; reference: the same weights in float32\n")
    print("| dtype | method | median max rel. error | median Spearman rho | same top token |")
    print("|---|---|---|---|---|")
    for dtype in (torch.float16, torch.bfloat16):
        low = copy.deepcopy(model).to(dtype)
        ref_model = copy.deepcopy(low).float()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = Explainer(low, tok, batch_size=1).explain(texts)
        ref = Explainer(ref_model, tok, batch_size=1).explain(texts)
        for name in METHODS:
            errors, rhos, same = [], [], []
            for a, b in zip(got, ref):
                x, y = a.map(name, target=b.target), b.map(name)
                errors.append(float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)))
                rhos.append(float(spearmanr(x, y).statistic))
                same.append(int(np.argmax(x) == np.argmax(y)))
            print(f"| {str(dtype).replace('torch.', '')} | {name} | {statistics.median(errors):.2e} | "
                  f"{statistics.median(rhos):.4f} | {sum(same) / len(same):.2f} |", flush=True)


if __name__ == "__main__":
    main()
