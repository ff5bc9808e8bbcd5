"""The propagation engine: segment every frame of a video from its first-frame masks through a memory bank.

``propagate`` follows STCN's inference (ALGORITHMS.md): frames in [0, 1] are normalised with the model's ImageNet
mean and std and then zero-padded to a multiple of 16 (split evenly between the two sides), so that the padding is
the mean colour as in the authors' code (padding before normalising would make it black); one key per frame serves
every object, each object gets a logit map from the
decoder, objects are merged by soft aggregation, and the memory strategy decides which frames it writes.
A model with a ``mask_history`` attribute above 0 (the global attention model with its mask embedding) gets, for
each object group, its last ``mask_history`` merged probabilities since the group's first frame, oldest first, the
oldest repeated while fewer exist (``model.segment(..., history)``). Objects that first appear mid-video (YouTube-VOS) join at their first annotation with a bank of their own; a bank
counts frames from its own first frame (index 0 is always its ground-truth frame, which every strategy writes).
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from vosnb.data import DavisDataset, Video, write_mask
from vosnb.memory import FrameContext, MemoryBank, make_memory
from vosnb.metrics import evaluate_sequence, summarize
from vosnb.runtime import resolve_device, synchronize

MemorySpec = str | Callable[[], MemoryBank]


def padding(height: int, width: int, multiple: int = 16) -> tuple[int, int, int, int]:
    """The padding ``(left, right, top, bottom)`` that brings ``height × width`` to multiples of ``multiple``, split
    evenly (the odd pixel right and bottom); the layout every stride-16 map of a padded frame follows."""
    ph, pw = (-height) % multiple, (-width) % multiple
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def pad_to_multiple(x: Tensor, multiple: int = 16) -> tuple[Tensor, tuple[int, int, int, int]]:
    """Zero-pad the last two dims to a multiple, split evenly; returns the padding (left, right, top, bottom).
    Frames are padded after normalisation (module doc), masks and labels with background."""
    pad = padding(*x.shape[-2:], multiple)
    return (F.pad(x, pad) if any(pad) else x), pad


def unpad(x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    """Undo :func:`pad_to_multiple`."""
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    return x[..., top: h - bottom, left: w - right]


def aggregate_logits(probs: Tensor, dim: int = 0) -> Tensor:
    """STCN's soft aggregation as logits: object probabilities along ``dim`` → background first, then objects.

    ``bg = ∏(1 − p_i)``; clamp to [1e-7, 1 − 1e-7]; logits ``log(p / (1 − p))``. A softmax over ``dim`` gives the
    merged probabilities; training applies the cross-entropy to these logits directly.
    """
    bg = torch.prod(1 - probs, dim=dim, keepdim=True)
    p = torch.cat([bg, probs], dim).clamp(1e-7, 1 - 1e-7)
    return torch.log(p / (1 - p))


def aggregate(probs: Tensor) -> Tensor:
    """Merged probabilities ``[N+1, H, W]`` (background first) from object probabilities ``[N, H, W]``."""
    return torch.softmax(aggregate_logits(probs, 0), dim=0)


def _memory_factory(memory: MemorySpec, model: torch.nn.Module, top_k: int | None,
                    track: bool) -> Callable[[], MemoryBank]:
    """A factory of fresh banks: ``memory`` itself if callable, else :func:`make_memory` on the spec, offering the
    model's similarity, ``top_k``, ``track`` and the model (for learned strategies)."""
    if callable(memory):
        return memory
    options = {"similarity": model.similarity, "top_k": top_k, "track": track, "model": model}
    return lambda: make_memory(memory, options)


@dataclass
class PropagationResult:
    """Masks ``[T, H, W]`` (object ids); per frame the compute time (wall s, device-synchronised), this process's
    CPU time (s, all threads), the time of the memory reads alone (wall s) and the memory held after the frame
    (bytes, all banks); the final banks per object group (first frame → bank) for analysis; with ``keep_probs``
    the merged probabilities ``[T, N+1, H, W]`` (fp16)."""

    masks: np.ndarray
    frame_times: np.ndarray
    memory_bytes: np.ndarray
    banks: dict[int, MemoryBank] = field(default_factory=dict)
    probs: np.ndarray | None = None
    cpu_times: np.ndarray | None = None
    read_times: np.ndarray | None = None


class Propagation:
    """One propagation, frame by frame: :meth:`step` segments the next frame (read, decode, merge, write) and records
    its times; :meth:`result` gives what :func:`propagate` returns. Stepping two propagations in alternation times
    their frames back to back (the engine's long videos)."""

    @torch.inference_mode()
    def __init__(self, model: torch.nn.Module, video: Video, memory: MemorySpec = "every5", *,
                 device: str | torch.device = "auto", top_k: int | None = 20, track: bool = False,
                 keep_probs: bool = False) -> None:
        self.dev = resolve_device(device) if isinstance(device, str) else device
        self.model = model.to(self.dev).eval()
        self.video = video
        self.new_bank = _memory_factory(memory, model, top_k, track)
        self.ids = list(video.object_ids)
        self.groups: dict[int, list[int]] = {}
        for i, obj in enumerate(self.ids):
            self.groups.setdefault(video.first_frame[obj], []).append(i)
        n_frames = len(video)
        self.masks = np.zeros((n_frames, video.height, video.width), np.uint8)
        self.times, self.cpu_times, self.read_times = np.zeros(n_frames), np.zeros(n_frames), np.zeros(n_frames)
        self.mem_bytes = np.zeros(n_frames, np.int64)
        self.all_probs = (np.zeros((n_frames, len(self.ids) + 1, video.height, video.width), np.float16)
                          if keep_probs else None)
        self.banks: dict[int, MemoryBank] = {}
        self.history_frames = int(getattr(model, "mask_history", 0))
        self.past: list[tuple[int, Tensor]] = []  # (frame, merged probabilities [N+1, H, W] padded): the last few
        self.t = min(self.groups) if self.groups else n_frames  # the next frame to segment

    @property
    def done(self) -> bool:
        return self.t >= len(self.video)

    @torch.inference_mode()
    def step(self) -> int:
        """Segment frame ``t`` and advance; returns the frame segmented."""
        if self.done:
            raise IndexError(f"{self.video.name}: all {len(self.video)} frames are segmented")
        t, dev, model, groups, ids = self.t, self.dev, self.model, self.groups, self.ids
        rgb = torch.from_numpy(np.array(self.video.frame(t), copy=True)).to(dev)
        synchronize(dev)
        tic, cpu_tic = time.perf_counter(), time.process_time()
        frame, pad = pad_to_multiple(model.normalise(rgb.permute(2, 0, 1).unsqueeze(0).float() / 255))
        query = model.encode_key(frame, normalised=True)
        probs = torch.zeros((len(ids), *frame.shape[-2:]), device=dev)
        for first, members in groups.items():
            if first < t:
                read_tic = time.perf_counter()
                read = self.banks[first].read(query.key[0], FrameContext(features=query))
                synchronize(dev)
                self.read_times[t] += time.perf_counter() - read_tic
                if self.history_frames:
                    own = [p[[i + 1 for i in members]] for frame_t, p in self.past if frame_t >= first]
                    history = torch.stack([own[max(0, len(own) - self.history_frames + j)]
                                           for j in range(self.history_frames)], dim=1)
                    logits = model.segment(read.values.unsqueeze(0), query, history.unsqueeze(0))[0]
                else:
                    logits = model.segment(read.values.unsqueeze(0), query)[0]
                probs[members] = torch.sigmoid(logits)
        active = [i for first, members in groups.items() if first <= t for i in members]
        full = torch.zeros((len(ids) + 1, *frame.shape[-2:]), device=dev)
        full[[0] + [i + 1 for i in active]] = aggregate(probs[active])
        if t in groups:
            gt, _ = pad_to_multiple(torch.from_numpy(self.video.mask(t).astype(np.int64)).to(dev))
            for i in groups[t]:
                one = (gt == ids[i]).float()
                full = full * (1 - one)
                full[i + 1] = one
            full[0] = 1 - full[1:].sum(0)
            self.banks[t] = self.new_bank()
        if t < len(self.video) - 1:
            for first, members in groups.items():
                if first <= t and self.banks[first].should_write(t - first):
                    own = full[[i + 1 for i in members]]
                    others = (full[1:].sum(0, keepdim=True) - own).clamp(0, 1)
                    values = model.encode_value(frame, query.f16, own.unsqueeze(0), others.unsqueeze(0),
                                                normalised=True)[0]
                    context = FrameContext(features=query, object_probs=full[1:], members=tuple(members))
                    self.banks[first].write(t - first, query.key[0], values, own, context)
        if self.history_frames:
            self.past = ([*self.past[-(self.history_frames - 1):], (t, full)] if self.history_frames > 1
                         else [(t, full)])
        out = unpad(full, pad)
        label = out.argmax(0)
        synchronize(dev)
        self.times[t], self.cpu_times[t] = time.perf_counter() - tic, time.process_time() - cpu_tic
        lut = torch.tensor([0, *ids], dtype=torch.uint8, device=dev)
        self.masks[t] = lut[label].cpu().numpy()
        self.mem_bytes[t] = sum(b.nbytes for b in self.banks.values())
        if self.all_probs is not None:
            self.all_probs[t] = out.cpu().numpy()
        self.t += 1
        return t

    def result(self) -> PropagationResult:
        return PropagationResult(masks=self.masks, frame_times=self.times, memory_bytes=self.mem_bytes,
                                 banks=self.banks, probs=self.all_probs, cpu_times=self.cpu_times,
                                 read_times=self.read_times)


def propagate(model: torch.nn.Module, video: Video, memory: MemorySpec = "every5", *, device: str | torch.device = "auto",
              top_k: int | None = 20, track: bool = False, keep_probs: bool = False,
              progress: bool = False) -> PropagationResult:
    """Segment ``video`` with ``model`` through the memory strategy ``memory`` (a spec such as ``"every5"`` or a
    factory returning a fresh :class:`MemoryBank`). ``top_k`` and ``track`` are passed to spec-built banks.
    Each frame goes through ``model.normalise``, is padded (module doc) and is encoded with ``normalised=True``."""
    run = Propagation(model, video, memory, device=device, top_k=top_k, track=track, keep_probs=keep_probs)
    for _ in tqdm(range(run.t, len(video)), desc=video.name, disable=not progress, leave=False):
        run.step()
    return run.result()


def ground_truth(video: Video) -> np.ndarray:
    """All annotations of ``video`` stacked ``[T, H, W]`` (evaluation only: DAVIS train/val annotate every frame)."""
    frames = [video.mask(t) for t in range(len(video))]
    missing = [video.frame_names[t] for t, m in enumerate(frames) if m is None]
    if missing:
        raise ValueError(f"sequence {video.name!r} has no annotation for frames {missing[:5]}...: it cannot be scored")
    return np.stack(frames)


def first_frame_baseline(video: Video) -> np.ndarray:
    """The trivial tracker: the first-frame mask copied to every frame (what a model must beat to 'track')."""
    return np.repeat(video.mask(0)[None], len(video), axis=0)


@dataclass
class EvalResult:
    """Per-object DAVIS metrics, per-sequence timings and memory, and the summary row."""

    metrics: pd.DataFrame
    timings: pd.DataFrame

    @property
    def summary(self) -> pd.Series:
        return summarize(self.metrics)

    @property
    def fps(self) -> float:
        """Frames per second over the whole set (frames / summed per-frame time, first frames excluded)."""
        return float(self.timings["frames"].sum() / self.timings["seconds"].sum())


def evaluate_model(model: torch.nn.Module, videos: DavisDataset | Sequence[Video], memory: MemorySpec = "every5", *,
                   device: str | torch.device = "auto", top_k: int | None = 20, progress: bool = True,
                   desc: str | None = None) -> EvalResult:
    """Propagate over every video and score it with the DAVIS metrics; one call per table row in the notebooks."""
    rows, timing = [], []
    items = [videos[name] for name in videos.sequences] if isinstance(videos, DavisDataset) else list(videos)
    for video in tqdm(items, desc=desc or (memory if isinstance(memory, str) else "propagate"), disable=not progress):
        result = propagate(model, video, memory, device=device, top_k=top_k)
        rows.append(evaluate_sequence(ground_truth(video), result.masks, video.name))
        timing.append({"sequence": video.name, "frames": len(video) - 1, "seconds": float(result.frame_times[1:].sum()),
                       "max_memory_bytes": int(result.memory_bytes.max())})
    return EvalResult(metrics=pd.concat(rows, ignore_index=True), timings=pd.DataFrame(timing))


def run(args: argparse.Namespace) -> int:
    from vosnb.models import load_any_checkpoint

    model = load_any_checkpoint(args.checkpoint)
    dataset = DavisDataset(args.data_root, split=args.split, resolution=args.resolution)
    for name in tqdm(dataset.sequences, desc="sequences"):
        video = dataset[name]
        result = propagate(model, video, args.memory, device=args.device, top_k=args.top_k or None)
        for t, stem in enumerate(video.frame_names):
            write_mask(args.out / name / f"{stem}.png", result.masks[t])
    print(f"wrote predictions for {len(dataset.sequences)} sequences to {args.out}; score them with "
          f"`vosnb eval --gt {args.data_root / 'Annotations' / args.resolution} --pred {args.out}`")
    return 0
