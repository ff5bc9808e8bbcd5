"""Bytes a memory strategy needs to segment one frame, counted from real tensors and from the shapes (GAM-1, GAM-7).

Three strategies at ``T`` memory frames of ``H × W`` pixels (``h × w = ⌈H/16⌉ × ⌈W/16⌉`` positions, ``P = h·w``),
``N`` objects, keys of ``Ck`` channels and values of ``Cv`` (``b`` bytes per element, 4 for fp32):

- ``"stm"``, space-time memory as STM (every-5 + last: ``T`` counts the frames held): keys and values per object,
  state ``N·T·P·(Ck + Cv)·b``; the read builds one ``T·P × P`` affinity per object, batched over the objects
  as STM's code does (``N·T·P·P·b``), and the readout ``N·Cv·P·b``.
- ``"stcn"``, STCN every-5: keys shared by all objects, state ``T·P·(Ck + N·Cv)·b``; one affinity
  ``T·P·P·b`` for all objects, and the readout ``N·Cv·P·b``.
- ``"global"``, the global attention module (:mod:`vosnb.memory.global_attention`, ``C_N = Ck``, ``C_M = Cv``):
  state ``N·Ck·Cv·b`` whatever ``T`` and ``H × W``; intermediates the newest frame's ``C_N × C_M`` matrix
  ``A_T`` (``N·Ck·Cv·b``) and the ``P × C_M`` read ``D`` (``N·Cv·P·b``).

What is counted: the memory state plus the largest intermediate of reading (and, for the global module, writing)
one frame; not the encoders, the decoder, the query key or the allocator's overhead. :func:`analytic_cost` counts
from the shapes and allocates nothing (usable at 2K with T = 100); :func:`measured_cost` builds the banks of
:mod:`vosnb.memory` from random tensors at the given shapes and sums the bytes of what they hold and return.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import torch

from vosnb.analysis.costs import matching_banks
from vosnb.memory.base import tensor_bytes
from vosnb.memory.global_attention import GlobalAttentionMemory

STRATEGIES = ("stm", "stcn", "global")
STRIDE = 16
RESOLUTIONS: dict[str, tuple[int, int]] = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920),
                                           "2K": (1080, 2048)}
"""Frame sizes ``(H, W)`` of the paper's sweep (Fig. 1a); "2K" is taken as DCI 2K, the paper does not say."""


@dataclass(frozen=True)
class MemoryCost:
    """Bytes of a strategy's memory state and of each named intermediate of one frame's read (and write)."""

    strategy: str
    state_bytes: int
    intermediates: dict[str, int] = field(default_factory=dict)

    @property
    def largest_intermediate(self) -> int:
        return max(self.intermediates.values(), default=0)

    @property
    def total(self) -> int:
        """State plus the largest intermediate: what this count says the strategy needs at its peak."""
        return self.state_bytes + self.largest_intermediate


def positions(height: int, width: int, stride: int = STRIDE) -> int:
    """Stride-``stride`` positions ``P`` of a frame padded to a multiple of ``stride``."""
    if height < 1 or width < 1:
        raise ValueError(f"height={height}, width={width}: a frame has positive sides")
    return math.ceil(height / stride) * math.ceil(width / stride)


def _check(strategy: str, frames: int, objects: int) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy={strategy!r}; expected one of {STRATEGIES}")
    if frames < 1 or objects < 1:
        raise ValueError(f"frames={frames}, objects={objects}: both must be ≥ 1")


def analytic_cost(strategy: str, *, frames: int, height: int, width: int, key_dim: int = 64, value_dim: int = 512,
                  objects: int = 1, bytes_per_element: int = 4) -> MemoryCost:
    """The counts of the module docstring, from the shapes alone."""
    _check(strategy, frames, objects)
    p, t, n, ck, cv, b = positions(height, width), frames, objects, key_dim, value_dim, bytes_per_element
    readout = n * cv * p * b
    if strategy == "stm":
        return MemoryCost(strategy, n * t * p * (ck + cv) * b, {"affinity": n * t * p * p * b, "readout": readout})
    if strategy == "stcn":
        return MemoryCost(strategy, t * p * (ck + n * cv) * b, {"affinity": t * p * p * b, "readout": readout})
    return MemoryCost(strategy, n * ck * cv * b, {"A_T": n * ck * cv * b, "D": readout})


def measured_cost(strategy: str, *, frames: int, height: int, width: int, key_dim: int = 64, value_dim: int = 512,
                  objects: int = 1, seed: int = 0, device: torch.device | str = "cpu") -> MemoryCost:
    """The same count from fp32 tensors built at these shapes: the banks' ``nbytes``, the dense affinity (the
    softmaxed weights, the size of the affinity) and the readout of a read, ``A_T`` of a write and ``D`` of a read.
    Allocates all of it: keep the shapes small on CPU."""
    _check(strategy, frames, objects)
    h, w = math.ceil(height / STRIDE), math.ceil(width / STRIDE)
    g = torch.Generator(device=device).manual_seed(seed)
    if strategy == "global":
        bank = GlobalAttentionMemory()
        for t in range(frames):
            key = torch.randn(key_dim, h, w, generator=g, device=device)
            values = torch.randn(objects, value_dim, h, w, generator=g, device=device)
            bank.write(t, key, values, torch.ones(objects, h * STRIDE, w * STRIDE, device=device))
        query = torch.randn(key_dim, h, w, generator=g, device=device)
        return MemoryCost(strategy, bank.nbytes, {"A_T": tensor_bytes(bank.attention(key, values)),
                                                  "D": tensor_bytes(bank.read(query).values)})
    shared, per_object, query = matching_banks(objects, frames=frames, height=h, width=w, key_dim=key_dim,
                                               value_dim=value_dim, top_k=None, seed=seed, device=device)
    banks = per_object if strategy == "stm" else [shared]
    return MemoryCost(strategy, sum(bank.nbytes for bank in banks),
                      {"affinity": sum(tensor_bytes(bank.weights(query)) for bank in banks),
                       "readout": sum(tensor_bytes(bank.read(query).values) for bank in banks)})


def cost_table(frames: tuple[int, ...] = (1, 10, 100), resolutions: dict[str, tuple[int, int]] | None = None, *,
               strategies: tuple[str, ...] = STRATEGIES, key_dim: int = 64, value_dim: int = 512, objects: int = 1,
               measure: bool = False, device: torch.device | str = "cpu") -> pd.DataFrame:
    """One row per strategy, resolution and ``T``: the analytic state, largest intermediate and total in bytes, and
    with ``measure=True`` the measured total beside it (allocating every tensor; otherwise nothing is allocated)."""
    rows = []
    for name, (height, width) in (resolutions or RESOLUTIONS).items():
        for strategy in strategies:
            for t in frames:
                shape = dict(frames=t, height=height, width=width, key_dim=key_dim, value_dim=value_dim,
                             objects=objects)
                cost = analytic_cost(strategy, **shape)
                row = {"strategy": strategy, "resolution": name, "frames": t, "state_bytes": cost.state_bytes,
                       "intermediate_bytes": cost.largest_intermediate, "total_bytes": cost.total}
                if measure:
                    row["measured_total_bytes"] = measured_cost(strategy, **shape, device=device).total
                rows.append(row)
    return pd.DataFrame(rows)
