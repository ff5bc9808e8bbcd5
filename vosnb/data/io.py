"""Reading and writing single files of the DAVIS layout: RGB frames (JPEG) and palette masks (PNG).

Masks are palette ("P" mode) PNGs whose pixel values are object ids (0 = background, 1..N objects), coloured with
the DAVIS palette, which is the PASCAL VOC colour map: colour ``i`` spreads the bits of ``i`` over R, G and B from
the most significant bit down (1 -> (128, 0, 0), 2 -> (0, 128, 0), 3 -> (128, 128, 0), ...).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vosnb.errors import DataError
from vosnb.runtime import atomic_path


def _voc_palette() -> np.ndarray:
    """The 256-colour PASCAL VOC colour map used by DAVIS annotations, as a [256, 3] uint8 array."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        code, rgb = index, [0, 0, 0]
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << (7 - bit)
            code >>= 3
        palette[index] = rgb
    return palette


DAVIS_PALETTE: np.ndarray = _voc_palette()
DAVIS_PALETTE.setflags(write=False)


def _check_size(path: Path, kind: str, array: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is not None and array.shape[:2] != tuple(size):
        raise DataError(
            f"{path}: {kind} is {array.shape[0]}x{array.shape[1]} but the sequence's frames are {size[0]}x{size[1]}; "
            "every frame and annotation of a sequence must have the same size"
        )
    return array


def read_mask(
    path: str | os.PathLike, *, require_palette: bool = True, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Read an annotation PNG as an H×W uint8 array of object ids (checked to be ``size`` = (H, W) if given).

    DAVIS annotations are palette PNGs; an RGB or grey PNG is refused (``require_palette=False`` also accepts
    8-bit grey images whose values are the ids, as some tools write predictions that way).
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode == "P" or (mode == "L" and not require_palette):
                return _check_size(path, "mask", np.asarray(image, dtype=np.uint8).copy(), size)
    except FileNotFoundError:
        raise DataError(f"{path}: annotation file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read this annotation ({exc}); re-extract or regenerate the data set") from None
    expected = "a palette (mode 'P')" if require_palette else "a palette or 8-bit grey"
    raise DataError(
        f"{path}: mask is a mode {mode!r} image, expected {expected} PNG of object ids; convert it with "
        "vosnb.data.write_mask(path, ids) where ids is an H×W uint8 array"
    )


def _save(image: Image.Image, path: str | os.PathLike, atomic: bool, **options) -> Path:
    """Save through a temporary file renamed onto ``path``; ``atomic=False`` writes ``path`` directly, which is
    only for files inside a staging folder that is itself renamed into place once complete."""
    if not atomic:
        image.save(path, **options)
        return Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, **options)
    return Path(path)


def write_mask(path: str | os.PathLike, mask: np.ndarray, atomic: bool = True) -> Path:
    """Write an H×W uint8 array of object ids as a palette PNG with the DAVIS palette."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise DataError(f"write_mask({path}): mask must be an H×W uint8 array of ids, got {mask.dtype} {mask.shape}")
    image = Image.fromarray(mask)
    image.putpalette(DAVIS_PALETTE.tobytes())
    return _save(image, path, atomic, format="PNG")


def read_optional_mask(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """`read_mask` for frames that may have no annotation: None when the file does not exist."""
    return read_mask(path, size=size) if Path(path).exists() else None


def read_frame(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as an H×W×3 uint8 RGB array (checked to be ``size`` = (H, W) if given)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            return _check_size(path, "frame", np.asarray(image.convert("RGB"), dtype=np.uint8), size)
    except FileNotFoundError:
        raise DataError(f"{path}: frame file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read this image ({exc}); re-extract or regenerate the data set") from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image file, read from its header only."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot read this image ({exc}); re-extract or regenerate the data set") from None
    return height, width


def write_frame(path: str | os.PathLike, frame: np.ndarray, quality: int = 95, atomic: bool = True) -> Path:
    """Write an H×W×3 uint8 RGB array as a JPEG without chroma subsampling (keeps colour edges sharp)."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise DataError(f"write_frame({path}): frame must be H×W×3 uint8 RGB, got {frame.dtype} {frame.shape}")
    return _save(Image.fromarray(frame), path, atomic, format="JPEG", quality=quality, subsampling=0)


def write_davis_sequence(
    root: str | os.PathLike,
    name: str,
    masks: np.ndarray | Sequence[np.ndarray],
    frames: np.ndarray | None = None,
    resolution: str = "480p",
    frame_names: Sequence[str] | None = None,
    jpeg_quality: int = 95,
    atomic: bool = True,
) -> Path:
    """Write one sequence in the DAVIS layout: ``root/Annotations/<resolution>/<name>/<frame>.png`` (+ JPEGImages).

    ``frames`` may be omitted to write masks only (predictions). Frame files are named 00000, 00001, ... unless
    ``frame_names`` is given. ``atomic=False``: see `_save`. Returns the annotation folder.
    """
    root = Path(root)
    names = list(frame_names) if frame_names is not None else [f"{t:05d}" for t in range(len(masks))]
    if len(names) != len(masks) or (frames is not None and len(frames) != len(masks)):
        raise DataError(f"write_davis_sequence({name}): masks, frames and frame_names must have the same length")
    mask_dir = root / "Annotations" / resolution / name
    mask_dir.mkdir(parents=True, exist_ok=True)
    for stem, mask in zip(names, masks):
        write_mask(mask_dir / f"{stem}.png", mask, atomic)
    if frames is not None:
        frame_dir = root / "JPEGImages" / resolution / name
        frame_dir.mkdir(parents=True, exist_ok=True)
        for stem, frame in zip(names, frames):
            write_frame(frame_dir / f"{stem}.jpg", frame, jpeg_quality, atomic)
    return mask_dir


def video_from_folders(name: str, frame_names: Sequence[str], first_frame: dict[int, int], size: tuple[int, int],
                       image_dir: Path, mask_dir: Path) -> "Video":
    """A lazily loaded :class:`Video` over ``image_dir/<stem>.jpg`` and ``mask_dir/<stem>.png`` (the DAVIS and
    YouTube-VOS folder layouts share this); frames without a mask file read as None."""
    from vosnb.data.video import Video

    names = list(frame_names)
    height, width = size
    return Video(
        name=name,
        frame_names=names,
        object_ids=list(first_frame),
        first_frame=first_frame,
        height=height,
        width=width,
        frame_loader=lambda t: read_frame(image_dir / f"{names[t]}.jpg", (height, width)),
        mask_loader=lambda t: read_optional_mask(mask_dir / f"{names[t]}.png", (height, width)),
    )
