"""Build the website with every chapter executed afresh, one kernel per core.

    python tools/build_book.py                         # into _build/html
    python tools/build_book.py --path-output DIR       # into DIR/_build/html
    python tools/build_book.py --builder singlehtml    # any jupyter-book builder

Jupyter Book 1 executes the notebooks one after another while Sphinx reads them, so the
build takes the sum of the chapters' times. This script executes them first, ``--jobs`` at a
time (default: one per core), into a jupyter-cache made for this build only, then runs
``jupyter-book build . -W -n --keep-going`` with myst-nb reading that cache. Every chapter
is still executed afresh on every build: the cache lives in the output folder and is
deleted before the chapters run, so a cache that outlives a change to ``attn_core`` (it is
keyed on the notebook's text only, which is why ``_config.yml`` says
``execute_notebooks: force``) never exists. A chapter that fails to execute stops the build
with its traceback. ``jupyter-book build .`` alone still works; it is only slower.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]


def executed_pages(root: Path = ROOT) -> list[Path]:
    """The notebooks of the table of contents that the build executes, in its order.

    A notebook whose metadata says ``"mystnb": {"execution_mode": "off"}`` is shown as stored.
    """
    config = yaml.safe_load((root / "_config.yml").read_text())
    excluded = config.get("execute", {}).get("exclude_patterns", [])
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [entry["file"] for part in toc.get("parts", []) for entry in part.get("chapters", [])]
    pages = []
    for name in files:
        path = root / f"{name}.ipynb"
        if not path.is_file() or any(path.match(pattern) for pattern in excluded):
            continue
        metadata = nbformat.read(path, as_version=4).metadata.get("mystnb", {})
        if metadata.get("execution_mode", "force") != "off":
            pages.append(path)
    return pages


def execute(path: Path, timeout: int) -> tuple[Path, str | None, float, str | None]:
    """Execute one notebook in its own folder; return it as JSON text, or the error."""
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(path.parent), timeout=timeout, allow_errors=False)
    if result.err is not None:
        return path, None, result.time, result.exc_string or repr(result.err)
    return path, nbformat.writes(notebook), result.time, None


def fill_cache(cache_path: Path, pages: list[Path], jobs: int, timeout: int) -> dict[str, float]:
    """Execute ``pages`` in parallel and store them in a new jupyter-cache at ``cache_path``."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    shutil.rmtree(cache_path, ignore_errors=True)
    cache = get_cache(str(cache_path))
    seconds, failures = {}, []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for path, text, took, error in pool.map(execute, pages, [timeout] * len(pages)):
            name = path.name
            if error is not None:
                failures.append(f"{name} failed to execute:\n{error}")
                continue
            print(f"{name}: executed in {took:.1f} s", flush=True)
            seconds[name] = took
            cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), str(path),
                                                      data={"execution_seconds": took}),
                                        check_validity=False, overwrite=True)
    if failures:
        sys.exit("\n\n".join(failures))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT, help="the build goes to PATH_OUTPUT/_build")
    parser.add_argument("--builder", default="html", help="a jupyter-book builder (html, singlehtml, ...)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks executed at once")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    build_dir = args.path_output.resolve() / "_build"
    build_dir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    timeout = int(config.get("execute", {}).get("timeout", 120))
    cache_path = build_dir / ".execution_cache"
    seconds = fill_cache(cache_path, executed_pages(), max(1, args.jobs), timeout)
    executed = time.perf_counter() - start
    print(f"{len(seconds)} notebooks executed in {executed:.1f} s ({sum(seconds.values()):.1f} s of kernel time,"
          f" {args.jobs} at a time; slowest {max(seconds.values(), default=0):.1f} s)", flush=True)

    # The same configuration, reading the outputs just computed instead of executing again.
    config.setdefault("execute", {}).update(execute_notebooks="cache", cache=str(cache_path))
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():  # relative to the configuration file, which moves
        extensions[name] = str(ROOT / folder)
    config_file = build_dir / "_config_executed.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--config", str(config_file),
               "--path-output", str(args.path_output.resolve()), "--builder", args.builder,
               "-W", "-n", "--keep-going"]
    status = subprocess.run(command, cwd=ROOT).returncode
    print(f"book build: {time.perf_counter() - start:.1f} s in all ({executed:.1f} s executing)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
