"""Affinity between memory and query keys, and the softmax that turns it into readout weights.

Shapes follow STCN (§3.2, Eq. 1–4): memory keys ``[B, Ck, M]`` with ``M = T·H·W``, query keys ``[B, Ck, Q]`` with
``Q = H·W``; the affinity is ``[B, M, Q]`` and the softmax runs over the memory axis (dim 1). The top-k read can
also work query-major (``[B, Q, M]``, memory axis last) and keep its weights sparse (:class:`TopKWeights`): see
:func:`use_sparse_read` for when that pays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

SIMILARITIES = ("dot", "cosine", "l2")
SPARSE_READ_MIN_ENTRIES = 2**17
"""Affinity entries ``M·Q`` from which the CPU top-k read keeps its weights sparse (:func:`use_sparse_read`)."""


def similarity(mem_key: Tensor, query_key: Tensor, kind: str = "l2", *, temperature: float = 1.0,
               naive: bool = False, query_major: bool = False) -> Tensor:
    """Affinity ``S[b, i, j]`` between memory element i and query element j, scaled by ``1/sqrt(Ck)``.

    - ``dot``: ``k_i · q_j`` (STM's choice).
    - ``cosine``: dot product of L2-normalised keys divided by ``temperature`` (STCN Table 2 uses 0.01).
    - ``l2``: negative squared distance. The efficient form (STCN App. A, Eq. 5) is ``2 k_i·q_j − ‖k_i‖²``: the
      ``‖q_j‖²`` term is constant over the softmax axis and cancels. ``naive=True`` computes ``−‖k_i − q_j‖²``
      in full, which gives the same softmax (STCN-2) at more cost.

    ``query_major=True`` returns the transpose ``[B, Q, M]`` (same values), the layout of the sparse top-k read.
    The efficient L2 form is one ``baddbmm`` and an in-place scale, the same roundings as the authors'
    ``(2*ab - a_sq) / sqrt(Ck)`` without its three temporary ``M × Q`` tensors.
    """
    if kind not in SIMILARITIES:
        raise ValueError(f"similarity kind={kind!r}; expected one of {SIMILARITIES}")
    if mem_key.dim() != 3 or query_key.dim() != 3 or mem_key.shape[:2] != query_key.shape[:2]:
        raise ValueError(f"keys must be [B, Ck, M] and [B, Ck, Q] with equal B and Ck; got "
                         f"{tuple(mem_key.shape)} and {tuple(query_key.shape)}")
    scale = 1.0 / math.sqrt(mem_key.shape[1])
    rows, cols = (query_key, mem_key) if query_major else (mem_key, query_key)
    if kind == "cosine":
        rows, cols = F.normalize(rows, dim=1), F.normalize(cols, dim=1)
        scale /= temperature
    if kind == "l2" and naive:
        diff = rows.unsqueeze(3) - cols.unsqueeze(2)  # [B, Ck, rows, cols]
        return -(diff * diff).sum(1) * scale
    if kind == "l2":
        a_sq = mem_key.pow(2).sum(1).unsqueeze(1 if query_major else 2)  # broadcast along the query axis
        return torch.baddbmm(-a_sq, rows.transpose(1, 2), cols, alpha=2).mul_(scale)
    return torch.bmm(rows.transpose(1, 2), cols).mul_(scale)


def select_top_k(affinity: Tensor, k: int, dim: int = 1) -> tuple[Tensor, Tensor]:
    """The ``k`` largest affinities along the memory axis ``dim`` and their indices, ties broken towards the lower
    index; both have ``min(k, M)`` entries along ``dim``.

    ``torch.topk`` leaves the order of equal values unspecified. A query is ambiguous only when its k-th and
    (k+1)-th largest values are equal; those (rare) queries are re-ranked with a stable sort, so the selection is
    the same on every run and device while the common case costs a single ``topk``. ``topk`` along a contiguous
    axis (``dim=2`` of a query-major affinity) is about 3× faster on CPU than along a strided one.
    """
    size = affinity.shape[dim]
    values, index = torch.topk(affinity, min(k + 1, size), dim=dim)
    ambiguous = (values.select(dim, k - 1) == values.select(dim, k)).nonzero(as_tuple=True) if size > k else ()
    values, index = values.narrow(dim, 0, min(k, size)), index.narrow(dim, 0, min(k, size))
    if ambiguous and ambiguous[0].numel():
        rows = affinity.movedim(dim, -1)[ambiguous]  # [P, M]
        order = torch.sort(rows, dim=1, descending=True, stable=True).indices[:, :k]
        index.movedim(dim, -1)[ambiguous] = order
        values.movedim(dim, -1)[ambiguous] = torch.gather(rows, 1, order)
    return values, index


def top_k_mask(affinity: Tensor, k: int) -> Tensor:
    """Boolean mask of the entries :func:`select_top_k` selects."""
    if k >= affinity.shape[1]:
        return torch.ones_like(affinity, dtype=torch.bool)
    mask = torch.zeros_like(affinity, dtype=torch.bool)
    return mask.scatter_(1, select_top_k(affinity, k)[1], True)


@dataclass(frozen=True)
class TopKWeights:
    """STCN's top-k readout weights kept sparse: for each query element the softmax over its k most similar memory
    elements (Eq. 2 restricted to the top k), ``weights`` and memory ``index`` both query-major ``[B, Q, k]``;
    ``memory_size`` is M. Every other weight is exactly 0."""

    weights: Tensor
    index: Tensor
    memory_size: int

    def dense(self) -> Tensor:
        """The dense weights ``[B, M, Q]``: the kept values scattered into zeros."""
        b, q, _ = self.weights.shape
        out = self.weights.new_zeros(b, self.memory_size, q)
        return out.scatter_(1, self.index.transpose(1, 2), self.weights.transpose(1, 2))


def top_k_weights(affinity: Tensor, k: int, *, query_major: bool = False) -> TopKWeights:
    """The softmax over each query's ``k`` largest affinities (:func:`select_top_k`), kept sparse; ``affinity`` is
    ``[B, M, Q]``, or ``[B, Q, M]`` with ``query_major=True``. Only the kept values are exponentiated."""
    dim = 2 if query_major else 1
    values, index = select_top_k(affinity, k, dim)
    weights = torch.softmax(values, dim=dim)
    if not query_major:
        weights, index = weights.transpose(1, 2), index.transpose(1, 2)
    return TopKWeights(weights, index, affinity.shape[dim])


def dense_weights(weights: Tensor | TopKWeights) -> Tensor:
    """Readout weights ``[B, M, Q]`` whichever form they come in."""
    return weights.dense() if isinstance(weights, TopKWeights) else weights


def _kept(weights: TopKWeights, size: int) -> tuple[Tensor, Tensor]:
    """Memory index and weight of every positive kept entry of batch 0 that falls on the first ``size`` elements."""
    index, w = weights.index[0].flatten(), weights.weights[0].flatten()
    keep = (index < size) & (w > 0)
    return index[keep], w[keep]


def element_hits(weights: Tensor | TopKWeights, size: int) -> Tensor:
    """Per memory element among the first ``size``: how many query elements gave it a positive weight in one read
    (batch 0), i.e. its top-k appearances; ``O(k·Q)`` from the sparse form."""
    if isinstance(weights, TopKWeights):
        return torch.bincount(_kept(weights, size)[0], minlength=size)
    return (weights[0, :size] > 0).sum(1)


def element_weight_sums(weights: Tensor | TopKWeights, size: int) -> Tensor:
    """Per memory element among the first ``size``: the sum of the weights it gave the query elements (batch 0)."""
    if isinstance(weights, TopKWeights):
        index, w = _kept(weights, size)
        return w.new_zeros(size).index_add_(0, index, w)
    return weights[0, :size].sum(1)


def element_max_weights(weights: Tensor | TopKWeights, size: int) -> Tensor:
    """Per memory element among the first ``size``: the largest weight it gave any query element (batch 0)."""
    if isinstance(weights, TopKWeights):
        index, w = _kept(weights, size)
        return w.new_zeros(size).scatter_reduce_(0, index, w, reduce="amax")
    return weights[0, :size].max(dim=1).values


def softmax_weights(affinity: Tensor, top_k: int | None = None) -> Tensor:
    """Dense readout weights ``W`` (STCN Eq. 2): softmax over memory, optionally over the ``top_k`` entries only.

    With ``top_k`` the softmax runs over the kept values (maximum subtracted) and is scattered back into zeros, as
    STCN's inference does: entries outside the top-k get weight exactly 0 and cost no exponential.
    """
    if top_k is None or top_k >= affinity.shape[1]:
        return torch.softmax(affinity, dim=1)
    return top_k_weights(affinity, top_k).dense()


def use_sparse_read(memory_size: int, query_size: int, device: torch.device) -> bool:
    """Whether a top-k read should keep its weights sparse (:func:`top_k_weights` on a query-major affinity, then
    the gathered :func:`readout`) rather than build the dense ``[M, Q]`` weights: on CPU from ``M·Q ≥ 2^17``.

    Measured on the whole :meth:`~vosnb.memory.KeyValueMemory.read` (2-core AMD EPYC, 1 thread, k = 20, median of 7
    interleaved rounds, dense/sparse time): at Q = 112 with N·Cv = 64 the two are within noise below ``M·Q ≈ 10^5``
    (1.01× at M = 112, 1.13× at M = 896: 1.28 vs 1.15 ms); the sparse read pulls ahead with size and width (2.6× at
    Q = 405, M = 1,620, N·Cv = 512; 5.4–15× at the paper's shapes, ``benchmarks/results/bench_readout_cpu.txt``).
    Below the threshold — the synthetic data's 128×224 frames (Q = 112) with up to 10 memory frames — the dense path
    is kept: it costs about a tenth of a millisecond per read there and keeps results bit-identical to the earlier
    dense code. On CUDA the dense path is kept: the rule has not been measured on a GPU.
    """
    return device.type == "cpu" and memory_size * query_size >= SPARSE_READ_MIN_ENTRIES


def readout(values: Tensor, weights: Tensor | TopKWeights) -> Tensor:
    """``v^M W`` (STCN Eq. 2): values ``[B, N, Cv, M]`` (N objects share one affinity, §3.2) and weights give
    ``[B, N, Cv, Q]``.

    Dense weights ``[B, M, Q]``: one matrix product for all objects. :class:`TopKWeights`: each query's k value
    vectors gathered and summed with their weights (``embedding_bag``), ``k·Q`` instead of ``M·Q`` multiply-adds
    per channel; fastest when the values are stored element-major (``values.permute(0, 3, 1, 2)`` contiguous), as
    :class:`~vosnb.memory.KeyValueMemory` stores them.
    """
    b, n, cv, m = values.shape
    if not isinstance(weights, TopKWeights):
        return torch.bmm(values.reshape(b, n * cv, m), weights).reshape(b, n, cv, weights.shape[2])
    q, k = weights.index.shape[1:]
    rows = values.reshape(b, n * cv, m).transpose(1, 2).reshape(b * m, n * cv)
    index = weights.index + m * torch.arange(b, device=values.device).view(b, 1, 1)
    out = F.embedding_bag(index.reshape(b * q, k), rows, mode="sum",
                          per_sample_weights=weights.weights.reshape(b * q, k).to(rows.dtype))
    return out.view(b, q, n, cv).permute(0, 2, 3, 1)


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

    def update(self, weights: Tensor | TopKWeights) -> None:
        """Fold in one read's weights, dense ``[1, M, Q]`` or sparse (equal results, the sparse form in ``O(k·Q)``);
        the first ``len(self)`` memory elements are tracked, a hit is a positive weight."""
        n = len(self)
        self.max_weight = torch.maximum(self.max_weight, element_max_weights(weights, n).to(self.max_weight.dtype))
        self.top_k_hits = self.top_k_hits + element_hits(weights, n).to(self.top_k_hits.dtype)

    def keep(self, index: Tensor) -> None:
        """Keep only the elements at ``index`` (after an eviction)."""
        self.max_weight = self.max_weight[index]
        self.top_k_hits = self.top_k_hits[index]

    def __len__(self) -> int:
        return int(self.max_weight.shape[0])
