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
   it: rasterised and on screen; an upper bound that includes up to one frame interval, ~16 ms);
4. with --lab: display -> first draw in JupyterLab through its websocket (run the view's cell, until its first block
   is drawn), and the size of the view's first message, at 128 and 512 tokens.

    python bench/widgets.py            # payload + kernel timings (CPU, ~1 minute on 2 cores)
    python bench/widgets.py --quick    # 128 tokens only
    python bench/widgets.py --browser  # also Chromium draw timings (needs playwright and /usr/bin/chromium)
    python bench/widgets.py --lab      # also display -> first draw in JupyterLab (128 and 512 tokens)
"""

from __future__ import annotations

import argparse
import contextlib
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
    blocks = len(view.attention_blocks)
    return [
        ("attention weights B*H*N*N", f"{weights:,}"),
        ("AttentionView first message (JSON + buffers)", f"{(js + binary) / 2 ** 20:.1f} MiB: {blocks} of "
                                                         f"{e.num_layers} blocks ({buf / 2 ** 20:.1f} MiB) + "
                                                         "thumbnails; the other blocks on demand"),
        ("  every block as float16", f"{2 * weights / 2 ** 20:.1f} MiB = 2 B/weight"),
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


LAB_SETUP = """
import sys, time
sys.path.insert(0, {repo!r})
from attnviz import AttentionView, Explainer, FlowView, TextView
from bench.widgets import bert_base
explanations = {{}}
for n in {tokens!r}:
    model, tok, text = bert_base(n)
    explanations[n] = Explainer(model, tok).explain(text)
"""

# Threshold-slider steps in the FlowView of cell `index`: draw time and time until on screen (data-frame-ms).
_SLIDE = """async ({index, steps}) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const root = cell.node.querySelector(".attnviz.attnviz-flow-view");
  const slider = root.querySelector(".attnviz-flow-threshold");
  const out = [];
  for (let k = 0; k < steps; k++) {
    root.removeAttribute("data-frame-ms");
    slider.value = String(k % 2 ? 0.01 : 0.02);
    slider.dispatchEvent(new Event("input", {bubbles: true}));
    await new Promise((ok) => (function poll() { root.dataset.frameMs ? ok() : setTimeout(poll, 2); })());
    out.push([Number(root.dataset.lastDrawMs), Number(root.dataset.frameMs), Number(root.dataset.edges)]);
  }
  return out;
}"""

# Run cell `index` again and time until its new view has drawn (its block, not a "loading" placeholder).
_RERUN = """async ({index, kind}) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const selector = `.attnviz.attnviz-${kind}-view`;
  const cell = panel.content.widgets[index];
  cell.node.querySelectorAll(selector).forEach((r) => r.setAttribute("data-old", "1"));
  panel.content.activeCellIndex = index;
  const t0 = performance.now();
  void window.jupyterapp.commands.execute("notebook:run-cell");
  return await new Promise((ok, fail) => {
    (function poll() {
      const r = cell.node.querySelector(`${selector}:not([data-old])`);
      if (r && Number(r.dataset.renderCount) > 0 && r.dataset.checksum && !r.dataset.loading
          && !String(r.dataset.checksum).startsWith("loading")) {
        requestAnimationFrame(() => requestAnimationFrame(() => ok(performance.now() - t0)));
      } else if (performance.now() - t0 > 120000) fail(new Error("no draw"));
      else setTimeout(poll, 5);
    })();
  });
}"""


@contextlib.contextmanager
def lab_notebook(cells: list[str], name: str):
    """A JupyterLab server and headless Chromium with a notebook of ``cells`` opened and run: yields (page, nb)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, JupyterServer
    from tests.browser.conftest import CHROMIUM_ARGS as LAB_ARGS
    from tests.browser.jupyter_page import NotebookPage

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        server = JupyterServer(Path(tmp))
        try:
            server.wait_ready()
            b = p.chromium.launch(executable_path=CHROMIUM, args=LAB_ARGS)
            page = b.new_page(viewport={"width": 1200, "height": 900})
            nb = NotebookPage(page, server, "lab", name)
            nb.open(cells)
            yield page, nb
            b.close()
        finally:
            server.stop()


def display_times(page, nb, index: int, kind: str, repeats: int, between: str | None = None) -> list[float]:
    """Run cell ``index`` ``repeats`` times; each time, ms from running it to its new view on screen."""
    times = []
    for _ in range(repeats):
        times.append(page.evaluate(_RERUN, {"index": index, "kind": kind}))
        nb.wait_idle()
        if between:
            nb.kernel(between)
    return times


def lab(token_counts: tuple[int, ...], repeats: int) -> list[tuple[str, str]]:
    """Display-to-first-draw through a real JupyterLab and its websocket: run the view's cell, time until the new
    view is on screen (kernel builds the view, the first message travels, the browser draws). Median of repeats."""
    whole = ("__import__('attnviz.widgets.attention').widgets.attention.__dict__.update(FIRST_MESSAGE_BYTES=1 << 40) "
             "or AttentionView(explanations[{n}], layer=3)")  # every block up front: the transport before issue 11
    views = [(n, kind, code) for n in token_counts for kind, code in
             (("attention", f"AttentionView(explanations[{n}], layer=3)"), ("attention", whole.format(n=n)),
              ("text", f"TextView(explanations[{n}])"), ("flow", f"FlowView(explanations[{n}])"),
              ("flow", f"FlowView(explanations[{n}], explanations[{n}], names=['a', 'b'])"))]
    reset = "__import__('attnviz.widgets.attention').widgets.attention.__dict__.update(FIRST_MESSAGE_BYTES=4 * 2**20)"
    cells = [LAB_SETUP.format(repo=str(Path(__file__).resolve().parents[1]), tokens=token_counts)]
    cells += [code for _, _, code in views]
    rows = []
    with lab_notebook(cells, "bench-widgets") as (page, nb):
        for k, (n, kind, code) in enumerate(views, start=1):
            times = display_times(page, nb, k, kind, repeats, between=reset)
            size = nb.kernel_json(
                "(lambda s: len(__import__('json').dumps(s[0])) + sum(len(b) for b in s[2]))("
                f"__import__('ipywidgets').widgets.widget._remove_buffers(({code}).get_state()))")
            nb.kernel(reset)
            label = code if "update(" not in code else f"AttentionView({n} tokens), every block up front"
            rows.append((label, f"display -> first draw median {statistics.median(times):.0f} ms "
                                    f"(min {min(times):.0f}, max {max(times):.0f}, {repeats} runs); "
                                    f"first message {size / 2 ** 20:.2f} MiB"))
            if kind == "flow":
                steps = page.evaluate(_SLIDE, {"index": k, "steps": 8})
                draws, frames = [s[0] for s in steps], [s[1] for s in steps]
                rows.append(("  threshold-slider step (0.01 <-> 0.02)",
                             f"draw median {statistics.median(draws):.1f} ms, on screen median "
                             f"{statistics.median(frames):.1f} ms (max {max(frames):.1f}); "
                             f"{steps[-1][2]:,} edges drawn at 0.01"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 tokens only")
    parser.add_argument("--browser", action="store_true", help="also time drawing in Chromium")
    parser.add_argument("--lab", action="store_true", help="also time display -> first draw in JupyterLab")
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
    if args.lab:
        table("JupyterLab (headless Chromium, a real kernel and websocket, BERT-base config, random weights)",
              lab((128,) if args.quick else (128, 512), repeats=5))


if __name__ == "__main__":
    main()
