#!/usr/bin/env bash
# Every test: lint and types, the JS unit tests, pytest (engine, LRP, widgets, demo, notebooks, browser), and the
# pip-only path (scripts/pip_only.py: the wheel installed with pip alone into a blank environment runs every tour).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== lint and types"
python3 -m ruff check attnviz tests bench scripts
python3 -m mypy

if [ -f js/package.json ]; then
  echo "== js: unit tests, type check, bundles up to date"
  (cd js && npm test --silent && npm run --silent typecheck)
  if ! git diff --quiet -- attnviz/static 2>/dev/null; then
    echo "attnviz/static differs from a fresh build of js/: run 'npm run build' in js/ and commit" >&2
    git --no-pager diff --stat -- attnviz/static >&2
    exit 1
  fi
fi

# the widget stacks nearest Colab's, for tests/browser/test_widgets7.py: classic Notebook 6.5 + ipywidgets 7.7.1,
# and JupyterLab 3.6 + ipywidgets 7.7.1, each in its own venv beside the main environment (under a minute; a test
# fixture, so not part of scripts/setup.sh)
bash scripts/widgets7_env.sh --lab3

echo "== pytest"
set +e
python3 -m pytest tests -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
if [ $rc -ne 0 ] || [ $# -gt 0 ]; then  # a failed run, or a chosen subset of tests: no pip-only job
  exit $rc
fi

echo "== pip-only path: the wheel in a blank virtual environment, every tour (about 7 minutes on 2 cores)"
python3 scripts/pip_only.py
