"""DAVIS 2017 semi-supervised scores (J, F, recall, decay), the Gini coefficient and bootstrap intervals.

Region similarity J and boundary accuracy F are those of the DAVIS benchmark (Perazzi et al., CVPR 2016, §3.1;
Pont-Tuset et al., arXiv:1704.00675, 2017); the statistics mean, recall and decay are those of Perazzi et al. §3.2.
The semantics are those of the official evaluation code (davisvideochallenge/davis2017-evaluation, master), task
"semi-supervised", re-implemented and vectorised here:

* Frames: the ground-truth PNGs of a sequence, sorted by name; the first and the last frame are not scored.
* Objects: the largest id N in the first ground-truth frame defines the objects 1..N, one row each, including an
  id below N that is absent from the first frame. Later ids above N are background for scoring.
* The void label 255 is background in the ground truth (the official code passes no void mask when scoring).
* A predicted id above N (255 included) in a scored frame is an error, as in the official code; ids missing from
  the prediction score as empty masks. Predicted first and last frames are never read.
* J = |gt ∩ pred| / |gt ∪ pred|, and 1 when both are empty.
* F: boundary maps as in the official ``seg2bmap`` (no thinning), tolerance ceil(0.008 · image diagonal) pixels,
  disk-shaped dilation; F = 1 when both boundaries are empty and 0 when exactly one is.
* Recall: share of scored frames with a value above 0.5. Decay: mean of the first minus mean of the last of four
  overlapping quantile bins. The official code stores the bin edges as uint8, which wraps (NaN or wrong decay)
  from 256 scored frames on; here they are int64, the only intended departure (identical below 256 frames).

Each row of :func:`evaluate` is one (sequence, object); summaries average over objects, as the official table.
Values are fractions (J, F and recall in [0, 1], decay in [-1, 1]); the papers print percentages. Also here:
:func:`gini` (STCN §4.2) and bootstrap intervals over sequences for the claims ledger (:func:`bootstrap_ci`,
:func:`paired_bootstrap_ci`, fed by :func:`per_sequence`).
"""
from __future__ import annotations

import argparse
import multiprocessing
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from vosnb.errors import DataError

OBJECT_COLUMNS: tuple[str, ...] = (
    "sequence", "object", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay",
)
STANDARD_COLUMNS: tuple[str, ...] = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
VOID_LABEL = 255


# ---------------------------------------------------------------------------------------------------------------
# Per-frame measures
# ---------------------------------------------------------------------------------------------------------------
def jaccard(gt: np.ndarray, pred: np.ndarray) -> float | np.ndarray:
    """Region similarity J (DAVIS, Perazzi et al. 2016 §3.1): intersection over union of two binary masks.

    `gt` and `pred` are [H, W] (returns a float) or [T, H, W] (returns one value per frame). J is 1 where both
    masks are empty, as in the official code.
    """
    gt, pred = _binary_pair(gt, pred)
    inter = np.count_nonzero(gt & pred, axis=(-2, -1))
    union = np.count_nonzero(gt | pred, axis=(-2, -1))
    j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(j) if j.ndim == 0 else j


def boundary_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = 0.008) -> float | np.ndarray:
    """Boundary accuracy F (DAVIS, Perazzi et al. 2016 §3.1): F-measure of boundary precision and recall.

    A boundary pixel matches when the other mask has a boundary pixel within the tolerance: `bound_th` times the
    image diagonal, rounded up, when below 1, else `bound_th` pixels (official ``db_eval_boundary``). Boundaries
    follow the official ``seg2bmap`` (1 pixel wide, offset half a pixel toward the origin), matching uses a
    disk-shaped dilation. F is 1 when both boundaries are empty and 0 when exactly one is. Shapes as
    :func:`jaccard`.
    """
    gt, pred = _binary_pair(gt, pred)
    squeeze = gt.ndim == 2
    if squeeze:
        gt, pred = gt[None], pred[None]
    height, width = gt.shape[-2:]
    radius = bound_th if bound_th >= 1 else float(np.ceil(bound_th * np.linalg.norm((height, width))))
    kernel = _disk(radius)
    either = gt | pred
    rows_any, cols_any = either.any(axis=2), either.any(axis=1)
    f = np.ones(len(gt))  # both masks empty: F = 1
    for t in np.flatnonzero(rows_any.any(axis=1)):
        # Work inside both masks' bounding box grown by one pixel: it holds every boundary pixel (seg2bmap marks
        # the pixel before an edge), its own last row and column are empty or the image's, and seg2bmap looks
        # only east and south, so the maps equal the full-frame ones. Matches are only read at boundary pixels,
        # and every boundary pixel that can reach one through the disk lies inside too.
        rows, cols = np.flatnonzero(rows_any[t]), np.flatnonzero(cols_any[t])
        y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, height)
        x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, width)
        g = _seg2bmap(gt[t, y0:y1, x0:x1]).view(np.uint8)
        p = _seg2bmap(pred[t, y0:y1, x0:x1]).view(np.uint8)
        n_gt, n_pred = np.count_nonzero(g), np.count_nonzero(p)
        if n_gt == 0 or n_pred == 0:
            f[t] = 1.0 if n_gt == n_pred else 0.0
            continue
        precision = np.count_nonzero(p & cv2.dilate(g, kernel)) / float(n_pred)
        recall_ = np.count_nonzero(g & cv2.dilate(p, kernel)) / float(n_gt)
        f[t] = 0.0 if precision + recall_ == 0 else 2 * precision * recall_ / (precision + recall_)
    return float(f[0]) if squeeze else f


def _binary_pair(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = np.asarray(gt).astype(bool, copy=False), np.asarray(pred).astype(bool, copy=False)
    if gt.shape != pred.shape or gt.ndim not in (2, 3):
        raise ValueError(f"gt {gt.shape} and pred {pred.shape} must be masks of the same shape, [H, W] or [T, H, W]")
    return gt, pred


def _disk(radius: float) -> np.ndarray:
    """The official structuring element (skimage.morphology.disk): offsets with x² + y² ≤ radius²."""
    offsets = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(offsets, offsets)
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


def _seg2bmap(seg: np.ndarray) -> np.ndarray:
    """The boundary map of a binary mask [H, W], as the official ``seg2bmap`` (D. Martin, 2003) at full size.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour; the last row compares
    east only, the last column south only, and the bottom-right pixel is never a boundary.
    """
    b = np.zeros_like(seg, dtype=bool)
    here = seg[:-1, :-1]
    b[:-1, :-1] = (here ^ seg[:-1, 1:]) | (here ^ seg[1:, :-1]) | (here ^ seg[1:, 1:])
    b[-1, :-1] = seg[-1, :-1] ^ seg[-1, 1:]
    b[:-1, -1] = seg[:-1, -1] ^ seg[1:, -1]
    return b


# ---------------------------------------------------------------------------------------------------------------
# Statistics over frames
# ---------------------------------------------------------------------------------------------------------------
def recall(values: Sequence[float] | np.ndarray) -> float:
    """Recall O (DAVIS, Perazzi et al. 2016 §3.2): the share of frames whose J (or F) is above 0.5."""
    v = _frame_values(values)
    return float(np.mean(v > 0.5))


def decay(values: Sequence[float] | np.ndarray) -> float:
    """Decay D (DAVIS, Perazzi et al. 2016 §3.2): the loss of accuracy over time.

    The frames are split into four overlapping quantile bins exactly as the official ``db_statistics`` does (bin
    edges ``round(linspace(1, n, 5)) - 1``, each bin including its right edge), and D is the mean of the first bin
    minus the mean of the last. The edges are int64: the official uint8 edges wrap from 256 frames on.
    """
    v = _frame_values(values)
    edges = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(np.int64)
    return float(np.mean(v[edges[0]: edges[1] + 1]) - np.mean(v[edges[3]: edges[4] + 1]))


def _frame_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be a non-empty sequence of finite per-frame scores, got {v.size} values")
    return v


# ---------------------------------------------------------------------------------------------------------------
# Sequences and data sets
# ---------------------------------------------------------------------------------------------------------------
def evaluate_sequence(gt: np.ndarray, pred: np.ndarray, sequence: str,
                      first_gt: np.ndarray | None = None) -> pd.DataFrame:
    """Score an in-memory prediction of one sequence; same rows and columns as :func:`evaluate`.

    `gt` and `pred` are [T, H, W] integer object-id maps (0 background, 255 void in `gt`) of all T frames; the
    first and last frames are not scored and `pred`'s are never looked at (see the module docstring). The objects
    are those of `first_gt` (default `gt[0]`): a stretch cut from a longer video (a pass of a long video) is scored
    for the objects of the video's first frame, whatever its own first frame shows.
    """
    gt, pred = np.asarray(gt), np.asarray(pred)
    if gt.ndim != 3 or gt.shape != pred.shape:
        raise ValueError(f"sequence {sequence!r}: gt {gt.shape} and pred {pred.shape} must both be [T, H, W]")
    if gt.dtype.kind not in "ui" or pred.dtype.kind not in "ui":
        raise ValueError(f"sequence {sequence!r}: gt and pred must hold integer object ids, got {gt.dtype} and "
                         f"{pred.dtype}")
    if len(gt) < 3:
        raise ValueError(f"sequence {sequence!r}: {len(gt)} frames; DAVIS scoring drops the first and last, so at "
                         "least 3 frames are needed")
    sources = [f"sequence {sequence!r}, frame {t}" for t in range(1, len(gt) - 1)]
    rows = _score(gt[1:-1], pred[1:-1], _num_objects(gt[0] if first_gt is None else first_gt), sequence, sources)
    return pd.DataFrame(rows, columns=list(OBJECT_COLUMNS))


def evaluate(gt_dir: str | Path, pred_dir: str | Path, sequences: Iterable[str] | None = None,
             workers: int = 2) -> pd.DataFrame:
    """Score DAVIS-layout predictions: one row per (sequence, object) with the columns of `OBJECT_COLUMNS`.

    Both folders hold ``<sequence>/<frame>.png`` index PNGs (palette or grayscale). `sequences` defaults to every
    sub-folder of `gt_dir`, in sorted order. `workers` processes share the sequences; the result does not depend
    on it. Raises DataError naming the file for a missing, unreadable or wrongly sized PNG.
    """
    gt_root, pred_root = Path(gt_dir), Path(pred_dir)
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    for root, role in ((gt_root, "ground-truth"), (pred_root, "prediction")):
        if not root.is_dir():
            raise DataError(f"{root}: {role} folder not found; pass a folder holding <sequence>/<frame>.png")
    if sequences is None:
        names = sorted(p.name for p in gt_root.iterdir() if p.is_dir())
    else:
        names = [sequences] if isinstance(sequences, str) else list(sequences)
    if not names:
        raise DataError(f"{gt_root}: no sequence folders; expected <sequence>/<frame>.png")
    for name in names:
        for root, role in ((gt_root, "ground truth"), (pred_root, "prediction")):
            if not (root / name).is_dir():
                raise DataError(f"{root / name}: {role} of sequence {name!r} not found")
    jobs = [(gt_root, pred_root, name) for name in names]
    progress = {"total": len(jobs), "desc": "eval", "unit": "seq"}
    if workers == 1 or len(jobs) == 1:
        results = [_evaluate_files(job) for job in tqdm(jobs, **progress)]
    else:
        # spawn: workers start clean (no inherited thread pools), and the same on every platform.
        with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_evaluate_files, jobs), **progress))
    return pd.DataFrame([row for rows in results for row in rows], columns=list(OBJECT_COLUMNS))


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _evaluate_files(job: tuple[Path, Path, str]) -> list[dict]:
    gt_root, pred_root, sequence = job
    frames = sorted(p.stem for p in (gt_root / sequence).glob("*.png"))
    if len(frames) < 3:
        raise DataError(f"{gt_root / sequence}: {len(frames)} ground-truth PNGs; DAVIS scoring drops the first and "
                        "last frame, so at least 3 are needed")
    first = _read_index_png(gt_root / sequence / f"{frames[0]}.png")
    scored = frames[1:-1]
    gt = np.empty((len(scored), *first.shape), dtype=np.uint8)
    pred = np.empty_like(gt)
    for i, frame in enumerate(scored):
        gt[i] = _read_index_png(gt_root / sequence / f"{frame}.png", first.shape)
        pred[i] = _read_index_png(pred_root / sequence / f"{frame}.png", first.shape)
    sources = [str(pred_root / sequence / f"{frame}.png") for frame in scored]
    return _score(gt, pred, _num_objects(first), sequence, sources)


def _read_index_png(path: Path, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An index PNG as [H, W] uint8 ids; DataError naming `path` when it is missing, unreadable or mis-sized."""
    if not path.is_file():
        raise DataError(f"{path}: mask not found; every scored ground-truth frame needs a PNG of the same name")
    try:
        with Image.open(path) as img:
            if img.mode not in ("P", "L"):
                raise DataError(f"{path}: PNG mode {img.mode!r}; masks must be index PNGs (palette 'P' or 'L')")
            ids = np.asarray(img)
    except OSError as exc:
        raise DataError(f"{path}: unreadable PNG ({exc}); rewrite it as an index PNG") from exc
    if shape is not None and ids.shape != shape:
        raise DataError(f"{path}: size {ids.shape[1]}x{ids.shape[0]} differs from the sequence's first ground-truth "
                        f"frame ({shape[1]}x{shape[0]}); write masks at the annotation resolution")
    return ids


def _num_objects(first_gt: np.ndarray) -> int:
    """N: the largest id of the first ground-truth frame, void (255) excluded (official DAVIS 2017)."""
    return int(np.where(first_gt == VOID_LABEL, 0, first_gt).max())


def _score(gt: np.ndarray, pred: np.ndarray, num_objects: int, sequence: str, sources: Sequence[str]) -> list[dict]:
    """Rows for objects 1..num_objects of the scored frames `gt`, `pred` [T', H, W]; `sources` names pred frames."""
    frame_max = pred.reshape(len(pred), -1).max(axis=1)
    bad = np.flatnonzero(frame_max > num_objects)
    if bad.size:
        raise DataError(f"{sources[bad[0]]}: object id {int(frame_max[bad[0]])} in the prediction, but the first "
                        f"ground-truth frame of {sequence!r} defines objects 1..{num_objects}; remove the extra id")
    rows = []
    for obj in range(1, num_objects + 1):
        g, p = gt == obj, pred == obj
        j, f = jaccard(g, p), boundary_f(g, p)
        rows.append({"sequence": sequence, "object": obj,
                     "J-Mean": float(np.mean(j)), "J-Recall": recall(j), "J-Decay": decay(j),
                     "F-Mean": float(np.mean(f)), "F-Recall": recall(f), "F-Decay": decay(f)})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------------------------
def summarize(df: pd.DataFrame) -> pd.Series:
    """The standard DAVIS table: each statistic averaged over objects, J&F-Mean = (J-Mean + F-Mean) / 2."""
    if len(df) == 0:
        raise ValueError("df has no objects to summarize (every first ground-truth frame was empty?)")
    means = df[list(STANDARD_COLUMNS[1:])].mean()
    return pd.Series({"J&F-Mean": (means["J-Mean"] + means["F-Mean"]) / 2, **means}, name="mean over objects")


def per_sequence(df: pd.DataFrame, column: str = "J&F") -> pd.Series:
    """One value per sequence (mean over its objects), indexed by sequence, for intervals over sequences.

    `column` is "J&F" ((J-Mean + F-Mean) / 2) or one of the per-object statistic columns.
    """
    if column == "J&F":
        values = (df["J-Mean"] + df["F-Mean"]) / 2
    elif column in OBJECT_COLUMNS[2:]:
        values = df[column]
    else:
        raise ValueError(f"column must be 'J&F' or one of {list(OBJECT_COLUMNS[2:])}, got {column!r}")
    return values.groupby(df["sequence"], sort=False).mean().rename(column)


def gini(values: Sequence[float] | np.ndarray) -> float:
    """Gini coefficient of non-negative values as a fraction in [0, 1) (STCN §4.2 prints it in percent).

    Lerman & Yitzhaki (1984): G = 2 Cov(y, F(y)) / mean(y), with F the empirical distribution function (mid-ranks
    for ties), i.e. G = Σ_i (2i − n − 1) y_(i) / (n Σ y) over the sorted values; 0 when all values are equal,
    (n − 1) / n when one value holds everything.
    """
    y = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if y.size == 0 or not np.all(np.isfinite(y)) or y[0] < 0 or y[-1] == 0:
        raise ValueError("values must be finite, non-negative and not all zero for a Gini coefficient")
    n = y.size
    return float(np.dot(2 * np.arange(1, n + 1) - n - 1, y) / (n * y.sum()))


def bootstrap_ci(values: Sequence[float] | np.ndarray | pd.Series, n_resamples: int = 2000,
                 confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap interval of the mean: (estimate, low, high), deterministic from `seed`.

    `values` are one number per sequence (see :func:`per_sequence`); the sequences are resampled with replacement
    `n_resamples` times and the (1 ± confidence) / 2 quantiles of the resampled means bound the interval.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"values must be a non-empty sequence of finite numbers, got {x.size} values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(x.mean()), float(low), float(high)


def paired_bootstrap_ci(a: Sequence[float] | np.ndarray | pd.Series, b: Sequence[float] | np.ndarray | pd.Series,
                        n_resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap interval of the mean difference a − b over the same sequences, resampled together.

    Two pandas Series are matched by index (sequence name) and must hold the same sequences; arrays are matched by
    position and must have the same length.
    """
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if set(a.index) != set(b.index) or not a.index.is_unique or not b.index.is_unique:
            missing = sorted(map(str, set(a.index) ^ set(b.index)))
            raise ValueError(f"a and b must hold the same sequences once each; not in both: {missing}")
        b = b.reindex(a.index)
    a_values, b_values = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a_values.shape != b_values.shape:
        raise ValueError(f"a and b must pair up: {a_values.size} vs {b_values.size} values")
    return bootstrap_ci(a_values - b_values, n_resamples=n_resamples, confidence=confidence, seed=seed)


def paired_bootstrap_ratio(a: Sequence[float] | np.ndarray | pd.Series, b: Sequence[float] | np.ndarray | pd.Series,
                           n_resamples: int = 2000, confidence: float = 0.95,
                           seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap interval of mean(a) / mean(b) over the same sequences, resampled together (a "stays
    flat" claim's ratio of a score at two settings); Series are matched by index as in :func:`paired_bootstrap_ci`."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if set(a.index) != set(b.index):
            raise ValueError(f"a and b must hold the same sequences; not in both: {sorted(map(str, set(a.index) ^ set(b.index)))}")
        b = b.reindex(a.index)
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size == 0 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError(f"a and b must pair up as finite values: {x.size} vs {y.size}")
    if y.mean() <= 0:
        raise ValueError("mean(b) must be positive for a ratio")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    ratios = x[idx].mean(axis=1) / np.maximum(y[idx].mean(axis=1), np.finfo(float).tiny)
    low, high = np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(x.mean() / y.mean()), float(low), float(high)


# ---------------------------------------------------------------------------------------------------------------
# Command line: vosnb eval
# ---------------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    # Imported here: vosnb.runtime imports torch, which the spawned evaluation workers do not need.
    from vosnb.runtime import atomic_path

    df = evaluate(args.gt, args.pred, sequences=args.sequences, workers=args.workers)
    if len(df) == 0:
        raise DataError(f"{args.gt}: no objects to score; every first ground-truth frame is empty")
    if args.csv is not None:
        with atomic_path(args.csv) as tmp:
            df.to_csv(tmp, index=False)
    table = summarize(df).to_frame().T
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"{df['sequence'].nunique()} sequences, {len(df)} objects; fractions averaged over objects (papers print %)")
    if args.csv is not None:
        print(f"per-object scores: {args.csv}")
    return 0
