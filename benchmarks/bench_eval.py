"""Speed budget of `vosnb eval`: scoring a DAVIS-2017-val-sized data set must take at most 60 s (median of 3).

The data set is synthetic and built in a temporary folder before any clock starts: 30 sequences of 70 frames at
480x854 (DAVIS 2017 val: 30 sequences, 1999 frames, 61 objects), 1-3 smooth random blobs per sequence drifting over
time as ground truth, and shifted, eroded, dilated or dropped copies as predictions, all written as palette PNGs.
Only `vosnb.metrics.evaluate` (PNG reading included) is timed. The verdict is on the median wall-clock time (exit
status 1 over budget); the CPU seconds of the parent and its workers are reported beside it, because on a shared
machine the wall clock also measures the other tenants.

    python benchmarks/bench_eval.py [--sequences 30] [--frames 70] [--repeats 3] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vosnb.metrics import evaluate

BUDGET_S = 60.0
HEIGHT, WIDTH = 480, 854
PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [255] * (768 - 12)


def _blob(rng: np.random.Generator) -> np.ndarray:
    """A smooth random shape covering 5-20 % of the frame: upsampled blurred noise, thresholded."""
    coarse = cv2.GaussianBlur(rng.random((HEIGHT // 8, WIDTH // 8)).astype(np.float32), (0, 0), 4)
    field = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    return field > np.quantile(field, rng.uniform(0.80, 0.95))


def _shift(mask: np.ndarray, dy: float, dx: float) -> np.ndarray:
    moved = cv2.warpAffine(mask.astype(np.uint8), np.float32([[1, 0, dx], [0, 1, dy]]), (WIDTH, HEIGHT),
                           flags=cv2.INTER_NEAREST, borderValue=0)
    return moved.astype(bool)


def _perturb(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    op = rng.integers(0, 5)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    if op == 0:
        return _shift(mask, *rng.integers(-6, 7, 2))
    if op == 1:
        return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    if op == 2:
        return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    if op == 3 and rng.random() < 0.2:
        return np.zeros_like(mask)
    return mask


def _save(path: Path, ids: np.ndarray) -> None:
    img = Image.fromarray(ids)
    img.putpalette(PALETTE)
    img.save(path)


def build(root: Path, sequences: int, frames: int, seed: int = 0) -> int:
    """Write gt/ and pred/ under `root`; return the number of objects."""
    rng = np.random.default_rng(seed)
    total = 0
    for s in range(sequences):
        name = f"seq{s:02d}"
        (root / "gt" / name).mkdir(parents=True)
        (root / "pred" / name).mkdir(parents=True)
        objects = int(rng.integers(1, 4))
        total += objects
        shapes = [_blob(rng) for _ in range(objects)]
        velocities = rng.uniform(-2.0, 2.0, size=(objects, 2))
        for t in range(frames):
            gt = np.zeros((HEIGHT, WIDTH), np.uint8)
            pred = np.zeros_like(gt)
            for k, (shape, (vy, vx)) in enumerate(zip(shapes, velocities), start=1):
                m = _shift(shape, vy * t, vx * t)
                gt[m] = k
                pred[_perturb(m, rng)] = k
            _save(root / "gt" / name / f"{t:05d}.png", gt)
            _save(root / "pred" / name / f"{t:05d}.png", pred)
    return total


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the evaluation workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=30)
    parser.add_argument("--frames", type=int, default=70)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vosnb-bench-eval-") as tmp:
        root = Path(tmp)
        objects = build(root, args.sequences, args.frames)
        times, cpu = [], []
        for _ in range(args.repeats):
            cpu_start = _cpu_seconds()
            start = time.perf_counter()
            df = evaluate(root / "gt", root / "pred", workers=args.workers)
            times.append(time.perf_counter() - start)
            cpu.append(_cpu_seconds() - cpu_start)
        if len(df) != objects:
            raise RuntimeError(f"scored {len(df)} objects, expected {objects}")
    median = statistics.median(times)
    verdict = "PASS" if median <= BUDGET_S else "FAIL"
    print(json.dumps({"benchmark": "eval", "sequences": args.sequences, "frames": args.frames,
                      "size": f"{HEIGHT}x{WIDTH}", "objects": objects, "workers": args.workers,
                      "cpus": os.cpu_count(), "times_s": [round(t, 2) for t in times],
                      "cpu_s": [round(c, 2) for c in cpu], "load_avg_1min": round(os.getloadavg()[0], 1),
                      "median_s": round(median, 2), "budget_s": BUDGET_S, "verdict": verdict}))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
