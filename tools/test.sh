#!/usr/bin/env bash
# Install everything into .venv (the versions pinned in constraints.txt) and run every
# test: attn_core's unit tests and doctests, strict nbval on every chapter, the book build
# (-W, executed fresh) and the website in headless Chromium (tools/sitecheck.py).
# Extra arguments go to pytest, e.g.  bash tools/test.sh -k softmax
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/_setup.sh
bash tools/fetch_web_assets.sh
# Two test workers (and the notebook kernels they start) share the cores: one BLAS thread per
# process, or OpenBLAS threads spin against each other and small matrix products (tiled
# attention, training loops) run tens of times slower (measured while writing chapter 11).
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
.venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
