"""The evaluation suite's cost against the plain passes it needs at minimum, side by side in one run.

On the sentiment demo and its held-out snippets:

- per method: the time of its maps given the capture (ms per snippet);
- per preset: ``evaluate.faithfulness`` for every method (integrated gradients aside) against the plain passes the
  protocol needs at minimum: one plain forward+backward per snippet (the capture: the model's default attention,
  ``logits[t].backward()``) plus one plain batched forward per distinct perturbed copy (the same copies attnviz
  scores, deduplicated, sorted by length, 64 per forward, no attnviz code in the loop). AttCAT's protocol explains
  AttCAT with [CLS]/[SEP] masked out of the attention mask, a second forward+backward per snippet: the second
  ratio counts it;
- Jain & Wallace's permutation experiment (100 permutations x the snippets) against plain batched forwards of the
  same number of copies.

    python bench/evaluate.py [--snippets 300] [--presets attcat2022 eraser dig] [--device cuda] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

TARGETS = {"attcat2022": "< 3x", "permutation": "< 120 s on 2 CPU cores"}


def plain_forward_backward(model, tokenizer, texts, targets, device, batch: int = 16) -> float:
    """Seconds for one plain forward+backward of every snippet (batched, parameter gradients as a user's pass)."""
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        enc = tokenizer(texts[i:i + batch], padding=True, truncation=True, return_tensors="pt").to(device)
        logits = model(**enc).logits
        logits.gather(1, torch.tensor(targets[i:i + batch], device=device)[:, None]).sum().backward()
        model.zero_grad(set_to_none=True)
    _sync(device)
    return time.perf_counter() - start


def plain_forwards(model, variants, device, pad_id: int, batch: int = 64) -> float:
    """Seconds for plain batched forwards (no gradient) of the given token variants."""
    from attnviz.evaluate.perturb import _collate

    order = sorted(variants, key=lambda v: int(v.tensors["input_ids"].shape[0]))
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(order), batch):
            model(**_collate(order[i:i + batch], pad_id))
    _sync(device)
    return time.perf_counter() - start


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def collect_variants(explainer, spec, explanations, names, options, token_ids):
    """Every perturbed copy a preset scores (and the originals), deduplicated as attnviz does."""
    from attnviz.evaluate.perturb import Variant, deduplicate

    variants = []
    for e in explanations:
        if spec.skip(e):
            continue
        variants.append(Variant({k: v[0] for k, v in e.model_inputs.items()}))
        for m in names:
            values = e.map(m, target=e.target, **options.get(m, {}))
            variants.extend(spec.variants(e, values, e.target, token_ids))
    return deduplicate(variants)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snippets", type=int, default=300)
    parser.add_argument("--presets", nargs="+", default=["attcat2022", "eraser", "dig"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-permutation", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    from attnviz import Explainer, demo
    from attnviz import evaluate as ev
    from attnviz.evaluate.faithfulness import _token_ids, default_methods
    from attnviz.evaluate.presets import make_preset

    model, tok = demo.sentiment()
    model = model.to(args.device)
    samples = demo.sentiment_samples()[: args.snippets]
    texts, labels = [s.text for s in samples], [s.label for s in samples]
    explainer = Explainer(model, tok)
    names = default_methods(explainer)
    print(f"sentiment demo on {args.device}, {len(texts)} held-out snippets, {args.threads} threads, "
          f"{len(names)} methods (integrated gradients aside)\n")

    # --- per method, given the capture
    start = time.perf_counter()
    explanations = explainer.explain(texts, target=labels, keep_graph=False, progress=False)
    capture = time.perf_counter() - start
    print(f"capture (explain, batched): {capture:.1f} s, {1000 * capture / len(texts):.1f} ms per snippet\n")
    print("| method | maps ms per snippet |")
    print("|---|---|")
    for m in names:
        opts = {"mask_special": True} if m == "attcat" else {}
        start = time.perf_counter()
        for e in explanations:
            e.map(m, **opts)
        print(f"| {m} | {1000 * (time.perf_counter() - start) / len(texts):.1f} |", flush=True)

    # --- presets against their plain passes
    base = plain_forward_backward(model, tok, texts, labels, args.device)
    print(f"\nplain forward+backward of every snippet: {base:.1f} s\n")
    print("| preset | attnviz s | distinct perturbed copies | plain forwards s | plain f+b + forwards s | ratio | "
          "with AttCAT's second pass | ratio | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    token_ids = _token_ids(explainer)
    for preset in args.presets:
        spec = make_preset(preset)
        options = {"attcat": {"mask_special": True}} if getattr(spec, "mask_special", False) else {}
        target = "label" if preset == "attcat2022" else "predicted"
        start = time.perf_counter()
        ev.faithfulness(explainer, texts, names, preset=preset, target=target, labels=labels, progress=False)
        ours = time.perf_counter() - start
        fresh = explainer.explain(texts, target=labels if target == "label" else None, keep_graph=False,
                                  progress=False)
        variants = collect_variants(explainer, spec, fresh, names, options, token_ids)
        forwards = plain_forwards(model, variants, args.device, token_ids["pad"])
        plain = base + forwards
        # AttCAT's protocol explains with [CLS]/[SEP] masked: a second forward+backward per snippet it needs
        second = plain + base if options else float("nan")
        print(f"| {preset} | {ours:.1f} | {len(variants):,} | {forwards:.1f} | {plain:.1f} | {ours / plain:.2f}x | "
              f"{second:.1f} | {ours / second:.2f}x | {TARGETS.get(preset, '-')} |", flush=True)

    if not args.no_permutation:
        start = time.perf_counter()
        ev.permutation(explainer, texts, n_permutations=100, progress=False)
        ours = time.perf_counter() - start
        copies = []
        from attnviz.evaluate.perturb import Variant

        for e in explanations:
            copies.extend([Variant({k: v[0] for k, v in e.model_inputs.items()})] * 100)
        plain = plain_forwards(model, copies, args.device, token_ids["pad"], batch=100)
        print(f"\n| experiment | attnviz s | plain batched forwards s | ratio | target |\n|---|---|---|---|---|\n"
              f"| permutation, 100 x {len(texts)} | {ours:.1f} | {plain:.1f} | {ours / plain:.2f}x | "
              f"{TARGETS['permutation']} |")


if __name__ == "__main__":
    main()
