"""Time and memory of attention implementations, measured side by side in one process.

    python benchmarks/attention_benchmark.py                 # n = 1024, 2048, 4096, 8192; prints the table
    python benchmarks/attention_benchmark.py --write         # ... and rebuilds the stored snapshot,
                                      # attn_core/experiments/results/attention_benchmark.json
                                      # (refused on a busy machine: see --allow-busy)
    python benchmarks/attention_benchmark.py --n 2048 --repeats 3

Chapter 11 prints the stored snapshot (``attn_core.experiments.efficiency.load_benchmark``;
it does not re-run this script). Inputs: float32,
8 heads, d_k = d_v = 64: queries, keys and values of shape (8, n, 64) for numpy, (1, 8, n, 64) for
PyTorch. Implementations:

* ``textbook``: the literal numpy expression ``exp(S) / exp(S).sum(-1)`` with
  ``S = Q K^T / np.sqrt(d_k)``, then ``A V`` (returns the output and the weights); ``np.sqrt(d_k)``
  is a float64 scalar, so this silently computes in float64 (numpy >= 2, NEP 50);
* ``textbook f32``: the same with ``d_k ** 0.5``, which stays in float32;
* ``sdpa``: ``attn_core.fast_scaled_dot_product_attention`` (returns the output and the
  weights), the same maths as the reference ``attn_core.scaled_dot_product_attention`` in
  fewer passes over memory, on ``workers`` threads. When a Cauchy-Schwarz bound shows that
  no exponential can overflow it skips the row maximum; the script checks, at every n,
  whether that happened on its inputs and says so in the row's description;
* ``tiled`` and ``tiled causal``: ``attn_core.tiled_attention`` (output only, no weights,
  blocks of 256), on ``workers`` threads;
* when PyTorch is installed (optional: the script runs without it): ``torch matmul``
  (matmul + softmax + matmul, returns the output and the weights: what ``sdpa`` computes),
  ``torch sdpa`` (``torch.nn.functional.scaled_dot_product_attention`` on 4-D inputs, output
  only, restricted to its fused FLASH_ATTENTION backend, so it fails rather than falls back)
  and ``torch sdpa math`` (output only: the same function restricted to its unfused MATH
  backend, which PyTorch falls back to when the fused kernel does not apply, e.g. for 3-D
  inputs in some versions).

Threads: attn_core's functions run on ``--workers`` threads (default: every core), each
calling numpy's matrix library (BLAS) with one thread of its own; the textbook rows give
BLAS every core instead (numpy's elementwise operations use one core either way); PyTorch
uses its own thread pool, every core by default. The script prints all three counts.

Time: wall clock (``time.perf_counter``: processor time would add up the time of every
thread), ``--repeats`` rounds after one warm-up; each round runs every implementation once, in
turn, so that a slow spell of the machine (another job, a shared CPU) lands on all of them
rather than on the repeats of one. Every round's time is stored; a row prints the median, and
each ratio is printed at every n as the median of the per-round ratios with their smallest and
largest (``attn_core.experiments.efficiency.benchmark_ratios``).
Memory: the peak of Python's ``tracemalloc`` during one call (numpy reports its allocations
to it, from every thread), minus the output it returns, i.e. the *working* memory;
PyTorch's allocator is not traced. Implementations that form n x n matrices are skipped
above ``--max-dense-n``.

Load: ``--write`` is refused when the machine's 1-minute load average is above half its core
count (other programs would distort the stored times); ``--allow-busy`` overrides this, and the
load is stored with the results either way.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import attn_core as ac
from attn_core.experiments.efficiency import BENCHMARK_COMPARISONS, benchmark_ratios, format_benchmark
from attn_core.fast import _scores_are_small

HEADS, D, BLOCK = 8, 64, 256
RESULTS = Path(__file__).resolve().parent.parent / "attn_core" / "experiments" / "results" / "attention_benchmark.json"


# ------------------------------------------------------------------ numpy's BLAS threads
def _openblas_functions() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """numpy's OpenBLAS get/set-threads functions, found with ctypes (Linux), or None."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower() and "/" in line}
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "")):
            get = getattr(library, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(library, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                set_.argtypes = [ctypes.c_int]
                return get, set_
    return None


def blas_threads_control() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """(get, set) of numpy's BLAS thread count: threadpoolctl if installed, else OpenBLAS via ctypes."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return _openblas_functions()

    def get() -> int:
        pools = [p for p in threadpool_info() if p["user_api"] == "blas" and "torch" not in p["filepath"]]
        return int(pools[0]["num_threads"]) if pools else 0

    def set_(count: int) -> None:
        for pool in threadpool_info():
            if pool["user_api"] == "blas" and "torch" not in pool["filepath"]:
                threadpool_limits(limits={pool["prefix"]: count})

    return get, set_


CONTROL = blas_threads_control()


@contextlib.contextmanager
def numpy_blas_threads(count: int) -> Iterator[None]:
    """numpy's BLAS on ``count`` threads inside the block (no-op where it cannot be set)."""
    if CONTROL is None:
        yield
        return
    get, set_ = CONTROL
    before = get()
    set_(count)
    try:
        yield
    finally:
        set_(before)


# ------------------------------------------------------------------ the implementations
def textbook(q, k, v):
    """The formula as printed, written literally in numpy."""
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights @ v, weights


def textbook_float32(q, k, v):
    """The same, dividing by a Python float: ``np.sqrt(64)`` is a float64 scalar, which
    (numpy >= 2) turns the float32 scores into float64; ``64 ** 0.5`` keeps float32."""
    scores = q @ k.transpose(0, 2, 1) / q.shape[-1] ** 0.5
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights @ v, weights


def implementations(max_dense_n: int, workers: int) -> tuple[dict, dict]:
    """name -> (function of q, k, v, largest n to run it at, BLAS threads); name -> description."""
    cores = os.cpu_count() or 1
    impls = {
        "textbook": (textbook, max_dense_n, cores),
        "textbook f32": (textbook_float32, max_dense_n, cores),
        "sdpa": (lambda q, k, v: ac.fast_scaled_dot_product_attention(q, k, v, workers=workers), max_dense_n, 1),
        "tiled": (lambda q, k, v: ac.tiled_attention(q, k, v, block_size=BLOCK, workers=workers), 1 << 30, 1),
        "tiled causal": (lambda q, k, v: ac.tiled_attention(q, k, v, causal=True, block_size=BLOCK,
                                                            workers=workers), 1 << 30, 1),
    }
    described = {
        "textbook": ("exp(S) / exp(S).sum(-1) with S = Q K^T / np.sqrt(d_k), then A V (float64 by accident); "
                     "returns output and weights"),
        "textbook f32": "the same with / d_k ** 0.5 (stays float32); returns output and weights",
        "sdpa": (f"attn_core.fast_scaled_dot_product_attention(q, k, v, workers={workers}); "
                 "returns output and weights"),
        "tiled": f"attn_core.tiled_attention(q, k, v, block_size={BLOCK}, workers={workers}); output only, no weights",
        "tiled causal": (f"attn_core.tiled_attention(q, k, v, causal=True, block_size={BLOCK}, workers={workers}); "
                         "output only, no weights"),
    }
    try:
        import torch
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return impls, described

    def torch_matmul(q, k, v):
        q, k, v = (torch.from_numpy(a)[None] for a in (q, k, v))  # (1, heads, n, d)
        w = torch.softmax(q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5), dim=-1)
        return (w @ v).numpy(), w.numpy()

    def torch_sdpa(backend):
        def run(q, k, v):
            q, k, v = (torch.from_numpy(a)[None] for a in (q, k, v))  # (1, heads, n, d), contiguous
            with sdpa_kernel([backend]):  # this backend or an error: no silent fallback
                return torch.nn.functional.scaled_dot_product_attention(q, k, v).numpy()
        return run

    impls["torch matmul"] = (torch_matmul, max_dense_n, cores)
    impls["torch sdpa"] = (torch_sdpa(SDPBackend.FLASH_ATTENTION), 1 << 30, cores)
    impls["torch sdpa math"] = (torch_sdpa(SDPBackend.MATH), max_dense_n, cores)
    described["torch matmul"] = ("softmax(q @ k^T / sqrt(d_k)) @ v in torch, 4-D (1, 8, n, 64); "
                                 "returns output and weights")
    described["torch sdpa"] = ("torch.nn.functional.scaled_dot_product_attention, 4-D (1, 8, n, 64), "
                               "backend FLASH_ATTENTION (fused, CPU); output only, no weights")
    described["torch sdpa math"] = ("the same, backend MATH (unfused: scores, softmax, product); "
                                    "output only, no weights")
    return impls, described


def output_bytes(result) -> int:
    arrays = result if isinstance(result, tuple) else (result,)
    return sum(a.nbytes for a in arrays)


def time_rounds(fns: dict[str, tuple[Callable, int]], q, k, v, repeats: int) -> dict[str, list[float]]:
    """Seconds of every round of each function, timed in interleaved rounds after one warm-up each."""
    for fn, threads in fns.values():
        with numpy_blas_threads(threads):
            fn(q, k, v)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, threads) in fns.items():
            with numpy_blas_threads(threads):
                gc.collect()
                start = time.perf_counter()
                fn(q, k, v)
                times[name].append(time.perf_counter() - start)
    return times


def working_memory(fn: Callable, threads: int, q, k, v) -> int:
    """Peak bytes numpy allocates during one call, minus the output it returns."""
    with numpy_blas_threads(threads):
        gc.collect()
        tracemalloc.start()
        result = fn(q, k, v)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak - output_bytes(result)


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def one_minute_load() -> float | None:
    """The machine's 1-minute load average (0 = idle), or None where it cannot be read."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_average(one_minute: float | None) -> str:
    """How busy the machine was when the run started, in words."""
    if one_minute is None:
        return "unknown"
    cores = os.cpu_count() or 1
    busy = "quiet" if one_minute <= cores / 2 else "shared with other work, so the times are noisy"
    return f"{one_minute:.1f} on {os.cpu_count()} cores at the start ({busy})"


def ratios(results: dict) -> list[dict]:
    """The comparisons the chapter discusses, at every n: median, smallest and largest per-round ratio."""
    out = []
    for a, b in BENCHMARK_COMPARISONS:
        if a in results["implementations"] and b in results["implementations"]:
            for n, (median, low, high) in benchmark_ratios(results, a, b).items():
                out.append({"label": f"{a} / {b}", "n": n, "median": round(median, 3), "min": round(low, 3),
                            "max": round(high, 3)})
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="threads for attn_core's functions (default: every core)")
    parser.add_argument("--max-dense-n", type=int, default=4096,
                        help="largest n for implementations that form n x n matrices")
    parser.add_argument("--write", action="store_true", help=f"store the results in {RESULTS}")
    parser.add_argument("--allow-busy", action="store_true",
                        help="with --write, store the results even if the 1-minute load average is above "
                             "half the core count")
    args = parser.parse_args(argv)
    load = one_minute_load()
    cores = os.cpu_count() or 1
    if args.write and not args.allow_busy and load is not None and load > cores / 2:
        parser.exit(2, f"refusing --write: the 1-minute load average is {load:.1f} on {cores} cores "
                       f"(above {cores / 2:g}); other programs would distort the stored times. "
                       "Wait for a quiet machine, or pass --allow-busy.\n")
    impls, described = implementations(args.max_dense_n, args.workers)
    try:
        import torch

        torch_version, torch_threads = torch.__version__, torch.get_num_threads()
    except ImportError:
        torch_version, torch_threads = None, None
    results = {
        "command": " ".join(["python benchmarks/attention_benchmark.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load": load_average(load),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "threads": {
            **({"torch": torch_threads} if torch_version else {}),
            "attn_core workers": args.workers,
            "numpy BLAS in attn_core rows": 1 if CONTROL else "not set (unknown BLAS)",
            "numpy BLAS in textbook rows": os.cpu_count() if CONTROL else "not set (unknown BLAS)",
        },
        "setup": (f"float32, {HEADS} heads, d_k = d_v = {D} (numpy (8, n, 64), torch (1, 8, n, 64)); wall clock, "
                  f"{args.repeats} interleaved rounds (a row: their median); memory = tracemalloc peak minus "
                  "the output"),
        "implementations": {name: described[name] for name in impls},
        "rows": [],
        "ratios": [],
    }
    rng = np.random.default_rng(0)
    skipped_shift: dict[int, bool] = {}
    header = format_benchmark(results).split("\n\n")[0]
    print(header + "\n", flush=True)
    for n in args.n:
        q, k, v = rng.standard_normal((3, HEADS, n, D), dtype=np.float32)
        fns = {name: (fn, threads) for name, (fn, max_n, threads) in impls.items() if n <= max_n}
        if "sdpa" in fns:  # does fast_scaled_dot_product_attention skip the row maximum on these inputs?
            skipped_shift[n] = _scores_are_small(q * np.float32(D ** -0.5), k, np.dtype(np.float32))
        seconds_of = time_rounds(fns, q, k, v, args.repeats)
        for name, (fn, threads) in fns.items():
            memory = None if name.startswith("torch") else working_memory(fn, threads, q, k, v)
            rounds = [round(seconds * 1e3, 2) for seconds in seconds_of[name]]
            results["rows"].append({"implementation": name, "n": n,
                                    "milliseconds": round(statistics.median(seconds_of[name]) * 1e3, 1),
                                    "round_milliseconds": rounds, "working_memory_bytes": memory})
            print(f"  n = {n:>5}  {name:<16} {statistics.median(seconds_of[name]) * 1e3:9.1f} ms", flush=True)
    if skipped_shift:
        at = ", ".join(str(n) for n, skipped in skipped_shift.items() if skipped) or "no n"
        note = ("max shift skipped on these inputs: the Cauchy-Schwarz bound held at every n"
                if all(skipped_shift.values()) else f"max shift skipped at n = {at}, applied elsewhere")
        results["implementations"]["sdpa"] += f" ({note})"
        results["sdpa_max_shift_skipped"] = {str(n): skipped for n, skipped in skipped_shift.items()}
    results["ratios"] = ratios(results)
    print("\n" + format_benchmark(results))
    if args.write:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwritten to {RESULTS}")
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
