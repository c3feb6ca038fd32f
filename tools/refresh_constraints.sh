#!/usr/bin/env bash
# Rewrite constraints.txt with the newest versions that the ranges in pyproject.toml and
# requirements.txt allow: resolve them in a throwaway venv (no constraints), then freeze it.
#   bash tools/refresh_constraints.sh      then  bash tools/test.sh  (reinstalls .venv, runs everything)
# Review the diff of constraints.txt before committing it: it is what CI will test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-python3}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
{
  sed -n '/^#/p' constraints.txt   # keep the header
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable
} > "$scratch/constraints.txt"
mv "$scratch/constraints.txt" constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned ($("$scratch/venv/bin/python" --version))"
