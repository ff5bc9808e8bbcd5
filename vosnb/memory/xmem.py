"""An XMem-style memory (Cheng & Schwing, ECCV 2022, §3.3): a bounded working memory of recent frames and a
bounded long-term memory of prototypes consolidated from it. Not one of the five papers: the memory zoo (notebook
07) runs it beside them as the best-known bounded memory that keeps the every-k read.

- **Working memory.** STCN's key–value store, written every ``every`` frames (frame 0 always). Its first frame
  (the ground truth) is never removed.
- **Usage.** Every read adds, to each element it matched, the sum of the top-k softmax weights the query gave it
  (``use``), and one to every element's ``life`` (reads since it was written); an element's usage is
  ``use / life`` (XMem's "accumulated affinity over the reads it lived through").
- **Consolidation.** When a write makes the working memory ``max_frames`` frames long, every frame but the first
  and the newest ``min_frames − 1`` is a candidate; the ``prototypes`` candidates of highest usage are kept as
  prototype keys, and each prototype's value is the softmax-weighted mean of the candidates' values, weighted by
  the prototype key's full-softmax affinity to the candidate keys (XMem's "memory potentiation"). The candidates
  leave the working memory; the prototypes join the long-term memory with their usage reset.
- **Long-term bound.** Before prototypes join, a long-term memory that would exceed ``long_term_max`` elements
  keeps only its highest-usage ``long_term_max − prototypes`` elements (XMem's removal of obsolete features).
- **Read.** One top-k read over [long-term, working]: both memories compete in one softmax.

Sizes are in frames' worth (``h·w`` elements), so one setting means the same at any resolution. The defaults are
XMem's on DAVIS at 480p: working memory between 5 and 10 frames, 128 prototypes per consolidation and at most
10,000 long-term elements, each of a 30×54 = 1,620-element frame. The memory is bounded by
``max_frames + long_term_max`` frames' worth, but not constant: it grows until the working memory first fills and
while the long-term memory fills (XMem's sensory memory is part of its network, not of this bank).
"""
from __future__ import annotations

import torch
from torch import Tensor

from vosnb.memory.affinity import TopKWeights, element_weight_sums, readout, similarity
from vosnb.memory.base import FrameContext, KeyValueMemory, tensor_bytes

XMEM_FRAME_ELEMENTS = 30 * 54  # a DAVIS 480p frame at stride 16: XMem's sizes below are relative to it
XMEM_PROTOTYPES = 128 / XMEM_FRAME_ELEMENTS
XMEM_LONG_TERM_MAX = 10_000 / XMEM_FRAME_ELEMENTS


class XMemMemory(KeyValueMemory):
    """Working memory (``min_frames`` … ``max_frames`` frames, written every ``every`` frames) plus a long-term
    memory of at most ``long_term_max`` frames' worth, ``prototypes`` frames' worth added per consolidation (module
    doc). The permanent store of :class:`KeyValueMemory` is the working memory; ``long_keys [Ck, L]`` and
    ``long_value_rows [L, N, Cv]`` the long-term memory."""

    def __init__(self, similarity: str = "l2", top_k: int | None = 20, *, every: int = 5, min_frames: int = 5,
                 max_frames: int = 10, prototypes: float = XMEM_PROTOTYPES, long_term_max: float = XMEM_LONG_TERM_MAX,
                 temperature: float = 1.0) -> None:
        super().__init__(similarity, top_k, temperature=temperature)
        for name, value in (("every", every), ("min_frames", min_frames), ("max_frames", max_frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"XMemMemory: {name}={value!r} must be an integer ≥ 1")
        if not 2 <= min_frames < max_frames:
            raise ValueError(f"XMemMemory: need 2 ≤ min_frames < max_frames (the first frame and at least one recent "
                             f"frame stay, one frame at least is consolidated); got {min_frames} and {max_frames}")
        if not prototypes > 0 or not long_term_max >= prototypes:
            raise ValueError(f"XMemMemory: need 0 < prototypes ≤ long_term_max (frames' worth); got {prototypes} "
                             f"and {long_term_max}")
        self.every = every
        self.min_frames = min_frames
        self.max_frames = max_frames
        self.prototypes = float(prototypes)
        self.long_term_max = float(long_term_max)
        self.use: Tensor | None = None  # per element of [long-term, working], in the read's order
        self.life: Tensor | None = None
        self.long_keys: Tensor | None = None
        self.long_value_rows: Tensor | None = None
        self.consolidations = 0

    def should_write(self, frame_index: int) -> bool:
        return self.keys is None or frame_index % self.every == 0

    # ------------------------------------------------------------------------------------------------ sizes
    def elements(self, frames: float) -> int:
        """``frames`` frames' worth in elements (at least one)."""
        return max(1, round(frames * self.elements_per_frame))

    @property
    def num_long_term(self) -> int:
        return 0 if self.long_keys is None else int(self.long_keys.shape[1])

    @property
    def working_frames(self) -> int:
        """Frames in the working memory."""
        return self.num_elements // self.elements_per_frame if self.elements_per_frame else 0

    # ------------------------------------------------------------------------------------------------ read
    def memory_keys(self) -> Tensor | None:
        """Long-term keys, then the working memory's (read as one memory)."""
        if self.long_keys is None:
            return self.keys
        return torch.cat([self.long_keys, self.keys], 1)

    def memory_rows(self) -> Tensor:
        if self.long_value_rows is None:
            return self.value_rows
        return torch.cat([self.long_value_rows, self.value_rows], 0)

    def observe(self, weights: Tensor | TopKWeights) -> None:
        """Usage: each element's summed weight this read, and one more read lived."""
        size = self.num_long_term + self.num_elements
        self.use += element_weight_sums(weights, size).to(self.use.dtype)
        self.life += 1

    def usage(self) -> Tensor:
        """``use / life`` per element of [long-term, working]; 0 for an element not yet read."""
        return self.use / self.life.clamp_min(1)

    # ------------------------------------------------------------------------------------------------ write
    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor | None,
              context: FrameContext | None = None) -> None:
        """Append the frame to the working memory; consolidate when it reaches ``max_frames`` frames."""
        self.append(frame_index, key, values)
        fresh = torch.zeros(key.shape[1] * key.shape[2], device=key.device)
        self.use = fresh.clone() if self.use is None else torch.cat([self.use, fresh])
        self.life = fresh.clone() if self.life is None else torch.cat([self.life, fresh])
        if self.working_frames >= self.max_frames:
            self.consolidate()

    def consolidate(self) -> None:
        """Move every working frame but the first and the newest ``min_frames − 1`` into prototypes (module doc)."""
        hw, lt = self.elements_per_frame, self.num_long_term
        start, stop = hw, self.num_elements - (self.min_frames - 1) * hw
        usage = self.usage()
        candidate_usage = usage[lt + start:lt + stop]
        count = min(self.elements(self.prototypes), stop - start)
        order = torch.argsort(-candidate_usage, stable=True)[:count].sort().values  # ties: the older first
        cand_keys, cand_rows = self.keys[:, start:stop], self.value_rows[start:stop]
        proto_keys = cand_keys[:, order]
        affinity = similarity(cand_keys.unsqueeze(0), proto_keys.unsqueeze(0), self.similarity,
                              temperature=self.temperature)
        proto_values = readout(cand_rows.permute(1, 2, 0).unsqueeze(0), torch.softmax(affinity, dim=1))[0]
        proto_rows = proto_values.permute(2, 0, 1).contiguous()
        long_use, long_life = self.use[:lt], self.life[:lt]
        keep_working = torch.cat([torch.arange(0, start), torch.arange(stop, self.num_elements)]).to(self.keys.device)
        work_use, work_life = self.use[lt:][keep_working], self.life[lt:][keep_working]
        self.keep(keep_working)
        if lt + count > self.elements(self.long_term_max):
            kept = torch.argsort(-usage[:lt], stable=True)[:max(0, self.elements(self.long_term_max) - count)]
            kept = kept.sort().values
            self.long_keys, self.long_value_rows = self.long_keys[:, kept], self.long_value_rows[kept]
            long_use, long_life = long_use[kept], long_life[kept]
        zeros = torch.zeros(count, device=proto_keys.device)
        if self.long_keys is None:
            self.long_keys, self.long_value_rows = proto_keys, proto_rows
        else:
            self.long_keys = torch.cat([self.long_keys, proto_keys], 1)
            self.long_value_rows = torch.cat([self.long_value_rows, proto_rows], 0)
        self.use = torch.cat([long_use, zeros, work_use])
        self.life = torch.cat([long_life, zeros, work_life])
        self.consolidations += 1

    @property
    def nbytes(self) -> int:
        """Both memories' keys and values plus the usage bookkeeping (use and life per element)."""
        return super().nbytes + tensor_bytes(self.long_keys, self.long_value_rows, self.use, self.life)
