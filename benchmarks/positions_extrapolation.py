"""Train chapter 9's recall readers with each position encoding; store accuracy beyond the training length.

    OPENBLAS_NUM_THREADS=1 python benchmarks/positions_extrapolation.py

Runs :func:`attn_core.experiments.positions.run_extrapolation` under
:data:`attn_core.experiments.positions.EXTRAPOLATION_CONFIG` (five encodings and two more
ALiBi slopes, eight seeds each: 56 readers, 173 s on one core of a shared machine) and writes
``attn_core/experiments/results/positions.json``: the configuration, the accuracy at every
test length and distance (mean over seeds, and every seed's own), the first seed's trained
weights (for the chapter's explorer), the wall clock and the machine.
Everything is seeded: a rerun gives the same numbers. tests/experiments/test_positions.py
checks that the stored configuration is the code's and that retraining one reader
reproduces its stored numbers.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from attn_core.experiments import positions

COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/positions_extrapolation.py"
OUTPUT = Path(__file__).resolve().parent.parent / "attn_core" / "experiments" / "results" / "positions.json"


def main() -> None:
    start = time.perf_counter()
    results = positions.run_extrapolation()
    results.update(seconds=round(time.perf_counter() - start, 1), command=COMMAND,
                   date=datetime.date.today().isoformat(),
                   machine=f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
                           f"numpy {np.__version__}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} in {results['seconds']} s")
    for encoding, by_length in results["accuracy"].items():
        for length, row in by_length.items():
            cells = " ".join("  .  " if a is None else f"{a:5.2f}" for a in row)
            print(f"{encoding:>10} n={length:>3}: {cells}")


if __name__ == "__main__":
    main()
