#!/usr/bin/env bash
# Fetch the JavaScript the website serves itself (MathJax 3 and the Jupyter widget manager)
# from the npm registry, at the versions pinned in web/package-lock.json, and copy the files
# the site needs into web/site/vendor/ (not committed). Without these the built
# pages would depend on a CDN and show raw LaTeX and empty widgets offline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web="$root/web"
vendor="$web/site/vendor"
stamp="$vendor/.lock-sha256"
want="$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0  # already fetched for this lock file
fi
command -v npm >/dev/null || { echo "npm is needed to fetch the website's JavaScript (install Node.js)" >&2; exit 1; }
(cd "$web" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
rm -rf "$vendor"
mkdir -p "$vendor/mathjax" "$vendor/html-manager"
cp -r "$web/node_modules/mathjax/es5/." "$vendor/mathjax/"
cp -r "$web/node_modules/@jupyter-widgets/html-manager/dist/." "$vendor/html-manager/"
echo "$want" > "$stamp"
echo "fetched web assets into ${vendor#"$root"/}"
