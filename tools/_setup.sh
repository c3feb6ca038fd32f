# Sourced by tools/build.sh and tools/test.sh: create .venv (once) and install into it
#     pip install -r requirements.txt -c constraints.txt
# (the ranges in pyproject.toml, the exact versions CI tests with in constraints.txt), again
# only when requirements.txt, pyproject.toml or constraints.txt changed.
python="${PYTHON:-python3}"
# constraints.txt pins versions that need Python 3.11 (numpy 2.4, IPython 9).
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python >= 3.11 is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.x" >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements-sha256
want="$(cat requirements.txt pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
  echo "$want" > "$stamp"
fi
