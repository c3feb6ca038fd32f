"""Train the readers of chapter 12 (what attention buys) and store their curves and weights.

    OPENBLAS_NUM_THREADS=1 python benchmarks/recall_baselines.py [--quick OUTPUT_DIR]

One command makes every stored number of the chapter, under the protocol of
:data:`attn_core.experiments.what_attention_buys.CONFIG`:

1. for each reader, a short run per learning rate of the grid, judged on a validation set;
2. each reader trained for the same number of steps at its pick, on fresh examples, with
   clipping, evaluated on the one fixed test set (curves, accuracy by distance, wall clock);
3. the query-first control of the recurrent readers, at their picks, and the extra runs of
   ``CONFIG["extra_runs"]`` (a reader at a second learning rate);
4. the pooling readers and attention at several numbers of pairs (a shorter budget).

Everything is seeded, so a rerun on any machine gives the same curves (the wall-clock times
differ). It writes ``attn_core/experiments/results/what_attention_buys.json`` (configuration,
machine, date, wall clock, grid, curves, sweep) and ``what_attention_buys_params.npz`` (the
trained weights of the five main runs, which the chapter probes). ``--quick DIR`` runs a tiny version into DIR, to
check the pipeline in seconds (its configuration is not the chapter's).
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

from attn_core.experiments import what_attention_buys as buys

COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/recall_baselines.py"
RESULTS = Path(__file__).resolve().parent.parent / "attn_core" / "experiments" / "results"


def machine() -> str:
    """CPU model, cores, Python and numpy versions: enough to put the wall-clock times in context."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores (1 BLAS thread used), {platform.system()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def main(output: Path, quick: bool = False) -> None:
    config = buys.CONFIG
    if quick:  # a smoke test of the pipeline: tiny budgets, written elsewhere
        config.update(steps=60, eval_at=[20, 40, 60], grid={"learning_rates": [0.003, 0.01], "steps": 20},
                      pairs_sweep={"n_pairs": [4, 8], "readers": ["mean pooling"], "steps": 20},
                      extra_runs=[{"reader": "gru", "lr": 0.01}])
    start = time.perf_counter()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{stamp}  {machine()}", flush=True)
    results = {"config": config, "command": COMMAND, "machine": machine(), "date": stamp,
               "grid": {}, "learning_rate": {}, "runs": {}, "sweep": {}}
    for name in config["readers"]:
        best, scores = buys.tune_learning_rate(name)
        results["grid"][name] = {repr(rate): list(score) for rate, score in scores.items()}
        results["learning_rate"][name] = best
        print(f"grid  {name:<13}" + "  ".join(f"lr {rate:g}: {acc:.3f}" for rate, (acc, _) in scores.items())
              + f"  -> {best:g}   [{time.perf_counter() - start:.0f} s]", flush=True)
    params = {}
    runs = [(name, False) for name in config["readers"]] + [(name, True) for name in config["query_first"]]
    for name, query_first in runs:
        model, record = buys.run_reader(name, lr=results["learning_rate"][name], query_first=query_first)
        key = buys.run_name(name, query_first)
        results["runs"][key] = record
        if not query_first:  # the weights the chapter probes (the controls' curves suffice)
            params.update({f"{key}/{p}": value for p, value in model.params.items()})
        print(f"run   {key:<19} test {record['test_accuracy'][-1]:.3f}  {record['seconds']:.0f} s  "
              f"[{time.perf_counter() - start:.0f} s]", flush=True)
    for extra in config["extra_runs"]:  # a second learning rate where the grid's pick was within noise
        _, record = buys.run_reader(extra["reader"], lr=extra["lr"])
        key = f"{extra['reader']}, lr {extra['lr']:g}"
        results["runs"][key] = record
        print(f"run   {key:<19} test {record['test_accuracy'][-1]:.3f}  {record['seconds']:.0f} s  "
              f"[{time.perf_counter() - start:.0f} s]", flush=True)
    sweep = config["pairs_sweep"]
    for name in sweep["readers"]:
        results["sweep"][name] = {}
        for n_pairs in sweep["n_pairs"]:
            _, record = buys.run_reader(name, lr=results["learning_rate"][name], steps=sweep["steps"],
                                        eval_at=[sweep["steps"]], n_pairs=n_pairs)
            bound = buys.accuracy_without_pairing(buys.recall_test_set(n_pairs))
            results["sweep"][name][str(n_pairs)] = {"test_accuracy": record["test_accuracy"][-1],
                                                   "bound": bound, "seconds": record["seconds"]}
            print(f"sweep {name:<13} L = {n_pairs:<3} test {record['test_accuracy'][-1]:.3f} "
                  f"(bound {bound:.3f})  [{time.perf_counter() - start:.0f} s]", flush=True)
    results["wall_clock_seconds"] = time.perf_counter() - start
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "what_attention_buys.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
        handle.write("\n")
    np.savez_compressed(output / "what_attention_buys_params.npz", **params)
    print(f"wrote {output}; wall clock {results['wall_clock_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--quick":
        main(Path(sys.argv[2]), quick=True)
    elif len(sys.argv) == 1:
        main(RESULTS)
    else:
        sys.exit(__doc__)
