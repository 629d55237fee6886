"""Widget benchmark: what the views send and how fast the kernel answers, for BERT-base-sized attention.

BERT-base config (12 blocks x 12 heads) with random weights (no hub), at 128 and 512 tokens:

1. payload: bytes per attention weight that AttentionView sends (its float16 buffer, and the whole update message
   with JSON state), next to what bertviz's JSON would be for the same weights (json.dumps of nested lists of
   floats, measured: all blocks at 128 tokens; at 512 tokens on the first block, since 37.7M Python floats do not
   fit comfortably in a shared machine's memory; bytes per weight do not depend on the block);
2. kernel answer to a head toggle in TextView (set `heads` as a click in the head grid does: recompute through the
   engine, encode, one update message), median over distinct masks so the engine's cache never answers; and the
   first class switch (one extra backward);
3. with --browser: the offline HTML export opened in Chromium (Playwright + Debian's chromium, headless, software
   raster), the time from navigation to the view on screen, and per layer-slider step the hooks the browser tests
   read: `data-last-draw-ms` (the draw's JS) and `data-frame-ms` (draw start to the second animation frame after
   it: rasterised and on screen; an upper bound that includes up to one frame interval, ~16 ms).

    python bench/widgets.py            # payload + kernel timings (CPU, ~1 minute on 2 cores)
    python bench/widgets.py --quick    # 128 tokens only
    python bench/widgets.py --browser  # also Chromium draw timings (needs playwright and /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from ipywidgets.widgets.widget import _remove_buffers  # noqa: E402

from attnviz import Explainer  # noqa: E402
from attnviz.widgets import AttentionView, TextView  # noqa: E402
from bench.common import random_bert  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--disable-dev-shm-usage"]


def bert_base(tokens: int):
    """A random-weight BERT-base classifier, a word-level tokenizer and a text of exactly `tokens` tokens.

    initializer_range 0.2 (as attnviz.testing does): random weights that large give peaked attention, as trained
    models have, so the head view draws a realistic number of lines (0.02 gives near-uniform rows: almost none)."""
    return random_bert(tokens, stride=7, num_labels=2, initializer_range=0.2)


def message_bytes(view, keys=None) -> tuple[int, int]:
    """(JSON bytes, binary bytes) of the update message that sends `keys` (all synced traits when None)."""
    state, _, buffers = _remove_buffers(view.get_state(key=keys))
    return len(json.dumps(state, separators=(",", ":")).encode()), sum(len(b) for b in buffers)


def payload(e, tokens: int) -> list[tuple[str, str]]:
    A = e.attention()
    weights = A.size
    view = AttentionView(e)
    buf = len(view.attention["buffer"])
    js, binary = message_bytes(view, [k for k in view.keys if not k.startswith("_")])
    start = time.perf_counter()
    sample = A if tokens <= 128 else A[:1]
    bertviz = len(json.dumps(sample.tolist()).encode())
    per_bertviz = bertviz / sample.size
    json_time = time.perf_counter() - start
    return [
        ("attention weights B*H*N*N", f"{weights:,}"),
        ("AttentionView float16 buffer", f"{buf / 2 ** 20:.1f} MiB = {buf / weights:.3f} B/weight"),
        ("AttentionView whole message (JSON + buffers)", f"{(js + binary) / 2 ** 20:.1f} MiB = "
                                                         f"{(js + binary) / weights:.3f} B/weight"),
        ("bertviz-style JSON (json.dumps of .tolist())", f"{per_bertviz * weights / 2 ** 20:.0f} MiB = "
                                                         f"{per_bertviz:.2f} B/weight"
                                                         + ("" if tokens <= 128 else " (measured on block 0)")),
        ("  json.dumps time for what was measured", f"{json_time:.2f} s"),
    ]


def head_toggles(e, repeats: int, methods: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = []
    B, H = e.num_layers, e.num_heads
    for method in methods:
        view = TextView(e, method=method)
        view._send = lambda msg, buffers=None: None  # no frontend: skip the comm, keep the state encoding
        times, engine = [], []
        for k in range(repeats + 1):
            mask = [[True] * H for _ in range(B)]
            mask[k % B][(k * 5) % H] = False  # a fresh mask every time: the engine's cache cannot answer
            start = time.perf_counter()
            view.set_state({"heads": mask})
            times.append(time.perf_counter() - start)
            assert view.error == "", view.error
            mask[(k + 1) % B][(k * 5 + 1) % H] = False  # the engine alone, on another fresh mask
            start = time.perf_counter()
            e.maps(method, heads=np.array(mask))
            engine.append(time.perf_counter() - start)
        rows.append((f"head toggle -> new maps, {method}", f"{1000 * statistics.median(times[1:]):.1f} ms "
                     f"(median of {repeats}; engine's e.maps alone {1000 * statistics.median(engine[1:]):.1f} ms)"))
    view = TextView(e, method="gae")
    view._send = lambda msg, buffers=None: None
    start = time.perf_counter()
    view.set_state({"target": 1 - view.target})
    elapsed = time.perf_counter() - start
    rows.append(("first class switch -> new maps, gae (one backward)", f"{1000 * elapsed:.0f} ms"))
    js, binary = message_bytes(view, ["maps", "revision"])
    rows.append(("  TextView answer message (maps + revision)", f"{js + binary:,} bytes"))
    return rows


def browser(cases) -> list[tuple[str, str]]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1200, "height": 900})
        for name, view, steps in cases:
            path = Path(tmp) / f"{name}.html"
            view.to_html(path)
            start = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector(".attnviz[data-frame-ms]", timeout=300_000)
            first = time.perf_counter() - start
            draw0 = float(page.get_attribute(".attnviz", "data-last-draw-ms"))
            slider = page.locator(".attnviz-layer-slider")
            slider.focus()
            draws, frames = [], []
            for k in range(steps):
                page.evaluate("() => document.querySelector('.attnviz').removeAttribute('data-frame-ms')")
                page.keyboard.press("ArrowLeft" if k % 2 == 0 else "ArrowRight")
                page.wait_for_selector(".attnviz[data-frame-ms]", timeout=300_000)
                draws.append(float(page.get_attribute(".attnviz", "data-last-draw-ms")))
                frames.append(float(page.get_attribute(".attnviz", "data-frame-ms")))
            lines = page.get_attribute(".attnviz", "data-lines")
            hidden = page.get_attribute(".attnviz", "data-lines-hidden")
            rows.append((f"{name}: page open -> on screen", f"{first:.2f} s (first draw {draw0:.1f} ms; "
                                                            f"{path.stat().st_size / 2 ** 20:.1f} MiB page)"))
            rows.append((f"{name}: layer-slider step", f"draw median {statistics.median(draws):.1f} ms "
                                                       f"(max {max(draws):.1f}); on screen median "
                                                       f"{statistics.median(frames):.1f} ms (max {max(frames):.1f})"
                                                       + (f"; {lines} lines drawn, {hidden} weakest hidden"
                                                          if lines else "")))
        b.close()
    return rows


def table(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 tokens only")
    parser.add_argument("--browser", action="store_true", help="also time drawing in Chromium")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; BERT-base config, random weights")
    cases = []
    for tokens in (128,) if args.quick else (128, 512):
        model, tok, text = bert_base(tokens)
        start = time.perf_counter()
        e = Explainer(model, tok).explain(text)
        assert e.num_tokens == tokens, e.num_tokens
        table(f"{tokens} tokens (capture {time.perf_counter() - start:.1f} s)", payload(e, tokens))
        if tokens == 128:
            table("kernel answers, TextView, 128 tokens, CPU", head_toggles(e, args.repeats,
                                                                            ("gae", "rollout", "attcat", "chefer")))
        if args.browser:
            # block 3: with random weights the deep blocks' rows are uniform (nothing above the threshold), the
            # early ones are peaked like a trained model's
            cases.append((f"AttentionView head view (block 3), {tokens} tokens", AttentionView(e, layer=3), 12))
            cases.append((f"AttentionView, every weight drawn (threshold 0), {tokens} tokens",
                           AttentionView(e, threshold=0.0), 4))
            cases.append((f"TextView, {tokens} tokens", TextView(e), 12))
        del model
    if args.browser:
        table("browser (headless Chromium, offline HTML export)", browser(cases))


if __name__ == "__main__":
    main()
