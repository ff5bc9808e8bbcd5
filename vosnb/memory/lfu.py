"""Least-frequently-used adaptive memory (Pourganjalikhan & Poullis, CRV 2022, §III-D, §IV).

On top of STCN's top-k read, the bank writes every ``k`` frames like every-k, but holds at most ``capacity``
frames' worth of features. Each memory feature (one key position; keys are object-agnostic, so one counter serves
every object, §IV) carries

- an **index**: how many query pixels had it among their ``top_k`` (``index="topk"``, the paper's choice), or the
  sum of the softmax weights it gave (``index="softmax"``, the Table IV ablation), accumulated over every read;
- an **age**: the number of frames it has been in the memory.

and its LFU score is ``index / age`` (§III-D.1). When a write would exceed the capacity, the lowest scores are
evicted first, "enough features to accommodate the new features"; nothing is merged (§III-D.1).

How we read the paper where it is terse (the notebook 05_amm_lfu_memory argues each default):

- *When the index grows.* Every read, that is every frame, adds that frame's counts: per feature, the number of
  query pixels whose top-k it was in. A feature counts as referenced when its readout weight is positive.
- *Age.* At frame ``t`` a feature written at frame ``s`` has age ``t − s``: the number of frames (= reads) it has
  been in the memory. A write at frame ``t`` happens after frame ``t``'s read, so every feature already in the bank
  has age ≥ 1 and the score is its mean number of top-k hits per frame. A feature written at ``t`` has age 0 and
  index 0; its score is defined as 0.
- *Capacity.* ``capacity`` counts features in frames' worth: ``round(capacity · h · w)`` key/value columns, with
  no temporary last-frame slot. With ``k = 5`` and capacity 2 the bank holds frame 0 alone for frames 1–4, frames 0
  and 5 for 6–9, and from frame 10 on each write evicts one frame's worth of the lowest-scoring features to make room
  for the new frame: two frames' worth of features (taken from any frames) at every read, as first-and-latest.
- ``exempt_newest`` (default True): the incoming frame is added *after* the eviction, so it is never a candidate
  (the paper removes features "to accommodate new features"). With False it competes with score 0 and, for lack of
  a history, is normally the first to go.
- ``protect_first`` (default False): frame 0's features compete like any other. The paper's failure case (Fig. 4,
  bottom: an object hidden for a while is lost because its features were evicted) is impossible for frame-0
  features if they were protected; and at capacity 2 with the newest write exempt, protection would leave LFU no
  choice at all (first frame + latest written frame).
- ``tie_break`` (default ``"oldest"``): among equal scores the older features go first (slots are kept in write
  order and the sort is stable), so a memory that nobody reads degrades to keeping the most recent frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from vosnb.memory.affinity import TopKWeights, element_hits, element_weight_sums
from vosnb.memory.base import FrameContext, KeyValueMemory, tensor_bytes

INDEX_KINDS = ("topk", "softmax")
TIE_BREAKS = ("oldest", "newest")


@dataclass(frozen=True)
class MemorySnapshot:
    """Which features the bank held right after the write at ``frame_index`` (kept when ``track=True``):
    per feature its source frame, its position ``y · w + x`` on that frame's ``grid`` and its LFU score."""

    frame_index: int
    frame_of: np.ndarray
    position: np.ndarray
    score: np.ndarray
    grid: tuple[int, int]


class LFUMemory(KeyValueMemory):
    """Every-``k`` writes into a fixed budget of ``capacity`` frames' worth, evicting by LFU = index / age.

    ``index`` is ``"topk"`` (top-k appearance counts, AMM §III-D.1) or ``"softmax"`` (summed softmax weights, the
    AMM-3 ablation). See the module docstring for ``protect_first``, ``exempt_newest`` and ``tie_break``.
    ``track=True`` also keeps a :class:`MemorySnapshot` after every write (``history``) and the base class's
    :class:`~vosnb.memory.affinity.ContributionTracker`.
    """

    def __init__(self, similarity: str = "l2", top_k: int | None = 20, *, k: int = 5, capacity: float = 2.0,
                 index: str = "topk", protect_first: bool = False, exempt_newest: bool = True,
                 tie_break: str = "oldest", temperature: float = 1.0, track: bool = False) -> None:
        super().__init__(similarity, top_k, temperature=temperature, track=track)
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
            raise ValueError(f"LFUMemory: k={k!r}: the write interval must be an integer ≥ 1")
        if index not in INDEX_KINDS:
            raise ValueError(f"LFUMemory: index={index!r}; expected one of {INDEX_KINDS}")
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"LFUMemory: tie_break={tie_break!r}; expected one of {TIE_BREAKS}")
        if index == "topk" and top_k is None:
            raise ValueError("LFUMemory: index='topk' counts top-k appearances, so it needs top_k (e.g. top_k=20); "
                             "use index='softmax' for a full-softmax read")
        reserved = max(1, int(protect_first) + int(exempt_newest))
        if not float(capacity) >= reserved:
            raise ValueError(f"LFUMemory: capacity={capacity!r} frames' worth cannot hold the {reserved} frame(s) it "
                             f"must keep (protect_first={protect_first}, exempt_newest={exempt_newest}); "
                             f"use capacity ≥ {reserved}")
        self.k = int(k)
        self.capacity = float(capacity)
        self.index_kind = index
        self.protect_first = protect_first
        self.exempt_newest = exempt_newest
        self.tie_break = tie_break
        self.index: Tensor | None = None
        self.position: Tensor | None = None
        self.first_frame: int | None = None
        self.evicted = 0
        self.history: list[MemorySnapshot] | None = [] if track else None
        self._grid: tuple[int, int] = (0, 0)

    # ------------------------------------------------------------------------------------------------ write
    def should_write(self, frame_index: int) -> bool:
        """Every ``k``-th frame, as STCN's every-k (``propagate`` counts frames from the bank's first frame), and
        always the first write."""
        return self.keys is None or frame_index % self.k == 0

    def max_elements(self, elements_per_frame: int) -> int:
        """The capacity in features: ``round(capacity · h · w)``."""
        return int(round(self.capacity * elements_per_frame))

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor | None,
              context: FrameContext | None = None) -> None:
        """Add frame ``frame_index``'s features, evicting the lowest LFU scores so the bank stays in capacity."""
        incoming = key.shape[1] * key.shape[2]
        if self.exempt_newest:
            self.evict(frame_index, incoming)
            self.append(frame_index, key, values)
        else:
            self.append(frame_index, key, values)
            self.evict(frame_index, 0)
        if self.history is not None:
            self.history.append(MemorySnapshot(
                frame_index=frame_index, frame_of=self.frame_of.cpu().numpy(), position=self.position.cpu().numpy(),
                score=self.scores(frame_index).cpu().numpy(), grid=self._grid))

    def append(self, frame_index: int, key: Tensor, values: Tensor) -> None:
        """Append one frame (base class) and start its features' index at 0."""
        super().append(frame_index, key, values)
        n = key.shape[1] * key.shape[2]
        self._grid = (int(key.shape[1]), int(key.shape[2]))
        dtype = torch.long if self.index_kind == "topk" else torch.float32
        fresh = torch.zeros(n, dtype=dtype, device=key.device)
        here = torch.arange(n, device=key.device)
        if self.index is None:
            self.first_frame = frame_index
            self.index, self.position = fresh, here
        else:
            self.index = torch.cat([self.index, fresh])
            self.position = torch.cat([self.position, here])

    def keep(self, index: Tensor) -> None:
        """Compact the bank (keys, values, frame_of, tracker; index and position here) to the slots ``index``."""
        super().keep(index)
        self.index = self.index[index]
        self.position = self.position[index]

    def scores(self, frame_index: int) -> Tensor:
        """LFU score ``index / age`` of every feature at frame ``frame_index`` (age ``frame_index − written``;
        a feature of age 0 scores 0)."""
        if self.index is None:
            return torch.zeros(0)
        age = (frame_index - self.frame_of).clamp_min(1)
        return self.index.to(torch.float32) / age.to(torch.float32)

    def evict(self, frame_index: int, incoming: int) -> None:
        """Drop the lowest LFU scores at ``frame_index`` until ``incoming`` more features fit (one stable sort, no
        loop over features); the kept slots stay in write order and the bank is compacted (:meth:`keep`)."""
        if self.keys is None:
            return
        per_frame = incoming or self.elements_per_frame
        excess = self.num_elements + incoming - self.max_elements(per_frame)
        if excess <= 0:
            return
        score = self.scores(frame_index)
        if self.protect_first:
            score = score.masked_fill(self.frame_of == self.first_frame, torch.inf)
        m = score.shape[0]
        if self.tie_break == "oldest":
            order = torch.argsort(score, stable=True)
        else:
            order = (m - 1) - torch.argsort(score.flip(0), stable=True)
        survive = torch.ones(m, dtype=torch.bool, device=score.device)
        survive[order[:excess]] = False
        self.evicted += excess
        self.keep(survive.nonzero().squeeze(1))

    # ------------------------------------------------------------------------------------------------ read
    def observe(self, weights: Tensor | TopKWeights) -> None:
        """After STCN's top-k read (and the tracker's update), each feature's index grows by this read's count (or
        softmax weight sum)."""
        super().observe(weights)
        self.update_index(weights)

    def update_index(self, weights: Tensor | TopKWeights) -> None:
        """Fold one read's weights (dense ``[1, M, Q]`` or sparse) into the index: per feature, the number of query
        pixels that gave it a positive weight (its top-k appearances), or the sum of its weights
        (``index="softmax"``)."""
        if self.index_kind == "topk":
            self.index += element_hits(weights, self.num_elements)
        else:
            self.index += element_weight_sums(weights, self.num_elements).to(self.index.dtype)

    # ------------------------------------------------------------------------------------------------ size
    @property
    def frames_worth(self) -> float:
        """Features held, in frames' worth (``num_elements / (h · w)``)."""
        return self.num_elements / self.elements_per_frame if self.elements_per_frame else 0.0

    @property
    def nbytes(self) -> int:
        """Keys and values plus the LFU bookkeeping the bank needs to work (index and write frame per feature)."""
        return super().nbytes + tensor_bytes(self.index, self.frame_of)
