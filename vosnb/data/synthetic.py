"""The embedded default data set: a deterministic synthetic set written in exactly the DAVIS layout.

``vosnb data synth --out ROOT`` (or `build_synthetic`) writes::

    ROOT/JPEGImages/480p/<seq>/00000.jpg ...      RGB frames
    ROOT/Annotations/480p/<seq>/00000.png ...     DAVIS palette PNGs, every frame annotated
    ROOT/ImageSets/2017/{val,train}.txt
    ROOT/synthetic.json                           generator version, config, per-sequence seeds, configs, events

so `DavisDataset(ROOT, "val")` reads it like real DAVIS. The resolution folder keeps DAVIS's name ``480p`` so that
the same call reads both; the true frame size is in synthetic.json.

Size. Frames are 128×224 (H×W): 480×854 DAVIS frames give a 30×54 grid at the models' stride 16; 128×224 keeps the
~16:9 aspect ratio with an 8×14 grid and ~14× fewer pixels, so the notebooks run in minutes on a CPU. The val split
has 30 sequences × 40 frames, enough for a paired bootstrap over sequences to resolve J&F differences of 1-3
points; train has 60 × 32 frames. The two splits come from different seeds.

Knobs. In each split every knob of `vosnb.data.scene` fires in exactly ``round(knob_rate * n)`` sequences (at
least one unless knob_rate is 0), chosen at random: distractor, crossing, exit_reenter, full_occlusion, drift,
scale, rotation, deform, mid_video; the number of objects is drawn from 1..max_objects (raised when a knob needs
more). What actually happened is measured on the rendered masks and stored per sequence in synthetic.json
(``knobs``, ``objects``; ``config`` and ``seed`` regenerate a sequence in memory with `make_sequence`).

Building is idempotent: a ROOT that already holds a complete set of the same config and generator version is left
as it is; otherwise the set is built in a temporary folder beside ROOT and renamed into place.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vosnb.data.io import write_davis_sequence
from vosnb.data.scene import DRIFT_KINDS, SequenceConfig, make_sequence
from vosnb.errors import DataError
from vosnb.runtime import atomic_path

GENERATOR_VERSION = 1
KNOBS = (
    "distractor", "crossing", "exit_reenter", "full_occlusion", "drift", "scale", "rotation", "deform", "mid_video"
)
SPLITS = ("val", "train")
RESOLUTION = "480p"
YEAR = "2017"


@dataclass(frozen=True)
class SynthConfig:
    """The whole embedded set: sizes of both splits, frame size, and how often each knob fires."""

    seed: int = 0
    height: int = 128
    width: int = 224
    val_sequences: int = 30
    val_length: int = 40
    train_sequences: int = 60
    train_length: int = 32
    max_objects: int = 3
    knob_rate: float = 0.3
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if min(self.val_sequences, self.train_sequences) < 1 or min(self.val_length, self.train_length) < 8:
            raise ValueError(f"SynthConfig: each split needs at least 1 sequence of at least 8 frames (got {self})")
        if not 0.0 <= self.knob_rate <= 1.0 or self.max_objects < 1:
            raise ValueError(f"SynthConfig: knob_rate must be in [0, 1] and max_objects >= 1 (got {self})")


def split_plan(config: SynthConfig, split: str) -> list[tuple[str, SequenceConfig, int]]:
    """(name, SequenceConfig, seed) of every sequence of ``split``; val and train use different seeds."""
    n = config.val_sequences if split == "val" else config.train_sequences
    length = config.val_length if split == "val" else config.train_length
    rng = np.random.default_rng([config.seed, SPLITS.index(split)])
    count = max(1, round(config.knob_rate * n)) if config.knob_rate > 0 else 0
    fired = {knob: set(rng.permutation(n)[:count].tolist()) for knob in KNOBS}
    plan = []
    for i in range(n):
        on = {knob for knob in KNOBS if i in fired[knob]}
        hide, leave, distractors = "full_occlusion" in on, "exit_reenter" in on, int("distractor" in on)
        n_first = max(1, hide + leave)
        if "crossing" in on:
            n_first = 1 + hide + leave + int(not hide and not distractors)
        n_mid = int("mid_video" in on)
        n_objects = max(int(rng.integers(1, config.max_objects + 1)), n_first + n_mid)
        hide_object = None
        if hide:
            start = int(rng.integers(length // 5, length // 2))
            obj = int(rng.integers(1, n_objects - n_mid + 1))
            hide_object = (obj, start, int(rng.integers(3, max(4, min(length // 4, length - 1 - start) + 1))))
        sequence = SequenceConfig(
            length=length,
            height=config.height,
            width=config.width,
            n_objects=n_objects,
            n_mid_video=n_mid,
            n_distractors=distractors,
            crossing="crossing" in on,
            exit_reenter=leave,
            hide_object=hide_object,
            drift=str(rng.choice(DRIFT_KINDS)) if "drift" in on else None,
            scale="scale" in on,
            rotation="rotation" in on,
            deform="deform" in on,
        )
        plan.append((f"{split}-{i:03d}", sequence, int(rng.integers(2**31))))
    return plan


def _source_digest() -> str:
    """sha256 of the generator's own source files: a set built by other code (even under the same
    GENERATOR_VERSION) is not mistaken for up to date."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in ("synthetic.py", "scene.py", "textures.py", "io.py"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def _config_record(config: SynthConfig) -> dict:
    return {"version": GENERATOR_VERSION, "source": _source_digest(), "config": dataclasses.asdict(config)}


def _is_complete(root: Path, config: SynthConfig) -> bool:
    """Does ``root`` hold a full set built by this generator version with ``config``?"""
    try:
        manifest = json.loads((root / "synthetic.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if {k: manifest.get(k) for k in ("version", "source", "config")} != _config_record(config):
        return False
    for split in SPLITS:
        sequences = manifest.get("splits", {}).get(split, {}).get("sequences", {})
        listed = (root / "ImageSets" / YEAR / f"{split}.txt")
        if not listed.is_file() or listed.read_text().split() != list(sequences):
            return False
        for name, info in sequences.items():
            length = info["config"]["length"]
            for folder, ext in (("JPEGImages", "*.jpg"), ("Annotations", "*.png")):
                if len(list((root / folder / RESOLUTION / name).glob(ext))) != length:
                    return False
    return True


def build_synthetic(root: str | os.PathLike, config: SynthConfig | None = None, progress: bool = True) -> Path:
    """Write the synthetic set to ``root`` unless it already holds the same one; returns ``root``.

    Built in a temporary folder beside ``root`` and renamed into place, so ``root`` is never half-written. A
    non-empty ``root`` that is not a synthetic set is refused.
    """
    config = config or SynthConfig()
    root = Path(root)
    if _is_complete(root, config):
        return root
    if root.exists() and (not root.is_dir() or (any(root.iterdir()) and not (root / "synthetic.json").exists())):
        raise DataError(
            f"{root}: exists and is not a vosnb synthetic set; give `vosnb data synth --out` an empty or new folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    try:
        plans = {split: split_plan(config, split) for split in SPLITS}
        manifest = {
            **_config_record(config),
            "frame_size": [config.height, config.width],
            "resolution_folder": RESOLUTION,
            "splits": {},
        }
        bar = tqdm(total=sum(len(p) for p in plans.values()), desc="synthetic set", unit="seq", disable=not progress)
        for split, plan in plans.items():
            sequences = {}
            for name, sequence, seed in plan:
                frames, masks, events = make_sequence(sequence, seed)
                write_davis_sequence(building, name, masks, frames, RESOLUTION, jpeg_quality=config.jpeg_quality,
                                     atomic=False)
                sequences[name] = events
                bar.update()
            with atomic_path(building / "ImageSets" / YEAR / f"{split}.txt") as tmp:
                tmp.write_text("".join(f"{name}\n" for name, _, _ in plan))
            manifest["splits"][split] = {"seed": [config.seed, SPLITS.index(split)], "sequences": sequences}
        bar.close()
        with atomic_path(building / "synthetic.json") as tmp:
            tmp.write_text(json.dumps(manifest))
        _swap_into_place(building, root)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return root


def _swap_into_place(built: Path, root: Path) -> None:
    """Rename ``built`` onto ``root``, replacing an older synthetic set only once the new one is complete."""
    old = None
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.replace(root, old / root.name)
    os.replace(built, root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    """`vosnb data synth`: build (or find up to date) the synthetic set and say where it is."""
    config = SynthConfig(
        seed=args.seed, height=args.height, width=args.width, val_sequences=args.val_sequences,
        val_length=args.val_length, train_sequences=args.train_sequences, train_length=args.train_length,
        max_objects=args.max_objects, knob_rate=args.knob_rate,
    )
    fresh = not _is_complete(args.out, config)
    start = time.perf_counter()
    root = build_synthetic(args.out, config, progress=not args.no_progress)
    state = f"built in {time.perf_counter() - start:.1f} s" if fresh else "already up to date"
    print(
        f"synthetic set {state}: {root} (val {config.val_sequences}×{config.val_length}, "
        f"train {config.train_sequences}×{config.train_length} frames of {config.height}×{config.width})"
    )
    return 0
