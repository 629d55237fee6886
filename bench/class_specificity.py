"""Class-specificity on the vision demo: does the map for class A land on item A rather than on item B?

For each held-out two-item canvas of ``attnviz.demo.fashion_pairs_samples()`` and each of its two items as the
target, the method's map is upsampled to the canvas and the mean relevance inside the target item's mask is
compared with the mean inside the other item's mask. Class-agnostic methods (rollout, raw) score exactly 0.5.

    python bench/class_specificity.py            # 100 canvases
    python bench/class_specificity.py --n 20
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

import attnviz  # noqa: E402
from attnviz.evaluate import mask_hit_rates  # noqa: E402

METHODS = ("rollout", "raw", "flow", "redistribution", "attn_gradcam", "gae", "attcat", "grad_input", "chefer",
           "lrp_partial")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="held-out canvases")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model, processor = attnviz.demo.fashion_pairs()
    canvases = attnviz.demo.fashion_pairs_samples()[: args.n]
    explainer = attnviz.Explainer(model, processor)
    start = time.perf_counter()
    result = mask_hit_rates(explainer, canvases, [m for m in METHODS if m in attnviz.methods()])
    print(f"class-specificity on {len(canvases)} held-out canvases ({time.perf_counter() - start:.1f} s)")
    print(result.table())


if __name__ == "__main__":
    main()
