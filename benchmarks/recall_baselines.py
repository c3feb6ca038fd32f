"""Train the readers of chapter 12 (what attention buys) and store their curves and weights.

    OPENBLAS_NUM_THREADS=1 python benchmarks/recall_baselines.py [--quick OUTPUT_DIR]

One command makes every stored number of the chapter, under the protocol of
:data:`attn_core.experiments.what_attention_buys.CONFIG`:

1. every reader of ``CONFIG["full_grid"]`` (all five) trained at every learning rate for the
   whole budget; its pick is the rate with the lowest validation loss at the end (a reader in
   ``CONFIG["short_grid"]`` would be tuned on short runs instead; none is);
2. the query-first control of the recurrent readers, at their picks, for the whole budget,
   and the recurrent readers at their picks with the other seeds of ``CONFIG["seeds"]``;
3. the pooling readers and attention at several numbers of pairs (the key vocabulary fixed),
   every rate, the pick per number of pairs by validation loss;
4. recall by content (``CONFIG["by_content"]``) at the picks, a shorter budget.

The work falls into two parts of about the same cost, ``A`` (the pooling readers, the sweep,
Deep Sets by content) and ``B`` (the recurrent readers, attention, seeds, the rest by
content); without arguments the command runs them one after the other, then merges. To use
two cores, run the parts in two processes and merge::

    python benchmarks/recall_baselines.py --part A &   python benchmarks/recall_baselines.py --part B
    python benchmarks/recall_baselines.py --merge

Everything is seeded, so a rerun on any machine gives the same curves (the wall-clock times
differ). It writes ``attn_core/experiments/results/what_attention_buys.json`` (configuration,
machine, date, wall clock, grids, curves, sweep) and ``what_attention_buys_params.npz`` (the
trained weights of the five main runs, which the chapter probes). ``--quick DIR`` runs a tiny
version into DIR, to check the pipeline in seconds (its configuration is not the chapter's).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from attn_core.experiments import what_attention_buys as buys

COMMAND = "OPENBLAS_NUM_THREADS=1 python benchmarks/recall_baselines.py"
RESULTS = Path(__file__).resolve().parent.parent / "attn_core" / "experiments" / "results"
PARTIAL = Path(tempfile.gettempdir()) / "recall_baselines_parts"


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
    return (f"{cpu}, {os.cpu_count()} cores (1 BLAS thread per process), {platform.system()}, "
            f"Python {platform.python_version()}, numpy {np.__version__}")


def quick_config() -> None:
    """A smoke test of the pipeline: tiny budgets (written elsewhere than the package)."""
    buys.CONFIG.update(steps=60, eval_at=[20, 40, 60], learning_rates=[0.003, 0.01],
                       full_grid=["attention", "elman", "mean pooling", "deep sets"],
                       short_grid={"readers": ["gru"], "steps": 20},
                       pairs_sweep={"n_pairs": [4, 8, 16], "readers": ["mean pooling"], "steps": 40,
                                    "eval_at": [20, 40]},
                       seeds={"readers": ["elman"], "seeds": [1]},
                       by_content={"readers": ["attention", "deep sets"], "steps": 20, "eval_at": [20]})


def _log(start: float, text: str) -> None:
    print(f"{text}   [{time.perf_counter() - start:.0f} s]", flush=True)


def _full_grid(name: str, part: dict, params: dict, start: float) -> float:
    """Every rate for the whole budget; returns the pick (lowest validation loss at the end)."""
    records = {}
    for rate in buys.CONFIG["learning_rates"]:
        model, records[rate] = buys.run_reader(name, lr=rate)
        params.update({f"{name}|{rate!r}/{p}": value for p, value in model.params.items()})
        _log(start, f"rate  {name:<13} lr {rate:<6g} test {records[rate]['test_accuracy'][-1]:.3f}  "
                    f"validation loss {records[rate]['validation_loss'][-1]:.3f}  {records[rate]['seconds']:.0f} s")
    part["rate_runs"][name] = {repr(rate): record for rate, record in records.items()}
    return buys.pick_by_validation(records)


def _short_grid(name: str, part: dict, params: dict, start: float) -> float:
    """One short run per rate, the pick by validation loss, then the whole budget at the pick."""
    best, scores = buys.tune_learning_rate(name)
    part["grid"][name] = {repr(rate): list(score) for rate, score in scores.items()}
    _log(start, f"grid  {name:<13}" + "  ".join(f"lr {r:g}: loss {loss:.3f} acc {acc:.3f}"
                                                for r, (acc, loss) in scores.items()) + f"  -> {best:g}")
    model, record = buys.run_reader(name, lr=best)
    params.update({f"{name}|{best!r}/{p}": value for p, value in model.params.items()})
    part["rate_runs"][name] = {repr(best): record}
    _log(start, f"run   {name:<13} lr {best:<6g} test {record['test_accuracy'][-1]:.3f}  {record['seconds']:.0f} s")
    return best


def _query_first(name: str, rate: float, part: dict, start: float) -> None:
    _, record = buys.run_reader(name, lr=rate, query_first=True)
    part["query_first"][name] = record
    _log(start, f"run   {buys.run_name(name, True):<19} test {record['test_accuracy'][-1]:.3f}  "
                f"{record['seconds']:.0f} s")


def _seeds(name: str, rate: float, part: dict, start: float) -> None:
    part["seeds"][name] = {}
    for seed in buys.CONFIG["seeds"]["seeds"]:
        _, record = buys.run_reader(name, lr=rate, seed=seed)
        part["seeds"][name][str(seed)] = record
        _log(start, f"seed  {name:<13} seed {seed}  test {record['test_accuracy'][-1]:.3f}  {record['seconds']:.0f} s")


def _by_content(name: str, rate: float, part: dict, start: float) -> None:
    content = buys.CONFIG["by_content"]
    _, record = buys.run_reader(name, lr=rate, steps=content["steps"], eval_at=content["eval_at"], by_content=True)
    part["by_content"][name] = record
    _log(start, f"content {name:<13} test {record['test_accuracy'][-1]:.3f}  {record['seconds']:.0f} s")


def _recurrent(name: str, part: dict, params: dict, start: float) -> float:
    """A recurrent reader: its grid, the query-first control and the other seeds at the pick."""
    grid = _short_grid if name in buys.CONFIG["short_grid"]["readers"] else _full_grid
    pick = grid(name, part, params, start)
    _query_first(name, pick, part, start)
    return pick


def _sweep(name: str, part: dict, start: float) -> None:
    sweep = buys.CONFIG["pairs_sweep"]
    part["sweep"][name] = {}
    for n_pairs in sweep["n_pairs"]:
        if n_pairs == buys.CONFIG["task"]["n_pairs"]:
            continue  # read off the main runs at the sweep's step
        by_rate = {}
        for rate in buys.CONFIG["learning_rates"]:
            _, record = buys.run_reader(name, lr=rate, steps=sweep["steps"], eval_at=sweep["eval_at"],
                                        n_pairs=n_pairs)
            by_rate[repr(rate)] = {key: record[key] for key in
                                   ("steps", "test_accuracy", "validation_loss", "validation_accuracy",
                                    "seconds", "lr")}
            _log(start, f"sweep {name:<13} L = {n_pairs:<3} lr {rate:<6g} test {record['test_accuracy'][-1]:.3f}")
        part["sweep"][name][str(n_pairs)] = by_rate


def _part_a(part: dict, params: dict, start: float) -> None:
    """The pooling readers: their grids, the sweep over the number of pairs, Deep Sets by content."""
    picks = {name: _full_grid(name, part, params, start) for name in ("deep sets", "mean pooling")}
    for name in buys.CONFIG["pairs_sweep"]["readers"]:
        _sweep(name, part, start)
    if "deep sets" in buys.CONFIG["by_content"]["readers"]:
        _by_content("deep sets", picks["deep sets"], part, start)


def _part_b(part: dict, params: dict, start: float) -> None:
    """The recurrent readers (grids, controls, seeds) and attention; by content at the picks."""
    picks = {name: _recurrent(name, part, params, start) for name in ("gru", "elman")}
    picks["attention"] = _full_grid("attention", part, params, start)
    for name in buys.CONFIG["seeds"]["readers"]:
        _seeds(name, picks[name], part, start)
    for name in buys.CONFIG["by_content"]["readers"]:
        if name != "deep sets":
            _by_content(name, picks[name], part, start)


#: Two parts of about the same cost (about 35 minutes each on one core of the stored machine).
PARTS = {"A": _part_a, "B": _part_b}


def run_part(name: str, directory: Path) -> None:
    """Run one part and write its partial results (JSON and weights) into ``directory``."""
    start = time.perf_counter()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"part {name}: {stamp}  {machine()}", flush=True)
    part = {"config": buys.CONFIG, "date": stamp, "grid": {}, "rate_runs": {}, "query_first": {}, "sweep": {},
            "seeds": {}, "by_content": {}}
    params: dict = {}
    PARTS[name](part, params, start)
    part["seconds"] = time.perf_counter() - start
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"part_{name}.json", "w", encoding="utf-8") as handle:
        json.dump(part, handle)
    np.savez_compressed(directory / f"part_{name}_params.npz", **params)
    _log(start, f"part {name} written to {directory}")


def merge(directory: Path, output: Path, parallel: bool) -> None:
    """Combine the parts into the stored results: picks, main runs, controls, sweep, weights."""
    parts, params = {}, {}
    for name in PARTS:
        with open(directory / f"part_{name}.json", encoding="utf-8") as handle:
            parts[name] = json.load(handle)
        if parts[name]["config"] != buys.CONFIG:
            raise ValueError(f"part {name} was made with another configuration; rerun it")
        with np.load(directory / f"part_{name}_params.npz") as stored:
            params.update({key: stored[key] for key in stored.files})
    config = buys.CONFIG
    results = {"config": config, "command": COMMAND, "machine": machine(),
               "date": min(part["date"] for part in parts.values()),
               "part_seconds": {name: part["seconds"] for name, part in parts.items()},
               "wall_clock_seconds": (max if parallel else sum)(part["seconds"] for part in parts.values()),
               "parts_in_parallel": parallel,
               "grid": {}, "learning_rate": {}, "rate_runs": {}, "runs": {}, "sweep": {}, "seeds": {},
               "by_content": {}}
    for part in parts.values():
        for key in ("grid", "rate_runs", "seeds", "by_content"):
            results[key].update(part[key])
    results["by_content_bound"] = buys.accuracy_without_pairing(buys.recall_test_set(by_content=True))
    stored_params = {}
    for name in config["readers"]:
        records = {float(rate): record for rate, record in results["rate_runs"][name].items()}
        pick = buys.pick_by_validation(records)
        results["learning_rate"][name] = pick
        results["runs"][name] = records[pick]
        prefix = f"{name}|{pick!r}/"
        stored_params.update({f"{name}/{key[len(prefix):]}": value for key, value in params.items()
                              if key.startswith(prefix)})
    for part in parts.values():
        for name, record in part["query_first"].items():
            results["runs"][buys.run_name(name, True)] = record
    sweep = config["pairs_sweep"]
    for part in parts.values():
        for name, by_pairs in part["sweep"].items():
            results["sweep"][name] = {}
            for n_pairs in sweep["n_pairs"]:
                if str(n_pairs) in by_pairs:
                    by_rate = by_pairs[str(n_pairs)]
                else:  # the main task: the main runs up to the sweep's last step
                    by_rate = {}
                    for rate, record in results["rate_runs"][name].items():
                        last = record["steps"].index(sweep["steps"]) + 1
                        by_rate[rate] = {"lr": record["lr"], **{key: record[key][:last] for key in (
                            "steps", "test_accuracy", "validation_loss", "validation_accuracy")}}
                pick = buys.pick_by_validation({float(rate): record for rate, record in by_rate.items()})
                results["sweep"][name][str(n_pairs)] = {
                    "learning_rate": pick,
                    "steps": by_rate[repr(pick)]["steps"],
                    "curve": by_rate[repr(pick)]["test_accuracy"],
                    "test_accuracy": by_rate[repr(pick)]["test_accuracy"][-1],
                    "by_rate": {rate: record["test_accuracy"][-1] for rate, record in by_rate.items()},
                    "bound": buys.accuracy_without_pairing(buys.recall_test_set(n_pairs)),
                }
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "what_attention_buys.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
        handle.write("\n")
    np.savez_compressed(output / "what_attention_buys_params.npz", **stored_params)
    print(f"wrote {output}; parts {', '.join(f'{k}: {v:.0f} s' for k, v in results['part_seconds'].items())}",
          flush=True)


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "--quick":
        quick_config()
        directory = Path(argv[1])
        for name in PARTS:
            run_part(name, directory / "parts")
        merge(directory / "parts", directory, parallel=False)
    elif len(argv) == 2 and argv[0] == "--part" and argv[1] in PARTS:
        run_part(argv[1], PARTIAL)
    elif argv == ["--merge"]:
        merge(PARTIAL, RESULTS, parallel=True)
    elif not argv:
        for name in PARTS:
            run_part(name, PARTIAL)
        merge(PARTIAL, RESULTS, parallel=False)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
