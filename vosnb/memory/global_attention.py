"""The global attention memory of the real-time high-resolution VOS paper (Wang, Chen, Yang & Wu; §3.2, Eq. 1–3).

Instead of stacking every memory frame's keys and values, the module folds each memory frame into one fixed matrix
per object:

- Eq. 1, per memory frame: ``A_T = F_Tᵀ M_T`` (``C_N × C_M``), where ``F_T`` (``HW × C_N``) is the frame's
  features and ``M_T`` (``HW × C_M``) its mask features; the product sums over the ``HW`` positions.
- Eq. 2, the running update: ``G_T = A_T / T + (T − 1)/T · G_{T−1}``, so that every written ``A_p`` has weight
  ``1/T`` in ``G_T`` (an equal-weight mean; :func:`running_mean` and :func:`weighted_mean` check this).
- Eq. 3, the read of the next frame: ``D = L_F G_{T−1}`` (``HW × C_M``), with ``L_F`` (``HW × C_N``) the query
  frame's features in the same space as ``F``.

What plays each tensor here, with the engine's STCN-style models: ``F`` and ``L_F`` are the frame's key
(``key [Ck, h, w]``, the frame encoder's projection; ``features="f16"`` takes the raw stride-16 encoder output
instead), so ``C_N = Ck``; ``M`` is the object's memory value (``values [N, Cv, h, w]``, the mask encoder's output
from the frame features and the mask), so ``C_M = Cv``. Each object of the bank has its own matrix: the state is
``G [N, C_N, C_M]`` and the count ``T`` of frames written, whatever the resolution or the video length.
The read returns ``D`` per object as ``values [N, Cv, h, w]``; the paper then adds it to the query frame's own
attention vectors. That step belongs to the model: :class:`vosnb.models.gam.GAM` sums ``D`` and the query's value;
an STCN model concatenates its query value with the readout, as it does with any memory.

``variant="gc"`` is the closely related global context module (Li, Shen & Shan, ECCV 2020): before Eq. 1 each
channel of ``F`` is normalised by a softmax over the positions, and before Eq. 3 each position of ``L_F`` by a
softmax over the channels, so that a read is a convex combination of averaged mask features. The paper's module
(``variant="paper"``) uses the raw products. Frames are written every ``every`` frames (1 by default: writing is
cheap and the state does not grow).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from vosnb.memory.base import FrameContext, Readout, tensor_bytes

VARIANTS = ("paper", "gc")
FEATURES = ("key", "f16")


def update_mean(mean: Tensor | None, attention: Tensor, count: int) -> Tensor:
    """Eq. 2: ``G_T = A_T / T + (T − 1)/T · G_{T−1}`` with ``T = count`` (``mean`` is None when ``count`` is 1)."""
    if count < 1:
        raise ValueError(f"count={count}: the frame count T starts at 1")
    if mean is None:
        return attention.clone()
    return attention / count + mean * ((count - 1) / count)


def running_mean(attentions: Sequence[Tensor]) -> Tensor:
    """``G_T`` after applying Eq. 2 to ``A_1 … A_T`` in order."""
    mean = None
    for count, attention in enumerate(attentions, start=1):
        mean = update_mean(mean, attention, count)
    if mean is None:
        raise ValueError("running_mean of no matrices")
    return mean


def weighted_mean(attentions: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """``Σ_p w_p A_p / Σ_p w_p`` over all ``A_p`` at once; ``weights=None`` is the equal-weight mean that Eq. 2
    claims to compute (GAM-4), other weights give a mean Eq. 2 must not match."""
    stacked = torch.stack(list(attentions))
    w = torch.ones(len(stacked), dtype=stacked.dtype, device=stacked.device) if weights is None else \
        torch.as_tensor(weights, dtype=stacked.dtype, device=stacked.device)
    return torch.einsum("p,p...->...", w, stacked) / w.sum()


def attention_matrix(features: Tensor, values: Tensor, variant: str = "paper") -> Tensor:
    """Eq. 1 on flattened grids, batched: features ``[..., C_N, P]`` and values ``[..., N, C_M, P]`` →
    ``A = Fᵀ M`` ``[..., N, C_N, C_M]`` (the GC variant softmaxes ``F`` over the ``P`` positions first)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}; expected one of {VARIANTS}")
    if variant == "gc":
        features = torch.softmax(features, dim=-1)
    return features.unsqueeze(-3) @ values.transpose(-1, -2)


def read_matrix(global_matrix: Tensor, query: Tensor, variant: str = "paper") -> Tensor:
    """Eq. 3 on a flattened grid, batched: ``G [..., N, C_N, C_M]`` and ``L_F [..., C_N, P]`` → ``D``
    ``[..., N, C_M, P]`` (the GC variant softmaxes ``L_F`` over the ``C_N`` channels first)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r}; expected one of {VARIANTS}")
    if variant == "gc":
        query = torch.softmax(query, dim=-2)
    return global_matrix.transpose(-1, -2) @ query.unsqueeze(-3)


class GlobalAttentionMemory:
    """Eq. 1–3 as a :class:`~vosnb.memory.MemoryBank` (module doc): state ``G [N, C_N, C_M]`` and a count."""

    def __init__(self, variant: str = "paper", every: int = 1, features: str = "key") -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r}; expected one of {VARIANTS}")
        if features not in FEATURES:
            raise ValueError(f"features={features!r}; expected one of {FEATURES}")
        if every < 1:
            raise ValueError(f"every={every}: the write interval must be ≥ 1")
        self.variant = variant
        self.every = every
        self.features = features
        self.global_matrix: Tensor | None = None
        self.count = 0

    def frame_features(self, key: Tensor, context: FrameContext | None) -> Tensor:
        """``F`` or ``L_F`` of one frame as ``[C_N, h, w]``: the key, or the context's f16 with ``features="f16"``."""
        if self.features == "key":
            return key
        if context is None or context.features is None:
            raise ValueError("features='f16' needs the frame's FrameContext with the model's query features")
        return context.features.f16[0]

    def attention(self, features: Tensor, values: Tensor) -> Tensor:
        """Eq. 1, ``A = Fᵀ M`` per object: features ``[C_N, h, w]``, values ``[N, C_M, h, w]`` → ``[N, C_N, C_M]``
        (``F`` softmaxed over positions first in the GC variant)."""
        if features.dim() != 3 or values.dim() != 4 or features.shape[1:] != values.shape[2:]:
            raise ValueError(f"expected features [C_N, h, w] and values [N, C_M, h, w] on the same grid; got "
                             f"{tuple(features.shape)} and {tuple(values.shape)}")
        return attention_matrix(features.flatten(1), values.flatten(2), self.variant)

    def should_write(self, frame_index: int) -> bool:
        return frame_index % self.every == 0

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None:
        """Fold the frame into ``G`` (Eq. 1–2)."""
        attention = self.attention(self.frame_features(key, context), values)
        if self.global_matrix is not None and attention.shape != self.global_matrix.shape:
            raise ValueError(f"this bank holds G of shape {tuple(self.global_matrix.shape)} [N, C_N, C_M]; the frame "
                             f"gives {tuple(attention.shape)}. Objects that join later need a bank of their own.")
        self.count += 1
        self.global_matrix = update_mean(self.global_matrix, attention, self.count)

    def read(self, query_key: Tensor, context: FrameContext | None = None) -> Readout:
        """Eq. 3, ``D = L_F G`` per object, returned as ``values [N, C_M, h, w]`` (``L_F`` softmaxed over channels
        first in the GC variant)."""
        if self.global_matrix is None:
            raise RuntimeError("read from an empty memory: write the first frame before reading")
        query = self.frame_features(query_key, context)
        out = read_matrix(self.global_matrix, query.flatten(1), self.variant)
        return Readout(values=out.unflatten(2, query.shape[1:]))

    @property
    def nbytes(self) -> int:
        """Bytes of ``G`` (the count is a Python integer)."""
        return tensor_bytes(self.global_matrix)
