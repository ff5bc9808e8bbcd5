"""Affinity between memory and query keys, and the softmax that turns it into readout weights.

Shapes follow STCN (§3.2, Eq. 1–4): memory keys ``[B, Ck, M]`` with ``M = T·H·W``, query keys ``[B, Ck, Q]`` with
``Q = H·W``; the affinity is ``[B, M, Q]`` and the softmax runs over the memory axis (dim 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

SIMILARITIES = ("dot", "cosine", "l2")


def similarity(mem_key: Tensor, query_key: Tensor, kind: str = "l2", *, temperature: float = 1.0,
               naive: bool = False) -> Tensor:
    """Affinity ``S[b, i, j]`` between memory element i and query element j, scaled by ``1/sqrt(Ck)``.

    - ``dot``: ``k_i · q_j`` (STM's choice).
    - ``cosine``: dot product of L2-normalised keys divided by ``temperature`` (STCN Table 2 uses 0.01).
    - ``l2``: negative squared distance. The efficient form (STCN App. A, Eq. 5) is ``2 k_i·q_j − ‖k_i‖²``: the
      ``‖q_j‖²`` term is constant over the softmax axis and cancels. ``naive=True`` computes ``−‖k_i − q_j‖²``
      in full, which gives the same softmax (STCN-2) at more cost.
    """
    if kind not in SIMILARITIES:
        raise ValueError(f"similarity kind={kind!r}; expected one of {SIMILARITIES}")
    if mem_key.dim() != 3 or query_key.dim() != 3 or mem_key.shape[:2] != query_key.shape[:2]:
        raise ValueError(f"keys must be [B, Ck, M] and [B, Ck, Q] with equal B and Ck; got "
                         f"{tuple(mem_key.shape)} and {tuple(query_key.shape)}")
    scale = 1.0 / math.sqrt(mem_key.shape[1])
    if kind == "dot":
        return torch.bmm(mem_key.transpose(1, 2), query_key) * scale
    if kind == "cosine":
        mk = torch.nn.functional.normalize(mem_key, dim=1)
        qk = torch.nn.functional.normalize(query_key, dim=1)
        return torch.bmm(mk.transpose(1, 2), qk) * (scale / temperature)
    if naive:
        diff = mem_key.unsqueeze(3) - query_key.unsqueeze(2)  # [B, Ck, M, Q]
        return -(diff * diff).sum(1) * scale
    a_sq = mem_key.pow(2).sum(1).unsqueeze(2)  # [B, M, 1]
    return (2 * torch.bmm(mem_key.transpose(1, 2), query_key) - a_sq) * scale


def select_top_k(affinity: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest affinities over the memory axis and their indices, ties broken towards the lower index.

    ``torch.topk`` leaves the order of equal values unspecified. A query column is ambiguous only when its k-th and
    (k+1)-th largest values are equal; those (rare) columns are re-ranked with a stable sort, so the selection is
    the same on every run and device while the common case costs a single ``topk``.
    """
    values, index = torch.topk(affinity, min(k + 1, affinity.shape[1]), dim=1)
    ambiguous = (values[:, k - 1] == values[:, k]).nonzero(as_tuple=True) if values.shape[1] > k else ()
    values, index = values[:, :k], index[:, :k]
    if ambiguous and ambiguous[0].numel():
        columns = affinity[ambiguous[0], :, ambiguous[1]]  # [P, M]
        order = torch.sort(columns, dim=1, descending=True, stable=True).indices[:, :k]
        index[ambiguous[0], :, ambiguous[1]] = order
        values[ambiguous[0], :, ambiguous[1]] = torch.gather(columns, 1, order)
    return values, index


def top_k_mask(affinity: Tensor, k: int) -> Tensor:
    """Boolean mask of the entries :func:`select_top_k` selects."""
    if k >= affinity.shape[1]:
        return torch.ones_like(affinity, dtype=torch.bool)
    mask = torch.zeros_like(affinity, dtype=torch.bool)
    return mask.scatter_(1, select_top_k(affinity, k)[1], True)


def softmax_weights(affinity: Tensor, top_k: int | None = None) -> Tensor:
    """Readout weights ``W`` (STCN Eq. 2): softmax over memory, optionally over the ``top_k`` entries only.

    With ``top_k`` the softmax runs over the kept values (maximum subtracted) and is scattered back into zeros, as
    STCN's inference does: entries outside the top-k get weight exactly 0 and cost no exponential.
    """
    if top_k is None or top_k >= affinity.shape[1]:
        return torch.softmax(affinity, dim=1)
    values, index = select_top_k(affinity, top_k)
    return torch.zeros_like(affinity).scatter_(1, index, torch.softmax(values, dim=1))


def readout(values: Tensor, weights: Tensor) -> Tensor:
    """``values @ W``: values ``[B, N, Cv, M]`` (N objects share one affinity) and weights ``[B, M, Q]`` give
    ``[B, N, Cv, Q]`` (STCN §3.2: one affinity serves every object)."""
    b, n, cv, m = values.shape
    return torch.bmm(values.reshape(b, n * cv, m), weights).reshape(b, n, cv, weights.shape[2])


@dataclass
class ContributionTracker:
    """Per memory element: the largest weight it ever gave any query (STCN-4, Fig. 4) and how many query
    elements had it in their top-k (the LFU index, AMM §III). Created only when asked for: tracking off costs
    nothing."""

    max_weight: Tensor
    top_k_hits: Tensor

    @classmethod
    def empty(cls, device: torch.device | str = "cpu") -> "ContributionTracker":
        z = torch.zeros(0, device=device)
        return cls(max_weight=z, top_k_hits=z.clone())

    def extend(self, count: int) -> None:
        """Add ``count`` new memory elements with no history."""
        pad = self.max_weight.new_zeros(count)
        self.max_weight = torch.cat([self.max_weight, pad])
        self.top_k_hits = torch.cat([self.top_k_hits, pad.clone()])

    def update(self, weights: Tensor) -> None:
        """Fold in one read's weights ``[1, M, Q]``; the first ``len(self)`` memory elements are tracked."""
        w = weights[0, : self.max_weight.shape[0]]
        self.max_weight = torch.maximum(self.max_weight, w.max(dim=1).values)
        self.top_k_hits = self.top_k_hits + (w > 0).sum(dim=1).to(self.top_k_hits.dtype)

    def keep(self, index: Tensor) -> None:
        """Keep only the elements at ``index`` (after an eviction)."""
        self.max_weight = self.max_weight[index]
        self.top_k_hits = self.top_k_hits[index]

    def __len__(self) -> int:
        return int(self.max_weight.shape[0])
