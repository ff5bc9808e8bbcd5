"""The memory protocol every strategy implements, and the key–value store the STCN-style strategies share.

At inference the batch size is 1 and shapes drop it: a key is ``[Ck, h, w]``, values are ``[N, Cv, h, w]`` for the
N objects of the bank, probabilities ``[N, H, W]`` at the padded input resolution.
A bank owns both its write and its read, because the strategies differ in both (SWEM reads bases with a cosine
kernel, the global module reads a C×C matrix). The propagation engine asks ``should_write`` before it encodes a
value, so a strategy that skips a frame also skips the value encoder's cost.

Beyond the key, every read and write receives the frame's :class:`FrameContext`: the model's query features (what a
learned or feature-level strategy reads, e.g. the stride-16 features of the global attention module) and, at a
write, the probabilities of every object in the frame with this bank's place among them (SWEM's hard mask is an
arg-max over all objects, whichever bank they live in). A strategy whose constructor takes ``model`` receives the
model from :func:`vosnb.memory.make_memory` (RDE's learned SAM lives in the model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from vosnb.memory.affinity import (ContributionTracker, TopKWeights, dense_weights, readout, similarity, top_k_weights,
                                   use_sparse_read)


@dataclass
class Readout:
    """What a read returns: ``values [N, Cv, h, w]``, and the weights ``[M, Q]`` when the bank keeps them."""

    values: Tensor
    weights: Tensor | None = None


@dataclass(frozen=True)
class FrameContext:
    """What the engine knows about a frame besides its key.

    ``features``: the model's query features of the frame (for the STCN models a ``QueryFeatures`` with ``key``,
    ``f16``, ``f8``, ``f4``), batch size 1; ``object_probs``: at a write, the probabilities ``[N_all, H, W]`` of every
    object of the video (zero for objects not yet started); ``members``: the indices of this bank's objects in it.
    """

    features: Any = None
    object_probs: Tensor | None = None
    members: tuple[int, ...] = ()


@runtime_checkable
class MemoryBank(Protocol):
    """One memory strategy: when to write, what to keep, how to read."""

    def should_write(self, frame_index: int) -> bool: ...

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None: ...

    def read(self, query_key: Tensor, context: FrameContext | None = None) -> Readout: ...

    @property
    def nbytes(self) -> int: ...


def tensor_bytes(*tensors: Tensor | None) -> int:
    """Bytes held by the given tensors (None counts 0)."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class KeyValueMemory:
    """STCN's key–value memory: keys ``[Ck, M]`` shared by all objects, values ``[N, Cv, M]``.

    The values are stored element-major, ``value_rows [M, N, Cv]`` (``values`` is a view of them), so that the
    sparse top-k read gathers whole rows (:func:`~vosnb.memory.affinity.readout`); the dense read multiplies the
    same storage transposed, without a copy.

    Holds permanent elements plus an optional temporary frame (STCN-5's "last frame" slot, overwritten at every
    write). ``frame_of[i]`` is the frame each permanent element came from. With ``track=True`` a
    :class:`ContributionTracker` follows each permanent element's largest weight and top-k hits.
    Subclasses decide what to keep by overriding :meth:`should_write` and :meth:`write`.
    """

    def __init__(self, similarity: str = "l2", top_k: int | None = 20, *, temperature: float = 1.0,
                 track: bool = False, keep_weights: bool = False) -> None:
        self.similarity = similarity
        self.top_k = top_k
        self.temperature = temperature
        self.keep_weights = keep_weights
        self.keys: Tensor | None = None
        self.value_rows: Tensor | None = None
        self.frame_of: Tensor | None = None
        self.temp_keys: Tensor | None = None
        self.temp_value_rows: Tensor | None = None
        self.tracker: ContributionTracker | None = ContributionTracker.empty() if track else None
        self.elements_per_frame = 0

    @staticmethod
    def _flatten(key: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Key ``[Ck, h·w]`` and value rows ``[h·w, N, Cv]`` of one frame."""
        if key.dim() != 3 or values.dim() != 4 or key.shape[1:] != values.shape[2:]:
            raise ValueError(f"expected key [Ck, h, w] and values [N, Cv, h, w] on the same grid; got "
                             f"{tuple(key.shape)} and {tuple(values.shape)}")
        return key.flatten(1), values.flatten(2).permute(2, 0, 1).contiguous()

    @property
    def values(self) -> Tensor | None:
        """Permanent values ``[N, Cv, M]`` (a view of ``value_rows``)."""
        return None if self.value_rows is None else self.value_rows.permute(1, 2, 0)

    def append(self, frame_index: int, key: Tensor, values: Tensor) -> None:
        """Add one frame's elements permanently."""
        self.append_frames([frame_index], [key], [values])

    def append_frames(self, frame_indices: list[int], keys: list[Tensor], values: list[Tensor]) -> None:
        """Add several frames' elements permanently, with one concatenation (a memory of hundreds of frames at the
        paper's shapes is built without copying it once per frame)."""
        flat = [self._flatten(key, value) for key, value in zip(keys, values, strict=True)]
        k = flat[0][0] if len(flat) == 1 else torch.cat([f[0] for f in flat], 1)
        v = flat[0][1] if len(flat) == 1 else torch.cat([f[1] for f in flat], 0)
        self.elements_per_frame = flat[0][0].shape[1]
        frames = torch.tensor(frame_indices, dtype=torch.long, device=k.device).repeat_interleave(
            self.elements_per_frame)
        if self.keys is None:
            self.keys, self.value_rows, self.frame_of = k, v, frames
        else:
            if v.shape[1] != self.value_rows.shape[1]:
                raise ValueError(f"this bank holds {self.value_rows.shape[1]} objects; got values for {v.shape[1]}. "
                                 "Objects that join later need a bank of their own (propagate does this).")
            self.keys = torch.cat([self.keys, k], 1)
            self.value_rows = torch.cat([self.value_rows, v], 0)
            self.frame_of = torch.cat([self.frame_of, frames])
        if self.tracker is not None:
            if self.tracker.max_weight.device != k.device:
                self.tracker = ContributionTracker.empty(k.device)
                self.tracker.extend(len(self.frame_of))
            else:
                self.tracker.extend(k.shape[1])

    def set_temporary(self, key: Tensor, values: Tensor) -> None:
        """Replace the temporary frame (read together with the permanent memory, never tracked)."""
        self.temp_keys, self.temp_value_rows = self._flatten(key, values)

    def keep(self, index: Tensor) -> None:
        """Keep only the permanent elements at ``index`` (used by evicting strategies)."""
        self.keys = self.keys[:, index]
        self.value_rows = self.value_rows[index]
        self.frame_of = self.frame_of[index]
        if self.tracker is not None:
            self.tracker.keep(index)

    @property
    def num_elements(self) -> int:
        """Permanent elements held (a frame holds h·w of them)."""
        return 0 if self.keys is None else int(self.keys.shape[1])

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.keys, self.value_rows, self.temp_keys, self.temp_value_rows)

    def memory_keys(self) -> Tensor | None:
        """The keys ``[Ck, M]`` a read matches against: permanent, then temporary (None while empty)."""
        if self.keys is None or self.temp_keys is None:
            return self.keys
        return torch.cat([self.keys, self.temp_keys], 1)

    def memory_rows(self) -> Tensor:
        """The value rows ``[M, N, Cv]`` a read combines, in the order of :meth:`memory_keys`."""
        if self.temp_value_rows is None:
            return self.value_rows
        return torch.cat([self.value_rows, self.temp_value_rows], 0)

    def match(self, query_key: Tensor) -> Tensor | TopKWeights:
        """The readout weights ``W`` (Eq. 1–2) of one query key ``[Ck, h, w]`` over permanent + temporary memory, in
        the form the read uses: :class:`TopKWeights` where :func:`use_sparse_read` says so, else dense ``[1, M, Q]``
        (a full softmax when ``top_k`` is None or covers the memory)."""
        keys = self.memory_keys()
        if keys is None:
            raise RuntimeError("read from an empty memory: write the first frame before reading")
        size = keys.shape[1]
        top_k = self.top_k if self.top_k is not None and self.top_k < size else None
        sparse = top_k is not None and use_sparse_read(size, query_key[0].numel(), keys.device)
        aff = similarity(keys.unsqueeze(0), query_key.flatten(1).unsqueeze(0), self.similarity,
                         temperature=self.temperature, query_major=sparse)
        if top_k is None:
            return torch.softmax(aff, dim=1)
        weights = top_k_weights(aff, top_k, query_major=sparse)
        return weights if sparse else weights.dense()

    def weights(self, query_key: Tensor) -> Tensor:
        """Dense readout weights ``[1, M, Q]`` of one query key ``[Ck, h, w]`` over permanent + temporary memory."""
        return dense_weights(self.match(query_key))

    def observe(self, weights: Tensor | TopKWeights) -> None:
        """What every read tells the bank about its elements: here the tracker's update (subclasses add theirs)."""
        if self.tracker is not None:
            self.tracker.update(weights)

    def read(self, query_key: Tensor, context: FrameContext | None = None) -> Readout:
        """STCN's memory read (Eq. 2): :meth:`match`, :meth:`observe`, then the readout of every object's values
        (the key is all it needs of the frame)."""
        w = self.match(query_key)
        self.observe(w)
        out = readout(self.memory_rows().permute(1, 2, 0).unsqueeze(0), w)[0]
        return Readout(values=out.reshape(*out.shape[:2], *query_key.shape[1:]),
                       weights=dense_weights(w)[0] if self.keep_weights else None)


class EveryK(KeyValueMemory):
    """STCN's default: frame 0, then every ``k``-th frame by absolute index (ALGORITHMS.md; STCN Table 1).

    ``include_last=True`` also reads the previous frame as a temporary slot (the variant STCN-5 compares against).
    """

    def __init__(self, k: int = 5, include_last: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1:
            raise ValueError(f"k={k}: the memory interval must be ≥ 1")
        self.k = k
        self.include_last = include_last

    def should_write(self, frame_index: int) -> bool:
        return self.include_last or frame_index % self.k == 0

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None:
        if frame_index % self.k == 0:
            self.append(frame_index, key, values)
            self.temp_keys = self.temp_value_rows = None
        elif self.include_last:
            self.set_temporary(key, values)


class FirstAndLatest(KeyValueMemory):
    """Two frames' worth: the first frame (ground truth) and the latest frame (AMM Table I's baseline)."""

    def should_write(self, frame_index: int) -> bool:
        return True

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None:
        if self.keys is None:
            self.append(frame_index, key, values)
        else:
            self.set_temporary(key, values)
