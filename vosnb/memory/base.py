"""The memory protocol every strategy implements, and the key–value store the STCN-style strategies share.

At inference the batch size is 1 and shapes drop it: a key is ``[Ck, h, w]``, values are ``[N, Cv, h, w]`` for the
N objects of the bank, probabilities ``[N, H, W]`` at the padded input resolution.
A bank owns both its write and its read, because the strategies differ in both (SWEM reads bases with a cosine
kernel, the global module reads a C×C matrix). The propagation engine asks ``should_write`` before it encodes a
value, so a strategy that skips a frame also skips the value encoder's cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from vosnb.memory.affinity import ContributionTracker, readout, similarity, softmax_weights


@dataclass
class Readout:
    """What a read returns: ``values [N, Cv, h, w]``, and the weights ``[M, Q]`` when the bank keeps them."""

    values: Tensor
    weights: Tensor | None = None


@runtime_checkable
class MemoryBank(Protocol):
    """One memory strategy: when to write, what to keep, how to read."""

    def should_write(self, frame_index: int) -> bool: ...

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor) -> None: ...

    def read(self, query_key: Tensor) -> Readout: ...

    @property
    def nbytes(self) -> int: ...


def tensor_bytes(*tensors: Tensor | None) -> int:
    """Bytes held by the given tensors (None counts 0)."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class KeyValueMemory:
    """STCN's key–value memory: keys ``[Ck, M]`` shared by all objects, values ``[N, Cv, M]``.

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
        self.values: Tensor | None = None
        self.frame_of: Tensor | None = None
        self.temp_keys: Tensor | None = None
        self.temp_values: Tensor | None = None
        self.tracker: ContributionTracker | None = ContributionTracker.empty() if track else None
        self.elements_per_frame = 0

    @staticmethod
    def _flatten(key: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        if key.dim() != 3 or values.dim() != 4 or key.shape[1:] != values.shape[2:]:
            raise ValueError(f"expected key [Ck, h, w] and values [N, Cv, h, w] on the same grid; got "
                             f"{tuple(key.shape)} and {tuple(values.shape)}")
        return key.flatten(1), values.flatten(2)

    def append(self, frame_index: int, key: Tensor, values: Tensor) -> None:
        """Add one frame's elements permanently."""
        k, v = self._flatten(key, values)
        self.elements_per_frame = k.shape[1]
        frames = torch.full((k.shape[1],), frame_index, dtype=torch.long, device=k.device)
        if self.keys is None:
            self.keys, self.values, self.frame_of = k, v, frames
        else:
            if v.shape[0] != self.values.shape[0]:
                raise ValueError(f"this bank holds {self.values.shape[0]} objects; got values for {v.shape[0]}. "
                                 "Objects that join later need a bank of their own (propagate does this).")
            self.keys = torch.cat([self.keys, k], 1)
            self.values = torch.cat([self.values, v], 2)
            self.frame_of = torch.cat([self.frame_of, frames])
        if self.tracker is not None:
            if self.tracker.max_weight.device != k.device:
                self.tracker = ContributionTracker.empty(k.device)
                self.tracker.extend(len(self.frame_of))
            else:
                self.tracker.extend(k.shape[1])

    def set_temporary(self, key: Tensor, values: Tensor) -> None:
        """Replace the temporary frame (read together with the permanent memory, never tracked)."""
        self.temp_keys, self.temp_values = self._flatten(key, values)

    def keep(self, index: Tensor) -> None:
        """Keep only the permanent elements at ``index`` (used by evicting strategies)."""
        self.keys = self.keys[:, index]
        self.values = self.values[:, :, index]
        self.frame_of = self.frame_of[index]
        if self.tracker is not None:
            self.tracker.keep(index)

    @property
    def num_elements(self) -> int:
        """Permanent elements held (a frame holds h·w of them)."""
        return 0 if self.keys is None else int(self.keys.shape[1])

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.keys, self.values, self.temp_keys, self.temp_values)

    def weights(self, query_key: Tensor) -> Tensor:
        """Readout weights ``[1, M, Q]`` of one query key ``[Ck, h, w]`` over permanent + temporary memory."""
        if self.keys is None:
            raise RuntimeError("read from an empty memory: write the first frame before reading")
        keys = self.keys if self.temp_keys is None else torch.cat([self.keys, self.temp_keys], 1)
        aff = similarity(keys.unsqueeze(0), query_key.flatten(1).unsqueeze(0), self.similarity,
                         temperature=self.temperature)
        return softmax_weights(aff, self.top_k)

    def read(self, query_key: Tensor) -> Readout:
        w = self.weights(query_key)
        if self.tracker is not None:
            self.tracker.update(w)
        values = self.values if self.temp_values is None else torch.cat([self.values, self.temp_values], 2)
        out = readout(values.unsqueeze(0), w)[0]
        return Readout(values=out.reshape(*out.shape[:2], *query_key.shape[1:]),
                       weights=w[0] if self.keep_weights else None)


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

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor) -> None:
        if frame_index % self.k == 0:
            self.append(frame_index, key, values)
            self.temp_keys = self.temp_values = None
        elif self.include_last:
            self.set_temporary(key, values)


class FirstAndLatest(KeyValueMemory):
    """Two frames' worth: the first frame (ground truth) and the latest frame (AMM Table I's baseline)."""

    def should_write(self, frame_index: int) -> bool:
        return True

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor) -> None:
        if self.keys is None:
            self.append(frame_index, key, values)
        else:
            self.set_temporary(key, values)
