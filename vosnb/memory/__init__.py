"""The memory zoo: affinity and readout, and one bank per strategy behind the :class:`MemoryBank` protocol."""
from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from vosnb.memory.affinity import (SIMILARITIES, ContributionTracker, TopKWeights, dense_weights, readout, select_top_k,
                                   similarity, softmax_weights, top_k_mask, top_k_weights, use_sparse_read)
from vosnb.memory.base import EveryK, FirstAndLatest, FrameContext, KeyValueMemory, MemoryBank, Readout

MemoryFactory = Callable[[], MemoryBank]

# Strategies with modules of their own, imported on first use: spec name -> (module, class).
_STRATEGIES: dict[str, tuple[str, str]] = {
    "global": ("vosnb.memory.global_attention", "GlobalAttentionMemory"),
    "lfu": ("vosnb.memory.lfu", "LFUMemory"),
    "rde": ("vosnb.memory.rde", "RDEMemory"),
    "swem": ("vosnb.memory.swem", "SWEMMemory"),
    "xmem": ("vosnb.memory.xmem", "XMemMemory"),
}


def _builder(name: str) -> Callable[..., MemoryBank]:
    module, cls = _STRATEGIES[name]
    return getattr(importlib.import_module(module), cls)


ENGINE_OPTIONS = ("similarity", "top_k", "track", "model")  # what the engine offers every strategy


def accepted_parameters(builder: Callable[..., MemoryBank]) -> set[str]:
    """The keyword parameters a bank class takes, following ``**kwargs`` up to its base classes."""
    names: set[str] = set()
    for cls in getattr(builder, "__mro__", (builder,)):
        init = getattr(cls, "__init__", None)
        if init is None or init is object.__init__:
            break
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


def make_memory(spec: str, options: Mapping[str, Any] | None = None, **params: Any) -> MemoryBank:
    """Build a bank from a short spec: ``every5``, ``every5+last``, ``first_last`` or a registered name.

    ``options`` are what the engine offers every strategy (:data:`ENGINE_OPTIONS`: the model's ``similarity``,
    ``top_k``, ``track``, and the ``model`` itself for learned strategies); a strategy receives those its
    constructor takes. ``params`` are the strategy's own settings (``capacity=4`` for LFU, ``num_bases=16`` for
    SWEM); one it does not take is an error that names what it takes.
    """
    match = re.fullmatch(r"every(\d+)(\+last)?", spec)
    if match:
        builder, fixed = EveryK, {"k": int(match.group(1)), "include_last": bool(match.group(2))}
    elif spec == "first_last":
        builder, fixed = FirstAndLatest, {}
    elif spec in _STRATEGIES:
        builder, fixed = _builder(spec), {}
    else:
        known = ["everyK", "everyK+last", "first_last", *sorted(_STRATEGIES)]
        raise ValueError(f"unknown memory spec {spec!r}; expected one of {known}")
    accepted = accepted_parameters(builder) - set(fixed)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(f"memory {spec!r} takes no parameter {', '.join(unknown)}; "
                         f"it takes {', '.join(sorted(accepted))}")
    offered = {k: v for k, v in (options or {}).items() if k in accepted and k not in params}
    return builder(**fixed, **offered, **params)


__all__ = ["ENGINE_OPTIONS", "SIMILARITIES", "ContributionTracker", "EveryK", "FirstAndLatest", "FrameContext",
           "KeyValueMemory", "MemoryBank", "MemoryFactory", "Readout", "TopKWeights", "dense_weights", "make_memory", "readout", "select_top_k",
           "similarity", "softmax_weights", "top_k_mask", "top_k_weights", "use_sparse_read"]
