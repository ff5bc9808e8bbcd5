"""The memory zoo: affinity and readout, and one bank per strategy behind the :class:`MemoryBank` protocol."""
from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable

from vosnb.memory.affinity import (SIMILARITIES, ContributionTracker, TopKWeights, dense_weights, readout, select_top_k,
                                   similarity, softmax_weights, top_k_mask, top_k_weights, use_sparse_read)
from vosnb.memory.base import EveryK, FirstAndLatest, KeyValueMemory, MemoryBank, Readout

MemoryFactory = Callable[[], MemoryBank]

# Strategies with modules of their own, imported on first use: spec name -> (module, class).
_STRATEGIES: dict[str, tuple[str, str]] = {
    "lfu": ("vosnb.memory.lfu", "LFUMemory"),
    "swem": ("vosnb.memory.swem", "SWEMMemory"),
}


def _builder(name: str) -> Callable[..., MemoryBank]:
    module, cls = _STRATEGIES[name]
    return getattr(importlib.import_module(module), cls)


def make_memory(spec: str, **kwargs) -> MemoryBank:
    """Build a bank from a short spec: ``every5``, ``every5+last``, ``first_last`` or a registered name.

    Keyword arguments (``similarity``, ``top_k``, ``track`` ...) go to the bank's constructor; a registered
    strategy receives only those its constructor accepts (SWEM, say, has no ``top_k``).
    """
    match = re.fullmatch(r"every(\d+)(\+last)?", spec)
    if match:
        return EveryK(k=int(match.group(1)), include_last=bool(match.group(2)), **kwargs)
    if spec == "first_last":
        return FirstAndLatest(**kwargs)
    if spec in _STRATEGIES:
        builder = _builder(spec)
        accepted = inspect.signature(builder).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return builder(**kwargs)
    known = ["everyK", "everyK+last", "first_last", *sorted(_STRATEGIES)]
    raise ValueError(f"unknown memory spec {spec!r}; expected one of {known}")


__all__ = ["SIMILARITIES", "ContributionTracker", "EveryK", "FirstAndLatest", "KeyValueMemory", "MemoryBank",
           "MemoryFactory", "Readout", "TopKWeights", "dense_weights", "make_memory", "readout", "select_top_k",
           "similarity", "softmax_weights", "top_k_mask", "top_k_weights", "use_sparse_read"]
