"""The measurements and figures behind the two SWEM notebooks (01 redundancy, 03 weighted EM).

- :func:`plot_redundancy`: SWEM Fig. 2 from :class:`~vosnb.analysis.redundancy.RedundancyReport` s.
- :func:`propagate_traced`: one video through a :class:`~vosnb.memory.swem.SWEMMemory` that keeps every write's
  trace; :func:`sequential_batch_gap` (SWEM-5), :func:`count_features` (SWEM-6), :func:`weight_disagreement`
  (SWEM-4), :func:`length_variants` (SWEM-7 at the paper's shapes), :func:`plot_time_vs_length` (SWEM-7 end to
  end, from :func:`vosnb.engine.long_video`), :func:`sweep_variants` and :func:`sweep_table` (number of bases, EM
  iterations, through :func:`vosnb.engine.run`).
- :func:`plot_weight_maps` (SWEM Fig. 5), :func:`plot_assignments` and :func:`assignment_widget` (step through a
  video and watch which basis takes each pixel).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from vosnb.analysis import costs
from vosnb.analysis.redundancy import EDGES, RedundancyReport
from vosnb.data import DAVIS_PALETTE, Video
from vosnb.engine import Experiment, Variant
from vosnb.inference import PropagationResult, ground_truth, padding, propagate, unpad
from vosnb.memory import EveryK
from vosnb.memory.swem import CLASSES, SWEMMemory, WriteTrace, batch_weighted_mean
from vosnb.metrics import evaluate_sequence, summarize
from vosnb.widgets import FigureExplorer


# ------------------------------------------------------------------------------------------------ notebook 01
def plot_redundancy(reports: Sequence[RedundancyReport]) -> Figure:
    """SWEM Fig. 2 for each report: inter-frame max similarity (share per bin) and intra-frame pairs per frame
    (log scale), over pixels (top) and over EM bases (bottom)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    panels = [("inter_pixels", "max cos to frame t−1 pixels", False), ("intra_pixels", "pairs within frame t", True),
              ("inter_bases", "max cos to frame t−1 bases", False), ("intra_bases", "pairs among frame t bases", True)]
    for ax, (name, title, per_frame) in zip(axes.flat, panels):
        for report in reports:
            hist = report.histograms()[name]
            values = hist.per_frame() if per_frame else 100 * hist.pooled() / max(hist.total, 1)
            ax.stairs(values, EDGES, label=report.label + (f" (L={report.num_bases})" if "bases" in name else ""))
        ax.set_title(title)
        ax.set_ylabel("pairs per frame" if per_frame else "% of pixels")
        if per_frame:
            ax.set_yscale("log")
        else:  # maxima crowd near 1: start one bin below the lowest occupied bin
            occupied = min((int(np.flatnonzero(r.histograms()[name].pooled())[0]) for r in reports
                            if r.histograms()[name].total), default=0)
            ax.set_xlim(EDGES[max(occupied - 1, 0)], 1.0)
        ax.set_xlabel("cosine similarity")
    axes[0, 0].legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------------------ notebook 03
def propagate_traced(model: torch.nn.Module, video: Video, *, device: str | torch.device = "cpu",
                     **swem: object) -> tuple[PropagationResult, SWEMMemory]:
    """Segment ``video`` through a SWEM bank that keeps every write's trace; return the result and the bank of the
    objects of frame 0. ``swem`` are :class:`SWEMMemory` arguments (num_bases, tau, em_iters, adaptive, seed)."""
    result = propagate(model, video, lambda: SWEMMemory(keep_history=True, **swem), device=device)
    if 0 not in result.banks:
        raise ValueError(f"video {video.name!r} has no object in frame 0: nothing to trace")
    return result, result.banks[0]


def sequential_batch_gap(bank: SWEMMemory) -> float:
    """SWEM-5: the largest difference between the bank's sequentially updated state (κ, ν, ζ of ``update``) and the
    batch weighted mean over every traced frame, relative to the largest entry of each tensor."""
    if not bank.history or bank.update is None:
        raise ValueError("the bank needs keep_history=True and at least two writes")
    stacked = [torch.stack([getattr(tr, name) for tr in bank.history])
               for name in ("key", "values", "responsibilities")]
    batch = batch_weighted_mean(bank.initial, *stacked)
    gaps = [((seq - bat).abs().max() / bat.abs().max()).item()
            for seq, bat in ((bank.update.kappa, batch.kappa), (bank.update.nu, batch.nu),
                             (bank.update.zeta, batch.zeta))]
    return max(gaps)


@torch.inference_mode()
def count_features(frames: int = 3, *, grid: tuple[int, int] = (30, 54), key_dim: int = 128, value_dim: int = 512,
                   num_bases: int = 128, seed: int = 0) -> pd.DataFrame:
    """SWEM-6 counted on real banks: after each of ``frames`` random frames on ``grid``, the features a read compares a
    query with, per object, for SWEM and for a memory of every frame (STCN's features per frame × T)."""
    g = torch.Generator().manual_seed(seed)
    swem, every = SWEMMemory(num_bases=num_bases, seed=seed), EveryK(k=1)
    rows = []
    for t in range(frames):
        key = torch.randn(key_dim, *grid, generator=g)
        values = torch.randn(1, value_dim, *grid, generator=g)
        probs = (torch.rand(1, 16 * grid[0], 16 * grid[1], generator=g) > 0.7).float()
        swem.write(t, key, values, probs)
        every.write(t, key, values, probs)
        rows.append({"frames": t + 1, "swem_features": swem.features_per_object, "swem_bytes": swem.nbytes,
                     "all_frames_features": every.num_elements, "all_frames_bytes": every.nbytes})
    return pd.DataFrame(rows)


def weight_disagreement(traces: Sequence[WriteTrace]) -> pd.DataFrame:
    """SWEM-4 per write and object: pixels where the bases' coarse call (P_fg > ½, Eq. 6) disagrees with the final
    mask, and the summed weight (w_bg + w_fg, Eq. 7) of disagreeing and agreeing pixels."""
    rows = []
    for tr in traces:
        if tr.coarse_fg is None:
            raise ValueError("weight_disagreement needs traces of adaptive weights with em_iters ≥ 2")
        disagree = (tr.coarse_fg > 0.5) != (tr.masks[:, 1] > 0)
        weight = tr.weights.sum(1)
        for i in range(weight.shape[0]):
            rows.append({"frame": tr.frame_index, "object": i, "pixels": int(disagree[i].numel()),
                         "disagree": int(disagree[i].sum()), "weight_disagree": float(weight[i][disagree[i]].sum()),
                         "weight_agree": float(weight[i][~disagree[i]].sum())})
    return pd.DataFrame(rows)


def disagreement_summary(per_write: pd.DataFrame) -> dict[str, float]:
    """Mean weight per disagreeing and per agreeing pixel, pooled over the writes of ``weight_disagreement``."""
    disagree = per_write["disagree"].sum()
    agree = per_write["pixels"].sum() - disagree
    return {"share_disagree": float(disagree / per_write["pixels"].sum()),
            "weight_disagree": float(per_write["weight_disagree"].sum() / max(disagree, 1)),
            "weight_agree": float(per_write["weight_agree"].sum() / max(agree, 1))}


def j_and_f(videos: Sequence[Video], masks: Mapping[str, np.ndarray]) -> float:
    """J&F-Mean in points of predicted ``masks`` (by video name) over ``videos``."""
    scores = [evaluate_sequence(ground_truth(video), masks[video.name], video.name) for video in videos]
    return 100 * float(summarize(pd.concat(scores, ignore_index=True))["J&F-Mean"])


def sweep_variants(settings: Sequence[Mapping[str, object]]) -> list[Variant]:
    """One engine variant per setting (:class:`SWEMMemory` arguments), named by the number of bases per class, EM
    iterations and weights of the bank it builds."""
    variants = []
    for setting in settings:
        bank = SWEMMemory(**setting)
        name = f"L={bank.num_bases}, {bank.em_iters} iterations, {'adaptive' if bank.adaptive else 'fixed'}"
        variants.append(Variant(name, functools.partial(SWEMMemory, **setting)))
    return variants


def sweep_table(exp: Experiment) -> pd.DataFrame:
    """Per variant of :func:`sweep_variants`: the number of bases, EM iterations and weights its banks use, J&F
    (points) and ms per frame."""
    summary = exp.summary()
    rows = []
    for variant in exp.variants:
        bank, row = variant.memory(), summary.loc[variant.name]
        rows.append({"num_bases": bank.num_bases, "em_iters": bank.em_iters, "adaptive": bank.adaptive,
                     "J&F": row["J&F"], "ms per frame": row["ms per frame"]})
    return pd.DataFrame(rows)


def length_variants(base_frames: int, multipliers: Sequence[int] = (1, 20), *, k: int = 5,
                    objects: int = costs.PAPER_OBJECTS, grid: tuple[int, int] = costs.PAPER_GRID,
                    key_dim: int = costs.PAPER_KEY_DIM, value_dim: int = costs.PAPER_VALUE_DIM, seed: int = 0,
                    device: torch.device | str = "cpu") -> dict[tuple[str, int], Callable[[], object]]:
    """SWEM-7's per-frame memory work at the paper's shapes after ``n × base_frames`` frames, for each ``n`` of
    ``multipliers`` (keys ``(memory, n)``):

    - ``("swem", n)``: one write (four EM iterations with adaptive weights, Eq. 3–7) and one read of a bank that
      has seen ``n · base_frames`` frames; each call restores that state first, so it stays at ×n;
    - ``("every5", n)``: one top-k read of an every-``k`` memory of the same video (``⌈n · base_frames / k⌉``
      frames): the read that grows with the length.
    """
    g = torch.Generator().manual_seed(seed)
    frames = [costs.random_frame(objects, grid=grid, key_dim=key_dim, value_dim=value_dim, generator=g,
                                 device=device) for _ in range(base_frames)]
    query, incoming = frames[0][0], frames[-1]
    variants: dict[tuple[str, int], Callable[[], object]] = {}
    for n in multipliers:
        swem = SWEMMemory(seed=seed)
        for t in range(n * base_frames):
            swem.write(t, *frames[t % base_frames])
        saved = {name: getattr(swem, name) for name in ("update", "last_write", "_read_keys", "_read_values")}
        every5 = EveryK(k=k)
        for t in range(0, n * base_frames, k):
            every5.append(t, *frames[t % base_frames][:2])

        def swem_frame(bank: SWEMMemory = swem, state: dict = saved, t: int = n * base_frames) -> object:
            for name, value in state.items():
                setattr(bank, name, value)
            bank.write(t, *incoming)
            return bank.read(query)

        variants["swem", n] = swem_frame
        variants["every5", n] = lambda bank=every5: bank.read(query)
    return variants


def plot_time_vs_length(by_length: pd.DataFrame, colors: Mapping[str, str] | None = None) -> Figure:
    """Per-frame time (median over the last pass) and memory held against video length, one line per memory, from
    :meth:`~vosnb.engine.LongVideoResult.by_length`."""
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, rows in by_length.groupby("variant", sort=False):
        kw = {"color": colors[name]} if colors and name in colors else {}
        ax_t.plot(rows["multiplier"], rows["ms per frame"], "o-", label=name, **kw)
        ax_m.plot(rows["multiplier"], rows["memory (bytes)"] / 2**20, "o-", label=name, **kw)
    ticks = sorted(by_length["multiplier"].unique())
    ax_t.set(xlabel="video length (× the excerpt)", ylabel="ms per frame (median, last pass)", ylim=(0, None),
             xticks=ticks)
    ax_m.set(xlabel="video length (× the excerpt)", ylabel="memory held (MiB)", xticks=ticks)
    ax_t.legend()
    return fig


def plot_sweep(table: pd.DataFrame, parameter: str) -> Figure:
    """J&F and per-frame time against one swept parameter."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    rows = table.sort_values(parameter)
    ax.plot(rows[parameter], rows["J&F"], "o-", color="C3")
    ax.set(xlabel=parameter, ylabel="J&F", xscale="log")
    ax.minorticks_off()
    ax.set_xticks(rows[parameter].tolist(), [str(v) for v in rows[parameter]])
    twin = ax.twinx()
    twin.plot(rows[parameter], rows["ms per frame"], "s--", color="grey")
    twin.set_ylabel("ms per frame", color="grey")
    twin.grid(False)
    return fig


# ------------------------------------------------------------------------------------------------ images
def overlay(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``frame`` with the objects of ``mask`` tinted in the DAVIS palette."""
    colours = DAVIS_PALETTE[mask].astype(np.float32)
    tinted = np.where(mask[..., None] > 0, (1 - alpha) * frame + alpha * colours, frame)
    return tinted.astype(np.uint8)


def _upsample(grid_map: torch.Tensor, height: int, width: int) -> np.ndarray:
    """A stride-16 map ``[h, w]`` at frame resolution (nearest), cropped like the engine's padding."""
    h, w = grid_map.shape
    full = F.interpolate(grid_map[None, None].float(), size=(16 * h, 16 * w), mode="nearest")[0, 0]
    return unpad(full, padding(height, width)).numpy()


def plot_weight_maps(video: Video, predictions: Mapping[str, np.ndarray], traces: Sequence[WriteTrace],
                     frames: Sequence[int], object_index: int = 0) -> Figure:
    """SWEM Fig. 5: each memory's prediction on ``frames`` (one row per entry of ``predictions``), then the adaptive
    weight map (w_bg + w_fg of object ``object_index``) of the write of that frame: bright = hard pixel."""
    by_frame = {tr.frame_index: tr for tr in traces}
    rows = len(predictions) + 1
    fig, axes = plt.subplots(rows, len(frames), figsize=(2.6 * len(frames), 1.6 * rows), squeeze=False)
    for col, t in enumerate(frames):
        for row, (name, masks) in enumerate(predictions.items()):
            axes[row, col].imshow(overlay(video.frame(t), masks[t]))
            axes[row, 0].set_ylabel(name)
        axes[0, col].set_title(f"frame {t}")
        weight = by_frame[t].weights[object_index].sum(0)
        axes[-1, col].imshow(_upsample(weight, video.height, video.width), cmap="magma", vmin=0)
    axes[-1, 0].set_ylabel("adaptive weight")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    return fig


def plot_assignments(video: Video, traces: Sequence[WriteTrace], step: int, object_index: int = 0) -> Figure:
    """One write of a traced run: the frame with its mask, the basis each pixel is assigned to for the object's
    foreground and background bases (same colour = same basis across frames; grey = no weight), and the weights."""
    tr = traces[step]
    num_bases = tr.responsibilities.shape[-1]
    assigned = tr.assignments()[object_index]
    palette = plt.get_cmap("tab20")(np.arange(20))
    cmap = ListedColormap(np.vstack([palette[np.arange(num_bases) % 20], [[0.85, 0.85, 0.85, 1.0]]]))
    fig = Figure(figsize=(13, 2.6))
    axes = fig.subplots(1, 4)
    masks = tr.masks[object_index]
    mask = _upsample((masks[1] > masks[0]).to(torch.uint8), video.height, video.width).astype(np.uint8)
    axes[0].imshow(overlay(video.frame(tr.frame_index), mask))
    axes[0].set_title(f"frame {tr.frame_index} ({tr.bank} bank)")
    for ax, c in zip(axes[1:3], (CLASSES.index("fg"), CLASSES.index("bg"))):
        ax.imshow(_upsample(assigned[c], video.height, video.width), cmap=cmap, vmin=0, vmax=num_bases,
                  interpolation="nearest")
        used = int(torch.unique(assigned[c][assigned[c] < num_bases]).numel())
        ax.set_title(f"{CLASSES[c]} bases: {used} of {num_bases} used")
    axes[3].imshow(_upsample(tr.weights[object_index].sum(0), video.height, video.width), cmap="magma", vmin=0)
    axes[3].set_title("weight (bg + fg)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    return fig


def assignment_widget(video: Video, traces: Sequence[WriteTrace], object_index: int = 0) -> FigureExplorer:
    """A slider over the writes of a traced run showing :func:`plot_assignments`; draws once (so it also runs
    headless), redrawing in place when the slider moves."""
    slider = ipywidgets.IntSlider(value=0, min=0, max=len(traces) - 1, description="write")
    return FigureExplorer([slider], lambda: plot_assignments(video, traces, slider.value, object_index),
                          "A slider over SWEM's writes: which pixels each basis takes, write by write.")