"""Speed of the STCN models on CPU: median milliseconds over repeats, timed by :mod:`vosnb.timing` (nothing here is
a unit test).

1. The small model's per-frame inference (encode_key + encode_value for 2 objects + segment) at 128×224.
2. The small model's training step (forward, backward, Adam) over a batch of 8 three-frame clips at 96×96 with 2
   objects, as STCN's training (§5): frame 1 is read from frame 0's memory, frame 2 from frames 0 and 1.
3. The release model's per-frame inference at 480×864 (DAVIS 480p padded), median of 3.

Usage: ``python benchmarks/bench_models.py [--threads 2] [--repeats 20] [--skip-release]``
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vosnb.analysis.costs import random_masks
from vosnb.models import STCN, QueryFeatures
from vosnb.runtime import seed_everything
from vosnb.timing import time_interleaved
from vosnb.train import read


def median_ms(step: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median wall-clock and process-CPU milliseconds of ``step`` (:func:`vosnb.timing.time_interleaved`).

    On a shared machine the wall clock counts time spent waiting for a core; the CPU time does not (with one
    thread it is the honest cost; with more it also counts the threads' spinning)."""
    timing = time_interleaved({"step": step}, repeats=repeats, warmup=warmup)
    return 1000 * timing.median("step"), 1000 * timing.median("step", cpu=True)


def frame_features(query: QueryFeatures, clips: int, t: int) -> QueryFeatures:
    """Frame ``t`` of each clip from features computed over ``clips × frames`` images."""
    return QueryFeatures(*(x.view(clips, -1, *x.shape[1:])[:, t] for x in query))


def inference_step(model: STCN, frame: torch.Tensor, masks: torch.Tensor) -> Callable[[], object]:
    """One frame of propagation with one memory frame: encode the key, read, segment, encode the new values."""
    h, w = frame.shape[-2] // 16, frame.shape[-1] // 16
    mem_key = torch.randn(1, model.key_dim, 1, h, w)
    mem_value = torch.randn(1, masks.shape[1], model.value_dim, 1, h, w)

    @torch.inference_mode()
    def step() -> object:
        query = model.encode_key(frame)
        logits = model.segment(read(model, mem_key, mem_value, query), query)
        return model.encode_value(frame, query.f16, torch.sigmoid(logits))

    return step


def training_step(model: STCN, frames: torch.Tensor, masks: torch.Tensor) -> Callable[[], object]:
    """STCN's three-frame training step: frames ``[B, 3, 3, H, W]``, masks ``[B, 3, N, H, W]``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    clips = frames.shape[0]

    def step() -> object:
        optimizer.zero_grad(set_to_none=True)
        query = model.encode_key(frames.flatten(0, 1))
        key = query.key.view(clips, 3, *query.key.shape[1:]).transpose(1, 2)  # [B, Ck, 3, h, w]
        q0, q1, q2 = (frame_features(query, clips, t) for t in range(3))
        v0 = model.encode_value(frames[:, 0], q0.f16, masks[:, 0])
        logits1 = model.segment(read(model, key[:, :, :1], v0.unsqueeze(3), q1), q1)
        v1 = model.encode_value(frames[:, 1], q1.f16, torch.sigmoid(logits1))
        values = torch.stack([v0, v1], dim=3)
        logits2 = model.segment(read(model, key[:, :, :2], values, q2), q2)
        loss = F.binary_cross_entropy_with_logits(logits1, masks[:, 1]) + \
            F.binary_cross_entropy_with_logits(logits2, masks[:, 2])
        loss.backward()
        optimizer.step()
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-release", action="store_true", help="skip the release model at 480×864")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = seed_everything(0)

    small = STCN.small().eval()
    params = sum(p.numel() for p in small.parameters())
    print(f"small STCN: {params:,} parameters ({2 * params / 2**20:.2f} MiB in fp16), {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings need an idle machine)")
    frame = torch.rand(1, 3, 128, 224, generator=generator)
    masks = random_masks(1, 2, 128, 224, generator=generator)
    wall, cpu = median_ms(inference_step(small, frame, masks), args.repeats)
    print(f"small, per-frame inference 128x224, 2 objects: {wall:.1f} ms wall, {cpu:.1f} ms CPU "
          f"(medians of {args.repeats})")

    small.train()
    frames = torch.rand(8, 3, 3, 96, 96, generator=generator)
    clip_masks = random_masks(8, 3, 2, 96, 96, generator=generator)
    repeats = max(3, args.repeats // 2)
    wall, cpu = median_ms(training_step(small, frames, clip_masks), repeats)
    print(f"small, training step 8 clips x 3 frames 96x96, 2 objects: {wall:.0f} ms wall, {cpu:.0f} ms CPU "
          f"(medians of {repeats})")

    if not args.skip_release:
        release = STCN().eval()
        frame = torch.rand(1, 3, 480, 864, generator=generator)
        masks = random_masks(1, 2, 480, 864, generator=generator)
        wall, cpu = median_ms(inference_step(release, frame, masks), repeats=3, warmup=1)
        print(f"release, per-frame inference 480x864, 2 objects: {wall:.0f} ms wall, {cpu:.0f} ms CPU (medians of 3)")


if __name__ == "__main__":
    main()
