"""How a Transformer computes, timed: the logit lens, direct logit attribution, one head's arithmetic and activation
patching on GPT-2 small's shape (12 blocks x 12 heads, d 768, vocabulary 50,257, random weights) at 128 tokens, each
against one plain forward of the same input, measured side by side in interleaved rounds; and the first message each
view sends (JSON + binary buffers).

    python bench/internals.py [--tokens 128] [--repeats 5]

Each row re-records the residual stream (the per-explanation cache cleared), so a row is the cost a user pays on
the first call; later calls on the same explanation reuse the recorded stream.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians  # noqa: E402
from language import gpt2_small  # noqa: E402
from widgets import message_bytes  # noqa: E402

import attnviz  # noqa: E402
from attnviz.engine.internals import _RECORDS  # noqa: E402


def table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n" + "-" * len(title))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def engine(tokens: int, repeats: int, patching: bool = True):
    """(rows, the explanation, the patching result): timings against a plain forward."""
    model, tok, text = gpt2_small(tokens)
    explainer = attnviz.Explainer(model, tok)
    e = explainer.explain(text)
    assert e.num_tokens == tokens, e.num_tokens
    words = text.split()
    corrupted = " ".join(["w1999" if i == tokens // 2 else w for i, w in enumerate(words)])
    target = (e.top_tokens(2)[0][0], e.top_tokens(2)[1][0])

    warm = explainer.explain(text)  # its stream read once, as a LogitLensView has done before its picker changes
    warm.logit_lens(top_k=5)
    other = e.top_tokens(3)[2][0]

    def fresh(fn):
        def run():
            _RECORDS.pop(e, None)
            fn()
        return run

    def plain():
        with torch.no_grad():
            model(**e.model_inputs, use_cache=False)

    fns = {
        "plain forward (no gradients)": plain,
        "recorded forward (the residual stream, every head's z)": fresh(lambda: e.direct_attribution()),
        "logit lens, one token's log-probability [B, N]": fresh(lambda: e.logit_lens(token=e.target)),
        "logit lens, top 5 per cell [B, N, 5]": fresh(lambda: e.logit_lens(top_k=5)),
        "logit lens, full [B, N, V] (309 MB at 128 tokens)": fresh(lambda: e.logit_lens()),
        "direct logit attribution (heads, MLPs, embeddings)": fresh(lambda: e.direct_attribution()),
        "inside one head (block 5, head 3, the explained query)": fresh(lambda: e.head_math(5, 3)),
        "logit lens, another token once the stream is read (the view's token picker)":
            lambda: warm.logit_lens(token=other),
    }
    medians = interleaved_medians(fns, repeats)
    base = medians["plain forward (no gradients)"]
    rows = [(name, f"{t * 1000:,.1f} ms  ({t / base:,.2f}x plain forward)") for name, t in medians.items()]
    # patching runs B x (N + 1) + B x H forwards of the whole input: timed once (minutes at 128 tokens on 2 cores),
    # right after the rows above, and given per patched run against the plain forward measured beside it
    if not patching:
        return rows, e, None
    runs = 12 * (tokens + 1) + 12 * 12
    start = time.perf_counter()
    result = attnviz.patch(explainer, text, corrupted, target=target, progress=False)
    took = time.perf_counter() - start
    rows.append((f"activation patching: {runs:,} patched runs (12 x {tokens + 1} stream, 144 heads), one timing",
                 f"{took:,.1f} s  ({took / base:,.0f}x plain forward; {took / runs / base:.2f}x plain forward per "
                 "patched run)"))
    return rows, e, result


def payloads(e, result) -> list[tuple[str, str]]:
    rows = []
    dla = attnviz.DirectAttributionView(e)
    views = [("LogitLensView", attnviz.LogitLensView(e)), ("DirectAttributionView: the grid", dla.grid),
             ("DirectAttributionView: inside one head", dla.head_math)]
    if result is not None:
        views.append(("PatchingView", attnviz.PatchingView(result)))
    for name, view in views:
        js, binary = message_bytes(view, [k for k in view.keys if not k.startswith("_")])
        rows.append((name, f"{(js + binary) / 1024:,.1f} KiB (JSON {js / 1024:,.1f} KiB + buffers "
                           f"{binary / 1024:,.1f} KiB)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-patching", action="store_true", help="skip the patching row (minutes at 128 tokens)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; GPT-2 small config (12 x 12, d 768, "
          f"V 50,257), random weights; {args.tokens} tokens; medians of {args.repeats} interleaved rounds")
    rows, e, result = engine(args.tokens, args.repeats, patching=not args.no_patching)
    table(f"engine, {args.tokens} tokens, next token at the last position", rows)
    table(f"first message of each view, {args.tokens} tokens", payloads(e, result))


if __name__ == "__main__":
    main()
