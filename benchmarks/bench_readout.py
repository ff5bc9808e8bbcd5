"""The STCN memory read at the paper's shapes: the dense formulation against vosnb's top-k read (Eq. 2).

Shapes (STCN §3.2, Table 2): T = 10 or 50 memory frames of 30 × 54 (480×864 at stride 16: M = T·1,620 memory and
Q = 1,620 query elements), Ck = 64, Cv = 512, top-k with k = 20, 1 or 5 objects sharing one affinity.

- ``baseline``: the straightforward dense formulation, as the authors' inference computes it: the L2 affinity
  ``(2ab − a²)/√Ck`` (Eq. 5), ``topk`` over the memory axis, the softmax of the kept values scattered into a
  preallocated dense ``[M, Q]`` buffer zeroed in place, then one matrix product ``v^M W`` per object (Eq. 2);
- ``new``: :meth:`vosnb.memory.KeyValueMemory.read`, which at these shapes keeps the weights sparse
  (:func:`vosnb.memory.use_sparse_read`): the affinity query-major, ``topk`` along its contiguous rows, and each
  query's readout summed from its k kept value vectors.

They run in interleaved rounds after a warm-up round (:func:`vosnb.timing.time_interleaved`) together with the
two other reads of :func:`vosnb.analysis.costs.read_variants`, which notebook 02 records at T = 10, 2 objects:
``full softmax`` (STCN-8: top-k's saving) and ``top-k + last frame`` (STCN-5: the temporary last frame's cost).
A row gives baseline's and new's median wall milliseconds with the interquartile range, the speed-up as the
median of the per-round ratios with its order-statistic interval (and the same from process CPU time), the two
claims' ratios (full softmax / top-k, top-k + last / top-k) and the largest absolute difference between the
baseline and new readouts. A breakdown of one read into its steps follows.
Nothing here is a unit test. Usage::

    python benchmarks/bench_readout.py [--frames 10 50] [--objects 1 5] [--threads 1 2] [--repeats 5]
                                       [--device cpu] [--autocast]
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch

from vosnb.analysis.costs import matching_banks, read_variants
from vosnb.memory import KeyValueMemory, readout, similarity, top_k_weights
from vosnb.runtime import resolve_device
from vosnb.timing import time_interleaved

HEIGHT, WIDTH, KEY_DIM, VALUE_DIM, TOP_K = 30, 54, 64, 512, 20


class DenseRead:
    """The baseline read of one query over ``bank``'s keys and values, in the authors' layout and order."""

    def __init__(self, bank: KeyValueMemory) -> None:
        self.keys = bank.keys.unsqueeze(0)  # [1, Ck, M]
        self.values = [v.contiguous().unsqueeze(0) for v in bank.values]  # per object [1, Cv, M]
        size = self.keys.shape[2]
        self.buffer = self.keys.new_zeros(1, size, HEIGHT * WIDTH)  # the dense weights, reused by every read

    def affinity(self, query: torch.Tensor) -> torch.Tensor:
        """Eq. 5 as the authors write it: ``(2*ab - a_sq) / sqrt(Ck)``, ``[1, M, Q]``."""
        a_sq = self.keys.pow(2).sum(1).unsqueeze(2)
        return (2 * torch.bmm(self.keys.transpose(1, 2), query) - a_sq) / math.sqrt(KEY_DIM)

    def weights(self, affinity: torch.Tensor) -> torch.Tensor:
        """The top-k softmax scattered into the buffer, zeroed in place."""
        values, index = torch.topk(affinity, TOP_K, dim=1)
        return self.buffer.zero_().scatter_(1, index, torch.softmax(values, dim=1))

    def __call__(self, query_key: torch.Tensor) -> torch.Tensor:
        """Readouts ``[N, Cv, Q]`` of a query key ``[Ck, h, w]``: one matrix product per object."""
        weights = self.weights(self.affinity(query_key.flatten(1).unsqueeze(0)))
        return torch.cat([torch.bmm(v, weights) for v in self.values])


def breakdown(bank: KeyValueMemory, dense: DenseRead, query_key: torch.Tensor, repeats: int,
              device: torch.device) -> dict[str, float]:
    """Median milliseconds of each step of both reads (interleaved)."""
    q = query_key.flatten(1).unsqueeze(0)
    keys = bank.keys.unsqueeze(0)
    aff_mq, aff_qm = dense.affinity(q), similarity(keys, q, "l2", query_major=True)
    dense_w, sparse_w = dense.weights(aff_mq), top_k_weights(aff_qm, TOP_K, query_major=True)
    values = bank.values.unsqueeze(0)
    steps: dict[str, Callable[[], object]] = {
        "baseline: affinity [M, Q] (Eq. 5)": lambda: dense.affinity(q),
        f"baseline: top-{TOP_K} softmax into the dense buffer": lambda: dense.weights(aff_mq),
        "baseline: readout, one matmul per object (Eq. 2)": lambda: [torch.bmm(v, dense_w) for v in dense.values],
        "new: affinity [Q, M] (Eq. 5, one baddbmm)": lambda: similarity(keys, q, "l2", query_major=True),
        f"new: top-{TOP_K} along contiguous rows, softmax kept sparse": lambda: top_k_weights(aff_qm, TOP_K,
                                                                                            query_major=True),
        "new: readout gathered from the top-k (Eq. 2)": lambda: readout(values, sparse_w),
    }
    timing = time_interleaved(steps, repeats=repeats, warmup=1, device=device)
    return {name: 1000 * timing.median(name) for name in steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 50], help="memory frames T")
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch CPU thread counts")
    parser.add_argument("--repeats", type=int, default=5, help="timed interleaved rounds (median)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--autocast", action="store_true", help="run both reads under fp16 autocast (CUDA)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device} (torch {torch.__version__}, CPU kernels {torch.backends.cpu.get_cpu_capability()}) | "
          f"autocast fp16 {args.autocast} | Ck {KEY_DIM}, Cv {VALUE_DIM}, k {TOP_K}, frames of {HEIGHT}×{WIDTH} | "
          f"median of {args.repeats} interleaved rounds after 1 warm-up round")
    header = (f"{'threads':>7} {'T':>3} {'objects':>7} {'M':>6} | {'baseline ms (IQR)':>18} {'new ms (IQR)':>15} | "
              f"{'speed-up [interval]':>20} {'cpu speed-up':>12} | {'full/top-k':>10} {'+last/top-k':>10} | "
              f"{'max |Δ| readout':>15} {'max |readout|':>13}")
    print(header)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=args.autocast):
        for threads in args.threads:
            torch.set_num_threads(threads)
            for frames in args.frames:
                for objects in args.objects:
                    bank, _, query = matching_banks(objects, frames=frames, height=HEIGHT, width=WIDTH,
                                                    key_dim=KEY_DIM, value_dim=VALUE_DIM, top_k=TOP_K, device=device)
                    dense = DenseRead(bank)
                    reads = {"baseline": lambda: dense(query), **read_variants(bank, query)}
                    timing = time_interleaved(reads, repeats=args.repeats, warmup=1, device=device)
                    base, new = dense(query).float(), bank.read(query).values.flatten(2).float()
                    wall, cpu = timing.ratio("baseline", "top-k"), timing.ratio("baseline", "top-k", cpu=True)
                    stcn8, stcn5 = (timing.ratio(name, "top-k") for name in ("full softmax", "top-k + last frame"))
                    print(f"{timing.threads:>7} {frames:>3} {objects:>7} {bank.num_elements:>6} | "
                          f"{1000 * timing.median('baseline'):>8.1f} ({1000 * timing.iqr('baseline'):>6.1f}) "
                          f"{1000 * timing.median('top-k'):>7.1f} ({1000 * timing.iqr('top-k'):>5.1f}) | "
                          f"{wall.estimate:>6.2f}× [{wall.low:.2f}, {wall.high:.2f}] {cpu.estimate:>11.2f}× | "
                          f"{stcn8.estimate:>9.2f}× {stcn5.estimate:>9.2f}× | "
                          f"{(base - new).abs().max().item():>15.2e} {base.abs().max().item():>13.2f}", flush=True)
                    del bank, dense, reads
        print(f"(speed-up interval: the {100 * wall.confidence:.2f}% order-statistic interval of the per-round "
              "ratios; cpu: the same median from process CPU time)")
        bank, _, query = matching_banks(1, frames=args.frames[0], height=HEIGHT, width=WIDTH, key_dim=KEY_DIM,
                                        value_dim=VALUE_DIM, top_k=TOP_K, device=device)
        steps = breakdown(bank, DenseRead(bank), query, args.repeats, device)
    print(f"\nbreakdown of one read, T = {args.frames[0]}, 1 object, {torch.get_num_threads()} thread(s) (median ms):")
    for name, ms in steps.items():
        print(f"  {name:<58} {ms:8.1f}")


if __name__ == "__main__":
    main()
