# Sourced by tools/build.sh and tools/test.sh: create .venv (once) and install
# requirements.txt into it (quick when nothing changed).
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "Python >= 3.10 is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
