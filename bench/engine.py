"""Engine benchmark: capture and every method against one plain forward+backward, side by side in one run.

BERT-base and ViT-B/16 configs with random weights (no hub). For each input size: the plain forward+backward of
the target logit (the model's default attention, parameter gradients, as a user's own pass would do), attnviz's
capture (eager forward with hooks + one backward to attention/hidden/embeddings), each method's extra time given
the capture, a class switch (another target), and integrated gradients against captum's own IG.

    python bench/engine.py                 # CPU, all sizes (a few minutes on 2 cores)
    python bench/engine.py --quick         # 32 and 128 tokens only
    python bench/engine.py --device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import warnings

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from attnviz import Explainer  # noqa: E402
from bench.common import build, median_time  # noqa: E402

FAST_METHODS = ("raw", "rollout", "redistribution", "attn_gradcam", "gae", "attcat", "grad_input")


def bench_case(kind: str, tokens: int, device: str, repeats: int, with_ig: bool) -> list[tuple[str, float]]:
    model, proc, item = build(kind, tokens, device)
    explainer = Explainer(model, proc)
    e = explainer.explain(item)
    inputs = e.model_inputs
    target = e.target

    def plain():
        model.zero_grad(set_to_none=True)
        model(**inputs).logits[0, target].backward()

    rows = [("plain forward+backward", median_time(plain, repeats, device))]
    model.zero_grad(set_to_none=True)
    rows.append(("capture (forward+backward)", median_time(lambda: explainer.explain(item), repeats, device)))
    total = 0.0
    for name in FAST_METHODS:
        def run(name=name):
            e._cache.clear()
            e.maps(name)
        t = median_time(run, repeats, device)
        total += t
        rows.append((f"  + {name}", t))
    rows.append(("  all methods above together", total))
    other = (target + 1) % len(explainer.label_names)

    def switch():
        e._cache.clear()
        e._grads.pop(other, None)
        e.maps("gae", target=other)
    rows.append(("  class switch (backward + gae)", median_time(switch, repeats, device)))
    if importlib.util.find_spec("attnviz.engine.methods.flow") and tokens <= 197:
        rows.append(("  + flow (last row)", median_time(lambda: (e._cache.clear(), e.map("flow")), 1, device)))
    if with_ig:
        from captum.attr import LayerIntegratedGradients

        def ours():
            e._cache.clear()
            e.maps("integrated_gradients", n_steps=20, internal_batch_size=20)

        layer = explainer.adapter.get_input_embedding(model)
        key = "input_ids" if kind == "bert" else "pixel_values"
        others = {k: v for k, v in inputs.items() if k != key}

        def captum_ig():
            lig = LayerIntegratedGradients(lambda x: model(**{key: x, **others}).logits, layer)
            lig.attribute(inputs[key], baselines=torch.zeros_like(inputs[key]), target=target, n_steps=20,
                          internal_batch_size=20)

        rows.append(("integrated_gradients (20 steps)", median_time(ours, max(1, repeats // 2), device)))
        rows.append(("captum LayerIntegratedGradients (20 steps)", median_time(captum_ig, max(1, repeats // 2),
                                                                                 device)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="32 and 128 tokens only")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_grad_enabled(True)
    print(f"attnviz engine benchmark on {args.device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print("times are medians over repeats after one warm-up; ratio = time / plain forward+backward\n")
    cases = [("bert", 32), ("bert", 128), ("vit", 197)] + ([] if args.quick else [("bert", 512)])
    for kind, tokens in cases:
        repeats = args.repeats if tokens < 512 or args.device != "cpu" else max(2, args.repeats // 2)
        rows = bench_case(kind, tokens, args.device, repeats, with_ig=tokens == 128)
        plain = rows[0][1]
        title = f"{'BERT-base' if kind == 'bert' else 'ViT-B/16'}, {tokens} tokens"
        print(f"{title}\n{'':2}{'what':46} {'median ms':>10} {'ratio':>7}")
        for name, seconds in rows:
            print(f"{'':2}{name:46} {seconds * 1e3:10.1f} {seconds / plain:7.2f}")
        together = dict(rows)
        combined = together["capture (forward+backward)"] + together["  all methods above together"]
        print(f"{'':2}{'capture + all methods above':46} {combined * 1e3:10.1f} {combined / plain:7.2f}"
              f"   (target < 3.00)\n")


if __name__ == "__main__":
    main()
