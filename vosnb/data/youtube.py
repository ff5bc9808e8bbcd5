"""YouTube-VOS validation layout::

    ROOT/<split>/JPEGImages/<sequence>/<frame>.jpg
    ROOT/<split>/Annotations/<sequence>/<frame>.png   only on frames where an object first appears
    ROOT/<split>/meta.json    {"videos": {sequence: {"objects": {id: {"category": ..., "frames": [stem, ...]}}}}}

An object is introduced by the annotation of the first frame listed for it in meta.json; frames without an
annotation file read as ``mask(t) is None``. Frame numbers may skip (the 6-fps valid set keeps every 5th frame).
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from vosnb.data.io import image_size, read_optional_mask, video_from_folders
from vosnb.data.video import Video
from vosnb.errors import DataError


class YouTubeVOSDataset:
    """Sequences of a YouTube-VOS split read through meta.json: ``.sequences``, ``dataset[name] -> Video``."""

    def __init__(self, root: str | os.PathLike, split: str = "valid") -> None:
        self.root = Path(root)
        self.split = split
        self.split_dir = self.root / split
        meta_path = self.split_dir / "meta.json"
        try:
            meta = json.loads(meta_path.read_text())
            self._videos: dict[str, dict] = meta["videos"]
        except FileNotFoundError:
            raise DataError(f"{meta_path}: meta.json not found; pass the YouTube-VOS root holding {split}/") from None
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{meta_path}: not a YouTube-VOS meta.json with a 'videos' table ({exc})") from None
        self.sequences = sorted(self._videos)

    def __len__(self) -> int:
        return len(self.sequences)

    def __iter__(self) -> Iterator[Video]:
        return (self[name] for name in self.sequences)

    def __repr__(self) -> str:
        return f"YouTubeVOSDataset({str(self.root)!r}, split={self.split!r}, sequences={len(self)})"

    def __getitem__(self, name: str) -> Video:
        if name not in self._videos:
            shown = ", ".join(self.sequences[:8]) + (" ..." if len(self.sequences) > 8 else "")
            raise DataError(f"unknown sequence {name!r} in {self.split_dir / 'meta.json'}; known: {shown}")
        image_dir = self.split_dir / "JPEGImages" / name
        mask_dir = self.split_dir / "Annotations" / name
        frame_names = sorted(p.stem for p in image_dir.glob("*.jpg"))
        if not frame_names:
            raise DataError(f"{image_dir}: empty sequence (no .jpg frames)")
        height, width = image_size(image_dir / f"{frame_names[0]}.jpg")
        index = {stem: t for t, stem in enumerate(frame_names)}
        first_frame: dict[int, int] = {}
        for key, obj in self._videos[name].get("objects", {}).items():
            stems = obj.get("frames") or []
            if not stems or stems[0] not in index:
                raise DataError(
                    f"{self.split_dir / 'meta.json'}: object {key} of {name!r} lists first frame "
                    f"{stems[0] if stems else None!r}, which is not a frame in {image_dir}"
                )
            mask_path = mask_dir / f"{stems[0]}.png"
            mask = read_optional_mask(mask_path, (height, width))
            if mask is None:
                raise DataError(f"{mask_path}: first-frame annotation of object {key} in {name!r} missing")
            if not (mask == int(key)).any():
                raise DataError(f"{mask_path}: object {key} of {name!r} is not in its first-frame annotation")
            first_frame[int(key)] = index[stems[0]]
        if not first_frame:
            raise DataError(f"{self.split_dir / 'meta.json'}: sequence {name!r} lists no objects")
        return video_from_folders(name, frame_names, first_frame, (height, width), image_dir, mask_dir)
