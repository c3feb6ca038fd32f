"""Time and memory of attention implementations, measured side by side in one process.

    python benchmarks/attention_benchmark.py                  # n = 1024, 2048, 4096, 8192
    python benchmarks/attention_benchmark.py --n 2048 --repeats 5

Inputs: float32, 8 batch x heads, d = 64 (queries, keys and values of shape (8, n, 64)).
Implementations:

* ``textbook``: the literal numpy expression ``exp(S) / exp(S).sum(-1)`` with
  ``S = Q K^T / np.sqrt(d)``, then ``A V`` (returns the weights); note that ``np.sqrt(d)`` is
  a float64 scalar, so this silently computes in float64;
* ``textbook f32``: the same with ``d ** 0.5``, which stays in float32: the fair comparison
  of the arithmetic alone;
* ``sdpa``: ``attn_core.fast_scaled_dot_product_attention`` (returns the weights), the
  speed path: the same maths as the reference ``attn_core.scaled_dot_product_attention`` in
  fewer passes over memory (chapter 11);
* ``tiled`` and ``tiled causal``: ``attn_core.tiled_attention`` (no weights, block 256);
* when PyTorch is installed (optional, never required): ``torch matmul`` (matmul + softmax +
  matmul, the same computation as ``sdpa``) and ``torch sdpa``
  (``torch.nn.functional.scaled_dot_product_attention``, CPU), each on as many threads as
  numpy's BLAS gets.

Time: the median of ``--repeats`` rounds after one warm-up; each round runs every
implementation once, in turn, so that a slow spell of the machine (another job, a shared
CPU) lands on all of them rather than on the repeats of one, and the ratios stay fair. Memory: the peak of Python's
``tracemalloc`` during one call (numpy reports its allocations to it), minus the output it
returns, i.e. the *working* memory; PyTorch's allocator is not traced. Implementations whose
n x n matrices would not fit are skipped at large n (see ``--max-dense-n``).

The goals attn_core's implementations are held to: sdpa >= 3x faster than textbook at
n = 2048 and no slower than torch matmul; tiled within 2.5x of torch sdpa at n = 4096; tiled
causal <= 0.65x tiled; tiled's working memory at n = 8192 <= 2 % of one n x n float32 matrix.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import attn_core as ac

BATCH_HEADS, D = 8, 64


def textbook(q, k, v):
    """The formula as printed, written literally in numpy."""
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights @ v, weights


def textbook_float32(q, k, v):
    """The same, but dividing by a Python float: ``np.sqrt(64)`` is a float64 scalar, which
    (numpy >= 2) turns the float32 scores into float64; ``64 ** 0.5`` keeps float32."""
    scores = q @ k.transpose(0, 2, 1) / q.shape[-1] ** 0.5
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return weights @ v, weights


def implementations(max_dense_n: int) -> dict[str, tuple[Callable, int]]:
    """name -> (function of q, k, v, largest n to run it at)."""
    impls = {
        "textbook": (textbook, max_dense_n),
        "textbook f32": (textbook_float32, max_dense_n),
        "sdpa": (lambda q, k, v: ac.fast_scaled_dot_product_attention(q, k, v), max_dense_n),
        "tiled": (lambda q, k, v: ac.tiled_attention(q, k, v, block_size=256), 1 << 30),
        "tiled causal": (lambda q, k, v: ac.tiled_attention(q, k, v, causal=True, block_size=256), 1 << 30),
    }
    try:
        import torch
    except ImportError:
        return impls

    def torch_matmul(q, k, v):
        q, k, v = (torch.from_numpy(a) for a in (q, k, v))
        w = torch.softmax(q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5), dim=-1)
        return (w @ v).numpy(), w.numpy()

    def torch_sdpa(q, k, v):
        q, k, v = (torch.from_numpy(a) for a in (q, k, v))
        return torch.nn.functional.scaled_dot_product_attention(q, k, v).numpy()

    impls["torch matmul"] = (torch_matmul, max_dense_n)
    impls["torch sdpa"] = (torch_sdpa, 1 << 30)
    return impls


def output_bytes(result) -> int:
    arrays = result if isinstance(result, tuple) else (result,)
    return sum(a.nbytes for a in arrays)


def time_rounds(fns: dict[str, Callable], q, k, v, repeats: int) -> dict[str, float]:
    """Median seconds of each function, timed in interleaved rounds after one warm-up each."""
    for fn in fns.values():
        fn(q, k, v)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            fn(q, k, v)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def working_memory(fn: Callable, q, k, v) -> int:
    """Peak bytes numpy allocates during one call, minus the output it returns."""
    gc.collect()
    tracemalloc.start()
    result = fn(q, k, v)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - output_bytes(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-dense-n", type=int, default=4096,
                        help="largest n for implementations that form n x n matrices")
    args = parser.parse_args(argv)
    impls = implementations(args.max_dense_n)
    try:
        import torch

        torch_info = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch_info = "torch not installed"
    print(f"numpy {np.__version__}, {torch_info}, {platform.processor() or platform.machine()}")
    print(f"float32, {BATCH_HEADS} batch x heads, d = {D}; median of {args.repeats} interleaved rounds; "
          "memory = tracemalloc peak minus the output")
    print("timed: sdpa = attn_core.fast_scaled_dot_product_attention, "
          "tiled = attn_core.tiled_attention\n")
    results: dict = {}
    rng = np.random.default_rng(0)
    for n in args.n:
        q, k, v = rng.standard_normal((3, BATCH_HEADS, n, D), dtype=np.float32)
        one_matrix = n * n * 4
        print(f"n = {n} (one n x n float32 matrix: {one_matrix / 2**20:.0f} MiB)")
        fns = {name: fn for name, (fn, max_n) in impls.items() if n <= max_n}
        seconds_of = time_rounds(fns, q, k, v, args.repeats)
        for name, fn in fns.items():
            seconds, memory = seconds_of[name], working_memory(fn, q, k, v)
            results[(name, n)] = (seconds, memory)
            traced = "n/a (torch)" if name.startswith("torch") else (
                f"{memory / 2**20:8.1f} MiB = {100 * memory / one_matrix:6.2f} % of n x n")
            print(f"  {name:<13} {seconds * 1e3:9.1f} ms   {traced}")
        print()
    ratios(results)
    return results


def ratios(results: dict) -> None:
    def r(a, b, n):
        if (a, n) in results and (b, n) in results:
            return results[(a, n)][0] / results[(b, n)][0]
        return None

    print("ratios (time)")
    for label, a, b, n in [
        ("textbook / sdpa at n=2048 (goal >= 3)", "textbook", "sdpa", 2048),
        ("textbook f32 / sdpa at n=2048 (same dtype throughout)", "textbook f32", "sdpa", 2048),
        ("sdpa / torch matmul at n=2048 (goal <= 1)", "sdpa", "torch matmul", 2048),
        ("tiled / torch sdpa at n=4096 (goal <= 2.5)", "tiled", "torch sdpa", 4096),
        ("tiled causal / tiled at n=4096 (goal <= 0.65)", "tiled causal", "tiled", 4096),
        ("tiled causal / tiled at n=8192 (goal <= 0.65)", "tiled causal", "tiled", 8192),
    ]:
        value = r(a, b, n)
        print(f"  {label}: " + ("not measured" if value is None else f"{value:.2f}"))
    if ("tiled", 8192) in results:
        share = results[("tiled", 8192)][1] / (8192 * 8192 * 4)
        print(f"  tiled working memory at n=8192 (goal <= 2 %): {100 * share:.2f} % of one n x n float32 matrix")


if __name__ == "__main__":
    main()
