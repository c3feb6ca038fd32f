"""The book builds with -W (every chapter executed afresh) and the website works in Chromium.

The build goes to a temporary folder, so the tests never trust (or clobber) an earlier
``_build``. The browser checks serve it on 127.0.0.1 with no network: MathJax and the widget
manager must come from the site itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import sitecheck  # noqa: E402  (tools/sitecheck.py: the served site and the Chromium helpers)


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    result = subprocess.run(
        # tools/build_book.py: jupyter-book build -W -n --keep-going, every chapter executed afresh first
        [sys.executable, str(ROOT / "tools" / "build_book.py"), "--path-output", str(out)],
        capture_output=True, text=True, cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    print(f"\nbook build: {seconds:.1f} s")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"jupyter-book build -W failed (exit {result.returncode}):\n{tail}")
    return out / "_build" / "html"


def test_the_book_builds_with_every_page(built_site):
    for name in toc_files():
        assert (built_site / f"{name}.html").is_file(), f"{name} missing from the built site"


def test_every_chapter_was_executed_fresh_and_cites_its_sources(built_site):
    chapters = [f for f in toc_files() if f.startswith("chapters/")]
    assert chapters
    for name in chapters:
        page = (built_site / f"{name}.html").read_text()
        assert "cell_output" in page, f"{name}: no executed output in the page"
        assert 'class="footnote' in page or "footnote-list" in page, f"{name}: no references"
        assert "sphinx-exercise" in page or "exercise" in page, f"{name}: no exercises"


def test_site_serves_its_own_javascript(built_site):
    assert (built_site / "_static/vendor/mathjax/tex-chtml.js").is_file()
    assert (built_site / "_static/vendor/html-manager/embed.js").is_file()
    for page in built_site.rglob("*.html"):
        text = page.read_text()
        assert "cdn.jsdelivr.net" not in text and "cdnjs.cloudflare.com" not in text, page


@pytest.fixture(scope="session")
def site_reports(built_site):
    if sitecheck.chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing under CI: install it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    pages = [f"{name}.html" for name in toc_files()]
    return {r.path: r for r in sitecheck.check_site(built_site, pages, audit=True)}


@pytest.mark.parametrize("name", toc_files())
def test_page_loads_without_console_errors_and_renders_maths(site_reports, name):
    report = site_reports[f"{name}.html"]
    assert report.errors == []
    assert report.raw_tex == [], "raw LaTeX is visible to readers"
    assert report.empty_widgets == 0


def test_maths_is_rendered_by_mathjax(site_reports):
    assert all(r.math_rendered > 0 for r in site_reports.values() if r.path.startswith("chapters/"))


@pytest.mark.parametrize("name", [f for f in toc_files() if f.startswith("chapters/")])
def test_every_explorer_control_changes_the_picture(site_reports, name):
    report = site_reports[f"{name}.html"]
    assert report.explorers >= 1, "every chapter has at least one explorer"
    assert report.controls, "explorers have controls"
    dead = [c for c in report.controls if not c.changed]
    assert dead == [], f"dead controls on the static page: {dead}"


@pytest.mark.parametrize("name", toc_files())
def test_no_serious_or_critical_accessibility_violations(site_reports, name):
    """axe-core (WCAG 2.1 A/AA rules) in Chromium: nothing serious or critical."""
    report = site_reports[f"{name}.html"]
    assert report.serious_accessibility == []


def test_pages_stay_light(site_reports):
    """Explorer pictures are embedded in the page; keep every page under 2 MiB."""
    largest = max(site_reports.values(), key=lambda r: r.bytes)
    print(f"\nlargest page: {largest.path}, {largest.bytes / 2**20:.2f} MiB")
    assert largest.bytes < 2 * 2**20
