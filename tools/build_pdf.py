"""Print the book to one PDF, with a title page, contents, page numbers and running heads.

    python tools/build_pdf.py                  # reuse the executed book in _build: _build/pdf/attention-computed.pdf
    python tools/build_pdf.py --fresh          # execute every chapter again, figures at twice the resolution
    python tools/build_pdf.py --book-build DIR --output BOOK.pdf --chapters DIR

How it works, in four steps:

1. Jupyter Book's single-page HTML build (``--builder singlehtml``) writes the whole book as one
   HTML page. Built into the same folder as the website (``--book-build``, the ``--path-output``
   of ``jupyter-book build``), it reuses the chapters the website build executed (Sphinx keeps
   them in ``_build/.doctrees``), so nothing is executed twice; ``--fresh`` builds in a folder of
   its own and executes every chapter with figures at twice the resolution (about 190 dpi on paper).
   web/attn_book_site.py gives that page the widget state of every chapter and the print
   stylesheet web/site/attn-book-print.css.
2. Headless Chromium (Debian's package, driven by playwright) opens the page; a script rearranges
   it into a title page, the contents, the introduction, one page per part and one block per
   chapter opening on a new page, and writes a caption under every explorer's first picture
   pointing at its live version on the website (the address is ``html.baseurl`` in _config.yml).
3. The page is printed once; the contents link to every part, chapter and section, and a link
   in the PDF names its target page, so the links tell where each starts. The numbers are
   written into the contents (each in a box of fixed width: the contents keep their length, as
   LaTeX's second pass does), and the title page and contents alone are printed again.
4. pypdf stamps the running heads (the chapter's title) and page numbers, sets the page labels
   (roman for the front matter, arabic from 1 at the first part) and the outline (parts,
   chapters, sections), and cuts one PDF per chapter, workbook and appendix that keeps the book's pages.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, Fit, NameObject

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sitecheck  # noqa: E402  (the same served-site + Chromium helpers the tests use)

PDF_NAME = "attention-computed.pdf"
# The margins Chromium leaves around the text of an A4 page, in mm: the running head and the
# page number are stamped into the top margin.
MARGIN_MM = {"top": 22, "bottom": 16, "left": 17, "right": 17}
MM = 72 / 25.4  # PDF points per mm


# ----------------------------------------------------------------------------- the book's facts
def book_facts() -> dict:
    """What the title page says, each from its one place in the repository: title, authors and
    the website's address (_config.yml), the line under the title (the introduction's italic
    paragraph), the licence (README.md) and attn_core's version (pyproject.toml)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    baseurl = (config.get("html", {}) or {}).get("baseurl", "")
    if not baseurl:
        raise SystemExit("_config.yml: html.baseurl (the website's address) is missing")
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    root_text = (ROOT / f"{toc['root']}.md").read_text()
    blurb = re.search(r"^\*([^*].*?)\*\s*$", root_text, flags=re.M | re.S)
    readme = (ROOT / "README.md").read_text()
    licence = re.search(r"^## Licen[cs]e\s*\n+(.+?)(?:\n\n|\Z)", readme, flags=re.M | re.S)
    version = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M)
    return {
        "title": config["title"],
        "author": config.get("author", ""),
        "copyright": str(config.get("copyright", "")),
        "baseurl": baseurl.rstrip("/") + "/",
        "subtitle": " ".join(blurb.group(1).split()) if blurb else "",
        "licence": " ".join(licence.group(1).split()) if licence else "",
        "version": version.group(1) if version else "",
        "date": datetime.date.today().isoformat(),
    }


def book_parts() -> tuple[str, list[dict]]:
    """The root document and the parts of _toc.yml: caption, numbered, and chapters, each a
    document with the documents listed under it (``sections:``, e.g. the workbooks)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def below(entry: dict) -> list[str]:
        return [name for sub in entry.get("sections", []) if "file" in sub for name in [sub["file"], *below(sub)]]

    parts = [{"caption": part.get("caption", ""), "numbered": bool(part.get("numbered", False)),
              "chapters": [{"file": entry["file"], "below": below(entry)} for entry in part.get("chapters", [])
                           if "file" in entry]}
             for part in toc.get("parts", [])]
    return toc["root"], parts


# ----------------------------------------------------------------------- step 1: one HTML page
def build_single_page(book_build: Path, *, fresh: bool = False, strict: bool = True) -> Path:
    """Build the whole book as one HTML page into ``book_build``/_build/singlehtml; return that folder.

    Unless ``fresh``, the chapters executed by an earlier build of the website into the same
    ``book_build`` (``tools/build_book.py --path-output book_build``, or ``jupyter-book build
    --path-output book_build``) are reused: the same configuration, so Sphinx reads again only
    the pages that changed since. ``fresh`` executes every chapter (tools/build_book.py, one
    kernel per core) with figures at twice the resolution (IPython's "retina" PNGs, shown at
    the same size). A warning fails the build, as for the website, unless not ``strict`` (then
    a page written in spite of warnings is printed, and the warnings are shown).
    """
    build_dir = book_build.resolve() / "_build"
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as ipython_dir:
        if fresh:
            profile = Path(ipython_dir) / "profile_default"
            profile.mkdir(parents=True)
            (profile / "ipython_kernel_config.py").write_text('c.InlineBackend.figure_formats = {"retina"}\n')
            env["IPYTHONDIR"] = ipython_dir
            command = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--builder", "singlehtml",
                       "--path-output", str(book_build.resolve())]
        else:
            # tools/build_book.py builds the website with this configuration (its executed
            # chapters in a cache); a plain jupyter-book build uses _config.yml.
            executed_config = build_dir / "_config_executed.yml"
            command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--builder", "singlehtml",
                       "--path-output", str(book_build.resolve()), "-W", "-n", "--keep-going"]
            if executed_config.is_file():
                command[3:3] = ["--config", str(executed_config)]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    page_dir = build_dir / "singlehtml"
    if result.returncode != 0:
        log = (result.stdout + result.stderr).splitlines()
        warned = any("build finished with problems" in line for line in log)
        if strict or not warned or not (page_dir / "index.html").is_file():
            tail = "\n".join(log[-40:])
            raise RuntimeError(f"the single-page build failed (exit {result.returncode}):\n{tail}")
        print("\n".join(line for line in log if "WARNING:" in line or "ERROR:" in line), file=sys.stderr)
    return page_dir


# --------------------------------------------------------------- step 2: the page, rearranged
ARRANGE = r"""data => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const clean = h => {  // a heading's HTML without its "#" link; its text with TeX for the maths
    const copy = h.cloneNode(true);
    copy.querySelectorAll('a.headerlink').forEach(a => a.remove());
    copy.querySelectorAll('a').forEach(a => a.replaceWith(...a.childNodes));  // no link inside a contents link
    copy.querySelectorAll('[id]').forEach(e => e.removeAttribute('id'));
    const text = h.cloneNode(true);
    text.querySelectorAll('a.headerlink').forEach(a => a.remove());
    // maths as plain text for the outline: its TeX, lightly simplified (\sqrt{d_k} -> √d_k)
    const tex = new Map();
    if (window.MathJax && MathJax.startup && MathJax.startup.document) {
      MathJax.startup.document.getMathItemsWithin(h).forEach(item => tex.set(item.typesetRoot, item.math));
    }
    const originals = Array.from(h.querySelectorAll('mjx-container'));
    text.querySelectorAll('mjx-container').forEach((m, i) => {
      const source = tex.get(originals[i]);
      const plain = source === undefined ? m.textContent : source.replace(/\\sqrt\{([^}]*)\}/g, '√$1')
        .replace(/\\(left|right)\b/g, '').replace(/\\([a-zA-Z]+)/g, '$1').replace(/[{}]/g, '');
      m.replaceWith(document.createTextNode(plain.trim()));
    });
    copy.querySelectorAll('.section-number').forEach(s => s.remove());
    text.querySelectorAll('.section-number').forEach(s => s.remove());
    const number = (h.querySelector('.section-number') || {textContent: ''}).textContent.trim().replace(/\.$/, '');
    return {html: copy.innerHTML.trim(), text: text.textContent.replace(/\s+/g, ' ').trim(), number};
  };
  const heading = s => s.querySelector(':scope > h1, :scope > h2, :scope > h3, :scope > h4, :scope > h5, :scope > h6');
  const sectionOf = name => {
    const anchor = document.getElementById('document-' + name);
    if (!anchor) throw new Error('the single page has no document ' + name);
    let s = anchor.nextElementSibling;
    while (s && s.tagName !== 'SECTION') s = s.nextElementSibling;
    return [anchor, s];
  };
  const make = (tag, cls, inner) => { const e = document.createElement(tag); if (cls) e.className = cls; if (inner !== undefined) e.innerHTML = inner; return e; };

  // Every chapter (and every document listed under one, such as the workbooks), out of the
  // introduction's table of contents, each in a block of its own.
  const names = data.parts.flatMap(part => part.chapters.flatMap(c => [c.file, ...c.below]));
  const found = names.map(sectionOf);  // all of them first: a document under a chapter sits inside it
  const blocks = names.map((name, i) => {
    const block = make('div', 'attn-chapter');
    block.dataset.doc = name;
    block.append(...found[i]);
    return block;
  });
  blocks.forEach(b => b.querySelectorAll('.toctree-wrapper').forEach(t => { if (!t.textContent.trim()) t.remove(); }));
  // Sphinx's single page repeats ids that are unique within a chapter (footnotes id1, id2...,
  // "summary", "exercises"): make them unique per chapter and point the chapter's links at its own.
  const counts = {};
  [document, ...blocks].forEach(root => root.querySelectorAll('[id]').forEach(e => counts[e.id] = (counts[e.id] || 0) + 1));
  blocks.forEach((block, k) => {
    const renamed = {};
    block.querySelectorAll('[id]').forEach(e => {
      if (counts[e.id] > 1) { renamed[e.id] = e.id + '--' + (k + 1); e.id = renamed[e.id]; }
    });
    block.querySelectorAll('a[href]').forEach(a => {
      const href = a.getAttribute('href');
      if (!href.startsWith('#') && !href.startsWith(data.root + '.html#')) return;
      const target = decodeURIComponent(href.slice(href.indexOf('#') + 1));
      if (renamed[target]) a.setAttribute('href', '#' + renamed[target]);
    });
  });
  // Links within the book become same-page links (Chromium turns only those into links inside
  // the PDF; "intro.html#label" would point at the local server); other links into the site
  // (downloads, sources) point at the website.
  [document, ...blocks].forEach(root => root.querySelectorAll('a[href]').forEach(a => {
    const href = a.getAttribute('href');
    if (href.startsWith(data.root + '.html#')) a.setAttribute('href', href.slice(data.root.length + 5));
    else if (!/^(#|[a-z][a-z0-9+.-]*:)/i.test(href)) a.setAttribute('href', data.facts.baseurl + href.replace(/^(\.\/)+/, ''));
  }));
  // The introduction: the root section without its list of chapters, titled "Introduction"
  // (the title page has the book's title and the italic line under it).
  const intro = article.querySelector(':scope > section') || article.querySelector('section');
  intro.querySelectorAll('.toctree-wrapper').forEach(t => t.remove());
  const introHeading = heading(intro);
  if (introHeading) {
    introHeading.textContent = data.introTitle;
    const next = introHeading.nextElementSibling;
    if (next && next.tagName === 'P' && next.children.length === 1 && next.firstElementChild.tagName === 'EM') next.remove();
  }
  // Paper cannot be clicked: solutions and answers are printed open.
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details.toggle-details, details.sd-dropdown').forEach(d => d.open = true);
  intro.querySelectorAll(':scope > section').forEach(s => {
    if (Array.from(s.children).every(c => /^H[1-6]$/.test(c.tagName) || c.tagName === 'SPAN')) s.remove();
  });

  const entries = [];
  const book = make('div', 'attn-print-book');
  book.id = 'attn-print-book';
  const f = data.facts;
  const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  book.append(make('section', 'attn-title-page',
    `<h1>${esc(f.title)}</h1>` + (f.subtitle ? `<p class="attn-subtitle">${esc(f.subtitle)}</p>` : '') +
    `<p>${esc(f.author)}</p>` +
    `<div class="attn-title-meta"><p>Printed ${esc(f.date)} from the book's sources` + (f.version ? ` (attn_core ${esc(f.version)})` : '') + `</p>` +
    `<p>Read it online, with the explorers live: <a href="${f.baseurl}">${esc(f.baseurl)}</a></p>` +
    (f.licence ? `<p>© ${esc(f.copyright)} ${esc(f.author)}. ${esc(f.licence)}</p>` : '') + `</div>`));
  const contents = make('nav', 'attn-contents', '<h1>Contents</h1>');
  contents.id = 'attn-contents';
  book.append(contents);
  const front = make('div', 'attn-front');
  front.append(intro);
  book.append(front);
  entries.push({kind: 'front', title: data.introTitle, html: esc(data.introTitle), id: intro.id, number: ''});

  let block = 0, partNumber = 0;
  data.parts.forEach((part, p) => {
    const page = make('section', 'attn-part-page');
    page.id = 'attn-part-' + (p + 1);
    const label = part.numbered ? 'Part ' + (++partNumber) : '';
    page.innerHTML = (label ? `<div class="attn-part-label">${label}</div>` : '') + `<h1>${esc(part.caption)}</h1>`;
    book.append(page);
    entries.push({kind: 'part', title: (label ? label + ' · ' : '') + part.caption, html: (label ? label + ' · ' : '') + esc(part.caption), id: page.id, number: ''});
    for (const entry of part.chapters) for (const name of [entry.file, ...entry.below]) {
      const chapter = blocks[block++];
      const section = chapter.querySelector(':scope > section');
      const h = clean(heading(section));
      const kind = name !== entry.file ? 'subchapter' : part.numbered ? 'chapter' : 'unnumbered';
      entries.push({kind, title: h.text, html: h.html, id: section.id, number: h.number, doc: name});
      if (kind !== 'subchapter') section.querySelectorAll(':scope > section').forEach(s => {
        const sh = heading(s);
        if (sh) { const c = clean(sh); entries.push({kind: 'section', title: c.text, html: c.html, id: s.id, number: c.number, doc: name}); }
      });
      chapter.querySelectorAll('.attn-explorer').forEach(explorer => {
        const url = data.facts.baseurl + name + '.html';
        explorer.append(make('p', 'attn-live-caption', `Live version: <a href="${url}">${esc(url)}</a>`));
      });
      book.append(chapter);
    }
  });
  for (const e of entries) {
    const a = make('a', 'attn-toc-entry attn-toc-' + e.kind,
      `<span class="attn-toc-title">${e.number ? e.number + '&nbsp;&nbsp;' : ''}${e.html}</span><span class="attn-toc-page">000</span>`);
    a.href = '#' + e.id;
    contents.append(a);
  }
  article.replaceChildren(book);
  return entries.map(e => ({kind: e.kind, title: e.title, number: e.number, id: e.id, doc: e.doc || ''}));
}"""

HIDE_ALL_BUT_CONTENTS = """() => document.querySelectorAll('#attn-print-book > :not(.attn-title-page):not(.attn-contents)')
  .forEach(e => e.style.display = 'none')"""

# The widget manager renders the explorers after the page has loaded: wait until the number of
# their pictures stops growing.
WIDGETS_SETTLED = """async () => {
  let last = -1;
  for (let i = 0; i < 300; i++) {
    const n = document.querySelectorAll('.attn-explorer img').length;
    if (n > 0 && n === last) return n;
    last = n;
    await new Promise(r => setTimeout(r, 1000));
  }
  return last;
}"""

FILL_NUMBERS = """numbers => {
  const cells = document.querySelectorAll('#attn-contents .attn-toc-page');
  if (cells.length !== numbers.length) throw new Error(`${cells.length} contents entries, ${numbers.length} numbers`);
  cells.forEach((cell, i) => cell.textContent = numbers[i]);
}"""


@dataclass
class Entry:
    """One line of the contents and where it starts (0-based page): a part, a chapter (numbered or
    not: appendices), a document listed under a chapter (a workbook), or a chapter's section."""
    kind: str
    title: str
    number: str
    id: str
    doc: str
    page: int = -1


@dataclass
class Book:
    entries: list[Entry]
    pages: int
    body_start: int  # index of the page labelled 1
    seconds: dict[str, float] = field(default_factory=dict)

    def label(self, index: int) -> str:
        return str(index - self.body_start + 1) if index >= self.body_start else roman(index + 1)

    @property
    def contents_end(self) -> int:
        """Index of the first page after the contents (the contents start on the second page)."""
        return self.entries[0].page

    @property
    def chapters(self) -> list[Entry]:
        return [e for e in self.entries if e.kind in ("chapter", "unnumbered", "subchapter")]

    def chapter_ranges(self) -> list[tuple[Entry, int, int]]:
        """(entry, first page, last page + 1) for every chapter, appendix and workbook."""
        starts = [e for e in self.entries if e.kind in ("part", "chapter", "unnumbered", "subchapter")]
        ranges = []
        for i, entry in enumerate(starts):
            if entry.kind == "part":
                continue
            end = starts[i + 1].page if i + 1 < len(starts) else self.pages
            ranges.append((entry, entry.page, end))
        return ranges


def roman(n: int) -> str:
    out = ""
    for value, letters in [(1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
                           (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")]:
        while n >= value:
            out, n = out + letters, n - value
    return out


def link_targets(reader: PdfReader, first_page: int, count: int) -> list[int]:
    """The target pages (0-based) of the first ``count`` internal links from ``first_page`` on:
    the contents' entries, in order (a link that Chromium splits over two lines counts once)."""
    page_index = {page.indirect_reference.idnum: i for i, page in enumerate(reader.pages)}
    targets: list[int] = []
    previous = None
    for page in reader.pages[first_page:]:
        for annotation in page.get("/Annots", []) or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Link":
                continue
            destination = annotation.get("/Dest")
            if destination is None and "/A" in annotation:
                action = annotation["/A"].get_object()
                destination = action.get("/D") if action.get("/S") == "/GoTo" else None
            if destination is None:
                continue
            destination = destination.get_object() if hasattr(destination, "get_object") else destination
            if not isinstance(destination, ArrayObject):
                destination = reader.named_destinations[str(destination)]
                key = (page_index[destination.page.idnum if hasattr(destination.page, "idnum")
                                  else destination.page.indirect_reference.idnum], destination.top)
            else:
                key = (page_index[destination[0].idnum], tuple(float(v) for v in destination[2:4] if v is not None))
            if key == previous:
                continue
            previous = key
            targets.append(key[0])
            if len(targets) == count:
                return targets
    raise RuntimeError(f"found {len(targets)} of the {count} links of the contents")


def print_book(page_dir: Path, facts: dict, *, margin_mm: dict | None = None) -> tuple[Book, bytes, bytes]:
    """Open the single page in Chromium, arrange it and print it; then print the title page and
    the contents again, with their page numbers. Returns the layout, the book and those pages."""
    root, parts = book_parts()
    margin = {k: f"{v}mm" for k, v in (margin_mm or MARGIN_MM).items()}
    seconds: dict[str, float] = {}
    with sitecheck.serve(page_dir) as url, sitecheck.browser() as browser:
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        page.set_default_timeout(240_000)
        start = time.perf_counter()
        page.goto(url + f"{root}.html", wait_until="load")
        if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
            page.evaluate(WIDGETS_SETTLED)
            empty = page.evaluate("() => Array.from(document.querySelectorAll('.attn-explorer'))"
                                  ".filter(e => !e.querySelector('img')).length")
            if empty:
                raise RuntimeError(f"{empty} explorers have no picture: is the widget state embedded?")
        page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise")
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        seconds["load"] = time.perf_counter() - start
        intro_title = "Introduction"
        raw = page.evaluate(ARRANGE, {"root": root, "parts": parts, "facts": facts, "introTitle": intro_title})
        entries = [Entry(**e) for e in raw]
        page.emulate_media(media="print")

        def render() -> bytes:
            return page.pdf(format="A4", margin=margin, print_background=True)

        start = time.perf_counter()
        pdf = render()
        seconds["print"] = time.perf_counter() - start
        reader = PdfReader(io.BytesIO(pdf))
        targets = link_targets(reader, 1, len(entries))  # the contents start on the second page
        body_start = targets[next(i for i, e in enumerate(entries) if e.kind == "part")]
        book = Book(entries, len(reader.pages), body_start, seconds)
        for entry, target in zip(entries, targets):
            entry.page = target
        # The contents, numbered: the same boxes with other digits, so the same pages. Only the
        # title page and the contents are printed again (the rest hidden: seconds, not minutes);
        # their text replaces the first print's, whose links stay.
        page.evaluate(FILL_NUMBERS, [book.label(t) for t in targets])
        page.evaluate(HIDE_ALL_BUT_CONTENTS)
        start = time.perf_counter()
        contents = render()
        seconds["print contents"] = time.perf_counter() - start
        if len(PdfReader(io.BytesIO(contents)).pages) != book.contents_end:
            raise RuntimeError("the contents changed length when their page numbers were written")
        return book, pdf, contents


# ------------------------------------------------------------ step 4: stamp, label, outline
def _pdf_text(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _digits_width(text: str, size: float) -> float:
    # Helvetica's advance widths (per 1000): every digit is 556; roman numerals i/v/x/l/c/d/m.
    widths = {"i": 222, "v": 500, "x": 500, "l": 222, "c": 500, "d": 556, "m": 833}
    return sum(widths.get(ch, 556) for ch in text) * size / 1000


def stamp(writer: PdfWriter, book: Book) -> None:
    """Running heads (the chapter's title) and page numbers, in the top margin of every page."""
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica"),
                             NameObject("/Encoding"): NameObject("/WinAnsiEncoding")})
    font_reference = writer._add_object(font)
    chapter_of_page: dict[int, Entry] = {}
    openings = {e.page for e in book.entries if e.kind in ("part", "chapter", "unnumbered", "subchapter")}
    for entry, first, end in book.chapter_ranges():
        for i in range(first, end):
            chapter_of_page[i] = entry
    for i, page in enumerate(writer.pages):
        if i == 0:
            continue  # the title page
        left = float(page.mediabox.left) + MARGIN_MM["left"] * MM
        right = float(page.mediabox.right) - MARGIN_MM["right"] * MM
        baseline = float(page.mediabox.top) - (MARGIN_MM["top"] - 9) * MM
        label = book.label(i)
        head = ""
        if i in chapter_of_page and i not in openings:
            entry = chapter_of_page[i]
            head = f"{entry.number}  {entry.title}" if entry.number else entry.title
        elif i < book.body_start and i not in openings:
            head = "Contents" if i < book.entries[0].page else book.entries[0].title
        size = 8.5
        operators = [b"q 0.35 g BT /AttnStamp %.1f Tf" % size]
        if head:
            operators.append(b"1 0 0 1 %.2f %.2f Tm (%s) Tj" % (left, baseline, _pdf_text(head[:95])))
        operators.append(b"1 0 0 1 %.2f %.2f Tm (%s) Tj ET" % (right - _digits_width(label, size), baseline,
                                                             _pdf_text(label)))
        if head:
            operators.append(b"0.6 G 0.4 w %.2f %.2f m %.2f %.2f l S" % (left, baseline - 4, right, baseline - 4))
        operators.append(b"Q")
        stream = DecodedStreamObject()
        stream.set_data(b"\n".join(operators))
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else DictionaryObject()
        fonts[NameObject("/AttnStamp")] = font_reference
        resources[NameObject("/Font")] = fonts
        page[NameObject("/Resources")] = resources
        contents = page.get("/Contents")
        if contents is None:
            page[NameObject("/Contents")] = writer._add_object(stream)
        else:
            # wrap the page in q ... Q, so that its state never leaks into the stamp
            opening, closing = DecodedStreamObject(), DecodedStreamObject()
            opening.set_data(b"q")
            closing.set_data(b"Q")
            existing = contents.get_object()
            parts = list(existing) if isinstance(existing, ArrayObject) else [contents]
            page[NameObject("/Contents")] = ArrayObject([writer._add_object(opening), *parts,
                                                        writer._add_object(closing), writer._add_object(stream)])


def finish(pdf: bytes, contents: bytes, book: Book, facts: dict, output: Path) -> None:
    """Put the numbered contents in, stamp, label and outline the printed book; write it to ``output``."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for i, numbered in enumerate(PdfReader(io.BytesIO(contents)).pages[1:], start=1):  # not the title page
        for key in ("/Contents", "/Resources"):
            writer.pages[i][NameObject(key)] = numbered.raw_get(key).clone(writer)
    stamp(writer, book)
    if book.body_start > 0:
        writer.set_page_label(0, book.body_start - 1, style="/r")
    writer.set_page_label(book.body_start, len(writer.pages) - 1, style="/D", start=1)
    contents_page = 1
    writer.add_outline_item(title="Contents", page_number=contents_page, fit=Fit.fit())
    part = chapter = None
    for entry in book.entries:
        title = f"{entry.number} {entry.title}".strip()
        if entry.kind in ("front", "part"):
            part = writer.add_outline_item(title=title, page_number=entry.page, fit=Fit.fit())
            chapter = None
        elif entry.kind in ("chapter", "unnumbered"):
            chapter = writer.add_outline_item(title=title, page_number=entry.page, parent=part, fit=Fit.fit())
        else:
            writer.add_outline_item(title=title, page_number=entry.page, parent=chapter or part, fit=Fit.fit())
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": facts["title"], "/Author": facts["author"],
                         "/Subject": facts["subtitle"], "/Keywords": facts["baseurl"]})
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as f:
        writer.write(f)


def cut_chapters(book_pdf: Path, book: Book, folder: Path, book_title: str) -> list[Path]:
    """One PDF per chapter, workbook and appendix, cut from the book: it keeps the book's page numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.pdf"):  # from an earlier build, perhaps of a chapter since renamed
        old.unlink()
    written = []
    whole = PdfReader(book_pdf)
    for entry, first, end in book.chapter_ranges():
        writer = PdfWriter()
        writer.append(whole, pages=(first, end), import_outline=False)
        writer.set_page_label(0, end - first - 1, style="/D", start=first - book.body_start + 1)
        writer.add_metadata({"/Title": f"{entry.number} {entry.title}".strip() + f" (from {book_title}, "
                             f"pages {book.label(first)}–{book.label(end - 1)})"})
        path = folder / f"{entry.doc.replace('/', '-')}.pdf"
        with path.open("wb") as f:
            writer.write(f)
        written.append(path)
    return written


def build_pdf(book_build: Path, output: Path, *, chapters: Path | None = None, fresh: bool = False,
              strict: bool = True) -> Book:
    """Steps 1 to 4; returns the book's layout (entries with their pages, timings in seconds)."""
    facts = book_facts()
    start = time.perf_counter()
    page_dir = build_single_page(book_build, fresh=fresh, strict=strict)
    single_page_seconds = time.perf_counter() - start
    book, pdf, contents = print_book(page_dir, facts)
    book.seconds["single page build"] = single_page_seconds
    start = time.perf_counter()
    finish(pdf, contents, book, facts, output)
    if chapters is not None:
        cut_chapters(output, book, chapters, facts["title"])
    book.seconds["stamp and cut"] = time.perf_counter() - start
    return book


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book-build", type=Path, default=ROOT,
                        help="the --path-output of the website's build, whose executed chapters are reused "
                             "(default: the repository, i.e. _build)")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "pdf" / PDF_NAME)
    parser.add_argument("--chapters", type=Path, default=None,
                        help="also write one PDF per chapter here (default: a 'chapters' folder beside the output)")
    parser.add_argument("--fresh", action="store_true",
                        help="execute every chapter again, figures at twice the resolution (in a folder of its own)")
    parser.add_argument("--allow-warnings", action="store_true",
                        help="print the book even if the single-page build warns (while chapters are being written)")
    args = parser.parse_args(argv)
    chapters = args.chapters or args.output.parent / "chapters"
    book_build = args.book_build
    if args.fresh and book_build == ROOT:
        book_build = ROOT / "_build" / "print"
    start = time.perf_counter()
    book = build_pdf(book_build, args.output, chapters=chapters, fresh=args.fresh, strict=not args.allow_warnings)
    size = args.output.stat().st_size / 2**20
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in book.seconds.items())
    print(f"{args.output}: {book.pages} pages ({book.body_start} before page 1), {size:.1f} MiB, "
          f"{len(book.chapters)} chapters and appendices (one PDF each in {chapters})")
    print(f"PDF step: {time.perf_counter() - start:.0f} s ({timings})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
