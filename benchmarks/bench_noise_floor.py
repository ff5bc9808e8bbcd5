"""The timing harness's noise floor on this machine: A/A comparisons at the paper's shapes, each in a fresh process.

Each strategy of the memory zoo is built twice, identically (same seed, same video position: where every-5 holds
``--frames`` frames), as copies "A" and "B" in separate allocations, and their memory work per frame (one read plus
one period's writes, :func:`vosnb.analysis.zoo_views.paper_shape_calls`) is timed against each other exactly as the
notebooks time a comparison (:func:`vosnb.timing.time_interleaved`: warm-up, ``--repeats`` shuffled rounds, one
thread). The true change B / A − 1 is zero, so every interval end is noise. A single process's interval does not show
the variation between processes (what a re-run of a notebook meets), so the comparison runs in ``--processes``
fresh processes one after another, and the table gives per strategy the interval ends over all of them.

What it answers: how far from zero a timing's 95% interval reaches when nothing differs. The claims' timing band
(``vosnb.claims.TIMING_RESOLUTION``) must be at least that wide, or a re-run moves verdicts without cause.

Usage: ``python benchmarks/bench_noise_floor.py [--processes 6] [--repeats 15] [--frames 10] [--threads 1]``
(about 40 s per process on this 2-core machine; run it alone).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pandas as pd
import torch
from tqdm.auto import tqdm

from vosnb.analysis import zoo_views
from vosnb.timing import TIMING_ROUNDS, time_interleaved

# the bounded strategies, and every-5 (a copy at the same T is an A/A comparison for it too)
COMPARED = tuple(name for name in zoo_views.STRATEGIES if name not in zoo_views.GROWING) + ("every-5",)


def one_process(frames: int, repeats: int, seed: int) -> dict[str, list[float]]:
    """Every strategy's A/A change in this process: name → [estimate, low, high]."""
    calls = {}
    for name in COMPARED:
        for copy in ("A", "B"):
            parts, _ = zoo_views.paper_shape_calls(name, frames, seed=seed)
            calls.update({(name, copy, part): call for part, call in parts.items()})
    timing = time_interleaved(calls, repeats=repeats, warmup=1, seed=seed)
    changes = {name: zoo_views.paper_shape_change(timing, name, "A", "B") for name in COMPARED}
    return {name: [c.estimate, c.low, c.high] for name, c in changes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=6, help="fresh processes, run one after another")
    parser.add_argument("--repeats", type=int, default=TIMING_ROUNDS["ci"], help="timed rounds per process")
    parser.add_argument("--frames", type=int, default=10, help="frames every-5 holds at the timed video position")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the ci profile runs one)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child is not None:
        print(json.dumps(one_process(args.frames, args.repeats, seed=args.child)))
        return
    rows = []
    for process in tqdm(range(args.processes), desc="processes"):
        command = [sys.executable, __file__, "--child", str(process), "--repeats", str(args.repeats),
                   "--frames", str(args.frames), "--threads", str(args.threads)]
        out = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        rows += [{"strategy": name, "process": process, "estimate": e, "low": lo, "high": hi}
                 for name, (e, lo, hi) in out.items()]
    table = pd.DataFrame(rows)
    table["reach"] = table[["low", "high"]].abs().max(axis=1)
    summary = table.groupby("strategy", sort=False).agg(
        estimates_min=("estimate", "min"), estimates_max=("estimate", "max"), lowest_low=("low", "min"),
        highest_high=("high", "max"), largest_reach=("reach", "max"))
    print(f"A/A at the paper's shapes, every-5 at {args.frames} frames, {args.repeats} shuffled rounds, "
          f"{args.threads} thread(s), {args.processes} processes (B / A - 1; true value 0)")
    print((100 * summary).round(1).to_string(float_format=lambda v: f"{v:+.1f}%"))
    print(f"largest reach of a 95% interval from 0: {100 * table['reach'].max():.1f}% "
          f"(median over strategies and processes {100 * table['reach'].median():.1f}%)")


if __name__ == "__main__":
    main()
