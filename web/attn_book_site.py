"""A small Sphinx extension with the book's fixes to the Jupyter Book 1 stack.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

from typing import Any


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep one copy of each script.

    sphinx-thebe 0.3 registers its inline configuration script (``const THEBE_JS_URL =
    ...``) twice under Sphinx 7.4; the second copy throws "Identifier 'THEBE_JS_URL' has
    already been declared" in the browser console of every page.
    """
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""  # inline scripts: None or ""
        key = (str(filename), str(getattr(script, "attributes", {}).get("body", "")))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _accessible_citation_list(app, pagename, templatename, context, doctree) -> None:
    """docutils writes the bibliography as ``role="list"`` whose entries have the deprecated
    ``role="doc-biblioentry"``; a list must contain list items (axe-core rule
    aria-required-children, "critical"). Give the entries the role ``listitem``."""
    body = context.get("body")
    if body and 'class="citation-list"' in body:
        context["body"] = body.replace(' role="doc-biblioentry"', ' role="listitem"')


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", _accessible_citation_list)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
