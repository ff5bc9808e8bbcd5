"""Per-frame cost of LFU's memory work at the paper's shapes, against every-5 and first-and-latest, and LFU's
bookkeeping relative to its read (nothing here is a unit test).

Shapes (AMM §III, STCN release): Ck = 64, Cv = 512, a 30×54 key grid (480×864 input), 2 objects, capacity 2
frames' worth, top_k 20, writes every k = 5 frames. Two interleaved timings (:func:`vosnb.timing.time_interleaved`,
warm-up, then A B C A B C …):

1. one write period per call (``lfu_views.period_variants``, the code notebook 05 records as AMM-2): every-5 at
   the video position where it holds ``--every5-frames`` frames, LFU, first-and-latest; printed as per-frame
   milliseconds and as FPS ratios LFU / every-5 and LFU / first-and-latest with their interval over rounds;
2. LFU's steps on one bank state (``lfu_views.filled_lfu``): the read (affinity, top-k softmax, readout), the
   index update at every read, and the eviction at every write (each call restores the state first).

Usage: ``python benchmarks/bench_lfu.py [--threads 2] [--repeats 15] [--every5-frames 7] [--device cpu|cuda]``
"""
from __future__ import annotations

import argparse

import torch

from vosnb.analysis import costs
from vosnb.analysis.lfu_views import EVERY5_FRAMES_DAVIS, filled_lfu, period_variants
from vosnb.memory import KeyValueMemory
from vosnb.runtime import resolve_device
from vosnb.timing import time_interleaved

K = 5


def lfu_steps(device: torch.device) -> dict[str, object]:
    """LFU's read, index update and eviction on the same bank state, each restoring it first."""
    bank, restore = filled_lfu(k=K, device=device)
    query = costs.random_frame(1, generator=torch.Generator().manual_seed(1), device=device)[0]
    plain = KeyValueMemory(top_k=bank.top_k)
    plain.keys, plain.value_rows, plain.frame_of = bank.keys, bank.value_rows, bank.frame_of
    weights = plain.match(query)
    incoming = bank.elements_per_frame
    next_write = int(bank.frame_of.max()) + K

    def update() -> None:
        restore()
        bank.update_index(weights)

    def evict() -> None:
        restore()
        bank.evict(next_write, incoming)

    return {"read": lambda: plain.read(query), "index update": update, "eviction": evict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (this project's machines have 2)")
    parser.add_argument("--repeats", type=int, default=15, help="timed interleaved rounds")
    parser.add_argument("--every5-frames", type=int, default=EVERY5_FRAMES_DAVIS,
                        help="frames every-5 holds at the timed video position (AMM Table III: 7 on DAVIS)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    with torch.inference_mode():
        periods = time_interleaved(period_variants(args.every5_frames, k=K, device=device), repeats=args.repeats,
                                   device=device)
        steps = time_interleaved(lfu_steps(device), repeats=args.repeats, device=device)
    print(f"device {device} | Ck {costs.PAPER_KEY_DIM} Cv {costs.PAPER_VALUE_DIM} grid "
          f"{costs.PAPER_GRID[0]}x{costs.PAPER_GRID[1]} objects {costs.PAPER_OBJECTS} | every-5 at "
          f"{args.every5_frames} frames | {periods.describe()}")
    print("ms per frame (one write period / k):")
    print((periods.table() / K).round(2).to_string())
    for other in ("every5", "first_last"):
        ratio = periods.ratio(other, "lfu")
        print(f"FPS lfu / {other}: {ratio.estimate:.2f} [{ratio.low:.2f}, {ratio.high:.2f}] "
              f"({100 * ratio.confidence:.1f}% interval over rounds)")
    print("\nLFU's steps (ms):")
    print(steps.table().round(3).to_string())
    per_frame = steps.median("index update") + steps.median("eviction") / K
    print(f"bookkeeping per frame (update + eviction / {K}) = {100 * per_frame / steps.median('read'):.1f}% of "
          "the read")


if __name__ == "__main__":
    main()
