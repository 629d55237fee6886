#!/usr/bin/env bash
# Set up a fresh machine and open JupyterLab on the text tour, running on the embedded demo models, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 BOKEH_RESOURCES=inline
extra=()
[ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
exec python3 -m jupyterlab "${extra[@]}" "$@" notebooks/01_tour_text.ipynb
