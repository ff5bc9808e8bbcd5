"""The recurrent dynamic embedding memory of RDE-VOS (Li et al., CVPR 2022, §3.2, Table 5), as the authors' DAVIS
inference runs it.

Writes. Frame 0 (the ground truth, "GT") is stored as is and is also the first RDE. Every θ-th frame after it
(``frame_index % theta == 0``, counted from the bank's first frame: on DAVIS, where every object starts at frame 0,
this is the authors' absolute-index test; the last frame is never written, as the engine writes no last frame) is
an update: the model's SAM fuses ``[RDE, new frame]`` into the next RDE (Eq. 3-6; the first update is
SAM([GT, frame θ])), and the new frame is kept raw as "latest", replacing the previous one. So "latest" is the
memory frame just fused into the RDE, not the previous video frame. Keys and values go through the same fusion:
one key SAM call for the object-agnostic key, the value SAM on every object of the bank as its own batch entry.

Reads. ``composition`` names what the read matches against, as in Table 5: a ``&``-joined multiset of ``F``
(GT), ``L`` (latest) and ``RDE``, each with an optional count (``2F&L&RDE``, the paper's method). After the first
update the read memory is the RDE slots, then the latest slots, then the GT slots (the authors' order,
``[RDE, latest, GT, GT]`` for ``2F&L&RDE``); a repeated frame takes up to that many of the top-k places and its
weight is multiplied accordingly. Before the first update the bank holds frame 0 only: the RDE slots read GT (the
RDE starts as GT), all F slots together read GT once and there is no latest frame, so ``2F&L&RDE`` reads
``[GT, GT]``; a composition left empty (``L``) reads GT once. This reproduces, before and after the first update,
every read mode of the authors' memory bank but their STCN-style "stm": ``two-frames-compress`` = 2F&L&RDE,
``two-frames`` = 2F&L, ``last-compress`` = L&RDE, ``gt-compress`` = F&RDE, ``compress`` = RDE, ``last`` = L,
``gt`` = F; the other rows of Table 5 (F&L, F&2L, F&L&RDE) follow the same rule.
The affinity and top-k are STCN's (:class:`~vosnb.memory.base.KeyValueMemory`); the authors' DAVIS default is
``top_k=40``, θ = 3.

Size. The bank holds at most three frames' embeddings (GT, RDE, latest), only those its composition reads, so
:attr:`nbytes` is constant from the first update on, whatever the video length.
"""
from __future__ import annotations

import re

import torch
from torch import Tensor

from vosnb.memory.base import FrameContext, KeyValueMemory, tensor_bytes

SLOTS = ("RDE", "L", "F")  # the read order of the slots, as the authors' [RDE, latest, GT, GT]
TABLE5_COMPOSITIONS = ("F", "L", "RDE", "F&RDE", "L&RDE", "F&L", "F&L&RDE", "2F&L", "F&2L", "2F&L&RDE")

Frame = tuple[Tensor, Tensor]  # key [Ck, h, w], values [N, Cv, h, w]


def parse_composition(spec: str) -> dict[str, int]:
    """``"2F&L&RDE"`` → ``{"F": 2, "L": 1, "RDE": 1}``; every name at most once, counts ≥ 1."""
    counts: dict[str, int] = {}
    for part in spec.split("&"):
        match = re.fullmatch(r"([1-9]\d*)?(F|L|RDE)", part.strip())
        if match is None or match.group(2) in counts:
            raise ValueError(f"composition {spec!r}: expected '&'-joined parts such as 2F, L, RDE (each of F, L, RDE "
                             f"at most once, with an optional count), e.g. one of {TABLE5_COMPOSITIONS}")
        counts[match.group(2)] = int(match.group(1) or 1)
    return counts


class RDEMemory(KeyValueMemory):
    """GT, RDE and latest frame read as ``composition`` (module doc); updated every ``theta`` frames by the model's
    SAM (``model.mem_compress``, needed only when the composition reads the RDE)."""

    def __init__(self, model: torch.nn.Module | None = None, similarity: str = "l2", top_k: int | None = 40, *,
                 theta: int = 3, composition: str = "2F&L&RDE", temperature: float = 1.0) -> None:
        super().__init__(similarity, top_k, temperature=temperature)
        if isinstance(theta, bool) or not isinstance(theta, int) or theta < 1:
            raise ValueError(f"RDEMemory: theta={theta!r}: the sampling interval must be an integer ≥ 1")
        self.counts = parse_composition(composition)
        self.composition = composition
        self.theta = theta
        self.compress = getattr(model, "mem_compress", None) if "RDE" in self.counts else None
        if "RDE" in self.counts and self.compress is None:
            raise ValueError(f"RDEMemory: composition {composition!r} reads the RDE, which needs an RDE-VOS model "
                             f"(vosnb.models.RDE, with mem_compress); got {type(model).__name__}")
        self.gt: Frame | None = None
        self.rde: Frame | None = None
        self.latest: Frame | None = None
        self.updated_at: list[int] = []  # the frame indices fused into the RDE (or kept as latest), in order

    def should_write(self, frame_index: int) -> bool:
        """Frame 0, then every θ-th frame if the composition reads anything besides GT."""
        return frame_index == 0 or (frame_index % self.theta == 0 and ("L" in self.counts or "RDE" in self.counts))

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None:
        if self.gt is None and not self.updated_at:
            self.gt = (key, values)
            self.rde = self.gt if "RDE" in self.counts else None
            return
        if self.rde is not None:
            k = torch.stack([self.rde[0], key], dim=1).unsqueeze(0)          # [1, Ck, 2, h, w]
            v = torch.stack([self.rde[1], values], dim=2).unsqueeze(0)       # [1, N, Cv, 2, h, w]
            k, v = self.compress(k, v)
            self.rde = (k[0, :, 0], v[0, :, :, 0])
        if "L" in self.counts:
            self.latest = (key, values)
        if "F" not in self.counts:
            self.gt = None  # read no more
        self.updated_at.append(frame_index)

    def frames(self) -> list[Frame]:
        """The frames a read matches against, slot by slot (module doc)."""
        if not self.updated_at:
            if self.gt is None:
                return []
            slots = [self.rde] * self.counts.get("RDE", 0) + [self.gt] * min(1, self.counts.get("F", 0))
            return slots or [self.gt]
        held = {"RDE": self.rde, "L": self.latest, "F": self.gt}
        return [held[name] for name in SLOTS for _ in range(self.counts.get(name, 0))]

    def memory_keys(self) -> Tensor | None:
        frames = self.frames()
        return torch.cat([key.flatten(1) for key, _ in frames], 1) if frames else None

    def memory_rows(self) -> Tensor:
        return torch.cat([values.flatten(2).permute(2, 0, 1) for _, values in self.frames()], 0)

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct embeddings the bank holds (GT while the composition or the first update needs it,
        RDE, latest); the read's concatenation is transient."""
        held = {id(t): t for frame in (self.gt, self.rde, self.latest) if frame is not None for t in frame}
        return tensor_bytes(*held.values())
