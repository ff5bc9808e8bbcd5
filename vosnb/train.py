"""Train the small STCN variant on the synthetic training split (STCN §3.4 and App., scaled down for CPU).

A training sample is a clip of three frames in temporal order with a growing maximum gap (the curriculum); frame 0
comes with its ground truth, frame 1 reads a memory of frame 0, frame 2 reads frames 0 and 1 (its value encoded
from frame 1's own prediction), as the authors train. Up to two objects per clip; bootstrapped cross-entropy on
frames 1 and 2; Adam. Everything is drawn from one seeded NumPy generator, so a run is reproducible, and a run can
be resumed from its last saved state.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor
from tqdm.auto import tqdm

from vosnb.data import DavisDataset
from vosnb.errors import VosnbError
from vosnb.inference import aggregate_logits
from vosnb.memory import readout, similarity
from vosnb.models import STCN
from vosnb.runtime import atomic_path, resolve_device, seed_everything

REPO = Path(__file__).resolve().parent.parent


@dataclass
class TrainConfig:
    """One training run. ``max_skip`` is a list of (fraction of training, maximum frame gap) steps."""

    name: str
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
        for key in ("crop", "bootstrap_warmup"):
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


class ClipSampler:
    """Three-frame clips with up to two objects from a DAVIS-layout split held in memory."""

    def __init__(self, root: Path, split: str, crop: tuple[int, int]) -> None:
        dataset = DavisDataset(root, split=split)
        self.videos = []
        for name in dataset.sequences:
            video = dataset[name]
            frames = np.stack([video.frame(t) for t in range(len(video))])
            masks = np.stack([video.mask(t) for t in range(len(video))])
            self.videos.append((frames, masks))
        self.crop = crop

    def sample(self, rng: np.random.Generator, max_skip: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames ``[3, H, W, 3]`` uint8 and object masks ``[3, 2, H, W]`` (second object empty if absent)."""
        ch, cw = self.crop
        while True:
            frames, masks = self.videos[rng.integers(len(self.videos))]
            n = len(frames)
            gap1, gap2 = rng.integers(1, max_skip + 1, size=2)
            if gap1 + gap2 >= n:
                gap1, gap2 = 1, 1
            t0 = int(rng.integers(0, n - gap1 - gap2))
            idx = [t0, t0 + gap1, t0 + gap1 + gap2]
            if rng.random() < 0.5:
                idx = idx[::-1]
            h, w = masks.shape[1:]
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            clip_m = masks[idx, y: y + ch, x: x + cw]
            present = [o for o in np.unique(clip_m[0]) if o and (clip_m[0] == o).sum() >= 20]
            if not present:
                continue
            chosen = rng.permutation(present)[:2]
            obj = np.zeros((3, 2, ch, cw), np.float32)
            for j, o in enumerate(chosen):
                obj[:, j] = clip_m == o
            clip_f = frames[idx, y: y + ch, x: x + cw]
            if rng.random() < 0.5:
                clip_f, obj = clip_f[:, :, ::-1], obj[..., ::-1]
            return np.ascontiguousarray(clip_f), np.ascontiguousarray(obj)

    def batch(self, rng: np.random.Generator, size: int, max_skip: int) -> tuple[Tensor, Tensor]:
        """Frames ``[B, 3, 3, H, W]`` in [0, 1] and masks ``[B, 3, 2, H, W]``."""
        items = [self.sample(rng, max_skip) for _ in range(size)]
        frames = torch.from_numpy(np.stack([f for f, _ in items])).permute(0, 1, 4, 2, 3).float() / 255
        return frames, torch.from_numpy(np.stack([m for _, m in items]))


def bootstrapped_ce(logits: Tensor, labels: Tensor, top_p: float) -> Tensor:
    """Cross-entropy over the hardest ``top_p`` share of pixels (STCN's bootstrapped CE)."""
    raw = F.cross_entropy(logits, labels, reduction="none").flatten(1)
    if top_p >= 1:
        return raw.mean()
    k = max(1, int(raw.shape[1] * top_p))
    return raw.topk(k, dim=1).values.mean()


def clip_loss(model: STCN, frames: Tensor, masks: Tensor, top_p: float) -> Tensor:
    """Forward one batch of clips the way STCN trains and return the loss of frames 1 and 2."""
    b, n_frames, _, h, w = frames.shape
    query = model.encode_key(frames.flatten(0, 1))
    key = query.key.unflatten(0, (b, n_frames))
    present = masks[:, 0].flatten(2).amax(2) > 0  # [B, 2]: which object slots are real
    labels = torch.cat([torch.zeros_like(masks[:, :, :1]), masks], 2).argmax(2)  # [B, 3, H, W]
    values = [model.encode_value(frames[:, 0], query.f16.unflatten(0, (b, n_frames))[:, 0], masks[:, 0])]
    loss = frames.new_zeros(())
    for t in (1, 2):
        mem_k = key[:, :t].transpose(1, 2).flatten(2)  # [B, Ck, t·hw]
        mem_v = torch.stack(values, 3).flatten(3)  # [B, N, Cv, t·hw]
        q_k = key[:, t].flatten(2)
        weights = torch.softmax(similarity(mem_k, q_k, model.similarity), dim=1)
        read = readout(mem_v, weights).unflatten(3, key.shape[-2:])
        sub = type(query)(*(x.unflatten(0, (b, n_frames))[:, t] for x in query))
        probs = torch.sigmoid(model.segment(read, sub)) * present[:, :, None, None]
        logits = aggregate_logits(probs, dim=1)
        loss = loss + bootstrapped_ce(logits, labels[:, t], top_p)
        if t == 1:
            soft = torch.softmax(logits, dim=1)[:, 1:]
            values.append(model.encode_value(frames[:, 1], sub.f16, soft))
    return loss / 2


def _state(model: STCN, opt: torch.optim.Optimizer, step: int, rng: np.random.Generator, losses: list[float],
           elapsed: float) -> dict:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "losses": losses,
            "elapsed": elapsed, "rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state()}


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
    model = STCN.small(key_dim=config.key_dim, similarity=config.similarity, **config.model_overrides).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(config.steps * config.lr_decay_at)], gamma=0.1)
    sampler = ClipSampler(_resolve(config.data_root), config.split, config.crop)
    state_path = _resolve(config.out_dir) / f"{config.name}.state.pt"
    step, losses, elapsed = 0, [], 0.0
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, losses, elapsed = state["step"], list(state["losses"]), state["elapsed"]
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        for _ in range(step):
            sched.step()
    model.train()
    bar = tqdm(total=config.steps, initial=step, desc=config.name, disable=not progress)
    tic = time.perf_counter()
    end = config.steps if stop_at is None else min(stop_at, config.steps)
    while step < end:
        frames, masks = sampler.batch(rng, config.batch_size, config.skip_at(step))
        loss = clip_loss(model, frames.to(dev), masks.to(dev), config.top_p_at(step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if step % config.save_every == 0 or step == end:
            with atomic_path(state_path) as tmp:
                torch.save(_state(model, opt, step, rng, losses, elapsed + time.perf_counter() - tic), tmp)
    bar.close()
    elapsed += time.perf_counter() - tic
    if step < config.steps:
        return None
    return save_checkpoint(model, config, losses, elapsed, dev)


def save_checkpoint(model: STCN, config: TrainConfig, losses: list[float], elapsed: float,
                    device: torch.device) -> Path:
    """Write the fp16 checkpoint and the first part of its model card (the evaluation adds the scores)."""
    out = _resolve(config.checkpoint_dir) / f"{config.name}.pth"
    payload = {"vosnb_model": {"type": model.model_type, "key_dim": model.key_dim, "value_dim": model.value_dim,
                               "similarity": model.similarity, "config": dataclasses.asdict(model.config)},
               "state_dict": {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}}
    with atomic_path(out) as tmp:
        torch.save(payload, tmp)
    card = {"name": config.name, "config": dataclasses.asdict(config), "seed": config.seed, "steps": config.steps,
            "wall_time_s": round(elapsed, 1), "device": str(device), "threads": config.threads,
            "torch": torch.__version__, "final_train_loss": float(np.mean(losses[-100:])),
            "sha256": hashlib.sha256(out.read_bytes()).hexdigest(), "parameters": sum(p.numel() for p in model.parameters())}
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return out


def score_checkpoint(path: Path, data_root: Path, *, device: str = "auto", progress: bool = True) -> dict:
    """Add J&F on the val split (every-5 memory, top-k 20) and the copy-first-frame baseline, each with its
    bootstrap interval over sequences, to the model card beside ``path``; returns the card."""
    from vosnb.inference import evaluate_model, first_frame_baseline, ground_truth
    from vosnb.metrics import bootstrap_ci, evaluate_sequence, per_sequence
    from vosnb.models.zoo import load_any_checkpoint

    val = DavisDataset(data_root, split="val")
    result = evaluate_model(load_any_checkpoint(path), val, "every5", device=device, top_k=20, progress=progress,
                            desc=f"scoring {path.stem}")
    baseline = pd.concat([evaluate_sequence(ground_truth(v), first_frame_baseline(v), v.name) for v in val],
                         ignore_index=True)
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    for key, metrics in (("val", result.metrics), ("first_frame_baseline", baseline)):
        estimate, low, high = bootstrap_ci(per_sequence(metrics))
        card[key] = {"J&F": round(estimate, 4), "interval_95": [round(low, 4), round(high, 4)],
                     "sequences": int(metrics["sequence"].nunique())}
    card["val"].update(memory="every5", top_k=20, fps_on_scoring_machine=round(result.fps, 1))
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
