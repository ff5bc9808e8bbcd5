"""Speed of SWEM's memory on CPU at the paper's shapes: median milliseconds of one write and one read per frame.

Shapes (SWEM §5, ALGORITHMS.md): L = 128 bases per class, Ck = 128 (SWEM) or 64 (STCN), Cv = 512, a 480×864 frame
(30×54 key grid), 1–3 objects, 4 EM iterations with adaptive weights, τ = 0.05. The bank is in its steady state
(``first`` and ``update`` both written: 512 bases per object) before timing. Only the memory is timed (no
encoders, no decoder): a write is the weighted EM over one frame, a read the cosine readout of one query frame.
Both the wall clock and the process CPU time are printed (``bench_models.median_ms``, :mod:`vosnb.timing`): on a
shared machine the wall clock also counts waiting for a core. Notebook 03 records SWEM-7 from
``swem_views.length_variants`` (one write and one read per frame at ×1 and ×20 of a video length).

Usage: ``python benchmarks/bench_swem.py [--threads 2] [--repeats 20]``
"""
from __future__ import annotations

import argparse

import torch

from bench_models import median_ms
from vosnb.analysis.costs import random_masks
from vosnb.memory.swem import SWEMMemory
from vosnb.runtime import seed_everything

HEIGHT, WIDTH, STRIDE = 480, 864, 16
VALUE_DIM = 512


@torch.inference_mode()
def time_bank(key_dim: int, objects: int, repeats: int,
              generator: torch.Generator) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) ms of a write and of a read, for a steady-state bank with ``objects`` objects."""
    h, w = HEIGHT // STRIDE, WIDTH // STRIDE
    key = torch.randn(key_dim, h, w, generator=generator)
    values = torch.randn(objects, VALUE_DIM, h, w, generator=generator)
    probs = random_masks(objects, HEIGHT, WIDTH, generator=generator) * 0.9
    bank = SWEMMemory()
    bank.write(0, key, values, probs)
    bank.write(1, key, values, probs)
    assert bank.features_per_object == 512
    frame = iter(range(2, 10**9))
    write = median_ms(lambda: bank.write(next(frame), key, values, probs), repeats)
    read = median_ms(lambda: bank.read(key), repeats)
    return write, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = seed_everything(0)
    print(f"SWEM memory at {HEIGHT}x{WIDTH} (grid {HEIGHT // STRIDE}x{WIDTH // STRIDE}), L=128, Cv={VALUE_DIM}, "
          f"4 EM iterations, adaptive weights, {args.threads} threads, median of {args.repeats} "
          f"(wall clock / process CPU time, ms)")
    print(f"{'Ck':>4} {'objects':>7} {'write':>15} {'read':>15} {'write + read':>15}")
    for key_dim in (128, 64):
        for objects in (1, 2, 3):
            (write_wall, write_cpu), (read_wall, read_cpu) = time_bank(key_dim, objects, args.repeats, generator)
            cells = [(write_wall, write_cpu), (read_wall, read_cpu), (write_wall + read_wall, write_cpu + read_cpu)]
            print(f"{key_dim:>4} {objects:>7} " + " ".join(f"{f'{a:.1f} / {b:.1f}':>15}" for a, b in cells))


if __name__ == "__main__":
    main()
