"""Execute the tours (and the docs' gallery) and commit them with their outputs, so that a saved notebook shows its
pictures on GitHub, in nbviewer, in VS Code's preview and on the documentation site, without a kernel.

    python scripts/execute_tours.py            # re-execute every notebook in place (offline, about 5 minutes)
    python scripts/execute_tours.py --check    # fail when a committed notebook's outputs are stale or too large

Each attnviz view's output carries its static fallback (a PNG or a self-contained HTML snapshot) beside the live
widget; the committed notebook keeps the fallback only. Neither the widget state nor the views' references to it are
saved: with the state, nbconvert (nbviewer, the docs site) would draw the widget with a manager loaded from a CDN
instead of the fallback, and a reader offline would see nothing; without it, JupyterLab would show "Error
displaying widget: model not found" where the picture belongs. Running a cell brings its live view back. Cell
execution times are dropped so that a re-run that changes nothing changes no byte.

The size budget (the repository carries every committed output): NOTEBOOK_BYTES per notebook, TOTAL_BYTES together.
tests/test_notebooks.py compares each fresh execution with the committed outputs (``fingerprint``), so a change that
alters what a tour prints fails CI until this script is run again.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "docs" / "gallery.ipynb"]
NOTEBOOK_BYTES = 1_000_000
TOTAL_BYTES = 3_000_000
# printed figures that change from run to run (wall-clock seconds, memory addresses, widget ids)
VOLATILE = [(re.compile(r"\d+(\.\d+)? ?(s|ms|seconds?|min|minutes?|hours?)\b"), "<time>"),
            (re.compile(r"0x[0-9a-f]{6,}"), "<addr>"),
            (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),  # bokeh's divs
            (re.compile(r"[0-9a-f]{32}"), "<id>"), (re.compile(r"\S*/(?=attnviz/)"), "<path>/"),
            (re.compile(r"(?<=\.py):\d+(?=:)"), ":<line>")]  # a warning's source line moves with unrelated edits
# a progress bar widget: saved at its first frame (0%), without a kernel it would only mislead
PROGRESS_BAR = re.compile(r"^[\w ]+: +\d+%\|")


def execute(path: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh python3 kernel with the notebooks' folder as working directory, hub
    access off; returns the executed notebook (not written). Raises nbclient's CellExecutionError on an error."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return normalise(nb)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
BOKEH_LOAD = "application/vnd.bokehjs_load.v0+json"
BOKEH_NOTE = ("[BokehJS was loaded here, inline (about 4 MB, so not committed). Run the notebook to draw the "
              "interactive plots; the documentation site loads BokehJS from the bokeh package.]")


def normalise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes on every run and what must not be committed: cell timings, saved widget state, progress
    bar widgets (saved at 0%), the live widgets' view references (without their state a front end can only say
    "model not found"; the static picture beside each takes their place until the cell runs again), and the
    inline BokehJS library the first evaluation plot of a kernel loads (the plots' own outputs stay)."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not _progress_bar(o)]
            for out in cell.outputs:
                out.get("data", {}).pop(WIDGET_VIEW, None)
        if cell.cell_type == "code" and any(BOKEH_LOAD in o.get("data", {}) for o in cell.get("outputs", [])):
            kept = [o for o in cell.outputs if BOKEH_LOAD not in o.get("data", {})]
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": BOKEH_NOTE}), *kept]
    return nb


def _progress_bar(output: dict) -> bool:
    data = output.get("data", {})
    return WIDGET_VIEW in data and bool(PROGRESS_BAR.match(data.get("text/plain", "")))


def _stable(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def fingerprint(nb: nbformat.NotebookNode) -> list[tuple]:
    """What a committed notebook must still show: per code cell, its source and, per output, the kind, the MIME
    types, and the text (stream, text/plain, text/html, errors) with volatile figures masked. Pictures are compared
    by presence (matplotlib's PNG bytes differ across platforms; the figures' numbers are printed and compared)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs: list[tuple] = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":  # one stream, however the kernel chunked it
                if outputs and outputs[-1][:2] == ("stream", out.name):
                    outputs[-1] = ("stream", out.name, outputs[-1][2] + _stable(out.text))
                else:
                    outputs.append(("stream", out.name, _stable(out.text)))
            elif out.output_type == "error":
                outputs.append(("error", out.ename, _stable(out.evalue)))
            else:
                data = out.get("data", {})
                texts = tuple(_stable(str(data[m])) for m in ("text/plain", "text/html") if m in data)
                outputs.append((out.output_type, tuple(sorted(data)), texts))
        cells.append((hashlib.sha1(cell.source.encode()).hexdigest()[:12], tuple(outputs)))
    return cells


def check_sizes(paths: list[Path]) -> list[str]:
    """Budget breaches, as readable lines (empty: within budget)."""
    problems = [f"{p.relative_to(ROOT)}: {p.stat().st_size:,} bytes > {NOTEBOOK_BYTES:,}" for p in paths
                if p.stat().st_size > NOTEBOOK_BYTES]
    total = sum(p.stat().st_size for p in paths)
    if total > TOTAL_BYTES:
        problems.append(f"all executed notebooks: {total:,} bytes > {TOTAL_BYTES:,}")
    return problems


def unexecuted(paths: list[Path]) -> list[str]:
    """Notebooks with a code cell that has no execution count (committed without being run)."""
    return [str(p.relative_to(ROOT)) for p in paths
            if any(c.cell_type == "code" and c.get("execution_count") is None
                   for c in nbformat.read(p, as_version=4).cells)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="execute into memory and compare with the committed")
    parser.add_argument("names", nargs="*", help="only these notebooks (file names or stems)")
    args = parser.parse_args()
    paths = [p for p in NOTEBOOKS if not args.names or p.name in args.names or p.stem in args.names]
    stale = []
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        nb = execute(path)
        if args.check:
            if fingerprint(nb) != fingerprint(nbformat.read(path, as_version=4)):
                stale.append(str(path.relative_to(ROOT)))
        else:
            nbformat.write(nb, path)
            print(f"  {path.stat().st_size:,} bytes")
    problems = check_sizes(paths) + [f"{p}: outputs are stale, run scripts/execute_tours.py" for p in stale]
    problems += [f"{p}: committed without outputs" for p in unexecuted(paths)]
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
