"""RDE-VOS (Li et al., CVPR 2022): STCN plus the spatio-temporal aggregation module (SAM) that folds each new memory
frame into one recurrent dynamic embedding (RDE, §3.2-3.3, Eq. 3-6).

SAM is built as the authors' released code computes it, which is more specific than the paper in places (see the
"RDE-VOS" section of docs/DESIGN.md):

- :class:`NonLocal3d` (the paper's "relation" step, Eq. 4): a non-local block over T×h×w with C/2 inner channels;
  θ, φ, g are 1×1×1 convolutions with bias, φ and g followed by a (1, 2, 2) max-pool; the affinity
  ``f = θᵀφ / N`` is divided by N, the number of *pooled* positions, with no softmax; ``z = W(f g) + x`` with W a
  1×1×1 convolution with bias and no normalisation.
- :class:`Aspp3d` (Eq. 5): four branches of C/4 channels without bias, 1×1×1 and (1, 3, 3) with spatial dilation
  2, 4, 6, each followed by ReLU; concatenated, fused by a (1, 3, 3) convolution without bias and a ReLU; SAM adds
  it to its input (``x + ASPP(x)``).
- The squeeze of Eq. 6 is not inside SAM: :class:`MemCompress` runs a key SAM on the object-agnostic keys and one
  value SAM on every object's values (each object its own batch entry: objects never interact), then a (2, 3, 3)
  convolution with bias per stream collapses the two frames (the previous RDE and the new memory frame) into one.

Module names reproduce the authors' state-dict keys (``mem_compress.key_encoder.non_local.phi.0.weight``, ...), so
their released checkpoint loads with ``strict=True`` (:func:`load_rde_checkpoint`). :class:`RDE` accepts any
:class:`~vosnb.models.stcn.StcnConfig`: ``RDE.small()`` is the CPU model, :meth:`RDE.from_stcn` starts one from a
trained STCN. The memory bank that calls SAM is :class:`vosnb.memory.rde.RDEMemory`.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vosnb.models.stcn import STCN, infer_architecture, load_strictly, read_state_dict

PREFIX = "mem_compress."  # every tensor RDE-VOS adds to STCN lives under this name
DILATIONS = (2, 4, 6)  # the ASPP's dilated (1, 3, 3) branches, beside one 1×1×1 branch


def _check_channels(channels: int) -> None:
    if channels < 4 or channels % 4:
        raise ValueError(f"SAM needs a channel count divisible by 4 (C/2 non-local, C/4 ASPP branches); "
                         f"got {channels}")


class NonLocal3d(nn.Module):
    """Embedded non-local block over time and space with max-pooled φ and g and a 1/N affinity (Eq. 4)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_channels(channels)
        self.inner = channels // 2
        self.g = nn.Sequential(nn.Conv3d(channels, self.inner, 1), nn.MaxPool3d((1, 2, 2)))
        self.W = nn.Conv3d(self.inner, channels, 1)
        self.theta = nn.Conv3d(channels, self.inner, 1)
        self.phi = nn.Sequential(nn.Conv3d(channels, self.inner, 1), nn.MaxPool3d((1, 2, 2)))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T, h, w]`` → same shape (h, w ≥ 2 for the pool)."""
        b = x.shape[0]
        theta = self.theta(x).flatten(2).transpose(1, 2)   # [B, T·h·w, C/2]
        phi = self.phi(x).flatten(2)                        # [B, C/2, N] with N = T·⌊h/2⌋·⌊w/2⌋
        g = self.g(x).flatten(2).transpose(1, 2)            # [B, N, C/2]
        f = theta @ phi / phi.shape[-1]
        y = (f @ g).transpose(1, 2).reshape(b, self.inner, *x.shape[2:])
        return self.W(y) + x


class AsppBranch(nn.Module):
    """One ASPP branch: a bias-free 3-D convolution and a ReLU."""

    def __init__(self, channels: int, out: int, kernel: tuple[int, int, int], dilation: int) -> None:
        super().__init__()
        padding = tuple((k // 2) * dilation for k in kernel)
        self.atrous_conv = nn.Conv3d(channels, out, kernel, padding=padding, dilation=(1, dilation, dilation),
                                     bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.atrous_conv(x))


class Aspp3d(nn.Module):
    """The 3-D atrous spatial pyramid of Eq. 5: branches ``aspp1`` (1×1×1) and ``aspp2-4`` (dilations 2, 4, 6),
    then the (1, 3, 3) fuse ``conv1`` and a ReLU; every convolution without bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        _check_channels(channels)
        mid = channels // 4
        self.aspp1 = AsppBranch(channels, mid, (1, 1, 1), 1)
        self.aspp2, self.aspp3, self.aspp4 = (AsppBranch(channels, mid, (1, 3, 3), d) for d in DILATIONS)
        self.conv1 = nn.Conv3d(4 * mid, channels, (1, 3, 3), padding=(0, 1, 1), bias=False)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.aspp1(x), self.aspp2(x), self.aspp3(x), self.aspp4(x)]
        return F.relu(self.conv1(torch.cat(branches, dim=1)))


class SAM(nn.Module):
    """The spatio-temporal aggregation module (§3.3): ``x' = NonLocal(x)``, then ``x' + ASPP(x')``. Shape-preserving:
    ``[B, C, T, h, w]`` → ``[B, C, T, h, w]``; the squeeze to one frame is :class:`MemCompress`'s."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.non_local = NonLocal3d(channels)
        self.conv1 = Aspp3d(channels)

    def forward(self, x: Tensor) -> Tensor:
        x = self.non_local(x)
        return self.conv1(x) + x


class MemCompress(nn.Module):
    """Key SAM, value SAM and the (2, 3, 3) squeeze convolutions (Eq. 3, 6): two memory frames in, one out."""

    frames = 2  # the squeeze kernel's temporal extent: the previous RDE and the new memory frame

    def __init__(self, key_dim: int, value_dim: int) -> None:
        super().__init__()
        self.key_encoder = SAM(key_dim)
        self.value_encoder = SAM(value_dim)
        self.compress_key = nn.Conv3d(key_dim, key_dim, (self.frames, 3, 3), padding=(0, 1, 1))
        self.compress_value = nn.Conv3d(value_dim, value_dim, (self.frames, 3, 3), padding=(0, 1, 1))

    def forward(self, key: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """``key [B, Ck, 2, h, w]``, ``values [B, N, Cv, 2, h, w]`` (T index 0 the previous RDE, 1 the new frame)
        → ``([B, Ck, 1, h, w], [B, N, Cv, 1, h, w])``. The key SAM runs once; the value SAM sees each object as a
        batch entry of its own."""
        if key.dim() != 5 or values.dim() != 6 or key.shape[2] != self.frames or values.shape[3] != self.frames \
                or key.shape[0] != values.shape[0] or key.shape[3:] != values.shape[4:]:
            raise ValueError(f"expected key [B, Ck, {self.frames}, h, w] and values [B, N, Cv, {self.frames}, h, w]; "
                             f"got {tuple(key.shape)} and {tuple(values.shape)}")
        b, n = values.shape[:2]
        k = self.compress_key(self.key_encoder(key))
        v = self.compress_value(self.value_encoder(values.flatten(0, 1)))
        return k, v.view(b, n, *v.shape[1:])


class RDE(STCN):
    """STCN with RDE-VOS's ``mem_compress`` (same constructor as :class:`STCN`). SAM keeps PyTorch's default
    initialisation, as in the authors' code (their zero-initialisation of W is commented out)."""

    model_type = "rde"

    def __init__(self, key_dim: int = 64, value_dim: int = 512, similarity: str = "l2", **kwargs) -> None:
        super().__init__(key_dim, value_dim, similarity, **kwargs)
        self.mem_compress = MemCompress(key_dim, value_dim)

    @classmethod
    def from_stcn(cls, stcn: STCN) -> RDE:
        """An RDE with ``stcn``'s architecture and STCN weights and a freshly initialised SAM (the start of RDE
        training, §4.1; an RDE given here loses its SAM), on ``stcn``'s device and in its train/eval mode."""
        model = cls(stcn.key_dim, stcn.value_dim, stcn.similarity, config=stcn.config)
        state = {k: v for k, v in stcn.state_dict().items() if not k.startswith(PREFIX)}
        model.load_state_dict({**model.mem_compress.state_dict(prefix=PREFIX), **state}, strict=True)
        return model.to(next(stcn.parameters()).device).train(stcn.training)


def load_rde_checkpoint(path: str | Path, similarity: str = "l2",
                        map_location: str | torch.device = "cpu") -> RDE:
    """Load the authors' released RDE-VOS network (a plain state dict: STCN's tensors and 30 under
    ``mem_compress.``) with ``torch.load(weights_only=True)`` and ``strict=True``; returned in eval mode.

    Widths are read off the STCN tensors' shapes as for :func:`~vosnb.models.stcn.load_stcn_checkpoint`. Raises
    :class:`~vosnb.errors.CheckpointError` naming every missing, unexpected or reshaped tensor.
    """
    path = Path(path)
    state = read_state_dict(path, map_location)
    key_dim, value_dim, config = infer_architecture(state, path)
    model = RDE(key_dim, value_dim, similarity, config=config)
    load_strictly(model, state, path, f"the RDE-VOS architecture its STCN shapes describe (Ck={key_dim}, "
                                      f"Cv={value_dim})",
                  "give the released RDE-VOS checkpoint unmodified (the network eval_davis.py builds with its default "
                  "--repeat 0; --repeat > 0 adds se_block tensors vosnb does not build), or a vosnb RDE checkpoint")
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    return model.eval()
