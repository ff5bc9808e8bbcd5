"""`Video`: the one in-memory view of a sequence, whatever its source (DAVIS folder, YouTube-VOS folder, arrays
generated in memory, long-video synthesis). Frames and masks are produced on demand by loader functions, so a
video backed by files reads each file only when asked for it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from vosnb.errors import DataError

FrameLoader = Callable[[int], np.ndarray]
MaskLoader = Callable[[int], "np.ndarray | None"]


class Video:
    """A sequence of RGB frames with (possibly sparse) object-id annotations.

    Attributes follow docs/DESIGN.md: ``name``, ``frame_names`` (file stems), ``object_ids`` (sorted ids this video
    asks to segment), ``first_frame`` (object id -> index of the frame whose annotation introduces it), ``height``,
    ``width``. ``frame(t)`` returns H×W×3 uint8 RGB; ``mask(t)`` returns H×W uint8 ids restricted to
    ``object_ids`` (other ids read as background 0), or None where the frame has no annotation.
    """

    def __init__(
        self,
        name: str,
        frame_names: Sequence[str],
        object_ids: Sequence[int],
        first_frame: Mapping[int, int],
        height: int,
        width: int,
        frame_loader: FrameLoader,
        mask_loader: MaskLoader,
    ) -> None:
        self.name = name
        self.frame_names = list(frame_names)
        self.object_ids = sorted(int(k) for k in object_ids)
        if {int(k) for k in first_frame} != set(self.object_ids):
            raise DataError(f"video {name!r}: first_frame keys {sorted(first_frame)} != object_ids {self.object_ids}")
        self.first_frame = {int(k): int(t) for k, t in sorted(first_frame.items())}
        self.height = int(height)
        self.width = int(width)
        self._frame_loader = frame_loader
        self._mask_loader = mask_loader
        self._id_lut = np.zeros(256, dtype=np.uint8)
        self._id_lut[self.object_ids] = self.object_ids
        bad = {k: t for k, t in self.first_frame.items() if not 0 <= t < len(self.frame_names)}
        if bad:
            raise DataError(f"video {name!r}: first_frame {bad} outside 0..{len(self.frame_names) - 1}")

    def __len__(self) -> int:
        return len(self.frame_names)

    def __repr__(self) -> str:
        return (
            f"Video({self.name!r}, frames={len(self)}, size={self.height}x{self.width}, objects={self.object_ids}, "
            f"first_frame={self.first_frame})"
        )

    def _check_index(self, t: int) -> int:
        if not -len(self) <= t < len(self):
            raise IndexError(f"video {self.name!r} has {len(self)} frames; index {t} is out of range")
        return t % len(self)

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as an H×W×3 uint8 RGB array."""
        return self._frame_loader(self._check_index(t))

    def mask(self, t: int) -> np.ndarray | None:
        """Annotation of frame ``t`` (H×W uint8 ids of ``object_ids``; 0 elsewhere), or None if not annotated."""
        raw = self._mask_loader(self._check_index(t))
        return None if raw is None else self._id_lut[raw]

    @classmethod
    def from_arrays(
        cls,
        name: str,
        frames: np.ndarray,
        masks: np.ndarray,
        first_frame: Mapping[int, int] | None = None,
    ) -> "Video":
        """A video over in-memory arrays: ``frames`` [T,H,W,3] uint8, ``masks`` [T,H,W] uint8 (every frame annotated).

        ``first_frame=None`` takes every id found in ``masks`` from the first frame where it appears (YouTube-VOS
        protocol; equal to the DAVIS one when all objects are in frame 0). A given ``first_frame`` selects the
        objects and the frames that introduce them; each must be present in that frame's mask.
        """
        frames = np.asarray(frames)
        masks = np.asarray(masks)
        if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
            raise DataError(f"from_arrays({name!r}): frames must be [T,H,W,3] uint8, got {frames.dtype} {frames.shape}")
        if masks.dtype != np.uint8 or masks.shape != frames.shape[:3]:
            raise DataError(
                f"from_arrays({name!r}): masks must be [T,H,W] uint8 matching frames {frames.shape[:3]}, "
                f"got {masks.dtype} {masks.shape}"
            )
        if len(frames) == 0:
            raise DataError(f"from_arrays({name!r}): empty sequence (T = 0)")
        if first_frame is None:
            first_frame = {}
            for t, mask in enumerate(masks):
                for k in np.unique(mask):
                    first_frame.setdefault(int(k), t)
            first_frame.pop(0, None)
        else:
            for k, t in first_frame.items():
                if not (0 <= t < len(masks) and (masks[t] == k).any()):
                    raise DataError(f"from_arrays({name!r}): object {k} is not in the mask of frame {t} (first_frame)")
        return cls(
            name=name,
            frame_names=[f"{t:05d}" for t in range(len(frames))],
            object_ids=list(first_frame),
            first_frame=first_frame,
            height=frames.shape[1],
            width=frames.shape[2],
            frame_loader=lambda t: frames[t].copy(),
            mask_loader=masks.__getitem__,
        )
