"""The book prints to one PDF a teacher can cite by page (tools/build_pdf.py).

One session fixture builds it into a temporary folder, as ``tools/build.sh --pdf`` does (the
single-page build executes every chapter with print-resolution figures, Chromium prints it,
pypdf numbers it); every check reads that PDF. It cannot reuse tests/book/test_site.py's
build: pytest-xdist (``--dist loadfile``) runs the two files in different processes. The
checks read the PDF as a reader's tools do: its page labels, its outline, the text of its
contents pages, word boxes (poppler's ``pdftotext -bbox``) and a rendering of every page
(poppler's ``pdftoppm``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sitecheck  # noqa: E402  (tools/sitecheck.py: finds Debian's chromium)

pytestmark = [pytest.mark.build, pytest.mark.browser]

# Pages more than half blank that are not a chapter's (or part's, or the front matter's) last
# page: a figure or box too tall for the rest of its page moved on. 3 to 7 of ~650 pages when
# this test was written (December 2026); the test prints the count and the pages.
NEARLY_BLANK_LIMIT = 12


def _require(tool: str, found: str | None = None) -> None:
    """Fail under CI (.ci/run installs them), skip elsewhere, when a program is missing."""
    if (found or shutil.which(tool)) is None:
        message = f"{tool} is not installed (apt-get install {'chromium' if tool == 'chromium' else 'poppler-utils'})"
        if os.environ.get("CI"):
            pytest.fail(message + " under CI")
        pytest.skip(message)


def _plain(title: str) -> str:
    """A heading as text: no Markdown code marks, emphasis or maths dollars, no ligatures, straight
    quotes (Sphinx prints ' as a typographic quote), spaces collapsed."""
    text = unicodedata.normalize("NFKC", re.sub(r"[`*$]", "", title)).replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.replace("\u201c", '"').replace("\u201d", '"').split())


def _source(name: str) -> str:
    """The Markdown of a document of the book (a notebook's Markdown cells)."""
    path = next(ROOT.glob(name + ".*"))
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    return path.read_text()


def _title(name: str) -> str:
    return _plain(re.search(r"^# (.+)$", _source(name), flags=re.M).group(1))


def toc_titles() -> dict[str, list[str]]:
    """From _toc.yml and the sources, in order: part captions, numbered chapters, unnumbered
    chapters (appendices) and the documents listed under a chapter (workbooks)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    titles: dict[str, list[str]] = {"parts": [], "chapters": [], "unnumbered": [], "below": [], "files": {}}

    def below(entry):
        for sub in entry.get("sections", []):
            titles["below"].append(_title(sub["file"]))
            titles["files"][titles["below"][-1]] = sub["file"]
            below(sub)

    for part in toc["parts"]:
        titles["parts"].append(part["caption"])
        for entry in part["chapters"]:
            kind = "chapters" if part.get("numbered") else "unnumbered"
            titles[kind].append(_title(entry["file"]))
            titles["files"][titles[kind][-1]] = entry["file"]
            below(entry)
    return titles


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Path:
    """The printed book (its chapters in chapters/ beside it). ``BOOK_PDF=path/to/book.pdf``
    checks a PDF built already (``tools/build.sh --pdf``) instead of building one."""
    if os.environ.get("BOOK_PDF"):
        return Path(os.environ["BOOK_PDF"]).resolve()
    _require("chromium", sitecheck.chromium_path())
    import build_pdf

    out = tmp_path_factory.mktemp("pdfbook")
    start = time.perf_counter()
    layout = build_pdf.build_pdf(out, out / "book.pdf", chapters=out / "chapters", fresh=True)
    seconds = time.perf_counter() - start
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in layout.seconds.items())
    size = (out / "book.pdf").stat().st_size / 2**20
    print(f"\nPDF step: {seconds:.0f} s ({timings}); {layout.pages} pages, {size:.1f} MiB")
    return out / "book.pdf"


@pytest.fixture(scope="session")
def reader(book):
    from pypdf import PdfReader

    return PdfReader(book)


def _outline(reader) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every outline item, in order."""
    items = []

    def walk(nodes, depth):
        for node in nodes:
            if isinstance(node, list):
                walk(node, depth + 1)
            else:
                items.append((depth, node.title, reader.get_destination_page_number(node)))

    walk(reader.outline, 0)
    return items


def _documents(reader) -> list[int]:
    """Pages on which a chapter, an appendix or a workbook begins."""
    toc = toc_titles()
    documents = set(toc["chapters"] + toc["unnumbered"] + toc["below"])
    return sorted(page for depth, title, page in _outline(reader)
                  if depth > 0 and _plain(re.sub(r"^\d+ ", "", title)) in documents)


def _openings(reader) -> set[int]:
    """Pages on which a document or a part begins, and the front matter's parts (outline depth 0)."""
    return set(_documents(reader)) | {page for depth, _, page in _outline(reader) if depth == 0}


def test_page_labels_are_roman_then_count_by_one_from_the_first_part(reader):
    labels = reader.page_labels
    first = labels.index("1")
    assert first > 1, "a title page and contents come before page 1"
    assert all(re.fullmatch(r"[ivxlc]+", label) for label in labels[:first]), labels[:first]
    assert labels[first:] == [str(n) for n in range(1, len(labels) - first + 1)]
    assert "part 1" in reader.pages[first].extract_text().lower()


def test_the_outline_lists_every_part_chapter_and_appendix(reader):
    toc = toc_titles()
    outline = _outline(reader)
    items = {(depth, _plain(re.sub(r"^(Part \d+ · |\d+ )", "", title))) for depth, title, _ in outline}
    for caption in toc["parts"]:
        assert (0, caption) in items, f"part {caption!r} missing from the outline"
    for title in toc["chapters"] + toc["unnumbered"]:
        assert (1, title) in items, f"chapter {title!r} missing from the outline (under its part)"
    for title in toc["below"]:
        assert (2, title) in items, f"{title!r} missing from the outline (under its chapter)"


def test_the_contents_name_the_page_on_which_each_chapter_starts(reader):
    labels = reader.page_labels
    toc = toc_titles()
    outline = _outline(reader)
    starts = [page for _, title, page in outline]
    first = next(page for _, title, page in outline if title == "Contents")
    end = min(page for page in starts if page > first)
    contents = "\n".join(reader.pages[i].extract_text() for i in range(first, end))
    contents = _plain(contents)
    for title in toc["chapters"] + toc["unnumbered"] + toc["below"]:
        page = next(p for _, t, p in outline if _plain(t).endswith(title))
        # the chapter's title is printed on the page the outline names...
        assert title.split(":")[0] in _plain(reader.pages[page].extract_text()), (title, labels[page])
        # ...and the contents give that page's label after the title
        number = re.escape(labels[page])
        assert re.search(re.escape(title) + r"\s+" + number + r"(\s|$)", contents), f"{title}: page {labels[page]}"


def _links(page) -> list:
    return [a.get_object() for a in page.get("/Annots", []) or [] if a.get_object().get("/Subtype") == "/Link"]


def test_internal_links_are_links_in_the_pdf(reader):
    """{ref}, {term}, {numref} and {eq} become links to a page of the same PDF, in every document
    that uses them; no link points at the local server the book was printed from."""
    toc = toc_titles()
    outline = _outline(reader)
    openings = sorted(_openings(reader))
    missing = []
    for title, name in toc["files"].items():
        if not re.search(r"\{(ref|term|numref|eq)\}", _source(name)):
            continue
        start = next(p for depth, t, p in outline if depth > 0 and _plain(re.sub(r"^\d+ ", "", t)) == title)
        end = min([p for p in openings if p > start] + [len(reader.pages)])
        if not any("/URI" not in link.get("/A", {}) for page in reader.pages[start:end] for link in _links(page)):
            missing.append(title)
    assert missing == [], f"no link within the PDF in {missing}"
    local = [link["/A"]["/URI"] for page in reader.pages for link in _links(page)
             if re.match(r"https?://(127\.0\.0\.1|localhost)", str(link.get("/A", {}).get("/URI", "")))]
    assert local == [], f"{len(local)} links to the local server, e.g. {local[:3]}"


def test_no_text_runs_past_the_page(book):
    _require("pdftotext")
    words = subprocess.run(["pdftotext", "-bbox", str(book), "-"], capture_output=True, text=True,
                           check=True).stdout
    outside = []
    for number, page in enumerate(re.findall(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', words, re.S), 1):
        width = float(page[0])
        for x_min, x_max, word in re.findall(
                r'<word xMin="([-\d.]+)" yMin="[-\d.]+" xMax="([-\d.]+)" yMax="[-\d.]+">(.*?)</word>', page[1]):
            x_min, x_max = float(x_min), float(x_max)
            if x_min < 0 and x_max > width:
                continue  # one glyph stretched across the page by a transform (MathJax's braces, rules)
            if x_min < -0.5 or x_max > width + 0.5:
                outside.append((number, html.unescape(word), x_max))
    assert outside == [], f"{len(outside)} words outside the page, e.g. {outside[:5]}"


def test_few_pages_are_left_half_blank(book, reader, tmp_path):
    """A page whose content stops above its middle, unless a chapter (or part, or the front
    matter) ends there: a box too tall for the rest of the page moved on. Reported and capped."""
    _require("pdftoppm")
    import numpy as np
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "18", "-gray", str(book), str(tmp_path / "p")], check=True)
    pictures = sorted(tmp_path.glob("p-*.pgm"))
    assert len(pictures) == len(reader.pages)
    openings = set(_openings(reader))
    first_body = reader.page_labels.index("1")
    ends = {p - 1 for p in openings} | {first_body - 1, len(pictures) - 1}
    blank = []
    for i, path in enumerate(pictures):
        if i == 0 or i in openings or i in ends:
            continue
        pixels = np.asarray(Image.open(path))
        height = pixels.shape[0]
        top, bottom = int(height * 23 / 297), int(height * (1 - 15 / 297))  # the text area (margins in mm)
        ink = np.flatnonzero(pixels[top:bottom].min(axis=1) < 200)
        used = (ink[-1] + 1) / (bottom - top) if ink.size else 0.0
        if used < 0.5:
            blank.append(reader.page_labels[i])
    print(f"\nnearly blank pages (more than half blank, not a chapter's last): {len(blank)} "
          f"(limit {NEARLY_BLANK_LIMIT}): {blank}")
    assert len(blank) <= NEARLY_BLANK_LIMIT


def test_every_explorer_shows_a_picture_and_its_live_address(reader):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    site = config["html"]["baseurl"].rstrip("/") + "/"
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    captions = re.findall(r"Live version: (\S+)", text.replace(site + " ", site))
    chapters = toc_titles()["chapters"]
    assert len(captions) >= len(chapters) - 2, "an explorer caption in (nearly) every chapter"
    assert all(c.startswith(site + "chapters/") for c in captions), captions[:3]


def test_each_chapter_prints_alone_with_the_book_page_numbers(book, reader):
    from pypdf import PdfReader

    labels = reader.page_labels
    outline = {title: page for depth, title, page in _outline(reader) if depth in (1, 2)}
    files = sorted((book.parent / "chapters").glob("*.pdf"))
    toc = toc_titles()
    assert len(files) == len(toc["chapters"]) + len(toc["unnumbered"]) + len(toc["below"])
    for path in files:
        excerpt = PdfReader(path)
        first = excerpt.page_labels[0]
        start = labels.index(first)
        assert excerpt.page_labels == labels[start:start + len(excerpt.pages)], path.name
        assert start in outline.values(), f"{path.name} does not start where a chapter starts"
