"""A newcomer's first look at the data (notebook 00): mask overlays, frames per difficulty knob of the synthetic set,
per-split statistics, the long-video index mapping (RDE-VOS Fig. 3) and sanity checks of the DAVIS metrics.

Everything reads any DAVIS-layout root; what needs the synthetic generator's record (``ROOT/synthetic.json``: the
knob grid, the knob table and the event counts) says so when the record is absent.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from vosnb.data import DAVIS_PALETTE, DavisDataset, Video, repeat_forward_backward
from vosnb.data.long_video import forward_backward_indices
from vosnb.data.synthetic import KNOBS
from vosnb.errors import DataError
from vosnb.inference import ground_truth
from vosnb.metrics import evaluate_sequence, summarize
from vosnb.plotting import OKABE_ITO

MANIFEST = "synthetic.json"
KNOB_LABELS: Mapping[str, str] = {
    "distractor": "distractor",
    "crossing": "crossing",
    "exit_reenter": "exit & re-entry",
    "full_occlusion": "full occlusion",
    "drift": "appearance drift",
    "scale": "strong zoom",
    "rotation": "fast spin",
    "deform": "strong deformation",
    "mid_video": "mid-video object",
}
# knob -> (per-object event list in synthetic.json, tag of the frames in it); other knobs span the whole sequence
_EVENT_FRAMES = {
    "full_occlusion": ("full_occlusion_frames", "hidden"),
    "exit_reenter": ("out_of_frame_frames", "out"),
    "crossing": ("occluded_by_object_frames", "covered"),
}
THUMBNAIL_WIDTH = 240  # pixels: figures stay light (their SVGs embed the images) and DAVIS frames are shrunk
PERTURBATIONS: tuple[tuple[str, int], ...] = (
    ("identity", 0),
    ("shift", 2), ("shift", 4), ("shift", 8),
    ("erosion", 1), ("erosion", 2), ("erosion", 4),
    ("dilation", 1), ("dilation", 2), ("dilation", 4),
    ("drop", 25), ("drop", 50),
    ("empty", 100),
    ("first frame copied", 0),
)
UNITS: Mapping[str, str] = {"identity": "", "shift": "px", "erosion": "px", "dilation": "px",
                            "drop": "% of frames", "empty": "% of frames", "first frame copied": ""}


# ------------------------------------------------------------------------------------------------- images
def overlay(frame: np.ndarray, mask: np.ndarray | None, alpha: float = 0.5) -> np.ndarray:
    """``frame`` (H×W×3 uint8) with each object of ``mask`` (H×W ids) blended with its DAVIS palette colour.

    Object pixels become ``(1 − alpha)·frame + alpha·colour`` and the object's outermost pixels take the full
    colour, so touching objects stay apart; background pixels (id 0) are returned unchanged. ``mask=None`` (a frame
    without annotation) returns a copy of the frame.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"overlay: frame must be H×W×3 uint8 RGB, got {frame.dtype} {frame.shape}")
    if mask is None:
        return frame.copy()
    mask = np.asarray(mask)
    if mask.shape != frame.shape[:2] or mask.dtype.kind not in "ui":
        raise ValueError(f"overlay: mask must be H×W integer ids matching the frame {frame.shape[:2]}, "
                         f"got {mask.dtype} {mask.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"overlay: alpha must lie in [0, 1], got {alpha}")
    ids = mask.astype(np.uint8)
    colours = DAVIS_PALETTE[ids].astype(np.float32)
    blended = (1.0 - alpha) * frame + alpha * colours
    padded = np.pad(ids, 1, mode="edge")
    edge = ((padded[:-2, 1:-1] != ids) | (padded[2:, 1:-1] != ids) | (padded[1:-1, :-2] != ids)
            | (padded[1:-1, 2:] != ids))
    blended[edge] = colours[edge]
    return np.where(ids[..., None] > 0, np.round(blended), frame).astype(np.uint8)


def _thumbnail(image: np.ndarray, max_width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """``image`` shrunk (area interpolation) to at most ``max_width`` pixels wide."""
    if image.shape[1] <= max_width:
        return image
    height = round(image.shape[0] * max_width / image.shape[1])
    return cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA)


def _show(ax: Axes, video: Video, t: int, alpha: float = 0.5) -> None:
    """Frame ``t`` of ``video`` with its annotation overlaid (`overlay`), without ticks or frame."""
    ax.imshow(_thumbnail(overlay(video.frame(t), video.mask(t), alpha)), interpolation="antialiased")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# ---------------------------------------------------------------------------------------- synthetic record
def read_manifest(root: str | os.PathLike) -> dict | None:
    """The synthetic generator's record ``root/synthetic.json`` (config, per-sequence events), or None if absent."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); rebuild the set with `vosnb data synth --out {root}`") from None


def _split_events(root: str | os.PathLike, split: str) -> dict[str, dict]:
    """Per-sequence events of ``split`` from synthetic.json; DataError naming the file when it has none."""
    manifest = read_manifest(root)
    if manifest is None:
        raise DataError(f"{Path(root) / MANIFEST}: not found; knobs and events exist only for the synthetic set "
                        "(`vosnb data synth --out DIR`); for DAVIS use sequence_grid and dataset_statistics")
    try:
        return manifest["splits"][split]["sequences"]
    except KeyError:
        raise DataError(f"{Path(root) / MANIFEST}: no events for split {split!r}; rebuild the set with "
                        f"`vosnb data synth --out {root}`") from None


def _fired(knobs: Mapping[str, object], knob: str) -> bool:
    """Did ``knob`` fire (as measured on the rendered masks)? Counts, kinds and id lists fire when non-empty."""
    return bool(knobs[knob])


def knob_table(root: str | os.PathLike, split: str = "val") -> pd.DataFrame:
    """One row per sequence of ``split``: its number of target objects and, per knob, whether it fired (measured)."""
    events = _split_events(root, split)
    rows = {name: {"objects": info["knobs"]["n_objects"], **{k: _fired(info["knobs"], k) for k in KNOBS}}
            for name, info in events.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def event_frames(event: Sequence[int], length: int, n: int) -> list[int]:
    """``n`` frames (sorted) showing the first run of consecutive frames in ``event``: its first and last frame, the
    frames just before and after it, evenly spaced frames inside it, then the frames nearest to it."""
    if n < 4 or not event:
        raise ValueError(f"event_frames: need n >= 4 and a non-empty event, got n={n}, event={list(event)}")
    start = end = int(event[0])
    while end + 1 in event:
        end += 1
    spaced = np.round(np.linspace(start, end, n - 2)[1:-1]).astype(int).tolist()
    around = sorted(range(length), key=lambda t: (max(start - t, t - end, 0), t))
    chosen: list[int] = []
    for t in [start, end, start - 1, end + 1, *spaced, *around]:
        if 0 <= t < length and t not in chosen and len(chosen) < n:
            chosen.append(t)
    return sorted(chosen)


def _example(events: Mapping[str, dict], knob: str) -> tuple[str, int]:
    """The sequence showing ``knob`` with the fewest other knobs (ties: first name), and the object it concerns
    (for a full occlusion, the one the occluder was placed for, else the first the event happened to)."""
    fired = [(sum(_fired(info["knobs"], k) for k in KNOBS), name) for name, info in events.items()
             if _fired(info["knobs"], knob)]
    if not fired:
        raise DataError(f"no sequence of this split has the knob {knob!r}; build a set with a higher --knob-rate")
    name = min(fired)[1]
    info = events[name]
    objects = {int(k): o for k, o in info["objects"].items()}
    if knob == "mid_video":
        return name, info["knobs"]["mid_video"][0]
    if knob == "distractor":
        return name, info["distractors"][0]["twin_of"]
    if knob == "full_occlusion" and info["config"]["hide_object"]:
        return name, info["config"]["hide_object"][0]
    tests = {
        "scale": lambda o: o["scale_range"][1] / o["scale_range"][0] >= 1.6,
        "rotation": lambda o: o["rotation_deg"] >= 90,
        "deform": lambda o: o["deform"] >= 0.1,
        "drift": lambda o: o["drift"] is not None,
        "exit_reenter": lambda o: o["exit_reenter"],
    }
    test = tests.get(knob) or (lambda o: bool(o[_EVENT_FRAMES[knob][0]]))
    return name, next(k for k, o in sorted(objects.items()) if test(o))


def example_sequence(root: str | os.PathLike, knob: str, split: str = "val") -> tuple[str, int]:
    """The sequence of ``split`` that shows ``knob`` with the fewest other knobs, and the object concerned (chosen
    from the data's events, never from a result)."""
    return _example(_split_events(root, split), knob)


def _describe(knob: str, info: Mapping, obj: int) -> str:
    """A short description of the event for the row label."""
    o = info["objects"][str(obj)]
    details = {
        "distractor": f"unlabelled twin of object {obj}",
        "drift": f"object {obj}: {o['drift']['kind'] if o['drift'] else ''}",
        "scale": f"object {obj}: zoom ×{o['scale_range'][1] / o['scale_range'][0]:.1f}",
        "rotation": f"object {obj}: turns {o['rotation_deg']:.0f}°",
        "deform": f"object {obj}: shape change {o['deform']:.2f}",
        "mid_video": f"object {obj} enters at t={o['first_frame']}",
    }
    return details.get(knob, f"object {obj}")


@dataclass
class _GridRow:
    """One row of `_frame_grid`: its label, the video, which frames, tags of some frames, the overlay's alpha."""

    label: str
    video: Video
    frames: list[int]
    tags: Mapping[int, str] = field(default_factory=dict)
    alpha: float = 0.5


def _frame_grid(rows: Sequence[_GridRow], title: str, thumb_width: float = 1.4) -> Figure:
    """Rows of overlaid frames titled ``t=…`` (tagged frames in vermillion), labelled on the left."""
    cols = max(len(row.frames) for row in rows)
    aspect = rows[0].video.height / rows[0].video.width
    fig = Figure(figsize=(1.9 + thumb_width * cols, 0.4 + len(rows) * (thumb_width * aspect + 0.28)),
                 layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for row, ax_row in zip(rows, axes):
        label, video, frames, tags = row.label, row.video, row.frames, row.tags
        for ax, t in zip(ax_row, frames):
            _show(ax, video, t, row.alpha)
            tag = tags.get(t)
            ax.set_title(f"t={t}" + (f" · {tag}" if tag else ""), fontsize=8,
                         color=OKABE_ITO[3] if tag else "black", pad=2)
        for ax in ax_row[len(frames):]:
            ax.set_axis_off()
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9, labelpad=6)
    fig.suptitle(title, fontsize=11)
    return fig


def knob_grid(root: str | os.PathLike, knobs: Sequence[str] = KNOBS, frames_per_row: int = 6,
              split: str = "val") -> Figure:
    """One row per knob of the synthetic set: frames of a sequence where it fired, masks overlaid, the event's
    frames tagged (hidden, out of frame, covered by another object, entering). Needs ``root/synthetic.json``.
    Drift rows show the objects' outlines only, so that their changing appearance stays visible.

    Objects are read as they first appear (mid-video objects included); distractors are never annotated.
    """
    unknown = [k for k in knobs if k not in KNOBS]
    if unknown or not knobs:
        raise ValueError(f"knob_grid: knobs must be a non-empty subset of {KNOBS}, got {list(knobs)}")
    if frames_per_row < 4:
        raise ValueError(f"knob_grid: frames_per_row must be at least 4 (before, first, last, after), "
                         f"got {frames_per_row}")
    events = _split_events(root, split)
    dataset = DavisDataset(root, split, objects="first_appearance")
    rows = []
    for knob in knobs:
        name, obj = _example(events, knob)
        video, info = dataset[name], events[name]
        if knob in _EVENT_FRAMES or knob == "mid_video":
            key, tag = _EVENT_FRAMES.get(knob, (None, "enters"))
            event = info["objects"][str(obj)][key] if key else [info["objects"][str(obj)]["first_frame"]]
            frames = event_frames(event, len(video), frames_per_row)
            tags = {t: tag for t in frames if t in event}
        else:
            frames = np.round(np.linspace(0, len(video) - 1, frames_per_row)).astype(int).tolist()
            tags = {}
        label = f"{KNOB_LABELS[knob]}\n{name}\n{_describe(knob, info, obj)}"
        rows.append(_GridRow(label, video, frames, tags, alpha=0.0 if knob == "drift" else 0.45))
    return _frame_grid(rows, f"Difficulty knobs of the synthetic {split} split (masks: DAVIS palette)")


def sequence_grid(root: str | os.PathLike, n_sequences: int = 4, frames_per_row: int = 6,
                  split: str = "val") -> Figure:
    """The first ``n_sequences`` sequences of any DAVIS-layout ``split``, ``frames_per_row`` evenly spaced frames each,
    annotations overlaid (the fallback of `knob_grid` for data without synthetic.json)."""
    dataset = DavisDataset(root, split)
    if not 1 <= n_sequences <= len(dataset) or frames_per_row < 1:
        raise ValueError(f"sequence_grid: n_sequences must be in 1..{len(dataset)} and frames_per_row >= 1, "
                         f"got {n_sequences}, {frames_per_row}")
    rows = []
    for name in dataset.sequences[:n_sequences]:
        video = dataset[name]
        frames = sorted(set(np.round(np.linspace(0, len(video) - 1, frames_per_row)).astype(int).tolist()))
        count = len(video.object_ids)
        rows.append(_GridRow(f"{name}\n{count} object{'s' if count > 1 else ''}", video, frames))
    return _frame_grid(rows, f"First sequences of the {split} split (masks: DAVIS palette)")


# ------------------------------------------------------------------------------------------------ statistics
def dataset_statistics(root: str | os.PathLike, resolution: str = "480p", progress: bool = True) -> pd.DataFrame:
    """One row per split of ``root/ImageSets/2017``: sequences, frames, frame sizes, objects (those of the first
    annotation, as DAVIS scores them), mean object area (% of the frame, over the annotated frames where the object
    is visible) and, from synthetic.json when present, the number of sequences in which each knob fired."""
    root = Path(root)
    split_dir = root / "ImageSets" / "2017"
    splits = sorted(p.stem for p in split_dir.glob("*.txt"))
    if not splits:
        raise DataError(f"{split_dir}: no split files (train.txt, val.txt); pass a DAVIS-layout root")
    has_events = read_manifest(root) is not None
    rows = {}
    for split in splits:
        dataset = DavisDataset(root, split, resolution)
        frames, objects, areas, sizes = 0, 0, [], set()
        for video in tqdm(dataset, total=len(dataset), desc=f"statistics {split}", unit="seq", disable=not progress):
            frames += len(video)
            objects += len(video.object_ids)
            sizes.add((video.height, video.width))
            for t in range(len(video)):
                mask = video.mask(t)
                if mask is not None:
                    pixels = np.bincount(mask.ravel(), minlength=256)[video.object_ids]
                    areas.extend(pixels[pixels > 0] / mask.size)
        row = {"sequences": len(dataset), "frames": frames,
               "frame size": ", ".join(f"{h}×{w}" for h, w in sorted(sizes)), "objects": objects,
               "objects per sequence": objects / len(dataset),
               "mean object area %": 100 * float(np.mean(areas)) if areas else float("nan")}
        if has_events:
            fired = knob_table(root, split)
            row.update({f"with {KNOB_LABELS[k]}": int(fired[k].sum()) for k in KNOBS})
        rows[split] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------------------------------------------ long videos
def long_video_strip(video: Video, n: int, thumbnails: int = 7) -> Figure:
    """RDE-VOS Fig. 3's long video by index mapping: which source frame each frame of
    ``repeat_forward_backward(video, n)`` shows (top), and ``thumbnails`` evenly spaced frames of it (bottom)."""
    if thumbnails < 2:
        raise ValueError(f"long_video_strip: thumbnails must be at least 2, got {thumbnails}")
    long = repeat_forward_backward(video, n)
    index = forward_backward_indices(len(video), n)
    picks = sorted(set(np.round(np.linspace(0, len(long) - 1, thumbnails)).astype(int).tolist()))
    fig = Figure(figsize=(max(8.0, 1.7 * len(picks)), 4.4), layout="constrained")
    grid = fig.add_gridspec(2, len(picks), height_ratios=(1.2, 1.0))
    ax = fig.add_subplot(grid[0, :])
    for k in range(n):
        if k % 2:
            ax.axvspan(k * len(video) - 0.5, (k + 1) * len(video) - 0.5, color="0.92", lw=0)
        ax.text((k + 0.5) * len(video), len(video) * 1.02, "backward" if k % 2 else "forward", ha="center",
                va="bottom", fontsize=8, color="0.35")
    ax.plot(np.arange(len(long)), index, color=OKABE_ITO[0])
    ax.plot(picks, index[picks], "o", color=OKABE_ITO[3], ms=5)
    ax.set(xlim=(-0.5, len(long) - 0.5), ylim=(-1, len(video) * 1.12), xlabel="frame of the long video",
           ylabel="source frame")
    ax.set_title(f"{video.name}, {n} passes: {len(long)} frames from {len(video)} (RDE-VOS Fig. 3)", fontsize=10)
    for i, t in enumerate(picks):
        thumb = fig.add_subplot(grid[1, i])
        _show(thumb, long, t)
        thumb.set_title(f"{t} ← source {index[t]}", fontsize=8, pad=2)
    return fig


# ------------------------------------------------------------------------------------------------ metric sanity
def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def perturb(masks: np.ndarray, kind: str, amount: int) -> np.ndarray:
    """A corrupted copy of ground-truth ids ``masks`` [T,H,W]: ``identity``; ``shift`` right by ``amount`` px (zeros
    enter on the left); ``erosion`` / ``dilation`` of each object by a disk of radius ``amount`` px (dilation only
    into background, lower ids first); ``drop`` every object in ``amount``% of the scored frames 1..T−2, evenly
    spread; ``empty`` (nothing predicted); ``first frame copied`` (frame 0's mask everywhere: no tracking)."""
    masks = np.asarray(masks)
    limit = {"px": masks.shape[-1] - 1, "% of frames": 100}.get(UNITS.get(kind, ""), amount)
    if not 0 <= amount <= limit:
        raise ValueError(f"perturb: amount {amount} of {kind!r} must lie in 0..{limit}")
    out = masks.copy()
    if kind == "identity":
        return out
    if kind == "shift":
        out[..., :amount] = 0
        out[..., amount:] = masks[..., : masks.shape[-1] - amount]
        return out
    if kind in ("erosion", "dilation"):
        kernel = _disk(amount)
        for t, mask in enumerate(masks):
            for k in np.unique(mask[mask > 0]):
                binary = (mask == k).astype(np.uint8)
                if kind == "erosion":
                    out[t][(mask == k) & (cv2.erode(binary, kernel) == 0)] = 0
                else:
                    out[t][(out[t] == 0) & (mask == 0) & (cv2.dilate(binary, kernel) > 0)] = k
        return out
    if kind == "drop":
        scored = len(masks) - 2
        count = round(amount / 100 * scored)
        out[1 + (np.arange(count) * scored) // max(count, 1)] = 0
        return out
    if kind == "empty":
        return np.zeros_like(masks)
    if kind == "first frame copied":
        return np.repeat(masks[:1], len(masks), axis=0)
    raise ValueError(f"perturb: unknown kind {kind!r}; use one of {sorted(UNITS)}")


def _label(kind: str, amount: int) -> str:
    """Row name of a perturbation: "shift 4 px", "drop 25%", "identity", ..."""
    if UNITS[kind] == "px":
        return f"{kind} {amount} px"
    return f"{kind} {amount}%" if kind == "drop" else kind


def metric_sanity(videos: Video | Sequence[Video],
                  perturbations: Sequence[tuple[str, int]] = PERTURBATIONS) -> pd.DataFrame:
    """J&F, J and F (DAVIS 2017, mean over objects, `vosnb.metrics.evaluate_sequence`) of perturbed ground truth
    (see `perturb`), one row per perturbation, over every object of ``videos`` (all frames must be annotated)."""
    videos = [videos] if isinstance(videos, Video) else list(videos)
    if not videos:
        raise ValueError("metric_sanity: no videos given")
    truths = [(video.name, ground_truth(video)) for video in videos]
    rows = {}
    for kind, amount in perturbations:
        scores = pd.concat([evaluate_sequence(gt, perturb(gt, kind, amount), name) for name, gt in truths])
        summary = summarize(scores)
        rows[_label(kind, amount)] = {"perturbation": kind, "amount": amount, "unit": UNITS[kind],
                                      "J&F": summary["J&F-Mean"], "J": summary["J-Mean"], "F": summary["F-Mean"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_metric_sanity(table: pd.DataFrame) -> Figure:
    """J&F against the strength of each perturbation of `metric_sanity`: spatial ones in pixels (left), dropped
    frames in % (right, the empty prediction at 100%); the first-frame copy as a dashed reference."""
    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    ax_px, ax_drop = fig.subplots(1, 2, sharey=True)
    identity = table.loc[table["perturbation"] == "identity", "J&F"]
    start = [(0, float(identity.iloc[0]))] if len(identity) else []
    families = {"shift": ax_px, "erosion": ax_px, "dilation": ax_px, "drop": ax_drop}
    for i, (family, ax) in enumerate(families.items()):
        rows = table[(table["perturbation"] == family) | ((family == "drop") & (table["perturbation"] == "empty"))]
        points = start + list(zip(rows["amount"].astype(float), rows["J&F"]))
        ax.plot(*zip(*points), "o-", color=OKABE_ITO[i], label=family if family != "drop" else "drop (100%: empty)")
    copied = table.loc[table["perturbation"] == "first frame copied", "J&F"]
    for ax in (ax_px, ax_drop):
        if len(copied):
            ax.axhline(float(copied.iloc[0]), ls="--", color="0.5", lw=1.2, label="first frame copied")
        ax.set_ylim(-0.03, 1.05)
        ax.grid(True)
        ax.legend(loc="upper right")
    ax_px.set(xlabel="perturbation (pixels)", ylabel="J&F", title="Shifted, eroded, dilated masks")
    ax_drop.set(xlabel="frames with every object dropped (%)", title="Dropped objects")
    return fig
