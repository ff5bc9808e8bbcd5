"""STCN's building blocks above the ResNet trunks (Cheng et al., NeurIPS 2021, §3 and App. F.2).

Attribute names reproduce the released checkpoint's state-dict keys (``block1``, ``attention.ChannelGate.mlp.1``,
``attention.SpatialGate.spatial.conv``, ``compress``, ``up_16_8.skip_conv``, ``key_proj`` ...).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResBlock(nn.Module):
    """Pre-activation residual block without normalisation: ``x + conv2(relu(conv1(relu(x))))``; the shortcut is a
    3×3 ``downsample`` convolution when the widths differ (App. F.2: "BasicBlock style ResBlock", no batch norm)."""

    def __init__(self, in_dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        out_dim = in_dim if out_dim is None else out_dim
        self.downsample = None if in_dim == out_dim else nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        r = self.conv2(F.relu(self.conv1(F.relu(x))))
        return (x if self.downsample is None else self.downsample(x)) + r


class ChannelGate(nn.Module):
    """CBAM's channel attention (Woo et al., ECCV 2018): a shared MLP on the average- and max-pooled features,
    summed, sigmoid, scales the channels."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        if hidden < 1:
            raise ValueError(f"CBAM needs channels >= reduction; got channels={channels}, reduction={reduction}")
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: Tensor) -> Tensor:
        attention = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        return x * torch.sigmoid(attention)[:, :, None, None]


class SpatialGate(nn.Module):
    """CBAM's spatial attention: a 7×7 convolution on the channel-wise max and mean, sigmoid, scales the pixels."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.spatial = nn.Sequential(OrderedDict(conv=nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)))

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class CBAM(nn.Module):
    """Convolutional block attention module: channel gate then spatial gate (default setting, App. F.2)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.ChannelGate = ChannelGate(channels, reduction)
        self.SpatialGate = SpatialGate()

    def forward(self, x: Tensor) -> Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class FeatureFusion(nn.Module):
    """The value encoder's head (§3.1 "feature reuse", App. F.2): concatenate the value trunk's stride-16 feature
    with the key encoder's, then ResBlock → ``x + CBAM(x)`` → ResBlock."""

    def __init__(self, in_dim: int, out_dim: int, reduction: int = 16) -> None:
        super().__init__()
        self.block1 = ResBlock(in_dim, out_dim)
        self.attention = CBAM(out_dim, reduction)
        self.block2 = ResBlock(out_dim, out_dim)

    def forward(self, x: Tensor, key_f16: Tensor) -> Tensor:
        x = self.block1(torch.cat([x, key_f16], dim=1))
        return self.block2(x + self.attention(x))


class UpsampleBlock(nn.Module):
    """One decoder step: ``skip_conv(skip) + bilinear×2(up)`` then a ResBlock (``out_conv``).

    ``up`` may hold several objects per frame (``[B*N, C, h, w]`` against ``skip`` ``[B, C', 2h, 2w]``): the skip
    convolution does not depend on the object, so it runs once per frame and is broadcast over the N objects.
    """

    def __init__(self, skip_dim: int, up_dim: int, out_dim: int) -> None:
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_dim, up_dim, kernel_size=3, padding=1)
        self.out_conv = ResBlock(up_dim, out_dim)

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        skip = self.skip_conv(skip)
        up = F.interpolate(up, scale_factor=2, mode="bilinear", align_corners=False)
        b = skip.shape[0]
        x = skip.unsqueeze(1) + up.view(b, up.shape[0] // b, *up.shape[1:])
        return self.out_conv(x.flatten(0, 1))


class Decoder(nn.Module):
    """STCN's decoder (§3.2): ``compress`` the concatenated [readout, query value] at stride 16, upsample through the
    key encoder's stride-8 and stride-4 features, ``pred`` one logit per pixel at stride 4, bilinear ×4.

    Args:
        in_dim: readout plus query-value channels (1024 in the release).
        skip_dims: channels of the key encoder's f8 and f4 (512, 256).
        widths: output channels of ``compress``, ``up_16_8``, ``up_8_4`` (512, 256, 256).
    """

    def __init__(self, in_dim: int, skip_dims: tuple[int, int], widths: tuple[int, int, int]) -> None:
        super().__init__()
        self.compress = ResBlock(in_dim, widths[0])
        self.up_16_8 = UpsampleBlock(skip_dims[0], widths[0], widths[1])
        self.up_8_4 = UpsampleBlock(skip_dims[1], widths[1], widths[2])
        self.pred = nn.Conv2d(widths[2], 1, kernel_size=3, padding=1)

    def forward(self, x: Tensor, f8: Tensor, f4: Tensor) -> Tensor:
        """``x [B, N, in_dim, h, w]``, ``f8 [B, C8, 2h, 2w]``, ``f4 [B, C4, 4h, 4w]`` → logits ``[B, N, 16h, 16w]``."""
        b, n = x.shape[:2]
        x = self.compress(x.flatten(0, 1))
        x = self.up_16_8(f8, x)
        x = self.up_8_4(f4, x)
        x = self.pred(F.relu(x))
        x = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        return x.view(b, n, *x.shape[-2:])


class KeyProjection(nn.Module):
    """The key head (§3.1): a 3×3 convolution without non-linearity from the key encoder's f16 to the Ck-dimensional
    key space; orthogonal weights and zero bias at initialisation, as the authors' code."""

    def __init__(self, in_dim: int, key_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Conv2d(in_dim, key_dim, kernel_size=3, padding=1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.orthogonal_(self.key_proj.weight)
        nn.init.zeros_(self.key_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.key_proj(x)
