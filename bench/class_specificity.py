"""Class-specificity on the vision demo: does the map for class A land on item A rather than on item B?

For each held-out two-item canvas of ``attnviz.demo.fashion_pairs_samples()`` and each of its two items as the
target, the method's map is upsampled to the canvas and the mean relevance inside the target item's mask is
compared with the mean inside the other item's mask. Class-agnostic methods (rollout, raw, flow) score exactly 0.5.
Signed maps are also compared by magnitude (rows "|map|"). Two columns: all canvases, and the canvases whose top-2
classes are exactly their two items (the model saw both, so an explanation for either class explains a detection,
not a miss).

    python bench/class_specificity.py            # 100 canvases
    python bench/class_specificity.py --n 20
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

import torch  # noqa: E402

import attnviz  # noqa: E402
from attnviz.evaluate import mask_hit_rates  # noqa: E402

METHODS = ("rollout", "raw", "flow", "redistribution", "attn_gradcam", "gae", "attcat", "grad_input", "chefer",
           "lrp_partial")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="held-out canvases")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: this small ViT gains little from more)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    model, processor = attnviz.demo.fashion_pairs()
    canvases = attnviz.demo.fashion_pairs_samples()[: args.n]
    explainer = attnviz.Explainer(model, processor)
    methods = [m for m in METHODS if m in attnviz.methods()]
    with torch.no_grad():
        pixels = processor([c.image for c in canvases], return_tensors="pt")["pixel_values"]
        top2 = model(pixel_values=pixels).logits.topk(2, dim=-1).indices.numpy()
    detected = [c for c, t in zip(canvases, top2) if set(t.tolist()) == set(int(k) for k in c.labels)]
    start = time.perf_counter()
    per_canvas = [mask_hit_rates(explainer, [c], methods).rates for c in canvases]  # 2 trials each
    signed = [m for m in methods if attnviz.methods()[m].signed]
    by_magnitude = [mask_hit_rates(explainer, [c], signed, magnitude=True).rates for c in canvases]
    seconds = time.perf_counter() - start
    is_detected = [any(c is d for d in detected) for c in canvases]

    def rate(method: str, only_detected: bool, table=per_canvas) -> float:
        rates = [r[method] for r, hit in zip(table, is_detected) if hit or not only_detected]
        return sum(rates) / max(1, len(rates))

    print(f"class-specificity on the first {len(canvases)} held-out canvases of fashion_pairs_samples() "
          f"({seconds:.1f} s); the model has both labels in its top 2 on {len(detected)} of them")
    print(f"{'method':24} {'all':>8} {'both detected':>14}")
    for m in methods:
        print(f"{m:24} {rate(m, False):8.3f} {rate(m, True):14.3f}")
    for m in signed:
        print(f"{m + ' |map|':24} {rate(m, False, by_magnitude):8.3f} {rate(m, True, by_magnitude):14.3f}")
    print(f"{'trials':24} {2 * len(canvases):8d} {2 * len(detected):14d}   (2 targets per canvas)")


if __name__ == "__main__":
    main()
