"""Full LRP on the sentiment demo: the authors' "lrp" rules against the conservative variant (rules="chefer": the z+
rule on Linear layers, Chefer's Add), side by side in one run (issue 19 #20).

Per variant, over the held-out reviews:

- conservation: the relevance at the input against the seed of 1 on the logit (median |total|, the largest, and the
  share of reviews ``Explanation.diagnostic`` flags: some stage above 10x the seed, or the sign flipped);
- float16: the same model with its weights rounded to float16 (the pass itself runs in float32 on the rounded
  weights), the relative difference of the maps ||m16 - m32|| / ||m32|| (median) and how often the sign of the
  input total flips;
- faithfulness: ``evaluate.faithfulness(preset="attcat2022", target="label")``, AOPC (higher is better) and LOdds
  (lower is better) with their 95% bootstrap intervals.

    python bench/lrp_conservation.py [--reviews 60] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import numpy as np
import torch

import attnviz
from attnviz import evaluate

VARIANTS = {"authors (rules='lrp')": {}, "conservative (rules='chefer')": {"rules": "chefer"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=60)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    model, tokenizer = attnviz.demo.sentiment()
    half = copy.deepcopy(model).half()
    explain32, explain16 = attnviz.Explainer(model, tokenizer), attnviz.Explainer(half, tokenizer)
    samples = attnviz.demo.sentiment_samples()[: args.reviews]
    texts, labels = [s.text for s in samples], [s.label for s in samples]
    print(f"sentiment demo, {len(texts)} held-out reviews, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads\n")
    print(f"{'variant':32} {'median |input|':>14} {'largest |input|':>15} {'flagged':>8} "
          f"{'fp16 rel. diff':>14} {'fp16 sign flips':>15} {'s/review':>8}")
    for name, options in VARIANTS.items():
        totals, flagged, diffs, flips = [], 0, [], 0
        start = time.perf_counter()
        for text, label in zip(texts, labels):
            e32 = explain32.explain(text, target=label)
            m32 = e32.map("lrp_full", cls_entry="keep", **options)
            report = e32.diagnostic("lrp_full", cls_entry="keep", **options)
            totals.append(report["stages"]["input"])
            flagged += not report["trusted"]
            m16 = explain16.explain(text, target=label).map("lrp_full", cls_entry="keep", **options)
            diffs.append(float(np.linalg.norm(m16 - m32) / max(np.linalg.norm(m32), 1e-30)))
            flips += float(m16.sum()) * float(m32.sum()) < 0
        seconds = (time.perf_counter() - start) / len(texts)
        t = np.abs(totals)
        print(f"{name:32} {np.median(t):14.4g} {t.max():15.4g} {flagged / len(texts):8.0%} "
              f"{np.median(diffs):14.3g} {flips / len(texts):15.0%} {seconds:8.2f}")
    print("\nfaithfulness (attcat2022, target = label; AOPC higher is better, LOdds lower is better)")
    print(f"{'variant':32} {'AOPC':>7} {'95% interval':>17} {'LOdds':>7} {'95% interval':>17}")
    for name, options in VARIANTS.items():
        result = evaluate.faithfulness(explain32, texts, ["lrp_full"], preset="attcat2022", target="label",
                                       labels=labels, options={"lrp_full": options}, progress=False)
        row = result.table.loc["lrp_full"]
        print(f"{name:32} {row['aopc']:7.3f} {row['aopc lo']:7.3f} to {row['aopc hi']:<6.3f} {row['lodds']:7.3f} "
              f"{row['lodds lo']:7.3f} to {row['lodds hi']:<6.3f}")


if __name__ == "__main__":
    main()
