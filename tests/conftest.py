"""Shared data fixtures: tiny data sets in the DAVIS and YouTube-VOS layouts, generated in temporary folders.

At import, before any test or notebook kernel starts: results/ and figures/ go to a temporary folder (the tests
never rewrite the committed evidence), and the ci profile's numerics are pinned in the environment that the
notebook kernels inherit (`vosnb.runtime.ci_numerics_env`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vosnb.data import SequenceConfig, SynthConfig, build_synthetic, make_sequence, write_davis_sequence, write_frame
from vosnb.data import write_mask
from vosnb.runtime import OUTPUT_ROOT_ENV, ci_numerics_env

_OUTPUT_ROOT = tempfile.mkdtemp(prefix="vosnb-test-output-")
os.environ[OUTPUT_ROOT_ENV] = _OUTPUT_ROOT
os.environ.update(ci_numerics_env())


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_OUTPUT_ROOT, ignore_errors=True)

TINY_SYNTH = SynthConfig(
    seed=7, height=48, width=80, val_sequences=2, val_length=8, train_sequences=2, train_length=8, knob_rate=0.0
)


@pytest.fixture(scope="session")
def tiny_davis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A very small synthetic set in the DAVIS layout (val and train: 2 sequences × 8 frames of 48×80, no knobs).
    Shared by the session: read it, never modify it."""
    return build_synthetic(tmp_path_factory.mktemp("tiny_davis") / "synthetic", TINY_SYNTH, progress=False)


@pytest.fixture(scope="session")
def tiny_sequence() -> tuple[np.ndarray, np.ndarray]:
    """(frames [6,40,64,3], masks [6,40,64]) with two objects present from frame 0."""
    frames, masks, _ = make_sequence(SequenceConfig(length=6, height=40, width=64, n_objects=2), seed=3)
    return frames, masks


@pytest.fixture
def make_davis_root(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_davis_root({name: (frames, masks)}, split="val")`` writes a DAVIS-layout root and returns it."""

    def make(sequences: dict[str, tuple[np.ndarray, np.ndarray]], split: str = "val") -> Path:
        root = tmp_path / "davis"
        for name, (frames, masks) in sequences.items():
            write_davis_sequence(root, name, masks, frames)
        split_file = root / "ImageSets" / "2017" / f"{split}.txt"
        split_file.parent.mkdir(parents=True, exist_ok=True)
        split_file.write_text("".join(f"{name}\n" for name in sequences))
        return root

    return make


@pytest.fixture
def tiny_youtube_root(tmp_path: Path) -> Path:
    """A YouTube-VOS "valid" layout with one sequence: frames 00000, 00005, ...; object 2 first appears mid-video;
    each annotation holds only the objects that first appear on its frame (as in the real valid set)."""
    config = SequenceConfig(length=10, height=40, width=64, n_objects=2, n_mid_video=1)
    frames, masks, events = make_sequence(config, seed=5)
    root = tmp_path / "youtube"
    split = root / "valid"
    stems = [f"{5 * t:05d}" for t in range(len(frames))]
    objects = {}
    for key, info in events["objects"].items():
        first = info["first_frame"]
        objects[key] = {"category": "blob", "frames": stems[first:]}
    for t, stem in enumerate(stems):
        write_frame(split / "JPEGImages" / "seq" / f"{stem}.jpg", frames[t])
        new = [int(k) for k, o in objects.items() if o["frames"][0] == stem]
        if new:
            only_new = np.where(np.isin(masks[t], new), masks[t], 0).astype(np.uint8)
            write_mask(split / "Annotations" / "seq" / f"{stem}.png", only_new)
    (split / "meta.json").write_text(json.dumps({"videos": {"seq": {"objects": objects}}}))
    return root


def drive_bank(bank, n_frames: int, *, key_dim: int = 8, value_dim: int = 3, grid: tuple[int, int] = (3, 4),
               objects: int = 2, seed: int = 1) -> list:
    """Read then (maybe) write each of ``n_frames`` random frames, as propagate does; return the readouts."""
    import torch

    g = torch.Generator().manual_seed(seed)
    outs = []
    for t in range(n_frames):
        query = torch.randn(key_dim, *grid, generator=g)
        if t:
            outs.append(bank.read(query).values)
        key, values = torch.randn(key_dim, *grid, generator=g), torch.randn(objects, value_dim, *grid, generator=g)
        if bank.should_write(t):
            bank.write(t, key, values, None)
    return outs


@pytest.fixture
def drive() -> Callable[..., list]:
    """:func:`drive_bank`: feed a memory bank random frames as propagation does."""
    return drive_bank
