"""DAVIS-layout data sets on disk (real DAVIS 2017 and the embedded synthetic set)::

    ROOT/JPEGImages/<resolution>/<sequence>/00000.jpg ...
    ROOT/Annotations/<resolution>/<sequence>/00000.png ...   palette PNGs: 0 background, 1..N object ids
    ROOT/ImageSets/<year>/{train,val}.txt                     one sequence name per line

Everything a sequence needs to be usable is checked when it is opened (``dataset[name]``); frames and masks are
then read lazily, each read checking its own file. Every problem raises `vosnb.errors.DataError` naming the file.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vosnb.data.io import image_size, read_mask, read_optional_mask, video_from_folders
from vosnb.data.video import Video
from vosnb.errors import DataError

OBJECT_MODES = ("davis", "first_appearance")


class DavisDataset:
    """Sequences of one DAVIS split: ``.sequences`` (names), ``dataset[name] -> Video``, iteration, ``len``.

    ``objects="davis"`` (default, official DAVIS 2017 semantics): the objects are those of the first annotation,
    each with ``first_frame`` 0. ``objects="first_appearance"`` (YouTube-VOS-like protocol, for the synthetic
    mid-video objects): every id in any annotation, introduced by the first frame where it appears.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "val",
        resolution: str = "480p",
        year: str = "2017",
        objects: str = "davis",
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.resolution = resolution
        self.objects = objects
        if objects not in OBJECT_MODES:
            raise DataError(f"DavisDataset: objects={objects!r}; choose one of {OBJECT_MODES}")
        if not self.root.is_dir():
            raise DataError(
                f"{self.root}: data root not found; give the folder that holds JPEGImages/, Annotations/ and "
                "ImageSets/ (`vosnb data download davis2017 --root DIR` fetches DAVIS 2017 and prints it; "
                "`vosnb data synth --out DIR` builds the embedded synthetic set)"
            )
        split_file = self.root / "ImageSets" / str(year) / f"{split}.txt"
        if not split_file.is_file():
            raise DataError(
                f"{split_file}: split file not found; the root must hold JPEGImages/, Annotations/ and ImageSets/ "
                "(for a downloaded DAVIS, pass the extracted DAVIS folder)"
            )
        self.sequences = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
        self.image_dir = self.root / "JPEGImages" / resolution
        self.mask_dir = self.root / "Annotations" / resolution

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Video]:
        return (self[name] for name in self.sequences)

    def __repr__(self) -> str:
        return (
            f"DavisDataset({str(self.root)!r}, split={self.split!r}, sequences={len(self)}, objects={self.objects!r})"
        )

    def _frame_names(self, name: str) -> list[str]:
        folder = self.image_dir / name
        if not folder.is_dir():
            raise DataError(f"{folder}: frame folder of sequence {name!r} not found")
        stems = sorted(p.stem for p in folder.glob("*.jpg"))
        if not stems:
            raise DataError(f"{folder}: empty sequence (no .jpg frames)")
        for t, stem in enumerate(stems):
            if not stem.isdigit() or int(stem) != t:
                raise DataError(
                    f"{folder}: gap in frame numbering, expected {t:05d}.jpg but found {stem}.jpg; DAVIS frames are "
                    "numbered 00000, 00001, ... without gaps"
                )
        return stems

    def _first_appearance(self, name: str, frame_names: list[str], height: int, width: int) -> dict[int, int]:
        first: dict[int, int] = {}
        for t, stem in enumerate(frame_names):
            mask = read_optional_mask(self.mask_dir / name / f"{stem}.png", (height, width))
            if mask is not None:
                for k in np.unique(mask):
                    first.setdefault(int(k), t)
        first.pop(0, None)
        first.pop(255, None)
        return first

    def __getitem__(self, name: str) -> Video:
        if name not in self.sequences:
            shown = ", ".join(self.sequences[:8]) + (" ..." if len(self.sequences) > 8 else "")
            raise DataError(f"unknown sequence {name!r} in {self.root} split {self.split!r}; known: {shown}")
        frame_names = self._frame_names(name)
        first_mask_path = self.mask_dir / name / f"{frame_names[0]}.png"
        if not first_mask_path.is_file():
            raise DataError(f"{first_mask_path}: first-frame annotation missing; semi-supervised VOS needs it")
        height, width = image_size(self.image_dir / name / f"{frame_names[0]}.jpg")
        first_mask = read_mask(first_mask_path, size=(height, width))
        if self.objects == "davis":
            ids = [int(k) for k in np.unique(first_mask) if k not in (0, 255)]
            first_frame = {k: 0 for k in ids}
        else:
            first_frame = self._first_appearance(name, frame_names, height, width)
        if not first_frame:
            raise DataError(f"{first_mask_path}: no object ids in the annotations of sequence {name!r}")
        image_dir, mask_dir = self.image_dir / name, self.mask_dir / name
        return video_from_folders(name, frame_names, first_frame, (height, width), image_dir, mask_dir)
