"""Drive the built website in headless Chromium: console errors, maths, and every explorer.

Used by tests/book/test_site.py and tools/build_pdf.py, and on its own to look at pages while writing a chapter::

    python tools/sitecheck.py _build/html                      # every page
    python tools/sitecheck.py _build/html chapters/04_softmax.html --shots /tmp/shots

It serves the folder on 127.0.0.1 (the pages must work with no network at all: no CDN),
opens each page, collects console errors, failed requests and raw LaTeX, then moves every
slider of every explorer with the keyboard and checks that the displayed picture changed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import socketserver
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

AXE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "axe-core" / "axe.min.js"

# What a reader must never see: a TeX delimiter left in the rendered text.
RAW_TEX = ["$$", "\\(", "\\[", "\\frac", "\\sqrt", "\\top", "\\operatorname"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at a free port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium (Debian's package) driven by playwright."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class ControlCheck:
    explorer: int
    control: str
    changed: bool


@dataclass
class PageReport:
    path: str
    errors: list[str] = field(default_factory=list)
    math_rendered: int = 0
    raw_tex: list[str] = field(default_factory=list)
    explorers: int = 0
    controls: list[ControlCheck] = field(default_factory=list)
    empty_widgets: int = 0
    accessibility: list[dict] = field(default_factory=list)  # axe-core violations
    bytes: int = 0  # size of the HTML page itself

    @property
    def serious_accessibility(self) -> list[dict]:
        return [v for v in self.accessibility if v["impact"] in ("serious", "critical")]

    @property
    def ok(self) -> bool:
        return (not self.errors and not self.raw_tex and not self.empty_widgets
                and not self.serious_accessibility and all(c.changed for c in self.controls))


_VISIBLE_FRAME = """explorer => {
  const imgs = Array.from(explorer.querySelectorAll('img.attn-frame'))
      .filter(i => i.offsetParent !== null && i.getBoundingClientRect().width > 0);
  return imgs.map(i => i.src.length + ':' + i.src.slice(-64)).join('|');
}"""

_PROSE_TEXT = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_input, .cell_output, dt.sig').forEach(e => e.remove());
  return clone.innerText;
}"""


def audit_accessibility(page) -> list[dict]:
    """Run axe-core (WCAG 2.x A and AA rules) on the loaded page; return its violations."""
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: run tools/fetch_web_assets.sh")
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
      const result = await axe.run(document, {preload: false, runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
      return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
                                          target: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")


def check_page(page, url: str, path: str, shots: Path | None = None, audit: bool = False) -> PageReport:
    """Load one page and exercise its explorers; ``page`` is a playwright Page."""
    report = PageReport(path)
    page.on("console", lambda m: report.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: report.errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: report.errors.append(f"request failed: {r.url}"))
    page.on("response", lambda r: report.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(url + path, wait_until="load")
    page.wait_for_timeout(300)
    with contextlib.suppress(Exception):  # MathJax 3 exposes a promise that settles when typeset
        page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise", timeout=5000)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    report.math_rendered = page.locator("mjx-container").count()
    prose = page.evaluate(_PROSE_TEXT)
    report.raw_tex = [t for t in RAW_TEX if t in prose]

    explorers = page.locator(".attn-explorer")
    if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
        page.wait_for_selector(".attn-explorer img.attn-frame", state="visible", timeout=15000)
    report.explorers = explorers.count()
    if audit:
        report.accessibility = audit_accessibility(page)
    report.empty_widgets = page.evaluate(
        "() => Array.from(document.querySelectorAll('.jupyter-widgets-view, .widget-subarea')).filter(e => e.getBoundingClientRect().height < 2).length"
    )
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / (path.replace("/", "_").replace(".html", "") + ".png")), full_page=True)
    for e in range(report.explorers):
        explorer = explorers.nth(e)
        explorer.scroll_into_view_if_needed()
        handles = explorer.locator(".noUi-handle")
        if shots:
            explorer.screenshot(path=str(shots / f"{path.replace('/', '_')}-explorer{e}-before.png"))
        for h in range(handles.count()):
            handle = handles.nth(h)
            label = explorer.locator(".widget-slider .widget-label, .widget-hslider .widget-label").nth(h)
            name = label.inner_text() if label.count() else f"slider {h}"
            before = explorer.evaluate(_VISIBLE_FRAME)
            handle.focus()
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
            page.wait_for_timeout(150)
            after = explorer.evaluate(_VISIBLE_FRAME)
            report.controls.append(ControlCheck(e, name, bool(after) and after != before))
        if shots:
            explorer.screenshot(path=str(shots / f"{path.replace('/', '_')}-explorer{e}-after.png"))
    return report


def pages_of(site: Path) -> list[str]:
    skip = {"genindex.html", "search.html"}
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


def check_site(site: Path, paths: list[str] | None = None, shots: Path | None = None,
               audit: bool = False) -> list[PageReport]:
    reports = []
    with serve(site) as url, browser() as b:
        for path in paths or pages_of(site):
            context = b.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            try:
                reports.append(check_page(page, url, path, shots, audit))
                reports[-1].bytes = (site / path).stat().st_size
            finally:
                context.close()
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    parser.add_argument("pages", nargs="*", help="pages relative to the site (default: all)")
    parser.add_argument("--shots", type=Path, help="save screenshots of pages and explorers here")
    parser.add_argument("--audit", action="store_true", help="run the axe-core accessibility audit")
    args = parser.parse_args(argv)
    failed = 0
    for r in check_site(args.site, args.pages or None, args.shots, args.audit):
        moved = ", ".join(f"{c.control}: {'changes' if c.changed else 'DEAD'}" for c in r.controls)
        print(f"{'ok ' if r.ok else 'BAD'} {r.path}: {r.bytes / 1024:.0f} KiB, {r.math_rendered} maths, "
              f"{r.explorers} explorers" + (f" ({moved})" if moved else ""))
        for v in r.accessibility:
            print(f"    a11y {v['impact']}: {v['id']} ({v['nodes']} elements) {v['help']} e.g. {v['target'][:1]}")
        for problem in r.errors + [f"raw TeX in the text: {t}" for t in r.raw_tex] + (
                [f"{r.empty_widgets} empty widget areas"] if r.empty_widgets else []):
            print("    " + problem)
        failed += not r.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
