"""ResNets with torchvision's module names (He et al., CVPR 2016), written here because no torchvision is installed.

The state-dict keys (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0`` ...) and shapes of
:func:`resnet18` and :func:`resnet50` equal torchvision's, so their ImageNet weights would load unchanged. Two
options serve STCN's encoders: ``bias=True`` gives every convolution a bias (the value encoder of the released STCN,
whose ResNet-18 was built that way) and ``in_channels`` widens the first convolution (RGB + masks). ``num_classes=None``
builds a trunk without pooling and classifier; :meth:`ResNet.forward_features` returns each stage's output.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def init_conv_bn_(module: nn.Module) -> None:
    """torchvision's initialisation, applied to one module: Kaiming-normal (fan-out, ReLU) convolutions with zero
    bias; batch norms with weight 1 and bias 0. Use with ``model.apply``."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """3×3 convolution with padding 1."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=bias)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    """1×1 convolution."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=bias)


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, bias=bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (strided, torchvision's "v1.5") → 1×1 convolutions with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes, bias=bias)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, bias)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion, bias=bias)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = type[BasicBlock] | type[Bottleneck]


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that pools CPU tensors in channels-last memory (same values, NCHW output): PyTorch's NCHW
    CPU kernel is about 3-4× slower at the stem's sizes (measured: 1.0 ms vs 0.3 ms on [2, 8, 64, 112], 1 thread)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        return super().forward(x.contiguous(memory_format=torch.channels_last)).contiguous()


def make_stage(block: Block, inplanes: int, planes: int, blocks: int, stride: int = 1,
               bias: bool = False) -> tuple[nn.Sequential, int]:
    """One ResNet stage (``layerN``) and its output channels; a 1×1 ``downsample`` (conv, BN) projects the shortcut
    of the first block when the stride or the width changes."""
    out = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(conv1x1(inplanes, out, stride, bias), nn.BatchNorm2d(out))
    layers = [block(inplanes, planes, stride, downsample, bias)]
    layers += [block(out, planes, bias=bias) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out


class ResNet(nn.Module):
    """A ResNet: stem (``conv1``, ``bn1``, ReLU, 3×3/2 max-pool: stride 4), then ``layer1``… one per entry of
    ``layers``, the first at stride 1 and each later one halving the resolution.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage (ResNet-18: 2, 2, 2, 2; ResNet-50: 3, 4, 6, 3).
        widths: planes per stage (a stage outputs ``width * block.expansion`` channels).
        in_channels: input channels of ``conv1``.
        stem_width: output channels of ``conv1``.
        stem_kernel: kernel size of ``conv1`` (stride 2, "same" padding).
        bias: give every convolution a bias.
        num_classes: size of ``fc`` after global average pooling; ``None`` builds the trunk only.
    """

    def __init__(self, block: Block, layers: Sequence[int], widths: Sequence[int] = (64, 128, 256, 512), *,
                 in_channels: int = 3, stem_width: int = 64, stem_kernel: int = 7, bias: bool = False,
                 num_classes: int | None = 1000) -> None:
        super().__init__()
        if len(layers) != len(widths) or not layers:
            raise ValueError(f"layers {tuple(layers)} and widths {tuple(widths)} must be non-empty and of equal length")
        self.conv1 = nn.Conv2d(in_channels, stem_width, kernel_size=stem_kernel, stride=2, padding=stem_kernel // 2,
                               bias=bias)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem_width
        for i, (blocks, planes) in enumerate(zip(layers, widths)):
            stage, inplanes = make_stage(block, inplanes, planes, blocks, stride=1 if i == 0 else 2, bias=bias)
            self.add_module(f"layer{i + 1}", stage)
        self.num_stages = len(layers)
        self.out_channels = inplanes
        if num_classes is None:
            self.avgpool = self.fc = None
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(inplanes, num_classes)
        for module in self.modules():
            init_conv_bn_(module)

    def stem(self, x: Tensor) -> Tensor:
        """``conv1`` → ``bn1`` → ReLU → max-pool: stride 4."""
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """Each stage's output, finest first (strides 4, 8, 16, ...)."""
        x = self.stem(x)
        features = []
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
            features.append(x)
        return features

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``[B, num_classes]``; the last stage's feature map for a trunk (``num_classes=None``)."""
        x = self.forward_features(x)[-1]
        if self.fc is None:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int | None = 1000, *, in_channels: int = 3, bias: bool = False) -> ResNet:
    """ResNet-18 with torchvision's names (11,689,512 parameters with the 1000-class ``fc``)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), in_channels=in_channels, bias=bias, num_classes=num_classes)


def resnet50(num_classes: int | None = 1000, *, in_channels: int = 3, bias: bool = False) -> ResNet:
    """ResNet-50 with torchvision's names (25,557,032 parameters with the 1000-class ``fc``)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), in_channels=in_channels, bias=bias, num_classes=num_classes)
