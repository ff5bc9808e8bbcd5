"""Train the small STCN and RDE-VOS variants on the synthetic training split (scaled down for CPU).

One loop serves both kinds (``model: stcn`` or ``model: rde`` in the config, :data:`KINDS`): clip sampling,
curriculum, Adam and its schedule, checkpointing, resuming and the model card are shared; :func:`clip_loss` runs a
clip forward the way the kind's authors train it.

STCN (§3.4 and App.): clips of three frames in temporal order with a growing maximum gap (the curriculum); frame 0
comes with its ground truth, frame 1 reads a memory of frame 0, frame 2 reads frames 0 and 1 (its value encoded
from frame 1's own prediction). Bootstrapped cross-entropy on frames 1 and 2, averaged.

RDE-VOS (Li et al., CVPR 2022, §3.4, Eq. 7-10, as the authors' released code trains it): clips of five frames,
starting from a trained STCN (``init_from``). Frames 1 and 3 are segmented from the ordinary every-frame memory of
the frames before them. Frames 2 and 4 are segmented from the SAM memory alone: the recurrent embedding that SAM
folds frame by frame, frame 0 first (frame 2 reads SAM(0, 1), frame 4 reads SAM(SAM(SAM(0, 1), 2), 3)); the
every-frame memory reads them too, as the teacher of the unbiased guidance loss, and its predictions give the
values of frames 1-3 that both memories receive. The bootstrapped cross-entropy weights frames 1-4 by 1/16, 1/8,
1/4, 1/2 (the authors' code halves the running total after each frame; the paper's Eq. 9 writes ½·Σ). With
``mask_consistency`` the frame-0 value is encoded from a perturbed mask (:mod:`vosnb.data.perturb`) and is the
frame-0 memory of both paths. No GT or latest frame joins the SAM read in training, and batch normalisation is
frozen, as the authors train.

Up to two objects per clip; Adam. Everything is drawn from one seeded NumPy generator, so a run is reproducible,
and a run can be resumed from its last saved state.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn
from tqdm.auto import tqdm

from vosnb.data import DavisDataset
from vosnb.data.perturb import perturb_masks
from vosnb.errors import VosnbError
from vosnb.inference import aggregate_logits
from vosnb.memory import make_memory, readout, similarity
from vosnb.memory.global_attention import attention_matrix, read_matrix, update_mean
from vosnb.models import GAM, RDE, STCN, GamConfig, QueryFeatures
from vosnb.models.zoo import CHECKPOINT_DIR, load_any_checkpoint, load_pretrained
from vosnb.runtime import atomic_path, resolve_device, seed_everything

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ModelKind:
    """How one model kind trains and is scored: its class, how it starts from an ``init_from`` checkpoint, the clip
    length, the frames read from the SAM memory alone, the cross-entropy weight of each segmented frame, whether
    batch normalisation is frozen, and the memory (spec and settings) its model card is scored with."""

    model_class: type[STCN]
    from_init: Callable[[STCN, "TrainConfig"], STCN]
    clip_frames: int
    sam_frames: tuple[int, ...]
    ce_weights: dict[int, float]
    frozen_bn: bool
    memory: str
    memory_params: dict = field(default_factory=dict)


GAM_VARIANT = "gc"
"""The global attention module's form that GAM trains and is scored with (docs/DESIGN.md: the paper's raw products
make the read ``D`` scale with the number of positions, which differs between training crops, our val frames and
the paper's frames; the GC form's two softmaxes make it a convex combination of mask features at any size)."""

KINDS: dict[str, ModelKind] = {
    "stcn": ModelKind(STCN, lambda model, config: model, 3, (), {1: 0.5, 2: 0.5}, False, "every5"),
    "rde": ModelKind(RDE, lambda model, config: RDE.from_stcn(model), 5, (2, 4),
                     {1: 1 / 16, 2: 1 / 8, 3: 1 / 4, 4: 1 / 2}, True, "rde", {"theta": 3, "composition": "2F&L&RDE"}),
    "gam": ModelKind(GAM, lambda model, config: GAM.from_stcn(model, GamConfig(**config.gam)), 3, (),
                     {1: 0.5, 2: 0.5}, False, "global", {"variant": GAM_VARIANT}),
}
SCORING_TOP_K = 20


@dataclass
class TrainConfig:
    """One training run. ``max_skip`` is a list of (fraction of training, maximum frame gap) steps. ``model``
    selects the kind (:data:`KINDS`); ``init_from`` names a shipped checkpoint to start from. The RDE-VOS losses
    (off by default; STCN has neither): ``unbiased_guidance`` (Eq. 7) and ``mask_consistency`` (Eq. 8) with their
    weights μ and γ of Eq. 10, and the range of the perturbed mask's IoU target. ``grad_clip`` caps the global
    gradient norm of each step (None: no clipping). ``gam`` holds the global attention model's switches
    (:class:`~vosnb.models.GamConfig` fields: ``cam``, ``mem``; ``model: gam`` only)."""

    name: str
    model: str = "stcn"
    init_from: str | None = None
    similarity: str = "l2"
    key_dim: int = 64
    model_overrides: dict = field(default_factory=dict)
    data_root: str = "data/synthetic"
    split: str = "train"
    crop: tuple[int, int] = (96, 160)
    batch_size: int = 8
    steps: int = 3000
    lr: float = 1e-3
    lr_decay_at: float = 0.8
    weight_decay: float = 1e-7
    max_skip: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 3), (0.25, 6), (0.5, 10), (0.8, 5)])
    top_p: float = 0.15
    bootstrap_warmup: tuple[float, float] = (0.2, 0.6)
    seed: int = 0
    threads: int = 2
    save_every: int = 250
    out_dir: str = "build/train"
    checkpoint_dir: str = "data/checkpoints"
    unbiased_guidance: bool = False
    unbiased_guidance_weight: float = 10.0
    mask_consistency: bool = False
    mask_consistency_weight: float = 10.0
    perturb_iou: tuple[float, float] = (0.85, 1.0)
    grad_clip: float | None = None
    gam: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in KINDS:
            raise VosnbError(f"training config {self.name}: model {self.model!r} is not one of {sorted(KINDS)}")
        if not KINDS[self.model].sam_frames and (self.unbiased_guidance or self.mask_consistency):
            raise VosnbError(f"training config {self.name}: unbiased_guidance and mask_consistency are RDE-VOS "
                             f"losses; set model: rde to use them")
        if self.gam and self.model != "gam":
            raise VosnbError(f"training config {self.name}: gam switches apply to model: gam only")
        known = {f.name for f in dataclasses.fields(GamConfig)}
        if set(self.gam) - known:
            raise VosnbError(f"training config {self.name}: unknown gam keys {sorted(set(self.gam) - known)}; "
                             f"known keys are {sorted(known)}")
        if self.init_from is not None and self.model_overrides:
            raise VosnbError(f"training config {self.name}: model_overrides cannot apply to the init_from "
                             f"checkpoint {self.init_from!r}; give one or the other")

    @property
    def kind(self) -> ModelKind:
        return KINDS[self.model]

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise VosnbError(f"training config {path} does not exist; see configs/train/ for examples")
        raw = yaml.safe_load(path.read_text()) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise VosnbError(f"{path}: unknown keys {unknown}; known keys are {sorted(known)}")
        if "name" not in raw:
            raw["name"] = path.stem
        for key in ("crop", "bootstrap_warmup", "perturb_iou"):
            if key in raw:
                raw[key] = tuple(raw[key])
        if "max_skip" in raw:
            raw["max_skip"] = [tuple(x) for x in raw["max_skip"]]
        return cls(**raw)

    def skip_at(self, step: int) -> int:
        """The curriculum's maximum gap between sampled frames at ``step``."""
        frac = step / max(self.steps, 1)
        return [skip for start, skip in self.max_skip if start <= frac][-1]

    def top_p_at(self, step: int) -> float:
        """Bootstrapped CE: all pixels before the warm-up, then linearly down to the hardest ``top_p``."""
        frac = step / max(self.steps, 1)
        start, end = self.bootstrap_warmup
        if frac < start:
            return 1.0
        if frac >= end:
            return self.top_p
        return 1.0 - (1.0 - self.top_p) * (frac - start) / (end - start)


def _resolve(path: str) -> Path:
    """Config paths are relative to the repository root."""
    return Path(path) if Path(path).is_absolute() else REPO / path


class Clips(NamedTuple):
    """A batch of clips: frames ``[B, T, 3, H, W]`` in [0, 1], object masks ``[B, T, 2, H, W]``, and the frame-0
    masks perturbed for the mask consistency loss ``[B, 2, H, W]`` (None when the sampler draws none)."""

    frames: Tensor
    masks: Tensor
    perturbed: Tensor | None

    def to(self, device: torch.device) -> "Clips":
        return Clips(*(None if x is None else x.to(device) for x in self))


class ClipSampler:
    """Clips of ``clip_frames`` frames with up to two objects from a DAVIS-layout split held in memory; with
    ``perturb_iou`` each clip also gets perturbed frame-0 masks (one IoU target from U[``perturb_iou``])."""

    def __init__(self, root: Path, split: str, crop: tuple[int, int], clip_frames: int = 3,
                 perturb_iou: tuple[float, float] | None = None) -> None:
        dataset = DavisDataset(root, split=split)
        self.videos = []
        for name in dataset.sequences:
            video = dataset[name]
            frames = np.stack([video.frame(t) for t in range(len(video))])
            masks = np.stack([video.mask(t) for t in range(len(video))])
            self.videos.append((frames, masks))
        self.crop = crop
        self.clip_frames = clip_frames
        self.perturb_iou = perturb_iou

    def sample(self, rng: np.random.Generator, max_skip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Frames ``[T, H, W, 3]`` uint8, object masks ``[T, 2, H, W]`` (second object empty if absent) and the
        perturbed frame-0 masks ``[2, H, W]`` or None. The gaps between frames are drawn up to ``max_skip``
        each (all 1 if they do not fit the video); the clip runs forwards or backwards."""
        ch, cw = self.crop
        while True:
            frames, masks = self.videos[rng.integers(len(self.videos))]
            n = len(frames)
            gaps = rng.integers(1, max_skip + 1, size=self.clip_frames - 1)
            if gaps.sum() >= n:
                gaps = np.ones_like(gaps)
            t0 = int(rng.integers(0, n - gaps.sum()))
            idx = [int(i) for i in t0 + np.cumsum([0, *gaps])]
            if rng.random() < 0.5:
                idx = idx[::-1]
            h, w = masks.shape[1:]
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            clip_m = masks[idx, y: y + ch, x: x + cw]
            present = [o for o in np.unique(clip_m[0]) if o and (clip_m[0] == o).sum() >= 20]
            if not present:
                continue
            chosen = rng.permutation(present)[:2]
            obj = np.zeros((self.clip_frames, 2, ch, cw), np.float32)
            for j, o in enumerate(chosen):
                obj[:, j] = clip_m == o
            clip_f = frames[idx, y: y + ch, x: x + cw]
            if rng.random() < 0.5:
                clip_f, obj = clip_f[:, :, ::-1], obj[..., ::-1]
            obj = np.ascontiguousarray(obj)
            perturbed = None if self.perturb_iou is None else perturb_masks(obj[0], rng, self.perturb_iou)
            return np.ascontiguousarray(clip_f), obj, perturbed

    def batch(self, rng: np.random.Generator, size: int, max_skip: int) -> Clips:
        """``size`` clips (:class:`Clips`)."""
        items = [self.sample(rng, max_skip) for _ in range(size)]
        frames = torch.from_numpy(np.stack([f for f, _, _ in items])).permute(0, 1, 4, 2, 3).float() / 255
        perturbed = None if self.perturb_iou is None else torch.from_numpy(np.stack([p for _, _, p in items]))
        return Clips(frames, torch.from_numpy(np.stack([m for _, m, _ in items])), perturbed)


def bootstrapped_ce(logits: Tensor, labels: Tensor, top_p: float) -> Tensor:
    """Cross-entropy over the hardest ``top_p`` share of pixels (STCN's bootstrapped CE)."""
    raw = F.cross_entropy(logits, labels, reduction="none").flatten(1)
    if top_p >= 1:
        return raw.mean()
    k = max(1, int(raw.shape[1] * top_p))
    return raw.topk(k, dim=1).values.mean()


def channel_kl(teacher: Tensor, student: Tensor) -> Tensor:
    """KL(teacher ‖ student) between softmaxes over the channels of ``[B, N, C, h, w]`` embeddings, averaged over
    batch, channels and positions and summed over the N objects (Eq. 7-8 as the authors compute them: PyTorch's
    ``KLDivLoss`` with its element mean, temperature 1, neither side detached)."""
    log_t, log_s = F.log_softmax(teacher, dim=2), F.log_softmax(student, dim=2)
    return F.kl_div(log_s, log_t, reduction="none", log_target=True).mean(dim=(0, 2, 3, 4)).sum()


def read(model: STCN, keys: Tensor, values: Tensor, query: QueryFeatures) -> Tensor:
    """Readout ``[B, N, Cv, h, w]`` of a memory of keys ``[B, Ck, T, h, w]`` and values ``[B, N, Cv, T, h, w]``
    for ``query``, with the full softmax over the memory (as both kinds train)."""
    weights = torch.softmax(similarity(keys.flatten(2), query.key.flatten(2), model.similarity), dim=1)
    return readout(values.flatten(3), weights).unflatten(3, query.key.shape[-2:])


def segment_logits(model: STCN, decoder_input: Tensor, query: QueryFeatures, present: Tensor) -> Tensor:
    """Soft-aggregated logits ``[B, 1 + N, H, W]`` (background first) from the decoder input; absent object slots
    (``present`` ``[B, N]`` false) get probability 0."""
    probs = torch.sigmoid(model.decoder(decoder_input, query.f8, query.f4)) * present[:, :, None, None]
    return aggregate_logits(probs, dim=1)


def clip_loss(model: STCN, clips: Clips, config: TrainConfig, top_p: float) -> tuple[Tensor, dict[str, float]]:
    """Forward one batch of clips the way ``config.kind`` trains (module doc) and return the loss of Eq. 10 (for
    STCN the cross-entropy alone) and its unweighted terms: ``ce`` (the frame-weighted bootstrapped CE, Eq. 9),
    ``ug`` (Eq. 7, summed over the SAM-read frames) and ``mc`` (Eq. 8, on the values alone: the key encoder sees
    no mask)."""
    kind = config.kind
    if config.model == "gam":
        return gam_clip_loss(model, clips, config, top_p)
    frames, masks = clips.frames, clips.masks
    b, n_frames = frames.shape[:2]
    query = model.encode_key(frames.flatten(0, 1))
    queries = [QueryFeatures(*(x.unflatten(0, (b, n_frames))[:, t] for x in query)) for t in range(n_frames)]
    present = masks[:, 0].flatten(2).amax(2) > 0  # [B, 2]: which object slots are real
    labels = torch.cat([torch.zeros_like(masks[:, :, :1]), masks], 2).argmax(2)  # [B, T, H, W]
    terms: dict[str, Tensor] = {}
    value0 = model.encode_value(frames[:, 0], queries[0].f16, masks[:, 0])
    if config.mask_consistency:
        perturbed = model.encode_value(frames[:, 0], queries[0].f16, clips.perturbed)
        terms["mc"] = channel_kl(value0, perturbed)
        value0 = perturbed
    keys, values = [queries[0].key], [value0]
    sam = (queries[0].key.unsqueeze(2), value0.unsqueeze(3))  # the recurrent embedding starts as frame 0
    ce = ug = frames.new_zeros(())
    last = n_frames - 1
    for t in range(1, n_frames):
        full_logits_needed = t not in kind.sam_frames or t < last  # supervised, or gives the next memory value
        if full_logits_needed or config.unbiased_guidance:
            full = model.decoder_input(read(model, torch.stack(keys, 2), torch.stack(values, 3), queries[t]),
                                       queries[t])
        if full_logits_needed:
            full_logits = segment_logits(model, full, queries[t], present)
        if t in kind.sam_frames:
            student = model.decoder_input(read(model, *sam, queries[t]), queries[t])
            logits = segment_logits(model, student, queries[t], present)
            if config.unbiased_guidance:
                ug = ug + channel_kl(full, student)
        else:
            logits = full_logits
        ce = ce + kind.ce_weights[t] * bootstrapped_ce(logits, labels[:, t], top_p)
        if t < last:
            keys.append(queries[t].key)
            values.append(model.encode_value(frames[:, t], queries[t].f16, torch.softmax(full_logits, dim=1)[:, 1:]))
            if kind.sam_frames:
                sam = model.mem_compress(torch.cat([sam[0], keys[-1].unsqueeze(2)], 2),
                                         torch.cat([sam[1], values[-1].unsqueeze(3)], 3))
    loss = ce
    if config.unbiased_guidance:
        terms["ug"] = ug
        loss = loss + config.unbiased_guidance_weight * ug
    if config.mask_consistency:
        loss = loss + config.mask_consistency_weight * terms["mc"]
    return loss, {"ce": ce.item(), **{k: v.item() for k, v in terms.items()}}


def mask_history(past: list[Tensor], frames: int) -> Tensor:
    """The last ``frames`` of ``past`` (``[B, N, H, W]`` each, oldest first) stacked ``[B, N, frames, H, W]``, the
    oldest repeated while fewer exist: the history MEM reads, as :func:`vosnb.inference.propagate` builds it."""
    chosen = [past[max(0, len(past) - frames + i)] for i in range(frames)]
    return torch.stack(chosen, dim=2)


def gam_clip_loss(model: GAM, clips: Clips, config: TrainConfig, top_p: float) -> tuple[Tensor, dict[str, float]]:
    """The global attention model's clip forward (STCN's three-frame protocol, module doc): frame 0's ground truth
    is folded into ``G`` (Eq. 1), frame 1 reads it (Eq. 3), frame 1's predicted probabilities update it with the
    running mean (Eq. 2) and frame 2 reads the mean of both; with MEM each read frame also gets the history of
    predicted masks (ground truth for frame 0). Bootstrapped CE on frames 1 and 2, as STCN."""
    kind = config.kind
    frames, masks = clips.frames, clips.masks
    b, n_frames = frames.shape[:2]
    query = model.encode_key(frames.flatten(0, 1))
    queries = [QueryFeatures(*(x.unflatten(0, (b, n_frames))[:, t] for x in query)) for t in range(n_frames)]
    present = masks[:, 0].flatten(2).amax(2) > 0
    labels = torch.cat([torch.zeros_like(masks[:, :, :1]), masks], 2).argmax(2)
    value = model.encode_value(frames[:, 0], queries[0].f16, masks[:, 0])
    matrix = attention_matrix(queries[0].key.flatten(2), value.flatten(3), GAM_VARIANT)
    past = [masks[:, 0]]
    ce = frames.new_zeros(())
    for t in range(1, n_frames):
        grid = queries[t].key.shape[-2:]
        read_out = read_matrix(matrix, queries[t].key.flatten(2), GAM_VARIANT).unflatten(-1, grid)
        history = mask_history(past, model.mask_history) if model.mask_history else None
        probs = torch.sigmoid(model.segment(read_out, queries[t], history)) * present[:, :, None, None]
        logits = aggregate_logits(probs, dim=1)
        ce = ce + kind.ce_weights[t] * bootstrapped_ce(logits, labels[:, t], top_p)
        if t < n_frames - 1:
            predicted = torch.softmax(logits, dim=1)[:, 1:]
            value = model.encode_value(frames[:, t], queries[t].f16, predicted)
            matrix = update_mean(matrix, attention_matrix(queries[t].key.flatten(2), value.flatten(3), GAM_VARIANT),
                                 t + 1)
            past.append(predicted)
    return ce, {"ce": ce.item()}


def describe_losses(config: TrainConfig) -> dict:
    """The losses a run uses and their weights, for its model card."""
    out: dict = {"bootstrapped_ce": {"frame_weights": {str(t): w for t, w in config.kind.ce_weights.items()},
                                     "top_p": config.top_p, "warmup": list(config.bootstrap_warmup)}}
    if config.kind.sam_frames:
        out["sam_read_frames"] = list(config.kind.sam_frames)
        out["unbiased_guidance"] = {"weight": config.unbiased_guidance_weight} if config.unbiased_guidance else None
        out["mask_consistency"] = ({"weight": config.mask_consistency_weight, "perturb_iou": list(config.perturb_iou)}
                                   if config.mask_consistency else None)
    return out


def build_model(config: TrainConfig) -> tuple[STCN, str | None]:
    """The model a run starts from and the sha256 of its ``init_from`` checkpoint (None when trained from scratch)."""
    kind = config.kind
    if config.init_from is None:
        extra = {"gam": GamConfig(**config.gam)} if config.model == "gam" else {}
        return kind.model_class.small(key_dim=config.key_dim, similarity=config.similarity,
                                      **config.model_overrides, **extra), None
    init = load_pretrained(config.init_from)
    if (init.key_dim, init.similarity) != (config.key_dim, config.similarity):
        raise VosnbError(f"training config {config.name}: init_from {config.init_from!r} has key_dim={init.key_dim}, "
                         f"similarity={init.similarity!r}; the config says {config.key_dim}, {config.similarity!r}")
    sha = hashlib.sha256((CHECKPOINT_DIR / f"{config.init_from}.pth").read_bytes()).hexdigest()
    return kind.from_init(init, config), sha


def set_train_mode(model: STCN, kind: ModelKind) -> None:
    """Training mode, with batch normalisation frozen (running statistics kept) when the kind says so."""
    model.train()
    if kind.frozen_bn:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def _state(model: STCN, opt: torch.optim.Optimizer, step: int, rng: np.random.Generator, losses: list[float],
           terms: list[dict[str, float]], elapsed: float, init_sha256: str | None) -> dict:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "losses": losses,
            "terms": json.dumps(terms), "elapsed": elapsed, "rng": json.dumps(rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(), "init_sha256": init_sha256}


def train(config: TrainConfig, *, device: str = "auto", resume: bool = True, progress: bool = True,
          stop_at: int | None = None) -> Path | None:
    """Run (or resume) a training run; returns the path of the final fp16 checkpoint with its model card.

    ``stop_at`` ends this call after that step with a resumable state saved (training in slices on a laptop);
    it returns None then. The result of a run sliced this way equals the uninterrupted run's exactly.
    """
    dev = resolve_device(device)
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    rng = np.random.default_rng(config.seed)
    kind = config.kind
    model, init_sha256 = build_model(config)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(config.steps * config.lr_decay_at)], gamma=0.1)
    # RDE clips always carry a perturbed frame-0 mask, so the loss variants draw the very same data.
    sampler = ClipSampler(_resolve(config.data_root), config.split, config.crop, kind.clip_frames,
                          config.perturb_iou if kind.sam_frames else None)
    state_path = _resolve(config.out_dir) / f"{config.name}.state.pt"
    step, losses, terms, elapsed = 0, [], [], 0.0
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        step, losses, elapsed = state["step"], list(state["losses"]), state["elapsed"]
        # Replay the schedule's step count first, then load the optimizer, whose saved learning rate is already
        # the decayed one: replaying after the load decayed it twice when a run resumed past the milestone.
        for _ in range(step):
            sched.step()
        opt.load_state_dict(state["optimizer"])
        terms, init_sha256 = json.loads(state.get("terms", "[]")), state.get("init_sha256", init_sha256)
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
    set_train_mode(model, kind)
    bar = tqdm(total=config.steps, initial=step, desc=config.name, disable=not progress)
    tic = time.perf_counter()
    end = config.steps if stop_at is None else min(stop_at, config.steps)
    while step < end:
        clips = sampler.batch(rng, config.batch_size, config.skip_at(step)).to(dev)
        loss, loss_terms = clip_loss(model, clips, config, config.top_p_at(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        sched.step()
        step += 1
        losses.append(loss.item())
        terms.append(loss_terms)
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if step % config.save_every == 0 or step == end:
            with atomic_path(state_path) as tmp:
                torch.save(_state(model, opt, step, rng, losses, terms, elapsed + time.perf_counter() - tic,
                                  init_sha256), tmp)
    bar.close()
    elapsed += time.perf_counter() - tic
    if step < config.steps:
        return None
    return save_checkpoint(model, config, losses, terms, elapsed, dev, init_sha256)


def save_checkpoint(model: STCN, config: TrainConfig, losses: list[float], terms: list[dict[str, float]],
                    elapsed: float, device: torch.device, init_sha256: str | None = None) -> Path:
    """Write the fp16 checkpoint and the first part of its model card (the evaluation adds the scores): config,
    model kind, the losses and weights used, the init checkpoint and its sha256, device, wall time."""
    out = _resolve(config.checkpoint_dir) / f"{config.name}.pth"
    architecture = getattr(model, "architecture", None) or {
        "type": model.model_type, "key_dim": model.key_dim, "value_dim": model.value_dim,
        "similarity": model.similarity, "config": dataclasses.asdict(model.config)}
    payload = {"vosnb_model": architecture,
               "state_dict": {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}}
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    last = terms[-100:]
    card = {"name": config.name, "model": model.model_type, "config": dataclasses.asdict(config),
            "losses": describe_losses(config),
            "init_from": None if config.init_from is None else {"name": config.init_from, "sha256": init_sha256},
            "seed": config.seed, "steps": config.steps,
            "wall_time_s": round(elapsed, 1), "device": str(device), "threads": config.threads,
            "torch": torch.__version__, "final_train_loss": float(np.mean(losses[-100:])),
            "final_train_loss_terms": {k: float(np.mean([t[k] for t in last])) for k in (last[-1] if last else {})},
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "parameters": sum(p.numel() for p in model.parameters())}
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return out


def score_checkpoint(path: Path, data_root: Path, *, device: str = "auto", progress: bool = True) -> dict:
    """Add J&F on the val split with the kind's own memory (STCN: every-5; RDE: its RDE bank, θ = 3, 2F&L&RDE;
    top-k 20 for both) and the copy-first-frame baseline, each with its bootstrap interval over sequences, to the
    model card beside ``path``; returns the card."""
    from vosnb.inference import evaluate_model, first_frame_baseline, ground_truth
    from vosnb.metrics import bootstrap_ci, evaluate_sequence, per_sequence

    val = DavisDataset(data_root, split="val")
    model = load_any_checkpoint(path)
    kind = KINDS[model.model_type]
    options = {"similarity": model.similarity, "top_k": SCORING_TOP_K, "track": False, "model": model}
    result = evaluate_model(model, val, lambda: make_memory(kind.memory, options, **kind.memory_params),
                            device=device, top_k=SCORING_TOP_K, progress=progress, desc=f"scoring {path.stem}")
    baseline = pd.concat([evaluate_sequence(ground_truth(v), first_frame_baseline(v), v.name) for v in val],
                         ignore_index=True)
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    for key, metrics in (("val", result.metrics), ("first_frame_baseline", baseline)):
        estimate, low, high = bootstrap_ci(per_sequence(metrics))
        card[key] = {"J&F": round(estimate, 4), "interval_95": [round(low, 4), round(high, 4)],
                     "sequences": int(metrics["sequence"].nunique())}
    card["val"].update(memory=kind.memory, **kind.memory_params, top_k=SCORING_TOP_K,
                       fps_on_scoring_machine=round(result.fps, 1))
    with atomic_path(card_path) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return card


def run(args: argparse.Namespace) -> int:
    config = TrainConfig.from_yaml(args.config)
    if args.steps:
        config = dataclasses.replace(config, steps=args.steps)
    path = train(config, device=args.device, resume=not args.no_resume, stop_at=args.stop_at)
    if path is None:
        print(f"stopped at step {args.stop_at}; run the same command again to continue")
        return 0
    card = score_checkpoint(path, _resolve(config.data_root), device=args.device)
    print(f"checkpoint: {path}\nmodel card: {path.with_suffix('.json')}\n"
          f"val J&F {card['val']['J&F']:.3f} (first-frame baseline {card['first_frame_baseline']['J&F']:.3f})")
    return 0
