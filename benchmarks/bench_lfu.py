"""Per-frame cost of the LFU bookkeeping relative to the memory read itself, at the paper's shapes (nothing here is a
unit test).

Shapes (AMM §III, STCN release): Ck = 64, Cv = 512, a 30×54 key grid (480×864 input), 2 objects, capacity 2
frames' worth (3,240 features), top_k 20. Three medians over repeats, each step on the same bank state:

1. read: STCN's top-k read of a plain key–value bank holding the same two frames (affinity, top-k softmax, readout);
2. index update: ``LFUMemory.update_index`` on that read's weights (the top-k counts added to every feature's index),
   which runs at every read, i.e. every frame;
3. eviction: ``LFUMemory.evict`` making room for one frame (scores, one stable sort, compaction of keys and values),
   which runs once per write, i.e. every k = 5 frames.

Per-frame bookkeeping = index update + eviction / k; the script prints it as a fraction of the read.

Usage: ``python benchmarks/bench_lfu.py [--threads 2] [--repeats 30] [--device cpu|cuda]``
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from vosnb.memory import KeyValueMemory
from vosnb.memory.lfu import LFUMemory
from vosnb.runtime import resolve_device, seed_everything, synchronize

CK, CV, GRID, OBJECTS, CAPACITY, TOP_K, K = 64, 512, (30, 54), 2, 2.0, 20, 5
STATE = ("keys", "value_rows", "frame_of", "index", "position")


def median_ms(step: Callable[[], object], device: torch.device, repeats: int, before: Callable[[], None] = lambda: None,
              warmup: int = 3) -> float:
    """Median wall-clock milliseconds of ``step`` (device-synchronised), with ``before`` run untimed each time."""
    times = []
    for i in range(warmup + repeats):
        before()
        synchronize(device)
        tic = time.perf_counter()
        step()
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - tic)
    return 1000 * statistics.median(times)


def filled_banks(device: torch.device) -> tuple[KeyValueMemory, LFUMemory, torch.Tensor]:
    """A plain bank and an LFU bank holding the same two frames (written at 0 and 5, LFU indices from 9 reads),
    and a query key; the LFU bank is full, so the next write evicts one frame's worth."""
    h, w = GRID
    plain = KeyValueMemory(top_k=TOP_K)
    lfu = LFUMemory(top_k=TOP_K, k=K, capacity=CAPACITY)
    for t in (0, K):
        key, values = torch.randn(CK, h, w, device=device), torch.randn(OBJECTS, CV, h, w, device=device)
        plain.append(t, key, values)
        lfu.write(t, key, values, None)
    for _ in range(2 * K - 1):
        lfu.read(torch.randn(CK, h, w, device=device))
    return plain, lfu, torch.randn(CK, h, w, device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (this project's machines have 2)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(0)
    device = resolve_device(args.device)
    plain, lfu, query = filled_banks(device)
    held = lfu.num_elements
    saved = {name: getattr(lfu, name) for name in STATE}

    def restore() -> None:
        for name, value in saved.items():
            setattr(lfu, name, value)

    with torch.inference_mode():
        weights = plain.match(query)
        read = median_ms(lambda: plain.read(query), device, args.repeats)
        update = median_ms(lambda: lfu.update_index(weights), device, args.repeats)
        evict = median_ms(lambda: lfu.evict(2 * K, GRID[0] * GRID[1]), device, args.repeats, before=restore)
    per_frame = update + evict / K
    print(f"device {device} | threads {torch.get_num_threads()} | Ck {CK} Cv {CV} grid {GRID[0]}x{GRID[1]} "
          f"objects {OBJECTS} | memory {held} features ({CAPACITY:g} frames) | top_k {TOP_K} | "
          f"median of {args.repeats}")
    print(f"read (affinity + top-k softmax + readout)   {read:8.3f} ms")
    print(f"index update                                {update:8.3f} ms per frame")
    print(f"eviction of one frame's worth               {evict:8.3f} ms per write (every {K} frames)")
    print(f"bookkeeping per frame (update + evict/{K})    {per_frame:8.3f} ms = {100 * per_frame / read:.1f}% of the read")


if __name__ == "__main__":
    main()
