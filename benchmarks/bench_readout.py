"""The L2 top-k memory read at STCN's paper shapes: median milliseconds against the naive form and the floor.

Shapes (STCN §3.2, Table 2): T = 10 memory frames of 30 × 54 (480×864 at stride 16: M = 16,200 memory and
Q = 1,620 query elements), Ck = 64, Cv = 512, top-k with k = 20, 1–5 objects sharing one affinity.

- ``efficient``: :meth:`vosnb.memory.KeyValueMemory.read`: the affinity ``2 k·q − ‖k‖²`` (Eq. 5), the top-k softmax
  and one readout ``v^M W`` (Eq. 2) for all objects;
- ``naive``: the same read with the affinity ``−‖k − q‖²`` materialised as Eq. 4 is written (a ``Ck × M × Q``
  difference, here in chunks of query elements so that it fits in memory);
- ``floor``: the FLOPs of the read's matrix products (affinity and readout, :mod:`vosnb.analysis.costs`) divided by
  the machine's measured matrix-product rate: no implementation of this read can be faster on this machine.

A breakdown of the efficient read (affinity, top-k softmax, full softmax, readout per object) follows the table.
Nothing here is a unit test. Usage::

    python benchmarks/bench_readout.py [--objects 1 2 3 4 5] [--repeats 5] [--naive-repeats 3] [--device auto]
                                       [--threads N] [--chunk 128]
"""
from __future__ import annotations

import argparse

import pandas as pd
import torch

from vosnb.analysis.costs import affinity_flops, matching_banks, matmul_rate, readout_flops, time_callable
from vosnb.memory import KeyValueMemory, readout, similarity, softmax_weights
from vosnb.runtime import resolve_device

FRAMES, HEIGHT, WIDTH, KEY_DIM, VALUE_DIM, TOP_K = 10, 30, 54, 64, 512, 20


def naive_read(bank: KeyValueMemory, query_key: torch.Tensor, chunk: int) -> torch.Tensor:
    """The bank's read with the L2 affinity computed as ``−‖k − q‖²`` (Eq. 4), ``chunk`` query elements at a time."""
    keys = bank.keys.unsqueeze(0)
    q = query_key.flatten(1).unsqueeze(0)
    affinity = torch.cat([similarity(keys, q[:, :, i: i + chunk], "l2", naive=True)
                          for i in range(0, q.shape[2], chunk)], dim=2)
    return readout(bank.values.unsqueeze(0), softmax_weights(affinity, bank.top_k))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of the efficient read (median)")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed repeats of the naive read (median)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--chunk", type=int, default=128, help="query elements per chunk of the naive difference")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    memory_size, query_size = FRAMES * HEIGHT * WIDTH, HEIGHT * WIDTH
    rate = matmul_rate(device=device)
    print(f"device {device} | threads {torch.get_num_threads()} | measured matmul rate {rate / 1e9:.1f} GFLOP/s | "
          f"M = {memory_size}, Q = {query_size}, Ck = {KEY_DIM}, Cv = {VALUE_DIM}, k = {TOP_K}")
    rows = []
    with torch.inference_mode():
        for n in args.objects:
            bank, _, query = matching_banks(n, frames=FRAMES, height=HEIGHT, width=WIDTH, key_dim=KEY_DIM,
                                            value_dim=VALUE_DIM, top_k=TOP_K, device=device)
            efficient = time_callable(lambda: bank.read(query), repeats=args.repeats, device=device)
            naive = time_callable(lambda: naive_read(bank, query, args.chunk), repeats=args.naive_repeats,
                                  device=device)
            flops = affinity_flops(KEY_DIM, memory_size, query_size, "dot") + readout_flops(
                VALUE_DIM, memory_size, query_size, n)
            rows.append({"objects": n, "efficient_ms": 1000 * efficient, "naive_ms": 1000 * naive,
                         "floor_ms": 1000 * flops / rate, "efficient/floor": efficient * rate / flops,
                         "naive/efficient": naive / efficient})
            print(f"  {n} object(s): efficient {1000 * efficient:.1f} ms, naive {1000 * naive:.1f} ms", flush=True)
        print(pd.DataFrame(rows).to_string(index=False, float_format="%.1f"))
        bank, _, query = matching_banks(1, frames=FRAMES, height=HEIGHT, width=WIDTH, key_dim=KEY_DIM,
                                        value_dim=VALUE_DIM, top_k=TOP_K, device=device)
        keys, q = bank.keys.unsqueeze(0), query.flatten(1).unsqueeze(0)
        affinity = similarity(keys, q, "l2")
        weights = softmax_weights(affinity, TOP_K)
        parts = {
            "affinity (Eq. 5)": lambda: similarity(keys, q, "l2"),
            f"top-{TOP_K} softmax": lambda: softmax_weights(affinity, TOP_K),
            "full softmax": lambda: softmax_weights(affinity),
            "readout, one object (Eq. 2)": lambda: readout(bank.values.unsqueeze(0), weights),
        }
        print("\nbreakdown of the efficient read (median ms):")
        for name, fn in parts.items():
            print(f"  {name:<28} {1000 * time_callable(fn, repeats=args.repeats, device=device):8.1f}")


if __name__ == "__main__":
    main()
