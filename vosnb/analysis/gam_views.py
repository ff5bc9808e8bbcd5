"""The measurements and figures behind notebook 06 (the global attention memory against space-time memory).

- Memory (GAM-1, GAM-7): :func:`memory_sweep` counts the bytes of each strategy's memory state and the largest
  intermediate of one frame's read (:mod:`vosnb.analysis.memory_costs`), analytically at every point and from real
  tensors where they fit the profile's budget, and beside them the growth of this process's peak resident memory
  (RSS) while those tensors are built and read (:func:`peak_rss_increase`).
- Time (GAM-2): :func:`memory_work` is one frame's memory work at given shapes with random features (STM: a read
  per object over ``T`` frames with a full softmax; STCN: one shared top-20 read; the global module: a write, Eq.
  1–2, and a read, Eq. 3), timed interleaved by :func:`time_sweep`.
- GAM-4: :func:`running_mean_gap` writes random frames into the bank and compares ``G_T`` with the mean of the
  frames' ``A_p`` computed at once, with equal weights (the claim) and with weights growing with ``p`` (a control
  the check must fail).
- The picture: :func:`record_run` keeps ``G`` after every write of a video; :func:`plot_global_step` shows what it
  holds (its singular spectrum, the response of its leading directions on the frame) beside what an every-5
  memory holds (whole frames), and :func:`global_widget` steps through the frames.
- :func:`plot_memory_curves`, :func:`plot_time_curves`: Fig. 1(a) and 1(b) in our numbers.
- GAM-3 (a GPU figure): :func:`frame_step`, one frame of the model end to end at a given resolution.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from vosnb.analysis.costs import matching_banks
from vosnb.analysis.memory_costs import RESOLUTIONS, STRIDE, analytic_cost, measured_cost
from vosnb.data import DAVIS_PALETTE, Video
from vosnb.inference import padding, propagate, unpad
from vosnb.memory import FrameContext, Readout
from vosnb.memory.global_attention import GlobalAttentionMemory, weighted_mean
from vosnb.models.gam import GAM
from vosnb.plotting import color
from vosnb.timing import Timing, time_interleaved
from vosnb.widgets import FigureExplorer

PAPER_GRID = (30, 54)
"""The stride-16 grid of a 480×864 frame (DAVIS 480p padded), where the speed claims are judged."""
PAPER_OBJECTS = 2
"""Objects per frame at the paper's shapes (DAVIS 2017 val averages about two)."""
STM_FRAMES = 8
"""Frames an STM-style memory holds at the paper's shapes: every-5 holds 7 on DAVIS (as in notebook 05), + last."""
STRATEGY_NAMES = {"stm": "STM (every-5 + last, per object)", "stcn": "STCN every-5 (one affinity)",
                  "global": "global attention module"}
STRATEGY_COLORS = {"stm": "stm", "stcn": "stcn", "global": "gam"}


# --------------------------------------------------------------------------------------------- memory (GAM-1, GAM-7)
def _status_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field_name}")


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim``), so that a later allocation shows in
    the resident memory instead of reusing pages freed earlier; a no-op elsewhere."""
    name = ctypes.util.find_library("c")
    if name:
        trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
        if trim is not None:
            trim(0)


def peak_rss_increase(work: Callable[[], object]) -> int | None:
    """Bytes by which this process's resident memory peaked above its level before ``work()`` (Linux: the
    high-water mark ``VmHWM`` is reset through ``/proc/self/clear_refs``); None where that is not possible."""
    try:
        gc.collect()
        _trim_heap()
        before = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        work()
        return None
    work()
    return max(0, _status_kib("VmHWM") - before) * 1024


def memory_sweep(points: Sequence[tuple[str, int]], strategies: Sequence[str] = ("stm", "stcn", "global"), *,
                 objects: int = PAPER_OBJECTS, key_dim: int = 64, value_dim: int = 512,
                 measure_limit: int = 1 << 30, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """One row per (resolution, ``T``, strategy): the analytic bytes (state, largest intermediate, total) and,
    where the analytic total is at most ``measure_limit``, the same total counted from the tensors the banks hold
    and return (:func:`~vosnb.analysis.memory_costs.measured_cost`) and the peak RSS increase while building and
    reading them (random tensors included). Points over the limit are left unmeasured (NaN)."""
    rows = []
    for name, frames in tqdm(points, desc="memory sweep", disable=not progress):
        height, width = RESOLUTIONS[name]
        for strategy in strategies:
            shape = dict(frames=frames, height=height, width=width, key_dim=key_dim, value_dim=value_dim,
                         objects=objects)
            cost = analytic_cost(strategy, **shape)
            row = {"resolution": name, "frames": frames, "strategy": strategy, "grid": _grid(height, width),
                   "state_bytes": cost.state_bytes, "intermediate_bytes": cost.largest_intermediate,
                   "total_bytes": cost.total, "measured_total_bytes": np.nan, "peak_rss_increase_bytes": np.nan}
            if cost.total <= measure_limit:
                measured: list = []
                with torch.inference_mode():
                    rss = peak_rss_increase(lambda: measured.append(measured_cost(strategy, **shape, seed=seed)))
                row["measured_total_bytes"] = measured[0].total
                row["peak_rss_increase_bytes"] = np.nan if rss is None else rss
            rows.append(row)
    return pd.DataFrame(rows)


def _grid(height: int, width: int) -> str:
    return f"{math.ceil(height / STRIDE)}×{math.ceil(width / STRIDE)}"


def relative_change(table: pd.DataFrame, strategy: str, column: str, *, vary: str, at: Mapping[str, object]) -> float:
    """``(last − first) / first`` of ``column`` for ``strategy`` along ``vary`` (``"frames"`` or ``"resolution"``,
    in the table's order), the other coordinate fixed by ``at``."""
    rows = table[table["strategy"] == strategy]
    for key, value in at.items():
        rows = rows[rows[key] == value]
    values = rows[column].to_numpy(dtype=float)
    if len(values) < 2:
        raise ValueError(f"{strategy}: fewer than two points along {vary} at {dict(at)}")
    return float((values[-1] - values[0]) / values[0])


def mib(x: float) -> float:
    return x / 2**20


def plot_memory_curves(table: pd.DataFrame, resolution: str, frames: int) -> Figure:
    """Fig. 1(a) in our counts: bytes (state + largest intermediate) against ``T`` at ``resolution`` and against
    resolution at ``T = frames``; lines are the analytic counts, dots the totals counted from real tensors."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (vary, fixed, value) in zip(axes, (("frames", "resolution", resolution),
                                               ("resolution", "frames", frames))):
        part = table[table[fixed] == value]
        for strategy, group in part.groupby("strategy", sort=False):
            x = group["frames"].to_numpy() if vary == "frames" else np.arange(len(group))
            c = color(STRATEGY_COLORS[strategy])
            ax.plot(x, mib(group["total_bytes"].to_numpy()), "-", color=c, label=STRATEGY_NAMES[strategy])
            ax.plot(x, mib(group["measured_total_bytes"].to_numpy(dtype=float)), "o", color=c, ms=5)
        ax.set_yscale("log")
        ax.set_ylabel("MiB (state + largest intermediate)")
        if vary == "frames":
            ax.set_xscale("log")
            ticks = sorted(part["frames"].unique())
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_xlabel(f"memory frames T ({value})")
        else:
            names = list(dict.fromkeys(part["resolution"]))
            ax.set_xticks(range(len(names)), names)
            ax.set_xlabel(f"resolution (T = {value})")
    axes[0].legend(fontsize=8)
    axes[0].set_title("lines: counted from shapes; dots: from real tensors", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------- time (GAM-2)
def memory_work(strategy: str, *, frames: int, grid: tuple[int, int] = PAPER_GRID, objects: int = PAPER_OBJECTS,
                key_dim: int = 64, value_dim: int = 512, variant: str = "paper", seed: int = 0,
                device: torch.device | str = "cpu") -> Callable[[], object]:
    """One frame's memory work with random features on a stride-16 ``grid``: ``"stm"`` reads ``frames`` frames
    with one affinity per object and a full softmax (STM has no top-k); ``"stcn"`` reads them once for all objects
    with top-20; ``"global"`` writes the frame (Eq. 1–2) into a bank holding ``frames`` frames and reads (Eq. 3).
    Encoders and decoder are left out; the returned callable starts from the same state at every call."""
    h, w = grid
    if strategy in ("stm", "stcn"):
        shared, per_object, query = matching_banks(objects, frames=frames, height=h, width=w, key_dim=key_dim,
                                                   value_dim=value_dim, top_k=None if strategy == "stm" else 20,
                                                   seed=seed, device=device)
        banks = per_object if strategy == "stm" else [shared]
        return lambda: [bank.read(query) for bank in banks]
    if strategy != "global":
        raise ValueError(f"strategy={strategy!r}; expected stm, stcn or global")
    g = torch.Generator(device=device).manual_seed(seed)
    key = torch.randn(key_dim, h, w, generator=g, device=device)
    values = torch.randn(objects, value_dim, h, w, generator=g, device=device)
    base = GlobalAttentionMemory(variant=variant)
    base.write(0, key, values, None)
    base.count = frames  # the state after `frames` writes: same shape, only the count differs

    def work() -> Readout:
        bank = GlobalAttentionMemory(variant=variant)
        bank.global_matrix, bank.count = base.global_matrix, base.count
        bank.write(frames, key, values, None)
        return bank.read(key)

    return work


def time_sweep(points: Sequence[tuple[tuple[int, int], int]], strategies: Sequence[str] = ("stm", "stcn", "global"),
               *, repeats: int = 3, objects: int = PAPER_OBJECTS, seed: int = 0,
               device: torch.device | str = "cpu", progress: bool = True) -> pd.DataFrame:
    """ms of :func:`memory_work` per (grid, ``T``, strategy): the strategies timed interleaved at each point
    (``repeats`` rounds after one warm-up); median, IQR, CPU median, and the ratio to STM with its interval."""
    rows = []
    for grid, frames in tqdm(points, desc="time sweep", disable=not progress):
        work = {s: memory_work(s, frames=frames, grid=grid, objects=objects, seed=seed, device=device)
                for s in strategies}
        with torch.inference_mode():
            timing = time_interleaved(work, repeats=repeats, device=device)
        for s in strategies:
            ratio = timing.ratio(s, "stm") if "stm" in strategies else None
            rows.append({"grid": f"{grid[0]}×{grid[1]}", "frames": frames, "strategy": s,
                         "ms": 1000 * timing.median(s), "IQR ms": 1000 * timing.iqr(s),
                         "CPU ms": 1000 * timing.median(s, cpu=True),
                         "÷ STM": np.nan if ratio is None else ratio.estimate,
                         "÷ STM low": np.nan if ratio is None else ratio.low,
                         "÷ STM high": np.nan if ratio is None else ratio.high})
    return pd.DataFrame(rows)


def plot_time_curves(table: pd.DataFrame) -> Figure:
    """Fig. 1(b)'s comparison across ``T`` and grids: median ms of one frame's memory work per strategy (bars:
    interquartile range across rounds)."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    first_grid = table["grid"].iloc[0]
    by_frames = table[table["grid"] == first_grid]
    smallest_t = by_frames["frames"].min()
    by_grid = table[table["frames"] == smallest_t]
    for ax, part, vary in ((axes[0], by_frames, "frames"), (axes[1], by_grid, "grid")):
        labels = list(dict.fromkeys(part[vary]))
        for strategy, group in part.groupby("strategy", sort=False):
            x = group[vary].to_numpy() if vary == "frames" else np.array([labels.index(g) for g in group["grid"]])
            ax.errorbar(x, group["ms"], yerr=group["IQR ms"] / 2, fmt="o-", color=color(STRATEGY_COLORS[strategy]),
                        label=STRATEGY_NAMES[strategy], capsize=3)
        ax.set_yscale("log")
        ax.set_ylabel("ms per frame (memory work)")
        if vary == "frames":
            ax.set_xscale("log")
            ax.set_xticks(labels, [str(t) for t in labels])
            ax.minorticks_off()
            ax.set_xlabel(f"memory frames T (grid {first_grid})")
        else:
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlabel(f"stride-16 grid (T = {smallest_t})")
    axes[0].legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------- GAM-4
def running_mean_gap(frames: int = 100, *, objects: int = 2, grid: tuple[int, int] = (8, 14), key_dim: int = 64,
                     value_dim: int = 64, seed: int = 0) -> dict[str, float]:
    """Write ``frames`` random frames (float64) into a :class:`GlobalAttentionMemory` (Eq. 2 applied in order) and
    compare its ``G_T`` with the mean of every frame's ``A_p`` (Eq. 1) computed at once: the largest absolute
    difference relative to the largest entry, with equal weights (``equal``, the claim: float round-off) and
    with weights ``p`` growing with the frame (``growing``, a control that must differ)."""
    g = torch.Generator().manual_seed(seed)
    bank = GlobalAttentionMemory()
    attentions = []
    for t in range(frames):
        key = torch.randn(key_dim, *grid, generator=g, dtype=torch.float64)
        values = torch.randn(objects, value_dim, *grid, generator=g, dtype=torch.float64)
        attentions.append(bank.attention(key, values))
        bank.write(t, key, values, None)
    scale = float(bank.global_matrix.abs().max())

    def gap(reference: torch.Tensor) -> float:
        return float((bank.global_matrix - reference).abs().max()) / scale

    return {"equal": gap(weighted_mean(attentions)),
            "growing": gap(weighted_mean(attentions, [float(p) for p in range(1, frames + 1)]))}


# --------------------------------------------------------------------------------------------- the picture
class RecordingGlobalMemory(GlobalAttentionMemory):
    """A :class:`GlobalAttentionMemory` that keeps a copy of ``G`` after every write and the query features of
    every read (in order: the read of frame ``t`` uses ``matrices[t − 1]`` and ``queries[t − 1]``)."""

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.matrices: list[torch.Tensor] = []
        self.queries: list[torch.Tensor] = []

    def write(self, frame_index: int, key: torch.Tensor, values: torch.Tensor, probs: torch.Tensor,
              context: FrameContext | None = None) -> None:
        super().write(frame_index, key, values, probs, context)
        self.matrices.append(self.global_matrix.detach().cpu().clone())

    def read(self, query_key: torch.Tensor, context: FrameContext | None = None) -> Readout:
        self.queries.append(self.frame_features(query_key, context).detach().cpu().clone())
        return super().read(query_key, context)


@dataclass
class GlobalRun:
    """One video through a :class:`RecordingGlobalMemory`: predicted masks, ``G`` after each write, the query
    features of each read, and the bank's variant."""

    video: Video
    masks: np.ndarray
    matrices: list[torch.Tensor]
    queries: list[torch.Tensor]
    variant: str
    every5_bytes_per_frame: int = 0
    extra: dict = field(default_factory=dict)


def record_run(model: torch.nn.Module, video: Video, variant: str = "gc",
               device: torch.device | str = "cpu") -> GlobalRun:
    """Propagate ``video`` with the global memory, keeping what :class:`GlobalRun` holds."""
    banks: list[RecordingGlobalMemory] = []

    def factory() -> RecordingGlobalMemory:
        banks.append(RecordingGlobalMemory(variant=variant))
        return banks[-1]

    result = propagate(model, video, factory, device=device)
    bank = banks[0]
    h, w = math.ceil(video.height / STRIDE), math.ceil(video.width / STRIDE)
    per_frame = h * w * (model.key_dim + len(video.object_ids) * model.value_dim) * 4
    return GlobalRun(video, result.masks, bank.matrices, bank.queries, variant, per_frame)


def overlay(frame: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``frame`` with the objects of ``mask`` tinted in the DAVIS palette."""
    colours = DAVIS_PALETTE[mask].astype(np.float32)
    return np.where(mask[..., None] > 0, (1 - alpha) * frame + alpha * colours, frame).astype(np.uint8)


def _upsample(grid_map: torch.Tensor, height: int, width: int) -> np.ndarray:
    h, w = grid_map.shape
    full = F.interpolate(grid_map[None, None].float(), size=(STRIDE * h, STRIDE * w), mode="nearest")[0, 0]
    return unpad(full, padding(height, width)).numpy()


def leading_directions(matrix: torch.Tensor, query: torch.Tensor, variant: str, count: int = 2
                       ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One object's ``G`` ``[C_N, C_M]``: its singular values (normalised to sum 1) and, for the ``count``
    leading left singular vectors ``u_i``, the map ``L_F(x)·u_i`` over the query frame's positions (``L_F``
    softmaxed over channels in the GC form, as the read sees it): where on the frame each direction responds."""
    u, s, _ = torch.linalg.svd(matrix.double(), full_matrices=False)
    q = query.flatten(1).double()
    if variant == "gc":
        q = torch.softmax(q, dim=0)
    maps = []
    for i in range(count):
        m = (u[:, i] @ q).view(query.shape[1:])
        maps.append(m * torch.sign(m.sum()) if m.sum() != 0 else m)
    return s / s.sum(), maps


def plot_global_step(run: GlobalRun, t: int, object_index: int = 0) -> Figure:
    """Frame ``t`` (≥ 1): top, the frame with the prediction, the singular spectrum of every object's ``G`` as read
    at ``t``, and the response of the object's two leading directions on the frame; bottom, the frames an every-5
    memory would hold at ``t`` (whole frames, each ``(C_k + N·C_v)·h·w`` floats) against ``G``'s fixed size."""
    t = max(1, min(t, len(run.matrices)))
    matrix, query = run.matrices[t - 1], run.queries[t - 1]
    video = run.video
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    axes = top.subplots(1, 4)
    axes[0].imshow(overlay(video.frame(t), run.masks[t]))
    axes[0].set_title(f"frame {t}: prediction")
    for k in range(matrix.shape[0]):
        spectrum = torch.linalg.svdvals(matrix[k].double())
        spectrum = (spectrum / spectrum.sum()).numpy()[:10]  # the 10 largest (all of them for a smaller C_N)
        axes[1].plot(np.arange(1, len(spectrum) + 1), spectrum, "o-", ms=3,
                     color=DAVIS_PALETTE[video.object_ids[k]] / 255, label=f"object {video.object_ids[k]}")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("singular value index")
    axes[1].set_title(f"G after {t} writes: spectrum")
    axes[1].legend(fontsize=7)
    _, maps = leading_directions(matrix[object_index], query, run.variant)
    for ax, m, i in zip(axes[2:], maps, (1, 2)):
        ax.imshow(_upsample(m, video.height, video.width), cmap="magma")
        ax.set_title(f"object {video.object_ids[object_index]}: direction u{i} on frame {t}", fontsize=9)
    held = [f for f in range(0, t, 5)]
    slots = bottom.subplots(1, 8)
    for ax, f in zip(slots, held[-8:]):
        ax.imshow(overlay(video.frame(f), video.mask(f)))
        ax.set_title(f"frame {f}", fontsize=8)
    g_bytes = int(matrix.numel() * 4)
    bottom.suptitle(f"every-5 holds {len(held)} whole frames ({len(held) * run.every5_bytes_per_frame / 1024:.0f} KiB) "
                    f"at frame {t}; the global memory holds {matrix.shape[0]} × {matrix.shape[1]}×{matrix.shape[2]} "
                    f"numbers ({g_bytes / 1024:.0f} KiB) at every frame", fontsize=10)
    for ax in [*axes[[0, 2, 3]], *slots]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    for ax in slots[len(held[-8:]):]:
        ax.axis("off")
    return fig


def global_widget(run: GlobalRun, object_index: int = 0, start: int | None = None) -> FigureExplorer:
    """A frame slider over :func:`plot_global_step`; draws once (so it also runs headless) and redraws in place."""
    slider = ipywidgets.IntSlider(value=start or len(run.matrices), min=1, max=len(run.matrices),
                                  description="frame")
    return FigureExplorer([slider], lambda: plot_global_step(run, slider.value, object_index),
                          "A frame slider over the global context matrix: what it holds after each frame.")


# --------------------------------------------------------------------------------------------- GAM-3 (GPU only)
def frame_step(model: GAM, *, height: int, width: int, objects: int = PAPER_OBJECTS, frames: int = 10,
               variant: str = "paper", seed: int = 0, device: torch.device | str = "cpu") -> Callable[[], object]:
    """One frame of the global attention model end to end on a random ``height × width`` frame (padded to a
    multiple of 16): frame encoder, read (Eq. 3), decoder with CAM and MEM, mask encoder and write (Eq. 1–2), from
    a memory that has seen ``frames`` frames. Timing does not depend on the weights, so random ones serve."""
    device = torch.device(device)
    model = model.to(device).eval()
    g = torch.Generator(device=device).manual_seed(seed)
    pad_h, pad_w = -height % STRIDE, -width % STRIDE
    frame = torch.rand(1, 3, height + pad_h, width + pad_w, generator=g, device=device)
    history = torch.rand(1, objects, max(model.mask_history, 1), *frame.shape[-2:], generator=g, device=device)
    with torch.inference_mode():
        query = model.encode_key(frame)
        masks = torch.rand(1, objects, *frame.shape[-2:], generator=g, device=device)
        bank = GlobalAttentionMemory(variant=variant)
        bank.write(0, query.key[0], model.encode_value(frame, query.f16, masks)[0], masks[0])
    matrix, count = bank.global_matrix, frames

    @torch.inference_mode()
    def step() -> torch.Tensor:
        state = GlobalAttentionMemory(variant=variant)
        state.global_matrix, state.count = matrix, count
        q = model.encode_key(frame)
        read = state.read(q.key[0]).values.unsqueeze(0)
        logits = model.segment(read, q, history if model.mask_history else None)
        probs = torch.sigmoid(logits)
        state.write(count, q.key[0], model.encode_value(frame, q.f16, probs)[0], probs[0])
        return probs

    return step
