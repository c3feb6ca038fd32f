"""Print the built website to one PDF: the whole book, in table-of-contents order.

    python tools/build_pdf.py                      # from _build/html to _build/pdf/attention-computed.pdf
    python tools/build_pdf.py SITE OUTPUT.pdf

Each page of the site built by ``tools/build.sh`` is printed by headless Chromium with the
book's print stylesheet: navigation, sliders and play buttons disappear, every explorer
keeps the picture it shows first, maths is typeset by MathJax, and hidden solutions are
opened (sphinx-togglebutton opens them for printing). The pages are joined with pypdf,
with one bookmark per chapter. Printing the site rather than going through LaTeX keeps one
source of truth for both and needs no TeX installation.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sitecheck  # noqa: E402  (the same served-site + Chromium helpers the tests use)


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def print_page(browser, url: str) -> tuple[bytes, str]:
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.goto(url, wait_until="load")
    if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
        page.wait_for_selector(".attn-explorer img.attn-frame", state="visible", timeout=20000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.emulate_media(media="print")
    title = page.evaluate("() => (document.querySelector('main h1') || document.querySelector('h1') || {}).textContent || document.title")
    pdf = page.pdf(format="A4", print_background=True, margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                   display_header_footer=True, header_template="<span></span>",
                   footer_template="<div style='font-size:8px;width:100%;text-align:center;color:#555'>"
                                   "Attention, computed &middot; <span class='pageNumber'></span></div>")
    page.close()
    return pdf, title.replace("#", "").strip()


def build_pdf(site: Path, output: Path) -> tuple[int, list[str]]:
    writer = PdfWriter()
    titles = []
    with sitecheck.serve(site) as url, sitecheck.browser() as browser:
        for name in toc_pages():
            pdf, title = print_page(browser, url + name + ".html")
            start = len(writer.pages)
            for p in PdfReader(io.BytesIO(pdf)).pages:
                writer.add_page(p)
            writer.add_outline_item(title=title, page_number=start)
            titles.append(title)
    writer.add_metadata({"/Title": "Attention, computed", "/Author": "The authors of Attention, computed"})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as f:
        writer.write(f)
    return len(writer.pages), titles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("output", nargs="?", type=Path, default=ROOT / "_build" / "pdf" / "attention-computed.pdf")
    args = parser.parse_args(argv)
    if not (args.site / "intro.html").is_file():
        print(f"{args.site} has no built book: run tools/build.sh first", file=sys.stderr)
        return 1
    pages, titles = build_pdf(args.site, args.output)
    print(f"{args.output}: {pages} pages, {len(titles)} chapters and appendices")
    return 0


if __name__ == "__main__":
    sys.exit(main())
