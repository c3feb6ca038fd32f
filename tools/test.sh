#!/usr/bin/env bash
# Install everything into .venv and run every test: attn_core's unit tests and doctests,
# strict nbval on every chapter, the book build (-W, executed fresh) and the website in
# headless Chromium. Extra arguments go to pytest, e.g.  bash tools/test.sh -k softmax
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/_setup.sh
bash tools/fetch_web_assets.sh
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
