#!/usr/bin/env bash
# Install everything into .venv and build the website into _build/html, executing every
# chapter afresh; a warning fails the build.
#   bash tools/build.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/_setup.sh
bash tools/fetch_web_assets.sh
.venv/bin/jupyter-book build . -W -n --keep-going
echo "Open _build/html/index.html in a browser."
