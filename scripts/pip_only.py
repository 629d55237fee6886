"""The pip-only path, as a user who never sees this repository installs attnviz (issue 21, item 2).

Builds the wheel from the checkout, installs it with pip alone into a blank virtual environment in a temporary folder
outside the checkout (torch pinned to the CPU build; no apt packages, no npm: the front-end bundles are in the
wheel), and from there: times ``import attnviz`` and the first explanation, and executes every tour notebook with
nbclient (a copy of each, outside the checkout). Prints a table (the wheel's size and contents, install time, import
time, first-explain time, each tour's time) and exits non-zero on any failure.

    python scripts/pip_only.py [--keep]        # CI runs it from scripts/test.sh
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # the CPU build on this project's machines (a bare "torch" pulls a multi-GB CUDA build)
EXTRAS = "demo,evaluate"  # what the tours use (tour 4 needs the evaluation's pandas; the others the demo models)
KERNEL_PACKAGES = ["ipykernel", "nbclient", "nbformat"]  # to run the tours; not attnviz's dependencies

IMPORT = ("import time; t = time.perf_counter(); import attnviz; import sys; "
          "print(f'{time.perf_counter() - t:.3f} {int(\"torch\" in sys.modules)}')")
FIRST_EXPLAIN = ("import time; t = time.perf_counter(); import attnviz; "
                 "m, tok = attnviz.demo.sentiment(); e = attnviz.Explainer(m, tok).explain('a warm, funny film'); "
                 "e.map('rollout'); print(f'{time.perf_counter() - t:.3f}')")
RUN_TOUR = """
import sys, time, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
start = time.perf_counter()
NotebookClient(nb, kernel_name="python3", timeout=900, store_widget_state=False).execute()
print(f"{time.perf_counter() - start:.1f}")
"""


def run(args: list[str], cwd: Path, what: str) -> str:
    """Run a command, its output returned; on failure its output printed and the script stopped."""
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        print(f"pip-only path: {what} failed ({done.returncode})\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}",
              file=sys.stderr)
        raise SystemExit(1)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="attnviz-pip-only-"))
    rows: list[tuple[str, str]] = []
    try:
        start = time.perf_counter()
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(REPO)], work,
            "building the wheel")
        wheel = next((work / "dist").glob("attnviz-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
        static = [n for n in names if n.startswith("attnviz/static/")]
        rows.append(("wheel", f"{wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB, {len(names)} files "
                              f"({len(static)} front-end files in attnviz/static), built in "
                              f"{time.perf_counter() - start:.0f} s"))
        if not any(n.endswith("attention_view.js") for n in static):
            raise SystemExit("pip-only path: the wheel holds no front-end bundle (attnviz/static/*.js)")

        venv = work / "venv"
        run([sys.executable, "-m", "venv", str(venv)], work, "creating the virtual environment")
        python = str(venv / "bin" / "python")
        start = time.perf_counter()
        run([python, "-m", "pip", "install", "-q", TORCH, f"{wheel}[{EXTRAS}]"], work, "pip install attnviz")
        rows.append((f"pip install (torch CPU + the wheel with [{EXTRAS}])", f"{time.perf_counter() - start:.0f} s"))
        run([python, "-m", "pip", "install", "-q", *KERNEL_PACKAGES], work, "installing the tours' kernel")
        run([python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "python3"], work,
            "registering the kernel")

        seconds, torch_loaded = run([python, "-c", IMPORT], work, "import attnviz").split()
        loaded = "yes" if int(torch_loaded) else "no"
        rows.append(("import attnviz", f"{float(seconds):.2f} s (torch imported: {loaded})"))
        rows.append(("first explanation (demo sentiment model, load + explain + rollout)",
                     f"{float(run([python, '-c', FIRST_EXPLAIN], work, 'the first explanation')):.1f} s"))
        for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
            copy = work / notebook.name
            shutil.copy(notebook, copy)
            env_run = run([python, "-c", RUN_TOUR, str(copy)], work, f"tour {notebook.name}")
            rows.append((f"tour {notebook.name}", f"{float(env_run.strip().splitlines()[-1]):.0f} s"))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k, _ in rows)
    print("pip-only path (a blank virtual environment outside the checkout)")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")


if __name__ == "__main__":
    main()
