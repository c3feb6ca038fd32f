#!/usr/bin/env bash
# Install everything into .venv (the versions pinned in constraints.txt) and build the
# website into _build/html, executing every chapter afresh; a warning fails the build.
#   bash tools/build.sh          (add --pdf for _build/pdf/attention-computed.pdf and one PDF per
#                                 chapter in _build/pdf/chapters/; needs chromium)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/_setup.sh
bash tools/fetch_web_assets.sh
# = jupyter-book build . -W -n --keep-going, with the chapters executed two at a time first
.venv/bin/python tools/build_book.py
echo "Open _build/html/index.html in a browser."
if [[ "${1:-}" == "--pdf" ]]; then
  # The book as one PDF (title page, contents, page numbers), printed by Chromium from the
  # single-page build, plus one PDF per chapter: _build/pdf/. --fresh executes the chapters
  # again for figures at print resolution; without it the website build's figures are reused.
  .venv/bin/python tools/build_pdf.py --fresh --output _build/pdf/attention-computed.pdf
fi
