"""``python -m attnviz.evaluate`` (or ``accelerate launch -m attnviz.evaluate``): a faithfulness table from the
command line, written to a results folder (parquet or CSV, see ``EvaluationResult.save``).

    accelerate launch --multi_gpu --num_processes 2 -m attnviz.evaluate --demo sentiment --preset attcat2022 \\
        --target label --snippets 300 --out results/attcat
    python -m attnviz.evaluate --model my/checkpoint --texts reviews.txt --device-map auto --out results/eraser \\
        --preset eraser
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _load(args):
    from attnviz import Explainer, demo

    if args.tiny:
        from attnviz.testing import tiny_model

        model, proc = tiny_model(args.tiny, seed=1)
        model = model.double() if args.float64 else model
        texts = [line for line in Path(args.texts).read_text(encoding="utf-8").splitlines() if line.strip()]
        return Explainer(model, proc), texts, None
    if args.demo == "sentiment" or args.demo is None and args.model is None:
        model, tok = demo.sentiment()
        samples = demo.sentiment_samples()[: args.snippets]
        return Explainer(model, tok), [s.text for s in samples], [s.label for s in samples]
    if args.demo == "fashion_pairs":
        model, proc = demo.fashion_pairs()
        samples = demo.fashion_pairs_samples()[: args.snippets]
        return Explainer(model, proc), [s.image for s in samples], [int(s.labels[0]) for s in samples]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kwargs = {"attn_implementation": "eager"}
    if args.device_map:
        kwargs["device_map"] = args.device_map
    model = AutoModelForSequenceClassification.from_pretrained(args.model, **kwargs)
    tok = AutoTokenizer.from_pretrained(args.model)
    if not args.texts:
        sys.exit("--model needs --texts FILE (one input per line)")
    texts = [line for line in Path(args.texts).read_text(encoding="utf-8").splitlines() if line.strip()]
    return Explainer(model, tok), texts[: args.snippets], None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m attnviz.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", choices=["sentiment", "fashion_pairs"])
    parser.add_argument("--model", help="a model name or path (needs --texts)")
    parser.add_argument("--texts", help="a text file, one input per line")
    parser.add_argument("--tiny", help=argparse.SUPPRESS)  # attnviz.testing tiny models, for the tests
    parser.add_argument("--float64", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device-map", help="e.g. auto: spread a large model over the devices")
    parser.add_argument("--preset", default="attcat2022")
    parser.add_argument("--methods", nargs="+")
    parser.add_argument("--target", default="predicted", help="predicted or label (the demos have labels)")
    parser.add_argument("--snippets", type=int, default=300)
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--format", choices=["parquet", "csv"])
    args = parser.parse_args(argv)
    from attnviz.evaluate import faithfulness
    from attnviz.evaluate.distributed import world

    explainer, inputs, labels = _load(args)
    rank, size = world()
    result = faithfulness(explainer, inputs, args.methods, preset=args.preset, target=args.target, labels=labels,
                          distributed=size > 1, progress=rank == 0)
    if rank == 0:
        folder = result.save(args.out, format=args.format)
        print(result.table.round(4).to_string())
        print(f"\n{len(inputs)} inputs on {size} process(es); written to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
