"""The static picture each view puts in its display data (a saved notebook's fallback, issue 21 item 5): time to
build it and its size, at 128, 512 and 1,024 tokens, GPT-2 small's shape (bench/language.py's model), side by side
with drawing the text view's tokens as a matplotlib PNG (``plots.plot``), the route the HTML snapshot replaced.

    python bench/static_fallback.py [--tokens 128 512 1024]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from bench.widgets import table  # noqa: E402


def measure(tokens: int) -> list[tuple[str, str]]:
    import io

    from attnviz import AttentionView, Explainer, TextView
    from attnviz.plots import plot
    from bench.language import gpt2_small

    model, tok, text = gpt2_small(tokens)
    e = Explainer(model, tok).explain(text, methods=["rollout"])
    rows = []
    for view in (TextView(e, method="rollout"), AttentionView(e)):
        view._repr_mimebundle_()  # warm-up (imports, font cache)
        start = time.perf_counter()
        data, _ = view._repr_mimebundle_()
        seconds = time.perf_counter() - start
        kind = "text/html" if "text/html" in data else "image/png"
        size = len(data[kind].encode()) if kind == "text/html" else len(base64.b64decode(data[kind]))
        rows.append((f"{type(view).__name__}: display data with its {kind} fallback",
                     f"{seconds * 1000:,.0f} ms, {size / 1000:,.0f} kB"))
    start = time.perf_counter()
    figure = plot(e, "rollout", width=7.0)
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    rows.append(("  the text view as a matplotlib PNG instead (plots.plot, 90 dpi)",
                 f"{(time.perf_counter() - start) * 1000:,.0f} ms, {buf.tell() / 1000:,.0f} kB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512, 1024])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; one run after a warm-up")
    for tokens in args.tokens:
        table(f"static fallback, {tokens} tokens", measure(tokens))


if __name__ == "__main__":
    main()
