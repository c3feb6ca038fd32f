"""Chapter 14's stored runs: the needle grid with each RoPE rescaling, and the trained sink readers.

    OPENBLAS_NUM_THREADS=1 python benchmarks/long_context.py [--part needle|sinks]

Runs :func:`attn_core.experiments.long_context.run_needle` under
:data:`attn_core.experiments.long_context.NEEDLE_CONFIG`: retrains chapter 9's RoPE reader
(:func:`attn_core.experiments.positions.train_recall_reader`, 32 training tokens, seeds 1 to 8;
seed 1 is bit for bit the reader chapter 9 stores), then scores every seed on haystacks of
32 to 1,024 tokens with the needle at seven depths, as trained and with position
interpolation, the NTK-aware base and YaRN (no fine-tuning). Writes
``attn_core/experiments/results/long_context.json``: the configuration, every seed's accuracy
on every cell, the wall clock and the machine. Everything is seeded: a rerun gives the same
numbers. tests/experiments/test_long_context.py checks that the stored configuration is the
code's and that rescoring seed 1 reproduces its stored numbers.

Then :func:`attn_core.experiments.long_context.run_sinks` under
:data:`attn_core.experiments.long_context.SINK_CONFIG`: eight
:class:`~attn_core.experiments.long_context.ResidualRecallReader` (seeds 1 to 8, trained on 32
tokens of :func:`~attn_core.experiments.long_context.optional_needles`, where half the
haystacks have no needle; 2,400 steps), each measured on 256-token haystacks whole, whole
without the first token ``<s>``, with windows of 4 and 16 tokens, and with each window and
``<s>`` (:func:`~attn_core.experiments.long_context.sink_eviction`), and at the training length.
Writes ``attn_core/experiments/results/long_context_sinks.json``. Both parts together take
about two and a half minutes on one core; ``--part`` runs one of them.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from attn_core.experiments import long_context

COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/long_context.py"
RESULTS = Path(__file__).resolve().parent.parent / "attn_core" / "experiments" / "results"
OUTPUT = RESULTS / "long_context.json"
SINKS_OUTPUT = RESULTS / "long_context_sinks.json"


def _stamp(results: dict, start: float) -> dict:
    results.update(seconds=round(time.perf_counter() - start, 1), command=COMMAND,
                   date=datetime.date.today().isoformat(),
                   machine=f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
                           f"numpy {np.__version__}")
    return results


def sinks() -> None:
    start = time.perf_counter()
    results = _stamp(long_context.run_sinks(), start)
    SINKS_OUTPUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SINKS_OUTPUT} in {results['seconds']} s")
    for seed, run in zip(results["config"]["seeds"], results["runs"]):
        cells = "  ".join(f"{name}: {acc['no needle']:.3f}/{acc['needle']:.3f}" for name, acc in run["accuracy"].items())
        short = run["train_length"]
        print(f"seed {seed}: weight on <s> {run['first_weight']['no needle']:.3f}"
              f" ({short['first_weight']['no needle']:.3f} at the training length); {cells};"
              f" needles at the training length {short['accuracy']['needle']:.3f}")


def main() -> None:
    part = sys.argv[sys.argv.index("--part") + 1] if "--part" in sys.argv else "both"
    if part in ("both", "sinks"):
        sinks()
    if part == "sinks":
        return
    start = time.perf_counter()
    results = long_context.run_needle()
    results.update(seconds=round(time.perf_counter() - start, 1), command=COMMAND,
                   date=datetime.date.today().isoformat(),
                   machine=f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
                           f"numpy {np.__version__}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} in {results['seconds']} s")
    config = results["config"]
    for method, by_seed in results["accuracy"].items():
        median = np.median(np.array(by_seed), axis=0)  # (lengths, depths)
        for n, row in zip(config["lengths"], median):
            print(f"{method:>13} n={n:>4}: " + " ".join(f"{a:5.2f}" for a in row))


if __name__ == "__main__":
    main()
