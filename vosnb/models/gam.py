"""The real-time high-resolution VOS model (Wang, Chen, Yang & Wu) at small scale: the modules around the global
attention memory (§3.1–3.4; no code was published, so the unstated details below are our choices).

- Frame encoder: STCN's key encoder, run once per frame; its key is ``F`` / ``L_F`` of the global attention
  memory (:mod:`vosnb.memory.global_attention`), its ``key_comp`` output is the query's own attention vectors.
- Mask encoder (§3.2.2): a light ResNet trunk on the object's mask and the other objects' masks (no RGB: the frame
  is encoded once, by the frame encoder), fused with the frame encoder's stride-16 features as STCN's value
  encoder; its output is ``M``.
- GAM output (§3.2.4): the memory read ``D`` summed with the query's own vectors, so the query value has ``Cv``
  channels here (STCN concatenates instead).
- Channel-wise attention (CAM, §3.3, Eq. 4–7): ``f1 = f_in`` as ``C × P``, ``R = f1 f1ᵀ`` (``C × C``), ``R'`` its
  softmax over the first index (Eq. 5), ``f_R = f_in R'`` (Eq. 6), ``out = α f_R + f_in`` (Eq. 7) with ``α``
  learned from 0 (unconstrained; the paper states ``α ≥ 0``).
- Mask embedding (MEM, §3.4, Eq. 8): each object's previous three predicted probabilities and three position
  channels (x and y in [−1, 1], distance from the centre scaled to [0, 1]) through four 3×3 conv + ReLU layers of
  stride 2, which bring them to the stride-16 grid, where they are concatenated with the GAM/CAM output at the
  decoder's input (the paper says only "fed to the decoder").
- Decoder: STCN's (STM's structure, as the paper's).

CAM and MEM are switched by :class:`GamConfig`; a model without them has no such modules (their ablations, GAM-5 and
GAM-6, are separately trained models). A model with MEM asks :func:`vosnb.inference.propagate` for its past
predictions through :attr:`GAM.mask_history` (the number of past frames, 0 without MEM); propagate then passes each
object's last ``history`` merged probabilities, oldest first, the earliest available one repeated while fewer
frames exist (frame 1 sees the ground truth three times). Training (:mod:`vosnb.train`) builds the same history.

:meth:`GAM.from_stcn` starts a GAM from a trained STCN: every tensor whose name and shape agree is copied; the mask
encoder's first convolution takes STCN's mask and others channels (not its RGB ones); where GAM's tensor is larger
(``key_comp``'s Cq = Cv outputs) the overlapping block is copied and the rest set to 0, and the decoder's first
block keeps the weights STCN gives its memory readout (the first Cv input channels), with 0 for MEM's channels, so CAM (α = 0) and MEM (zero decoder weights) start switched off and all three variants
start from the same function.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vosnb.models.modules import Decoder
from vosnb.models.stcn import STCN, STRIDE, QueryFeatures, StcnConfig, ValueEncoder


@dataclass(frozen=True)
class GamConfig:
    """Switches and widths of the modules beyond STCN's: CAM, MEM, MEM's width and how many past masks it sees."""

    cam: bool = True
    mem: bool = True
    mem_width: int = 16
    history: int = 3


class MaskEncoder(ValueEncoder):
    """STCN's value encoder on ``[mask, others]`` only: the frame enters through the fused frame features."""

    in_channels = 2


class ChannelAttention(nn.Module):
    """CAM (Eq. 4–7) on ``[B, C, h, w]``; the identity while ``alpha`` is 0, its initial value."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        f1 = x.flatten(2)                                       # [B, C, P]
        relation = torch.softmax(f1 @ f1.transpose(1, 2), dim=1)  # Eq. 4–5: R' [B, C, C], normalised over i
        f_r = relation.transpose(1, 2) @ f1                       # Eq. 6, f_in R' as [B, C, P]
        return self.alpha * f_r.view_as(x) + x                    # Eq. 7


def position_channels(height: int, width: int, device: torch.device | None = None) -> Tensor:
    """``[3, H, W]``: x and y in [−1, 1] and the distance from the centre divided by √2 (in [0, 1])."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, height, device=device), torch.linspace(-1, 1, width, device=device),
                          indexing="ij")
    return torch.stack([x, y, torch.sqrt(x**2 + y**2) / 2**0.5])


class MaskEmbedding(nn.Module):
    """MEM (Eq. 8): past probabilities ``[M, k, H, W]`` plus :func:`position_channels` through four stride-2
    conv + ReLU layers → ``[M, width, H/16, W/16]``."""

    def __init__(self, history: int = 3, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(history + 3 if i == 0 else width, width, 3, stride=2, padding=1), nn.ReLU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, history: Tensor) -> Tensor:
        m, _, height, width = history.shape
        position = position_channels(height, width, history.device).to(history.dtype)
        return self.layers(torch.cat([history, position.expand(m, -1, -1, -1)], dim=1))


class GAM(STCN):
    """The model of the module docstring: STCN's frame encoder and decoder, a :class:`MaskEncoder`, and CAM and MEM
    as :class:`GamConfig` says. ``config.query_value_dim`` is set to ``value_dim`` (the GAM output is a sum)."""

    model_type = "gam"

    def __init__(self, key_dim: int = 64, value_dim: int = 512, similarity: str = "l2", *,
                 config: StcnConfig | None = None, gam: GamConfig | None = None) -> None:
        config = dataclasses.replace(StcnConfig() if config is None else config, query_value_dim=value_dim)
        super().__init__(key_dim, value_dim, similarity, config=config)
        self.gam_config = GamConfig() if gam is None else gam
        c4, c8, c16 = self.config.key_channels
        self.value_encoder = MaskEncoder(self.config, c16, value_dim)
        self.channel_attention = ChannelAttention() if self.gam_config.cam else None
        mem = self.gam_config.mem
        self.mask_embedding = MaskEmbedding(self.gam_config.history, self.gam_config.mem_width) if mem else None
        self.decoder = Decoder(value_dim + (self.gam_config.mem_width if mem else 0), (c8, c4),
                               self.config.decoder_widths)

    @property
    def architecture(self) -> dict:
        """What a checkpoint stores to rebuild this model (``vosnb_model``; :meth:`from_architecture`)."""
        return {"type": "gam", "key_dim": self.key_dim, "value_dim": self.value_dim, "similarity": self.similarity,
                "config": dataclasses.asdict(self.config), "gam": dataclasses.asdict(self.gam_config)}

    @classmethod
    def from_architecture(cls, meta: dict) -> GAM:
        return cls(meta["key_dim"], meta["value_dim"], meta["similarity"], config=StcnConfig(**meta["config"]),
                   gam=GamConfig(**meta["gam"]))

    @property
    def mask_history(self) -> int:
        """How many past predicted masks :meth:`segment` needs (0 without MEM); read by ``propagate``."""
        return self.gam_config.history if self.mask_embedding is not None else 0

    @classmethod
    def from_stcn(cls, stcn: STCN, gam: GamConfig | None = None) -> GAM:
        """A GAM with ``stcn``'s widths, started from its weights as the module docstring says."""
        model = cls(stcn.key_dim, stcn.value_dim, stcn.similarity, config=stcn.config, gam=gam)
        source = stcn.state_dict()
        state = model.state_dict()
        with torch.no_grad():
            for name, target in state.items():
                if name not in source or not target.is_floating_point():
                    if name in source and source[name].shape == target.shape:
                        target.copy_(source[name])
                    continue
                weights = source[name]
                if name == "value_encoder.conv1.weight":  # STCN's input is [RGB, mask, others]; ours [mask, others]
                    target.copy_(weights[:, 3:5])
                elif name.startswith("decoder.compress.") and weights.dim() == 4:
                    # STCN's decoder reads [readout (Cv), query value (Cq)]; ours [D + query value (Cv), MEM]:
                    # the readout's columns carry over, the rest start at 0
                    target.zero_()
                    target[:, :stcn.value_dim] = weights[:, :stcn.value_dim]
                elif weights.shape == target.shape:
                    target.copy_(weights)
                elif weights.dim() == target.dim():
                    target.zero_()
                    block = tuple(slice(0, min(a, b)) for a, b in zip(weights.shape, target.shape))
                    target[block] = weights[block]
        model.load_state_dict(state)
        return model.to(next(stcn.parameters()).device).train(stcn.training)

    def value_input(self, image: Tensor, masks: Tensor, others: Tensor) -> Tensor:
        """The mask encoder's per-object input ``[B, N, 2, H, W]``: mask, others (the image is not used)."""
        return torch.stack([masks, others], dim=2)

    def segment(self, readout: Tensor, query: QueryFeatures, history: Tensor | None = None) -> Tensor:
        """Logits ``[B, N, H, W]`` from the memory reads ``D`` ``[B, N, Cv, h, w]``: ``D`` + the query's vectors,
        CAM, and with MEM ``history [B, N, k, H, W]``, each object's previous ``k`` predicted probabilities."""
        self.check_readout(readout, query)
        b, n, _, h, w = readout.shape
        x = (readout + query.value.unsqueeze(1)).flatten(0, 1)
        if self.channel_attention is not None:
            x = self.channel_attention(x)
        if self.mask_embedding is not None:
            expected = (b, n, self.gam_config.history, h * STRIDE, w * STRIDE)
            if history is None or tuple(history.shape) != expected:
                got = None if history is None else tuple(history.shape)
                raise ValueError(f"the mask embedding needs history [B, N, k, H, W] = {expected}; got {got}")
            x = torch.cat([x, self.mask_embedding(history.flatten(0, 1).to(x.dtype))], dim=1)
        return self.decoder(x.unflatten(0, (b, n)), query.f8, query.f4)
