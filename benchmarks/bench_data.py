"""Time building the embedded synthetic set with its default config (val 30×40 + train 60×32 frames of 128×224).

Budget (issue §2): 30 s on the project's 2-core machine. Median of 3 builds, each into a fresh temporary folder,
after one untimed warm-up that loads the bundled textures (as any process does once). Wall time is what the budget
is about; CPU time is printed too, since on a shared machine the wall time also counts other processes' load.

    .venv/bin/python benchmarks/bench_data.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from vosnb.data import SynthConfig, build_synthetic
from vosnb.data.textures import TEXTURE_SOURCES, load_source

BUDGET_S = 30.0


def time_build(config: SynthConfig) -> tuple[float, float]:
    """(wall, CPU) seconds of one build into a new temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        wall, cpu = time.perf_counter(), time.process_time()
        build_synthetic(Path(folder) / "synthetic", config, progress=False)
        return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = SynthConfig()
    for name in TEXTURE_SOURCES:
        load_source(name)
    runs = [time_build(config) for _ in range(args.repeats)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    frames = config.val_sequences * config.val_length + config.train_sequences * config.train_length
    print(f"⏱ synthetic set ({frames} frames of {config.height}×{config.width}), median of {args.repeats} builds:")
    runs_text = ", ".join(f"{w:.1f}" for w, _ in runs)
    verdict = "within" if wall <= BUDGET_S else "OVER"
    print(f"⏱   wall {wall:.1f} s (runs: {runs_text}), CPU {cpu:.1f} s; budget {BUDGET_S:.0f} s: {verdict}")
    print(f"⏱   load average (1 min) when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
