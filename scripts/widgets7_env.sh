#!/usr/bin/env bash
# The widget stack closest to Google Colab's (issue 21): classic Notebook 6.5 + ipywidgets 7.7.1 +
# widgetsnbextension 3.6, in its own virtual environment .venv-widgets7/ (gitignored) next to the main one.
#
# The venv is made with --system-site-packages: torch, transformers, anywidget, numpy, playwright ... come from the
# main environment, only the classic-notebook stack is installed into the venv (pure-Python wheels, no compiling),
# where it shadows the main environment's Notebook 7 / ipywidgets 8. attnviz is installed from this checkout with
# --no-deps (its pyproject asks for ipywidgets>=8, which would upgrade ipywidgets again).
#
# Idempotent: a second run finds the stamp of the same pins and only checks the stack. Used by
# tests/browser/test_widgets7.py (skipped when .venv-widgets7/bin/python is missing).
#   scripts/widgets7_env.sh           create or update the venv
#   scripts/widgets7_env.sh --lab3    also JupyterLab 3.6 + ipywidgets 7.7.1 in .venv-widgets7/lab3/ (a venv of its
#                                     own, so the classic stack above stays as it is)
#   scripts/widgets7_env.sh --force   reinstall the pins even if the stamps match
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s.%N)

FORCE=0; LAB3=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --lab3) LAB3=1 ;;
    *) echo "usage: $0 [--lab3] [--force]" >&2; exit 2 ;;
  esac
done

VENV=.venv-widgets7
# Pins that work together (checked 2026-12 on Python 3.11): notebook 6.5.7 needs jupyter_client<8, and ipykernel 7
# needs jupyter_client>=8, so the kernel is ipykernel 6 (Colab's is 6 as well). ipython_genutils: ipywidgets 7 and
# notebook 6 import it. Everything else (jupyter_server, tornado, traitlets, pyzmq, nbconvert, IPython) is the main
# environment's.
PINS=(
  "notebook==6.5.7"
  "ipywidgets==7.7.1"
  "widgetsnbextension==3.6.10"
  "jupyterlab_widgets==1.1.11"
  "nbclassic==1.3.3"
  "notebook_shim==0.2.4"
  "jupyter_client==7.4.9"
  "ipykernel==6.29.5"
  "ipython_genutils==0.2.0"
)
# JupyterLab 3.6 (its collaboration packages y-py / ypy-websocket come as binary wheels: nothing is compiled)
LAB3_PINS=("jupyterlab==3.6.8" "jupyter_server_ydoc==0.8.0" "jupyter_ydoc==0.2.5" "ypy-websocket==0.8.4"
           "y-py==0.6.2" "jupyter_server_fileid==0.10.0" "${PINS[@]}")

# make_env DIR PIN...: a --system-site-packages venv in DIR with the pins and attnviz (editable, no deps), and its
# python3 kernel spec pointing at DIR's own interpreter.
make_env() {
  local dir=$1; shift
  local py="$dir/bin/python" stamp="$dir/.widgets7-pins" want="$*"
  if [ ! -x "$py" ]; then
    # --without-pip: the main environment's pip (and setuptools, which torch wants >= 77) is used through the system
    # site-packages and installs into the venv; a venv copy of setuptools 65 would shadow the main one.
    echo "widgets7: creating $dir (python3 -m venv --system-site-packages --without-pip)"
    python3 -m venv --system-site-packages --without-pip "$dir"
  fi
  if [ "$FORCE" = 1 ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "widgets7: $dir: pip install $*"
    # (pip reports that attnviz and jupyter_bokeh ask for ipywidgets 8: expected, they are the main environment's)
    "$py" -m pip install -q --disable-pip-version-check "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
    # attnviz from this checkout, without its dependencies (pyproject's ipywidgets>=8 would undo the pin above);
    # hatchling (+ editables) from the main environment where it has them, else pip builds it in isolation.
    if "$py" -c "import hatchling, editables" 2>/dev/null; then
      "$py" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
    else
      "$py" -m pip install -q --disable-pip-version-check --no-deps -e .
    fi
    echo "$want" > "$stamp"
  else
    echo "widgets7: $dir already has these pins (--force reinstalls them)"
  fi
  # The kernel: ipykernel's wheel ships share/jupyter/kernels/python3 with argv "python", which on PATH may be the
  # main environment's interpreter (ipywidgets 8). Rewrite it with this venv's absolute interpreter.
  "$py" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (widgets7)" >/dev/null
}

# check_env DIR: the versions the kernel will import, and its kernel spec
check_env() {
  "$1/bin/python" - <<'EOF'
import importlib.metadata as md
import sys

import anywidget, ipykernel, ipywidgets, jupyter_client, widgetsnbextension  # noqa: E401
import attnviz
from jupyter_client.kernelspec import KernelSpecManager

assert ipywidgets.__version__ == "7.7.1", ipywidgets.__version__
argv = KernelSpecManager().get_kernel_spec("python3").argv
assert argv[0] == sys.executable, f"the python3 kernel runs {argv[0]}, not {sys.executable}"
names = ["notebook", "jupyterlab", "ipywidgets", "widgetsnbextension", "jupyterlab_widgets", "nbclassic",
         "jupyter_server", "jupyter_client", "ipykernel", "ipython", "traitlets", "tornado", "pyzmq", "anywidget"]
print(f"widgets7: {sys.prefix}: " + ", ".join(f"{n} {md.version(n)}" for n in names))
print(f"widgets7: attnviz from {attnviz.__file__}")
EOF
}

make_env "$VENV" "${PINS[@]}"
PY="$VENV/bin/python"
# The classic notebook's front-end extensions, in the venv's prefix (share/jupyter/nbextensions and
# etc/jupyter/nbconfig): the main environment's copies lie outside the venv's jupyter paths.
# (the venv's own jupyter-* scripts: `python -m jupyter <sub>` looks <sub> up on PATH, where the main environment's
# Lab 4 / Notebook 7 commands may come first)
NBEXT="$VENV/bin/jupyter-nbextension"
"$NBEXT" install --py widgetsnbextension --sys-prefix --overwrite >/dev/null 2>&1
"$NBEXT" enable --py widgetsnbextension --sys-prefix >/dev/null 2>&1
"$NBEXT" install --py anywidget --sys-prefix --overwrite >/dev/null 2>&1
"$NBEXT" enable --py anywidget --sys-prefix >/dev/null 2>&1
check_env "$VENV"
"$PY" -c "import notebook; assert notebook.__version__.startswith('6.5'), notebook.__version__"
listing=$("$NBEXT" list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
for ext in "jupyter-js-widgets/extension" "anywidget/extension"; do
  if ! grep -F "$ext" <<<"$listing" | grep -q "enabled"; then
    echo "$listing"
    echo "widgets7: $ext is not enabled for the classic notebook" >&2
    exit 1
  fi
done
grep -E "enabled|OK" <<<"$listing" | sed 's/^ */widgets7: nbextension /'

if [ "$LAB3" = 1 ]; then
  LAB="$VENV/lab3"
  make_env "$LAB" "${LAB3_PINS[@]}"
  # anywidget's prebuilt lab extension lies in the main environment's share/jupyter, outside this venv's paths
  src=$("$LAB/bin/python" -c "import anywidget, os; print(os.path.join(os.path.dirname(anywidget.__file__), 'labextension'))")
  rm -rf "$LAB/share/jupyter/labextensions/anywidget"
  mkdir -p "$LAB/share/jupyter/labextensions"
  cp -r "$src" "$LAB/share/jupyter/labextensions/anywidget"
  check_env "$LAB"
  "$LAB/bin/jupyter-labextension" list 2>&1 | sed 's/\x1b\[[0-9;]*m//g' \
    | grep -E "JupyterLab v|anywidget|jupyterlab-manager" | sed 's/^ */widgets7: lab3 labextension /'
fi

echo "widgets7: ready in $(python3 -c "import time; print(f'{time.time() - $t0:.1f}')") s ($VENV/bin/python)"
