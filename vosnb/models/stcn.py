"""STCN: Space-Time Correspondence Networks (Cheng, Tai & Tang, NeurIPS 2021), the released architecture.

The model encodes; it never reads memory. ``encode_key`` runs the key encoder once per frame (§3.1: keys do not
depend on the mask, so a query key is reused as a memory key); ``encode_value`` encodes each object's mask into a
value (§3.3), batched over objects; ``segment`` decodes one memory readout per object into logits (§3.2). The
affinity, top-k and readout (Eq. 1-2, 5) belong to :mod:`vosnb.memory`; soft aggregation to :mod:`vosnb.inference`.

Shapes: frames ``[B, 3, H, W]`` RGB in [0, 1] with H and W multiples of 16; ``h, w = H/16, W/16``. A frame of
another size is normalised first (:meth:`STCN.normalise`), then zero-padded, and passed with ``normalised=True``:
the padding is then the ImageNet mean colour, as in the authors' inference (:func:`vosnb.inference.propagate`).
Module names reproduce the authors' state-dict keys, so their ``stcn.pth`` loads with ``strict=True``
(:func:`load_stcn_checkpoint`); :meth:`STCN.small` is the same code with narrower, shallower widths for CPU.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vosnb.errors import CheckpointError
from vosnb.provenance import note_checkpoint
from vosnb.models.modules import Decoder, FeatureFusion, KeyProjection
from vosnb.models.resnet import BasicBlock, Bottleneck, ResNet

SIMILARITIES = ("dot", "l2", "cosine")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STRIDE = 16
BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}
WRAPPERS = ("model", "network", "state_dict")  # keys under which training scripts nest a state dict


@dataclass(frozen=True)
class StcnConfig:
    """Widths and depths of STCN's encoders and decoder; the defaults are the release (§3.1, App. F.2).

    Each encoder is a ResNet trunk of three stages after a stride-4 stem (``stem_kernel``×``stem_kernel`` conv /2,
    3×3 max-pool /2), giving f4, f8, f16 at strides 4, 8, 16; a stage outputs ``width × expansion`` channels
    (expansion 4 for ``"bottleneck"``, 1 for ``"basic"``).

    - key encoder: ``key_block``, ``key_layers`` blocks per stage, ``key_widths`` planes, ``key_stem_width``.
      Release: ResNet-50 up to layer3 (bottleneck, 3/4/6, 64/128/256 → f4 256, f8 512, f16 1024).
    - value encoder: BasicBlock trunk with conv biases and 5 input channels (RGB, mask, others), then the fusion
      head (ResBlock, CBAM with ``cbam_reduction``, ResBlock) to Cv. Release: ResNet-18 up to layer3 (2/2/2,
      64/128/256).
    - ``query_value_dim`` (Cq): the ``key_comp`` output, the query's own value (512).
    - ``decoder_widths``: outputs of ``compress``, ``up_16_8``, ``up_8_4`` (512, 256, 256).

    The small model (:meth:`small`, with Cv = ``SMALL_VALUE_DIM`` = 64) is the embedded CPU default, trained from
    scratch on the synthetic data: key trunk of BasicBlocks, 1/1/1 blocks of 16/32/64 planes after a 16-wide 5×5
    stem (f4 16, f8 32, f16 64 channels); value trunk 1/1/1 of 8/16/32 after an 8-wide stem; Ck 64, Cq 32, Cv 64;
    decoder 32/16/16; CBAM reduction 8. 0.47 M parameters (0.9 MB in fp16). Why: at 128×224 on CPU the time goes
    to the full- and quarter-resolution work (stems, max-pools, first stages, the last decoder block, all repeated
    per object in the value encoder and decoder) and to per-operator overhead, not to the stride-16 features; so
    the early widths are the narrowest, every stage has one block, and the channels sit at stride 16, where the
    key (Ck 64) and value (Cv 64) spaces are projected. A first draft twice as wide (key 24/48/96, value 16/32/64,
    Cq 64, decoder 64/32/16: 352 M multiply-adds per frame with 2 objects) took 21 ms per 128×224 frame on 2 idle
    threads; this one needs 160 M, and about 0.6 of the draft's CPU time (``benchmarks/bench_models.py``).
    """

    key_block: str = "bottleneck"
    key_layers: tuple[int, int, int] = (3, 4, 6)
    key_widths: tuple[int, int, int] = (64, 128, 256)
    key_stem_width: int = 64
    value_layers: tuple[int, int, int] = (2, 2, 2)
    value_widths: tuple[int, int, int] = (64, 128, 256)
    value_stem_width: int = 64
    stem_kernel: int = 7
    query_value_dim: int = 512
    decoder_widths: tuple[int, int, int] = (512, 256, 256)
    cbam_reduction: int = 16

    def __post_init__(self) -> None:
        if self.key_block not in BLOCKS:
            raise ValueError(f"StcnConfig.key_block must be one of {sorted(BLOCKS)}; got {self.key_block!r}")
        for name in ("key_layers", "key_widths", "value_layers", "value_widths", "decoder_widths"):
            value = tuple(getattr(self, name))
            if len(value) != 3 or any(int(v) < 1 for v in value):
                raise ValueError(f"StcnConfig.{name} must be three positive integers (strides 4, 8, 16); got {value}")
            object.__setattr__(self, name, tuple(int(v) for v in value))
        if self.stem_kernel < 1 or self.stem_kernel % 2 == 0:
            raise ValueError(f"StcnConfig.stem_kernel must be a positive odd integer; got {self.stem_kernel}")

    @classmethod
    def small(cls) -> StcnConfig:
        """The embedded CPU model's widths (see the class docstring for the numbers and why)."""
        return cls(key_block="basic", key_layers=(1, 1, 1), key_widths=(16, 32, 64), key_stem_width=16,
                   value_layers=(1, 1, 1), value_widths=(8, 16, 32), value_stem_width=8, stem_kernel=5,
                   query_value_dim=32, decoder_widths=(32, 16, 16), cbam_reduction=8)

    @property
    def key_channels(self) -> tuple[int, int, int]:
        """Channels of the key encoder's f4, f8, f16."""
        expansion = BLOCKS[self.key_block].expansion
        return tuple(w * expansion for w in self.key_widths)


SMALL_VALUE_DIM = 64


class QueryFeatures(NamedTuple):
    """What :meth:`STCN.encode_key` returns for a batch of frames (h, w = H/16, W/16)."""

    key: Tensor    # [B, Ck, h, w] key_proj output
    value: Tensor  # [B, Cq, h, w] key_comp output: the query's own value for the decoder
    f16: Tensor    # [B, C16, h, w] raw key-encoder feature, fused into memory values by encode_value
    f8: Tensor     # [B, C8, 2h, 2w]
    f4: Tensor     # [B, C4, 4h, 4w]


class KeyEncoder(nn.Module):
    """The key encoder: a ResNet trunk to stride 16 whose first stage is named ``res2`` as in the release."""

    def __init__(self, config: StcnConfig) -> None:
        super().__init__()
        trunk = ResNet(BLOCKS[config.key_block], config.key_layers, config.key_widths,
                       stem_width=config.key_stem_width, stem_kernel=config.stem_kernel, num_classes=None)
        self.conv1, self.bn1, self.maxpool = trunk.conv1, trunk.bn1, trunk.maxpool
        self.res2, self.layer2, self.layer3 = trunk.layer1, trunk.layer2, trunk.layer3

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Normalised RGB ``[B, 3, H, W]`` → ``(f16, f8, f4)``."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        f4 = self.res2(x)
        f8 = self.layer2(f4)
        return self.layer3(f8), f8, f4


class ValueEncoder(nn.Module):
    """The value encoder: a BasicBlock trunk with conv biases on [RGB, mask, others] to stride 16, fused with the
    key encoder's f16 by ``fuser`` (§3.1 "feature reuse")."""

    in_channels = 5

    def __init__(self, config: StcnConfig, key_f16_dim: int, value_dim: int) -> None:
        super().__init__()
        trunk = ResNet(BasicBlock, config.value_layers, config.value_widths, in_channels=self.in_channels,
                       stem_width=config.value_stem_width, stem_kernel=config.stem_kernel, bias=True,
                       num_classes=None)
        self.conv1, self.bn1, self.maxpool = trunk.conv1, trunk.bn1, trunk.maxpool
        self.layer1, self.layer2, self.layer3 = trunk.layer1, trunk.layer2, trunk.layer3
        self.fuser = FeatureFusion(trunk.out_channels + key_f16_dim, value_dim, config.cbam_reduction)

    def forward(self, x: Tensor, key_f16: Tensor) -> Tensor:
        """``x [M, 5, H, W]`` (normalised RGB, mask, others), ``key_f16 [M, C16, h, w]`` → ``[M, Cv, h, w]``."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fuser(x, key_f16)


class STCN(nn.Module):
    """STCN's encoders and decoder (§3). ``similarity`` is stored for the memory readout; the model does not use it.

    Args:
        key_dim: Ck, the key space (64 in the release; Table 2 also uses 128).
        value_dim: Cv, the memory value space (512).
        similarity: ``"dot"``, ``"l2"`` or ``"cosine"`` (Eq. 3-4).
        config: widths and depths; ``None`` is the release architecture.

    Initialisation (for training from scratch; nothing is downloaded): the ResNet trunks as torchvision
    (Kaiming-normal convolutions, batch norms 1 and 0); ``key_proj`` orthogonal with zero bias, as the authors;
    the fusion head, ``key_comp`` and the decoder keep PyTorch's default initialisation, as the authors' code.
    These heads have no normalisation, and Kaiming-normal weights there start the small model's logits with a
    standard deviation of about 66 instead of about 0.2 (measured on random frames), saturating the sigmoid.
    """

    model_type = "stcn"  # the "type" a vosnb checkpoint of this class records (vosnb.models.zoo.MODEL_TYPES)

    def __init__(self, key_dim: int = 64, value_dim: int = 512, similarity: str = "l2", *,
                 config: StcnConfig | None = None) -> None:
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}; got {similarity!r}")
        if key_dim < 1 or value_dim < 1:
            raise ValueError(f"key_dim and value_dim must be positive; got key_dim={key_dim}, value_dim={value_dim}")
        self.config = StcnConfig() if config is None else config
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.similarity = similarity
        c4, c8, c16 = self.config.key_channels
        self.key_encoder = KeyEncoder(self.config)
        self.value_encoder = ValueEncoder(self.config, c16, value_dim)
        self.key_proj = KeyProjection(c16, key_dim)
        self.key_comp = nn.Conv2d(c16, self.config.query_value_dim, kernel_size=3, padding=1)
        self.decoder = Decoder(value_dim + self.config.query_value_dim, (c8, c4), self.config.decoder_widths)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def small(cls, key_dim: int = 64, similarity: str = "l2", **overrides) -> STCN:
        """The embedded CPU model: :meth:`StcnConfig.small` with Cv = ``SMALL_VALUE_DIM``. ``overrides`` replace
        fields of that config, or ``value_dim``; any other keyword goes to the constructor (a subclass's own)."""
        value_dim = overrides.pop("value_dim", SMALL_VALUE_DIM)
        fields = {f.name for f in dataclasses.fields(StcnConfig)}
        extra = {k: overrides.pop(k) for k in list(overrides) if k not in fields}
        return cls(key_dim, value_dim, similarity, config=dataclasses.replace(StcnConfig.small(), **overrides),
                   **extra)

    def normalise(self, frame: Tensor) -> Tensor:
        """RGB frames ``[B, 3, H, W]`` in [0, 1], of any size, normalised with the ImageNet mean and std: what the
        encoders see. Zero-padding after this pads with the mean colour (the authors' order)."""
        if frame.dim() != 4 or frame.shape[1] != 3:
            raise ValueError(f"frame must be [B, 3, H, W]; got {tuple(frame.shape)}")
        return (frame - self.pixel_mean) / self.pixel_std

    def _image(self, frame: Tensor, normalised: bool) -> Tensor:
        """The encoders' input: ``frame`` normalised unless it already is, H and W checked to be multiples of 16."""
        if frame.dim() != 4 or frame.shape[1] != 3 or frame.shape[2] % STRIDE or frame.shape[3] % STRIDE:
            raise ValueError(f"frame must be [B, 3, H, W] with H and W multiples of {STRIDE} (normalise, then pad "
                             f"it first); got {tuple(frame.shape)}")
        return frame if normalised else self.normalise(frame)

    def encode_key(self, frame: Tensor, *, normalised: bool = False) -> QueryFeatures:
        """Key, query value and skip features of frames ``[B, 3, H, W]`` (§3.1): RGB in [0, 1], or the output of
        :meth:`normalise` (then padded) with ``normalised=True``."""
        f16, f8, f4 = self.key_encoder(self._image(frame, normalised))
        return QueryFeatures(self.key_proj(f16), self.key_comp(f16), f16, f8, f4)

    def encode_value(self, frame: Tensor, f16: Tensor, masks: Tensor, others: Tensor | None = None, *,
                     normalised: bool = False) -> Tensor:
        """Memory values ``[B, N, Cv, h, w]`` of N objects (§3.3).

        Args:
            frame: ``[B, 3, H, W]`` in [0, 1], or normalised with ``normalised=True`` (as :meth:`encode_key`).
            f16: ``[B, C16, h, w]``, the frame's ``QueryFeatures.f16``.
            masks: ``[B, N, H, W]`` soft probabilities of the N objects.
            others: ``[B, N, H, W]``, for each object the sum of the other objects' masks; ``None`` computes it
                from ``masks`` (clamped to [0, 1]).
        """
        image = self._image(frame, normalised)
        b, _, height, width = frame.shape
        if masks.dim() != 4 or masks.shape[0] != b or masks.shape[2:] != frame.shape[2:]:
            raise ValueError(f"masks must be [B, N, H, W] = [{b}, N, {height}, {width}]; got {tuple(masks.shape)}")
        n = masks.shape[1]
        masks = masks.to(image.dtype)
        if others is None:
            others = (masks.sum(dim=1, keepdim=True) - masks).clamp(0, 1)
        elif others.shape != masks.shape:
            raise ValueError(f"others must have the shape of masks {tuple(masks.shape)}; got {tuple(others.shape)}")
        expected = (b, self.config.key_channels[2], height // STRIDE, width // STRIDE)
        if tuple(f16.shape) != expected:
            raise ValueError(f"f16 must be [B, C16, H/16, W/16] = {expected}; got {tuple(f16.shape)}")
        key_f16 = f16.unsqueeze(1).expand(b, n, *f16.shape[1:])
        x = self.value_input(image, masks, others.to(image.dtype))
        values = self.value_encoder(x.flatten(0, 1), key_f16.flatten(0, 1))
        return values.view(b, n, *values.shape[1:])

    def value_input(self, image: Tensor, masks: Tensor, others: Tensor) -> Tensor:
        """The value encoder's per-object input ``[B, N, 5, H, W]``: normalised RGB, mask, others."""
        b, n, height, width = masks.shape
        return torch.cat([image.unsqueeze(1).expand(b, n, 3, height, width), masks.unsqueeze(2),
                          others.unsqueeze(2)], dim=2)

    def check_readout(self, readout: Tensor, query: QueryFeatures) -> None:
        """Raise unless ``readout`` is ``[B, N, Cv, h, w]`` on the query's grid."""
        b, _, h, w = query.value.shape
        if readout.dim() != 5 or readout.shape[0] != b or readout.shape[2] != self.value_dim \
                or readout.shape[3:] != (h, w):
            raise ValueError(f"readout must be [B, N, Cv, h, w] = [{b}, N, {self.value_dim}, {h}, {w}]; got "
                             f"{tuple(readout.shape)}")

    def decoder_input(self, readout: Tensor, query: QueryFeatures) -> Tensor:
        """What the decoder reads, ``[B, N, Cv + Cq, h, w]``: each object's memory readout ``[B, N, Cv, h, w]``
        beside the query frame's own value (§3.2)."""
        self.check_readout(readout, query)
        query_value = query.value.unsqueeze(1).expand(-1, readout.shape[1], -1, -1, -1)
        return torch.cat([readout, query_value], dim=2)

    def segment(self, readout: Tensor, query: QueryFeatures) -> Tensor:
        """Logits ``[B, N, H, W]`` (one map per object, before soft aggregation) from memory readouts
        ``[B, N, Cv, h, w]`` and the query frame's features (§3.2: decoder at stride 4, bilinear ×4)."""
        return self.decoder(self.decoder_input(readout, query), query.f8, query.f4)


def _stage_depth(state: Mapping[str, Tensor], prefix: str) -> int:
    depth = 0
    while f"{prefix}.{depth}.conv1.weight" in state:
        depth += 1
    return depth


def infer_architecture(state: Mapping[str, Tensor], path: Path) -> tuple[int, int, StcnConfig]:
    """(Ck, Cv, config) read off the STCN tensors' shapes, so that any checkpoint of this architecture (or of one
    built on it, such as RDE-VOS) describes itself; other tensors in ``state`` are ignored."""
    key_stages = ("key_encoder.res2", "key_encoder.layer2", "key_encoder.layer3")
    value_stages = ("value_encoder.layer1", "value_encoder.layer2", "value_encoder.layer3")
    needed = ["key_encoder.conv1.weight", "value_encoder.conv1.weight", "key_proj.key_proj.weight", "key_comp.weight",
              "value_encoder.fuser.block2.conv1.weight", "value_encoder.fuser.attention.ChannelGate.mlp.1.weight",
              "decoder.compress.conv1.weight", "decoder.up_16_8.out_conv.conv1.weight",
              "decoder.up_8_4.out_conv.conv1.weight"] + [f"{s}.0.conv1.weight" for s in key_stages + value_stages]
    missing = [k for k in needed if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not an STCN checkpoint: it lacks {len(missing)} of the tensors that define "
                              f"the architecture, e.g. {missing[:5]}; give the authors' stcn.pth or a checkpoint "
                              f"written by vosnb")
    key_block = "bottleneck" if "key_encoder.res2.0.conv3.weight" in state else "basic"
    value_dim = state["value_encoder.fuser.block2.conv1.weight"].shape[0]
    config = StcnConfig(
        key_block=key_block,
        key_layers=tuple(_stage_depth(state, s) for s in key_stages),
        key_widths=tuple(state[f"{s}.0.conv1.weight"].shape[0] for s in key_stages),
        key_stem_width=state["key_encoder.conv1.weight"].shape[0],
        value_layers=tuple(_stage_depth(state, s) for s in value_stages),
        value_widths=tuple(state[f"{s}.0.conv1.weight"].shape[0] for s in value_stages),
        value_stem_width=state["value_encoder.conv1.weight"].shape[0],
        stem_kernel=state["key_encoder.conv1.weight"].shape[-1],
        query_value_dim=state["key_comp.weight"].shape[0],
        decoder_widths=tuple(state[f"decoder.{m}.weight"].shape[0]
                             for m in ("compress.conv1", "up_16_8.out_conv.conv1", "up_8_4.out_conv.conv1")),
        cbam_reduction=max(1, value_dim // state["value_encoder.fuser.attention.ChannelGate.mlp.1.weight"].shape[0]),
    )
    return state["key_proj.key_proj.weight"].shape[0], value_dim, config


def unwrap_state_dict(obj: object, path: Path) -> dict[str, Tensor]:
    """The state dict inside ``obj`` (plain, or under one of ``WRAPPERS``), with DataParallel's "module." removed."""
    if isinstance(obj, Mapping):
        for wrapper in WRAPPERS:
            if isinstance(obj.get(wrapper), Mapping):
                obj = obj[wrapper]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of names to tensors, "
                              f"possibly under one of {WRAPPERS}); give the authors' stcn.pth or a checkpoint "
                              f"written by vosnb")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def read_state_dict(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Tensor]:
    """The state dict in the checkpoint file ``path``, read with ``torch.load(weights_only=True)``: plain or nested
    under one of :data:`WRAPPERS`, "module." prefixes stripped. Raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; give the path of the authors' checkpoint or of a "
                              f"checkpoint written by vosnb")
    try:
        note_checkpoint(path)
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike for a file it cannot read
        raise CheckpointError(f"{path} cannot be read by torch.load(weights_only=True) ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else ''}); is it a PyTorch checkpoint?") from err
    return unwrap_state_dict(obj, path)


def load_strictly(model: nn.Module, state: Mapping[str, Tensor], path: Path, description: str,
                  fix: str = "") -> None:
    """``model.load_state_dict(state, strict=True)``, after listing every missing, unexpected and reshaped tensor
    by name in a :class:`CheckpointError` (``description`` names the architecture, ``fix`` says what to give)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
                  for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = [f"{len(found)} {what} tensors, e.g. {found[:5]}"
                for what, found in (("missing", missing), ("unexpected", unexpected), ("mismatched", mismatched))
                if found]
    if problems:
        raise CheckpointError(f"{path} does not fit {description}: " + "; ".join(problems + ([fix] if fix else [])))
    model.load_state_dict(state, strict=True)


def load_stcn_checkpoint(path: str | Path, similarity: str = "l2", map_location: str | torch.device = "cpu", *,
                         fifth_channel: str = "zeros") -> STCN:
    """Build the STCN that ``path`` describes and load it with ``strict=True``; returned in eval mode.

    The file is read by :func:`read_state_dict`. Ck, Cv and every width are read off the tensor shapes, so the
    authors' ``stcn.pth`` and vosnb's small checkpoints load alike. A 4-channel value-encoder ``conv1`` (a stage-0,
    single-object checkpoint: RGB + mask) gets a fifth input channel for the "others" mask:
    ``fifth_channel="zeros"`` (default) keeps the loaded network's function unchanged; ``"orthogonal"`` is what the
    authors' ``load_network`` does before further training.
    Raises :class:`CheckpointError` naming the file for a missing or unreadable file, a non-state-dict, missing or
    unexpected tensors and shape mismatches.
    """
    if fifth_channel not in ("zeros", "orthogonal"):
        raise ValueError(f"fifth_channel must be 'zeros' or 'orthogonal'; got {fifth_channel!r}")
    path = Path(path)
    state = read_state_dict(path, map_location)
    conv1 = state.get("value_encoder.conv1.weight")
    if conv1 is not None and conv1.dim() == 4 and conv1.shape[1] == ValueEncoder.in_channels - 1:
        extra = torch.zeros_like(conv1[:, :1])
        if fifth_channel == "orthogonal":
            nn.init.orthogonal_(extra)
        state["value_encoder.conv1.weight"] = torch.cat([conv1, extra], dim=1)
    key_dim, value_dim, config = infer_architecture(state, path)
    model = STCN(key_dim, value_dim, similarity, config=config)
    load_strictly(model, state, path, f"the STCN architecture its shapes describe (Ck={key_dim}, Cv={value_dim}, "
                                      f"{config})")
    if isinstance(map_location, (str, torch.device)):
        model.to(map_location)
    return model.eval()
