"""Propagation speed of the small STCN per memory strategy: frames per second, median of repeats.

Each repeat propagates every strategy over the same few val sequences of the embedded data set (strategies
interleaved, so they share the machine's load); FPS = propagated frames / summed per-frame time (first frames
excluded, as :class:`vosnb.inference.EvalResult`). Strategies: every5, every5+last, first_last, and lfu / swem when
their modules import. Nothing here is a unit test. Usage::

    python benchmarks/bench_propagation.py [--model stcn_small_l2_ck64 | --checkpoint PATH | --random-weights]
        [--sequences 3] [--repeats 3] [--strategies every5 ...] [--data-root data/synthetic] [--threads N]
        [--device auto]
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pandas as pd
import torch

from vosnb.context import synthetic_root
from vosnb.data import DavisDataset
from vosnb.errors import CheckpointError
from vosnb.inference import propagate
from vosnb.memory import make_memory
from vosnb.models import STCN
from vosnb.models.zoo import load_any_checkpoint, load_pretrained
from vosnb.runtime import resolve_device, seed_everything

STRATEGIES = ("every5", "every5+last", "first_last", "lfu", "swem")


def importable(spec: str) -> bool:
    """Whether the strategy's module imports and its bank builds with default arguments."""
    try:
        make_memory(spec)
    except ImportError:
        return False
    return True


def load_model(args: argparse.Namespace) -> tuple[torch.nn.Module, str]:
    if args.random_weights:
        seed_everything(0)
        return STCN.small(64, "l2"), "STCN.small(64, 'l2') with random weights"
    if args.checkpoint:
        return load_any_checkpoint(args.checkpoint), str(args.checkpoint)
    try:
        return load_pretrained(args.model), args.model
    except CheckpointError as err:
        raise SystemExit(f"{err}\n(pass --random-weights to time the architecture without trained weights)") from err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default="stcn_small_l2_ck64", help="a shipped model name")
    source.add_argument("--checkpoint", type=Path, help="any STCN checkpoint (vosnb or the authors' stcn.pth)")
    source.add_argument("--random-weights", action="store_true", help="the small architecture, untrained")
    parser.add_argument("--sequences", type=int, default=3, help="first N val sequences")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--data-root", type=Path, default=None, help="DAVIS-layout root (default: embedded data)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model, described = load_model(args)
    model = model.to(device).eval()
    root = args.data_root or synthetic_root()
    dataset = DavisDataset(root, split="val")
    videos = [dataset[name] for name in dataset.sequences[: args.sequences]]
    strategies = [s for s in args.strategies if importable(s)]
    skipped = sorted(set(args.strategies) - set(strategies))
    print(f"model {described} | device {device} | threads {torch.get_num_threads()} | "
          f"{len(videos)} sequences of {root} ({sum(len(v) - 1 for v in videos)} propagated frames each repeat)"
          + (f" | not importable, skipped: {skipped}" if skipped else ""))
    propagate(model, videos[0], strategies[0], device=device)  # warm-up
    fps: dict[str, list[float]] = {s: [] for s in strategies}
    for _ in range(args.repeats):
        for spec in strategies:
            results = [propagate(model, v, spec, device=device) for v in videos]
            frames = sum(len(r.frame_times) - 1 for r in results)
            fps[spec].append(frames / sum(r.frame_times[1:].sum() for r in results))
    table = pd.DataFrame([{"strategy": s, "median_fps": statistics.median(v), "min_fps": min(v), "max_fps": max(v),
                           "repeats": len(v)} for s, v in fps.items()])
    print(table.to_string(index=False, float_format="%.1f"))


if __name__ == "__main__":
    main()
