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


def _print_stylesheet(app) -> None:
    """The single-page build (``--builder singlehtml``, printed to PDF by tools/build_pdf.py)
    also loads the book's print stylesheet; the website does not."""
    if app.builder.name == "singlehtml":
        app.add_css_file("attn-book-print.css")
        # Extensions register how to write their nodes for the "html" builder by name
        # (sphinx-jupyterbook-latex's hidden-cell node: "unknown node type" otherwise).
        handlers = app.registry.translation_handlers
        for node, visitors in handlers.get("html", {}).items():
            handlers.setdefault("singlehtml", {}).setdefault(node, visitors)


def _widget_state_of_every_chapter(app, pagename, templatename, context, doctree) -> None:
    """myst-nb embeds a notebook's widget state in that notebook's own page only; the
    single-page build has one page, so give it the state of every chapter, merged into one
    script (the widget manager renders every view with the state of one script)."""
    if app.builder.name != "singlehtml" or pagename != app.config.root_doc:
        return
    import html
    import json

    states: dict[str, Any] = {}
    document = None
    for data in getattr(app.env, "nb_metadata", {}).values():
        script = data.get("js_files", {}).get("ipywidgets_state")
        if script:
            document = json.loads(script[1]["body"])  # "<\\/script>" is JSON for "</script>"
            states.update(document["state"])
    if not states:
        return
    document["state"] = states
    body = json.dumps(document).replace("</script>", "<\\/script>")
    tags = [f'<script type="application/vnd.jupyter.widget-state+json">{body}</script>']
    tags += [f'<script src="{html.escape(path if "://" in path else context["pathto"]("_static/" + path, 1))}"></script>'
             for path in app.config.nb_ipywidgets_js]
    context["body"] = context.get("body", "") + "\n".join(tags)


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", _accessible_citation_list)
    app.connect("builder-inited", _print_stylesheet)
    app.connect("html-page-context", _widget_state_of_every_chapter)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
