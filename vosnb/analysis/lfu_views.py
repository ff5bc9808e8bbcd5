"""The measurements and figures behind notebook 05 (LFU adaptive memory, Pourganjalikhan & Poullis, CRV 2022).

The comparisons run through :func:`vosnb.engine.run` and :func:`vosnb.engine.long_video`; this module adds what
is particular to LFU:

- :func:`strategy`: bank factories; :func:`probed` wraps them in :class:`ProbedBank` s, which log how many frames'
  worth each read saw (Table III's "memory utilization"), read back per sequence by :func:`probed_banks`.
- :func:`quality_table`: Table I with Table III's memory columns (AMM-1, AMM-2, AMM-3); :func:`object_share`: how
  much of each memory lies on the target objects.
- :func:`period_variants`, :func:`filled_lfu`: AMM-2's memory work at the paper's shapes (30×54, Ck 64, Cv 512),
  timed by notebook 05 and benchmarks/bench_lfu.py.
- :func:`capacity_table`, :func:`plot_capacity`: J&F and FPS against capacity (Fig. 6, AMM-4).
- :func:`hide_experiment`, :func:`plot_hide`, :func:`plot_failure_frames`: an object hidden for N frames (AMM-5).
- :func:`plot_long_videos`: ×1 … ×20 long videos (:meth:`~vosnb.engine.LongVideoResult.by_length`).
- :func:`survival_histories`, :func:`survivors_figure`, :func:`survival_widget`: which features survive in memory.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from vosnb.analysis import costs
from vosnb.data import SequenceConfig, Video, make_sequence
from vosnb.engine import Experiment
from vosnb.inference import ground_truth, padding, propagate
from vosnb.memory import FrameContext, KeyValueMemory, Readout, make_memory
from vosnb.memory.lfu import LFUMemory, MemorySnapshot
from vosnb.metrics import STANDARD_COLUMNS, jaccard
from vosnb.plotting import COLORS
from vosnb.widgets import FigureExplorer

STRIDE = 16
MIB = 2**20


# ------------------------------------------------------------------------------------------------ probing
def strategy(spec: str, similarity: str, top_k: int | None = 20, **options: object) -> Callable[[], KeyValueMemory]:
    """A factory of fresh banks for ``spec`` (``"every5"``, ``"first_last"``, ``"lfu"`` ...) with the model's
    similarity and the read's ``top_k``; ``options`` go to the bank (e.g. ``capacity=4``, ``index="softmax"``)."""
    return lambda: make_memory(spec, similarity=similarity, top_k=top_k, **options)


def frames_held(bank: KeyValueMemory) -> float:
    """Features a read of ``bank`` sees (permanent and temporary), in frames' worth."""
    if not bank.elements_per_frame:
        return 0.0
    temporary = 0 if bank.temp_keys is None else bank.temp_keys.shape[1]
    return (bank.num_elements + temporary) / bank.elements_per_frame


class ProbedBank:
    """A bank that logs the frames' worth every read of it saw (``frames_read``, in read order: Table III's "memory
    utilization"); everything else is the wrapped ``bank``'s."""

    def __init__(self, bank: KeyValueMemory) -> None:
        self.bank = bank
        self.frames_read: list[float] = []

    def should_write(self, frame_index: int) -> bool:
        return self.bank.should_write(frame_index)

    def write(self, frame_index: int, key: torch.Tensor, values: torch.Tensor, probs: torch.Tensor,
              context: FrameContext | None = None) -> None:
        self.bank.write(frame_index, key, values, probs, context)

    def read(self, query_key: torch.Tensor, context: FrameContext | None = None) -> Readout:
        out = self.bank.read(query_key, context)
        self.frames_read.append(frames_held(self.bank))
        return out

    @property
    def nbytes(self) -> int:
        return self.bank.nbytes


def probed(build: Callable[[], KeyValueMemory]) -> Callable[[], ProbedBank]:
    """A factory of :class:`ProbedBank` s around the banks ``build`` makes (an engine variant's memory)."""
    return lambda: ProbedBank(build())


def probed_banks(exp: Experiment, name: str) -> dict[str, ProbedBank]:
    """Variant ``name``'s probed bank per sequence, in the order the sequences ran (``exp`` run with ``keep=True``;
    every object starts in frame 0, so one bank serves them all)."""
    out = {}
    for (variant, sequence), result in exp.runs.items():
        if variant == name:
            if list(result.banks) != [0] or not isinstance(result.banks[0], ProbedBank):
                raise ValueError(f"{name} on {sequence}: need one ProbedBank (memory=probed(...)) serving every "
                                 f"object from frame 0; got {result.banks}")
            out[sequence] = result.banks[0]
    if not out:
        raise ValueError(f"no kept run of {name!r}: run the experiment with keep=True")
    return out


def quality_table(exp: Experiment, names: Sequence[str]) -> pd.DataFrame:
    """Table I (DAVIS metrics in points) with Table III's memory columns for the probed variants ``names``:
    frames' worth read (mean and max over every read) and the most bytes held."""
    rows, held = {}, exp.summary()["max memory (bytes)"]
    for name in names:
        summary = 100 * exp.evaluation(name).summary[list(STANDARD_COLUMNS)]
        frames = np.concatenate([bank.frames_read for bank in probed_banks(exp, name).values()])
        rows[name] = {**summary.round(1).to_dict(), "memory (frames, mean)": round(float(frames.mean()), 2),
                      "memory (frames, max)": round(float(frames.max()), 2),
                      "memory (MiB, max)": round(held[name] / MIB, 3)}
    return pd.DataFrame.from_dict(rows, orient="index")


# ------------------------------------------------------------------------------------------------ paper shapes (AMM-2)
EVERY5_FRAMES_DAVIS = 7
"""Frames an every-5 memory holds on DAVIS 2017 val on average (AMM Table III): the video position we time at."""


def filled_lfu(*, capacity: float = 2.0, k: int = 5, objects: int = costs.PAPER_OBJECTS,
               grid: tuple[int, int] = costs.PAPER_GRID, key_dim: int = costs.PAPER_KEY_DIM,
               value_dim: int = costs.PAPER_VALUE_DIM, top_k: int = costs.PAPER_TOP_K, seed: int = 0,
               device: torch.device | str = "cpu") -> tuple[LFUMemory, Callable[[], None]]:
    """An LFU bank at its capacity (writes at frames 0, k, 2k, … with a read of a random query at every frame
    between, so the indices hold real top-k counts) and a function that restores exactly this state; the bank's
    next write (at frame ``frame_of.max() + k``) evicts."""
    g = torch.Generator().manual_seed(seed)
    bank = LFUMemory(top_k=top_k, k=k, capacity=capacity)
    t = 0
    while bank.num_elements < bank.max_elements(grid[0] * grid[1]) or t == 0:
        key, values, _ = costs.random_frame(objects, grid=grid, key_dim=key_dim, value_dim=value_dim, generator=g,
                                            device=device)
        bank.write(t, key, values, None)
        for _ in range(k):
            bank.read(costs.random_frame(1, grid=grid, key_dim=key_dim, value_dim=1, generator=g, device=device)[0])
        t += k
    names = ("keys", "value_rows", "frame_of", "position", "elements_per_frame", "evicted")
    saved, index = {n: getattr(bank, n) for n in names}, bank.index.clone()

    def restore() -> None:
        for name, value in saved.items():
            setattr(bank, name, value)
        bank.index = index.clone()

    return bank, restore


def period_variants(every5_frames: int = EVERY5_FRAMES_DAVIS, *, capacity: float = 2.0, k: int = 5,
                    objects: int = costs.PAPER_OBJECTS, grid: tuple[int, int] = costs.PAPER_GRID,
                    key_dim: int = costs.PAPER_KEY_DIM, value_dim: int = costs.PAPER_VALUE_DIM,
                    top_k: int = costs.PAPER_TOP_K, seed: int = 0,
                    device: torch.device | str = "cpu") -> dict[str, Callable[[], object]]:
    """AMM-2's memory work at the paper's shapes, one write period (``k`` frames) per call, at the video position
    where every-5 holds ``every5_frames`` frames; each call first restores the state it started from:

    - ``every5``: ``k`` top-k reads over ``every5_frames`` frames, then the write of one frame (STCN's memory);
    - ``lfu``: ``k`` top-k reads over ``capacity`` frames' worth, each folding its top-k counts into the index
      (§III-D.1), then the write: eviction of the lowest LFU scores and the new frame;
    - ``first_last``: ``k`` times the latest frame written into the temporary slot and a read of first + latest.

    Encoders and decoder are left out: this is the memory operation whose cost the strategies differ in.
    """
    g = torch.Generator().manual_seed(seed)
    frame = functools.partial(costs.random_frame, objects, grid=grid, key_dim=key_dim, value_dim=value_dim,
                              generator=g, device=device)
    query, incoming = frame()[0], frame()
    every5 = KeyValueMemory(top_k=top_k)
    for t in range(every5_frames):
        every5.append(k * t, *frame()[:2])
    first_last = KeyValueMemory(top_k=top_k)
    first_last.append(0, *frame()[:2])
    lfu, restore_lfu = filled_lfu(capacity=capacity, k=k, objects=objects, grid=grid, key_dim=key_dim,
                                  value_dim=value_dim, top_k=top_k, seed=seed + 1, device=device)
    saved, next_write = (every5.keys, every5.value_rows, every5.frame_of), int(lfu.frame_of.max()) + k

    def every5_period() -> None:
        every5.keys, every5.value_rows, every5.frame_of = saved
        for _ in range(k):
            every5.read(query)
        every5.append(k * every5_frames, *incoming[:2])

    def lfu_period() -> None:
        restore_lfu()
        for _ in range(k):
            lfu.read(query)
        lfu.write(next_write, *incoming[:2], None)

    def first_last_period() -> None:
        for _ in range(k):
            first_last.set_temporary(*incoming[:2])
            first_last.read(query)

    return {"every5": every5_period, "lfu": lfu_period, "first_last": first_last_period}


# ------------------------------------------------------------------------------------------------ capacity (Fig. 6)
def capacity_table(exp: Experiment, names: Mapping[float, str]) -> pd.DataFrame:
    """An LFU capacity sweep's rows of ``exp.summary()`` (``names``: capacity → variant) with their capacity."""
    return exp.summary().loc[list(names.values())].assign(capacity=list(names)).reset_index()


def plot_capacity(table: pd.DataFrame, references: pd.DataFrame) -> Figure:
    """Fig. 6: LFU's J&F and FPS against its capacity (:func:`capacity_table`), with the reference strategies (rows
    of an experiment's summary) as horizontal lines."""
    fig, (ax_q, ax_s) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_q.plot(table["capacity"], table["J&F"], "o-", color=COLORS["lfu"], label="LFU")
    ax_s.plot(table["capacity"], table["FPS"], "o-", color=COLORS["lfu"], label="LFU")
    for label, row in references.iterrows():
        style = {"color": COLORS.get(label, "grey"), "linestyle": "--", "label": label}
        ax_q.axhline(row["J&F"], **style)
        ax_s.axhline(row["FPS"], **style)
    ax_q.set(xlabel="capacity (frames' worth)", ylabel="J&F", xticks=table["capacity"].tolist())
    ax_s.set(xlabel="capacity (frames' worth)", ylabel="frames per second", xticks=table["capacity"].tolist(),
             ylim=(0, None))
    ax_q.legend()
    return fig


# ------------------------------------------------------------------------------------------------ hidden object (AMM-5)
@dataclass
class HideResult:
    """AMM-5 runs: ``table`` has one row per (hidden length, seed, strategy) with the hidden object's mean J before
    it hides and after it reappears; ``cases`` keeps, for the longest hiding, the videos, each strategy's masks and
    the LFU bank's history (for the failure figure); ``held`` counts the LFU features on the object over time."""

    table: pd.DataFrame
    cases: dict[int, tuple[Video, dict[str, np.ndarray]]]
    held: pd.DataFrame
    object_id: int
    start: int


def hide_video(hidden: int, seed: int, *, start: int = 6, after: int = 12, object_id: int = 1,
               n_objects: int = 2) -> Video:
    """A synthetic video where target ``object_id`` is fully hidden for frames ``start .. start + hidden − 1``
    (``SequenceConfig.hide_object``) and stays visible for ``after`` frames once it reappears."""
    config = SequenceConfig(length=start + hidden + after, n_objects=n_objects, hide_object=(object_id, start, hidden))
    frames, masks, _ = make_sequence(config, seed)
    return Video.from_arrays(f"hide{hidden:02d}-s{seed}", frames, masks)


def grid_ownership(masks: np.ndarray, object_ids: Sequence[int], grid: tuple[int, int]) -> np.ndarray:
    """Per frame and stride-16 cell, the share of the cell's pixels on any of ``object_ids`` (``[T, h, w]``), with
    the cells laid out over the frame as the propagation engine pads it (evenly on both sides)."""
    h, w = grid
    t, height, width = masks.shape
    left, right, top, bottom = padding(height, width, STRIDE)
    if (height + top + bottom, width + left + right) != (STRIDE * h, STRIDE * w):
        raise ValueError(f"grid {grid} is not the stride-{STRIDE} grid of {height}×{width} frames")
    canvas = np.zeros((t, STRIDE * h, STRIDE * w), np.float32)
    canvas[:, top:top + height, left:left + width] = np.isin(masks, object_ids)
    return canvas.reshape(t, h, STRIDE, w, STRIDE).mean(axis=(2, 4))


def on_objects(frame_of: np.ndarray, position: np.ndarray, masks: np.ndarray, object_ids: Sequence[int]) -> np.ndarray:
    """Which memory features (source frame, position ``y · w + x`` on the stride-16 grid) lie on ``object_ids``:
    cells at least half covered by them in the ground truth ``masks`` of their source frame."""
    grid = (-(-masks.shape[1] // STRIDE), -(-masks.shape[2] // STRIDE))
    owned = grid_ownership(masks, object_ids, grid)
    return owned[frame_of, position // grid[1], position % grid[1]] >= 0.5


def object_share(exp: Experiment, names: Sequence[str], videos: Sequence[Video]) -> pd.DataFrame:
    """Per sequence and probed variant, the share of the memory's features that lie on the target objects after
    the last write (the permanent features of its kept bank; a temporary last-frame slot is not counted)."""
    rows = {}
    for name in names:
        banks = probed_banks(exp, name)
        for video in videos:
            bank = banks[video.name].bank
            frame_of = bank.frame_of.cpu().numpy()
            position = np.arange(len(frame_of)) % bank.elements_per_frame
            if isinstance(bank, LFUMemory):
                position = bank.position.cpu().numpy()
            rows.setdefault(video.name, {})[name] = float(
                on_objects(frame_of, position, ground_truth(video), video.object_ids).mean())
    return pd.DataFrame.from_dict(rows, orient="index")


def object_features_held(history: Sequence[MemorySnapshot], masks: np.ndarray, object_id: int) -> pd.DataFrame:
    """After each LFU write, how many memory features lie on ``object_id`` (see :func:`on_objects`), and the
    memory's size."""
    return pd.DataFrame([{"frame": snap.frame_index, "held": len(snap.frame_of),
                          "on_object": int(on_objects(snap.frame_of, snap.position, masks, [object_id]).sum())}
                         for snap in history])


def hide_experiment(model: torch.nn.Module, hidden_lengths: Sequence[int], seeds: Sequence[int],
                    strategies: Mapping[str, Callable[[], KeyValueMemory]], *, lfu_label: str = "lfu",
                    start: int = 6, after: int = 12, object_id: int = 1, device: str | torch.device = "cpu",
                    progress: bool = True) -> HideResult:
    """Propagate every (hidden length, seed) video with every strategy and score the hidden object's J.

    The LFU strategy (``lfu_label``) must be built with ``track=True`` so that its history is kept."""
    rows, cases, held = [], {}, []
    longest = max(hidden_lengths)
    jobs = [(n, s) for n in hidden_lengths for s in seeds]
    for hidden, seed in tqdm(jobs, desc="hidden-object videos", disable=not progress):
        video = hide_video(hidden, seed, start=start, after=after, object_id=object_id)
        gt = ground_truth(video) == object_id
        back = start + hidden
        predictions = {}
        for label, build in strategies.items():
            result = propagate(model, video, build, device=device)
            j = jaccard(gt, result.masks == object_id)
            rows.append({"hidden": hidden, "seed": seed, "strategy": label, "J before": 100 * float(j[1:start].mean()),
                         "J after": 100 * float(j[back:].mean())})
            predictions[label] = result.masks
            if label == lfu_label:
                counts = object_features_held(result.banks[0].history, ground_truth(video), object_id)
                held.append(counts.assign(hidden=hidden, seed=seed))
        if hidden == longest:
            cases[seed] = (video, predictions)
    return HideResult(table=pd.DataFrame(rows), cases=cases, held=pd.concat(held, ignore_index=True),
                      object_id=object_id, start=start)


def plot_hide(result: HideResult) -> Figure:
    """Left: the hidden object's J after it reappears against how long it hid (mean ± s.e. over seeds).
    Right: the LFU memory features on the object after each write, one line per hidden length (mean over seeds),
    the hiding interval starting at the dotted line."""
    fig, (ax_j, ax_h) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    for label, rows in result.table.groupby("strategy", sort=False):
        stats = rows.groupby("hidden")["J after"].agg(["mean", "sem"])
        ax_j.errorbar(stats.index, stats["mean"], yerr=stats["sem"].fillna(0), marker="o", capsize=3,
                      color=COLORS.get(label, None), label=label)
    ax_j.set(xlabel="frames hidden (N)", ylabel="J of the hidden object after it reappears", ylim=(0, 100),
             xticks=sorted(result.table["hidden"].unique()))
    ax_j.legend()
    cmap = plt.get_cmap("viridis")
    lengths = sorted(result.held["hidden"].unique())
    for i, hidden in enumerate(lengths):
        rows = result.held[result.held["hidden"] == hidden].groupby("frame")["on_object"].mean()
        ax_h.plot(rows.index, rows.values, "o-", ms=3, color=cmap(i / max(len(lengths) - 1, 1)), label=f"N = {hidden}")
        ax_h.axvline(result.start + hidden, color=cmap(i / max(len(lengths) - 1, 1)), lw=0.8, alpha=0.6)
    ax_h.axvline(result.start, color="black", linestyle=":", lw=1)
    ax_h.set(xlabel="frame (write)", ylabel="LFU features on the hidden object", ylim=(0, None))
    ax_h.legend(fontsize=7, ncol=2)
    return fig


def plot_failure_frames(video: Video, predictions: Mapping[str, np.ndarray], object_id: int,
                        frames: Sequence[int]) -> Figure:
    """One row per strategy: its mask of ``object_id`` (filled) and the ground truth (white outline) on ``frames``,
    each titled with its J."""
    gt = ground_truth(video) == object_id
    fig, axes = plt.subplots(len(predictions), len(frames), figsize=(2.6 * len(frames), 1.7 * len(predictions)),
                             squeeze=False)
    for row, (label, masks) in zip(axes, predictions.items()):
        rgba = np.array(to_rgba(COLORS.get(label, "#D55E00")))
        for ax, t in zip(row, frames):
            pred = masks[t] == object_id
            ax.imshow(video.frame(t))
            ax.imshow(pred[..., None] * np.r_[rgba[:3], 0.55])
            if gt[t].any():
                ax.contour(gt[t], levels=[0.5], colors="white", linewidths=1.0)
            ax.set_title(f"{label}, frame {t}: J = {100 * jaccard(gt[t], pred):.0f}", fontsize=8)
            ax.set_axis_off()
    return fig


# ------------------------------------------------------------------------------------------------ long videos
def plot_long_videos(by_length: pd.DataFrame) -> Figure:
    """J&F and per-frame time (solid: whole frame, dashed: memory read; medians over the last pass) against video
    length, from :meth:`~vosnb.engine.LongVideoResult.by_length`."""
    fig, (ax_q, ax_t) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, rows in by_length.groupby("variant", sort=False):
        c = COLORS.get(label, None)
        ax_q.plot(rows["multiplier"], rows["J&F"], "o-", color=c, label=label)
        ax_t.plot(rows["multiplier"], rows["ms per frame"], "o-", color=c, label=f"{label}: frame")
        ax_t.plot(rows["multiplier"], rows["read ms"], "s--", color=c, label=f"{label}: read")
    ticks = sorted(by_length["multiplier"].unique())
    ax_q.set(xlabel="length (× the sequence)", ylabel="J&F", ylim=(0, 100), xticks=ticks)
    ax_t.set(xlabel="length (× the sequence)", ylabel="ms (median over the last pass)", ylim=(0, None), xticks=ticks)
    ax_q.legend()
    ax_t.legend(fontsize=7, ncol=2)
    return fig


# ------------------------------------------------------------------------------------------------ survivors widget
def survival_histories(model: torch.nn.Module, video: Video, capacities: Sequence[float], *, similarity: str,
                       top_k: int | None = 20, device: str | torch.device = "cpu",
                       **lfu: object) -> dict[float, list[MemorySnapshot]]:
    """Propagate ``video`` with a tracking LFU bank at each capacity; return each bank's snapshots (after every
    write) for the objects of frame 0."""
    histories = {}
    for capacity in capacities:
        build = strategy("lfu", similarity, top_k, capacity=capacity, track=True, **lfu)
        histories[capacity] = propagate(model, video, build, device=device).banks[0].history
    return histories


def memory_at(history: Sequence[MemorySnapshot], frame: int) -> MemorySnapshot:
    """The memory that frame ``frame`` reads: the snapshot of the last write before it (frame 0: its own write)."""
    before = [snap for snap in history if snap.frame_index < frame]
    return before[-1] if before else history[0]


def _draw_cells(ax: Axes, video: Video, snap: MemorySnapshot, source: int) -> int:
    """Frame ``source`` with the cells whose features survive tinted green and the evicted ones darkened."""
    h, w = snap.grid
    kept = np.zeros(h * w, bool)
    kept[snap.position[snap.frame_of == source]] = True
    layer = np.zeros((h * w, 4))
    layer[kept] = [*to_rgb(COLORS["lfu"]), 0.45]
    layer[~kept] = [0.0, 0.0, 0.0, 0.6]
    top, left = (STRIDE * h - video.height) // 2, (STRIDE * w - video.width) // 2
    ax.imshow(video.frame(source))
    ax.imshow(layer.reshape(h, w, 4), extent=(-left - 0.5, STRIDE * w - left - 0.5, STRIDE * h - top - 0.5, -top - 0.5),
              interpolation="nearest")
    ax.set_xlim(-0.5, video.width - 0.5)
    ax.set_ylim(video.height - 0.5, -0.5)
    ax.set_axis_off()
    return int(kept.sum())


def survivors_figure(video: Video, history: Sequence[MemorySnapshot], frame: int, columns: int = 4) -> Figure:
    """The memory frame ``frame`` reads: each source frame with its surviving features (green) and evicted ones
    (dark); the first panel is the query frame itself."""
    snap = memory_at(history, frame)
    sources = sorted(set(snap.frame_of.tolist()))
    panels = 1 + len(sources)
    rows = -(-panels // columns)
    fig = Figure(figsize=(2.9 * columns, 1.9 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_axis_off()
    axes.flat[0].imshow(video.frame(frame))
    axes.flat[0].set_title(f"query: frame {frame}", fontsize=9)
    axes.flat[0].set_axis_off()
    per_frame = snap.grid[0] * snap.grid[1]
    for ax, source in zip(axes.flat[1:], sources):
        kept = _draw_cells(ax, video, snap, source)
        ax.set_title(f"frame {source}: {kept}/{per_frame} kept", fontsize=9)
    fig.suptitle(f"memory read at frame {frame}: {len(snap.frame_of)} features = "
                 f"{len(snap.frame_of) / per_frame:.2g} frames' worth from {len(sources)} frames", fontsize=10)
    return fig


def survival_widget(video: Video, histories: Mapping[float, Sequence[MemorySnapshot]],
                    capacity: float | None = None):
    """Capacity and frame sliders over :func:`survivors_figure`, opening at ``capacity`` (default: the first) and
    the last frame; draws once (so it also runs headless)."""
    import ipywidgets as widgets

    start = list(histories)[0] if capacity is None else capacity
    if start not in histories:
        raise ValueError(f"capacity={capacity!r}: no history for it; have {list(histories)}")
    capacity = widgets.SelectionSlider(options=list(histories), value=start, description="capacity")
    frame = widgets.IntSlider(value=len(video) - 1, min=0, max=len(video) - 1, description="frame")
    return FigureExplorer([capacity, frame], lambda: survivors_figure(video, histories[capacity.value], frame.value),
                          "Capacity and frame sliders over LFU's memory: which features survive, from which frames.")
