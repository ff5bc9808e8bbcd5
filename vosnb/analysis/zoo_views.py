"""The memory zoo (notebook 07): every memory strategy of the collection on one engine, one model and one data set.

- :data:`STRATEGIES` and :func:`variants`: the eight strategies as engine variants on the shared small STCN, and
  the two whose papers train a model for them (RDE-VOS, the global attention model) once more with that model.
- :func:`load_models`: the shared STCN, the same STCN carrying the SAM trained with the RDE model (so the RDE
  memory runs on the shared encoders and decoder), and the two trained models.
- :func:`accuracy_table`, :func:`length_table` and :func:`plot_zoo` (ZOO-1), :func:`pass_changes` (ZOO-2).
- :func:`paper_shape_costs`: each strategy's read and writes at the paper's shapes (30×54 grid, Ck 64, Cv 512,
  2 objects) at a video position where every-5 holds ``T`` frames.
- :class:`ContentProbe`, :func:`plot_pair` and :func:`pair_widget`: two strategies' masks and memory contents
  side by side over a video.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import ipywidgets
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from vosnb.analysis import costs
from vosnb.analysis.rde_views import SAMHolder
from vosnb.analysis.swem_views import overlay
from vosnb.data import Video
from vosnb.engine import Experiment, LongVideoResult, Variant
from vosnb.memory import KeyValueMemory, MemoryBank, make_memory
from vosnb.metrics import bootstrap_ci
from vosnb.models.rde import RDE, MemCompress
from vosnb.models.zoo import load_pretrained
from vosnb.plotting import color
from vosnb.timing import Interval, Timing, paired_ratio, shifted, time_interleaved
from vosnb.widgets import FigureExplorer


@dataclass(frozen=True)
class Strategy:
    """A memory strategy of the zoo: its ``make_memory`` spec and settings, the read's top-k, the period (frames)
    after which its pattern of writes repeats, its colour name, and the trained model of its paper, if any."""

    spec: str
    params: Mapping[str, object] = field(default_factory=dict)
    top_k: int | None = 20
    period: int = 5
    colour: str = "every5"
    trained: str | None = None


STRATEGIES: Mapping[str, Strategy] = {
    "every-5": Strategy("every5"),
    "every-5 + last": Strategy("every5+last", colour="every5+last"),
    "first & latest": Strategy("first_last", period=1, colour="first_last"),
    "LFU": Strategy("lfu", {"capacity": 2}, colour="lfu"),
    "SWEM": Strategy("swem", period=1, colour="swem"),
    "RDE": Strategy("rde", {"composition": "2F&L&RDE", "theta": 3}, period=3, colour="rde",
                    trained="rde_small_full"),
    "global": Strategy("global", {"variant": "gc"}, top_k=None, period=1, colour="gam", trained="gam_small_full"),
    "XMem-style": Strategy("xmem", period=25, colour="xmem"),  # five writes: one consolidation
}
"""The eight strategies (settings as in their notebooks: LFU at two frames' worth, SWEM's 128 bases, RDE's
2F&L&RDE with θ = 3, the global memory in its GC form, XMem's sizes relative to a frame)."""
REFERENCE = "every-5"
CONSTANT_COST = ("first & latest", "LFU", "SWEM", "RDE", "global", "XMem-style")
GROWING = ("every-5", "every-5 + last")
SHARED = "stcn_small_l2_ck64"
SHARED_WITH_SAM = "stcn_small_l2_ck64 + SAM"
TRAINED_SUFFIX = " (trained)"


def load_models(device: torch.device | str = "cpu") -> dict[str, torch.nn.Module]:
    """The shared STCN, the shared STCN with the trained RDE model's SAM (:func:`with_sam`), and every strategy's
    trained model, by name."""
    shared = load_pretrained(SHARED, device=device)
    models = {SHARED: shared}
    for s in STRATEGIES.values():
        if s.trained:
            models[s.trained] = load_pretrained(s.trained, device=device)
    models[SHARED_WITH_SAM] = with_sam(shared, models[STRATEGIES["RDE"].trained])
    return models


def with_sam(stcn: torch.nn.Module, rde: RDE) -> RDE:
    """``stcn``'s weights with ``rde``'s trained SAM: the RDE memory plugged into the shared model."""
    model = RDE.from_stcn(stcn)
    model.mem_compress.load_state_dict(rde.mem_compress.state_dict())
    return model.eval()


def variants(trained: bool = True) -> list[Variant]:
    """One engine variant per strategy on the shared model (RDE: with the transplanted SAM), then, with
    ``trained``, each strategy with a trained model once more, named ``"<strategy> (trained)"``."""
    out = [Variant(name, s.spec, dict(s.params), model=SHARED_WITH_SAM if s.spec == "rde" else SHARED,
                   top_k=s.top_k) for name, s in STRATEGIES.items()]
    if trained:
        out += [Variant(name + TRAINED_SUFFIX, s.spec, dict(s.params), model=s.trained, top_k=s.top_k)
                for name, s in STRATEGIES.items() if s.trained]
    return out


def strategy_of(variant: str) -> str:
    """The strategy a variant name runs (``"RDE (trained)"`` → ``"RDE"``)."""
    return variant.removesuffix(TRAINED_SUFFIX)


def accuracy_table(exp: Experiment, reference: str = REFERENCE, seed: int = 0) -> pd.DataFrame:
    """Per variant: J&F (points) with its 95% bootstrap interval over sequences, J&F − ``reference`` with its 95%
    paired interval, the mean bytes held per frame, ms per frame (median over sequences) and the reads' share."""
    summary = exp.summary()
    held = exp.frames[exp.frames["repeat"] == 0].groupby("variant", sort=False)["memory_bytes"].mean()
    rows = []
    for name in exp.names:
        jf, jf_low, jf_high = bootstrap_ci(exp.jf_per_sequence(name), seed=seed)
        diff = exp.jf_difference(name, reference, seed=seed) if name != reference else (0.0, 0.0, 0.0)
        rows.append({"variant": name, "J&F": jf, "low": jf_low, "high": jf_high, f"− {reference}": diff[0],
                     "diff low": diff[1], "diff high": diff[2], "bytes per frame": float(held[name]),
                     "ms per frame": summary.loc[name, "ms per frame"],
                     "read share (%)": summary.loc[name, "read share (%)"]})
    return pd.DataFrame(rows).set_index("variant")


def length_table(long: LongVideoResult, multipliers: Sequence[int]) -> pd.DataFrame:
    """Per (variant, ×n): J&F of the whole ×n video (mean over sequences, with their min and max), the last
    pass's ms per frame (median, with the IQR over sequences and repeats) and the bytes held at its end (max)."""
    passes, rows = long.passes, []
    for n in multipliers:
        for variant, group in passes[passes["pass"] <= n].groupby("variant", sort=False):
            jf = group[group["repeat"] == 0].groupby("sequence")["J&F"].mean()
            ms = group[group["pass"] == n]["ms per frame"]
            rows.append({"variant": variant, "×n": n, "J&F": jf.mean(), "J&F min": jf.min(), "J&F max": jf.max(),
                         "ms per frame": ms.median(), "ms IQR": ms.quantile(0.75) - ms.quantile(0.25),
                         "bytes": int(group[group["pass"] == n]["memory bytes"].max())})
    return pd.DataFrame(rows).set_index(["variant", "×n"])


def pass_changes(long: LongVideoResult, last: int) -> pd.DataFrame:
    """ZOO-2's end-to-end measurements per variant: relative change from pass 1 to pass ``last`` of the per-frame
    time (frames paired by their position in the pass, pass 1 segmented in alternation with pass ``last``) and of
    the bytes held at the pass's end (over sequences and
    repeats), each the median of the paired ratios − 1 with its order-statistic interval
    (:meth:`LongVideoResult.pass_change`)."""
    rows = {}
    for variant in long.passes["variant"].unique():
        time = long.pass_change(variant, last, per_frame=True)
        held = long.pass_change(variant, last, "memory bytes")
        rows[variant] = {"time change": time.estimate, "time low": time.low, "time high": time.high,
                         "bytes change": held.estimate, "bytes low": held.low, "bytes high": held.high,
                         "confidence": time.confidence}
    return pd.DataFrame.from_dict(rows, orient="index")


def plot_zoo(panels: Mapping[str, pd.DataFrame]) -> Figure:
    """ZOO-1: per panel (a video length), J&F (bars: the table's ``low``–``high``) against the bytes held (log
    axis), the marker's area proportional to the ms per frame; a hollow marker is a strategy run with its trained
    model. Each table is indexed by variant with columns ``J&F``, ``low``, ``high``, ``bytes``, ``ms per frame``."""
    fig = Figure(figsize=(4.2 * len(panels), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    ms_max = max(float(t["ms per frame"].max()) for t in panels.values())
    for ax, (title, table) in zip(axes, panels.items()):
        for variant, row in table.iterrows():
            c = color(STRATEGIES[strategy_of(variant)].colour)
            trained = variant.endswith(TRAINED_SUFFIX)
            ax.errorbar(row["bytes"], row["J&F"], yerr=[[row["J&F"] - row["low"]], [row["high"] - row["J&F"]]],
                        color=c, capsize=2, lw=1, zorder=1)
            ax.scatter(row["bytes"], row["J&F"], s=400 * row["ms per frame"] / ms_max, zorder=2,
                       facecolors="none" if trained else c, edgecolors=c, linewidths=1.5, label=variant)
        ax.set(xscale="log", xlabel="memory held (bytes, log)", title=title)
    axes[0].set_ylabel("J&F (points)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=8, markerscale=0.6,
               title="marker area ∝ ms per frame\nhollow: trained model", title_fontsize=8)
    return fig


# ------------------------------------------------------------------------------------------------ paper shapes
def filled_bank(name: str, memory_frames: int, *, k: int = 5, objects: int = costs.PAPER_OBJECTS,
                grid: tuple[int, int] = costs.PAPER_GRID, key_dim: int = costs.PAPER_KEY_DIM,
                value_dim: int = costs.PAPER_VALUE_DIM, top_k: int = costs.PAPER_TOP_K, seed: int = 0,
                device: torch.device | str = "cpu") -> tuple[MemoryBank, int, Callable]:
    """Strategy ``name``'s bank at the paper's shapes, random features and (for RDE) a random SAM, at the video
    position ``t = k·(memory_frames − 1)`` where every-k holds ``memory_frames`` frames; returns the bank, ``t`` and
    a function giving frame ``i``'s random inputs.

    Every write up to ``t`` runs (the reads between them do not: a read changes the state only through the usage
    counts of LFU and the XMem-style memory, not its size), except that a strategy whose size stops changing
    (SWEM, global, RDE after its first update, LFU at its capacity, first & latest) is written only until it does:
    the cost of its read and writes does not depend on how many frames it has folded in.
    """
    strategy = STRATEGIES[name]
    torch.manual_seed(seed)
    holder = SAMHolder(MemCompress(key_dim, value_dim).to(device).eval())
    bank = make_memory(strategy.spec, {"similarity": "l2", "top_k": top_k, "model": holder}, **strategy.params)

    def frame(i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # distinct frames: no tied affinities
        g = torch.Generator().manual_seed(seed * 100_003 + i)
        return costs.random_frame(objects, grid=grid, key_dim=key_dim, value_dim=value_dim, generator=g,
                                  device=device)

    t = k * (memory_frames - 1)
    steady = name not in GROWING and name != "XMem-style"
    previous = -1
    if name in GROWING:  # every-k's permanent frames in one concatenation (its write at t clears the temporary slot)
        written = range(0, t + 1, k)
        inputs = [frame(i)[:2] for i in written]
        bank.append_frames(list(written), [key for key, _ in inputs], [values for _, values in inputs])
        return bank, t, frame
    with torch.inference_mode():
        for i in range(t + 1):
            if bank.should_write(i):
                if steady and bank.nbytes and bank.nbytes == previous:
                    break
                previous = bank.nbytes
                bank.write(i, *frame(i))
    return bank, t, frame


def paper_shape_calls(name: str, memory_frames: int, *, seed: int = 0, device: torch.device | str = "cpu",
                      **shapes: object) -> tuple[dict[str, Callable[[], None]], int]:
    """Strategy ``name`` at the paper's shapes where every-5 holds ``memory_frames`` frames (:func:`filled_bank`):
    ``{"read": one read of a random query, "writes": the writes of one period}``, each leaving the bank's state as
    it found it, and the bytes the bank holds."""
    bank, t, frame = filled_bank(name, memory_frames, seed=seed, device=device, **shapes)
    query = frame(-1)[0]
    return {"read": functools.partial(_read, bank, query),
            "writes": functools.partial(_writes, bank, t, STRATEGIES[name].period, frame)}, bank.nbytes


def paper_shape_costs(memory_frames: Sequence[int] = (10, 200), names: Sequence[str] = tuple(STRATEGIES), *,
                      repeats: int = 5, seed: int = 0, device: torch.device | str = "cpu",
                      **shapes: object) -> tuple[Timing, pd.DataFrame]:
    """Per strategy and ``T`` in ``memory_frames``: :func:`paper_shape_calls`, timed in shuffled interleaved
    rounds. The table gives the read, the writes per frame and their sum per frame (medians, ms) and the bytes
    held. ``shapes`` (``grid``, ``key_dim``, ``value_dim``, ``objects``) replace the paper's, as in :func:`filled_bank`."""
    calls, held = {}, {}
    for name in names:
        for frames in memory_frames:
            parts, held[name, frames] = paper_shape_calls(name, frames, seed=seed, device=device, **shapes)
            calls.update({(name, frames, part): call for part, call in parts.items()})
    timing = time_interleaved(calls, repeats=repeats, warmup=1, device=device, seed=seed)
    rows = []
    for name in names:
        for frames in memory_frames:
            read, writes = timing.median((name, frames, "read")), timing.median((name, frames, "writes"))
            rows.append({"strategy": name, "T": frames, "read ms": 1000 * read,
                         "writes ms per frame": 1000 * writes / STRATEGIES[name].period,
                         "ms per frame": 1000 * (read + writes / STRATEGIES[name].period),
                         "MiB held": held[name, frames] / 2**20})
    return timing, pd.DataFrame(rows).set_index(["strategy", "T"])


def paper_shape_change(timing: Timing, name: str, low: Hashable, high: Hashable) -> Interval:
    """ZOO-2 at the paper's shapes: the memory work per frame (read + the period's writes / period) of strategy
    ``name`` at ``T = high`` over ``T = low``, minus 1, per timed round (both ran in it), with the median's
    order-statistic interval. ``low`` and ``high`` are the keys the calls were timed under (``T``, or a copy's
    label in an A/A comparison)."""
    period = STRATEGIES[name].period

    def per_frame(frames: Hashable) -> list[float]:
        reads, writes = (timing.times[(name, frames, part)].wall for part in ("read", "writes"))
        return [r + w / period for r, w in zip(reads, writes)]

    return shifted(paired_ratio(per_frame(high), per_frame(low)), -1.0)


def _read(bank: MemoryBank, query: torch.Tensor) -> None:
    state = dict(vars(bank))
    with torch.inference_mode():
        bank.read(query)
    vars(bank).update(state)


def _writes(bank: MemoryBank, t: int, period: int, frame: Callable) -> None:
    state = dict(vars(bank))
    with torch.inference_mode():
        for i in range(t + 1, t + 1 + period):
            if bank.should_write(i):
                bank.write(i, *frame(i))
    vars(bank).update(state)


# ------------------------------------------------------------------------------------------------ pair widget
def memory_contents(bank: MemoryBank) -> dict[str, float]:
    """What a bank holds, in frames' worth per source: for key–value banks the elements per source frame (XMem's
    long-term prototypes as ``"long-term"``), for the others their fixed slots."""
    if isinstance(bank, KeyValueMemory) and bank.keys is not None and bank.elements_per_frame:
        frames, counts = torch.unique(bank.frame_of, return_counts=True)
        held = {f"frame {int(f)}": int(c) / bank.elements_per_frame for f, c in zip(frames, counts)}
        long_term = getattr(bank, "num_long_term", 0)
        if long_term:
            held = {"long-term": long_term / bank.elements_per_frame, **held}
        if bank.temp_keys is not None:
            held["previous frame"] = 1.0
        rde = getattr(bank, "rde", None)
        if rde is not None:
            held = {"RDE": 1.0, **held}
        return held
    if hasattr(bank, "count"):
        return {f"G (mean of {bank.count} frames)": 1.0}
    return {"bases": 1.0}


@dataclass
class ContentProbe:
    """A bank factory (for :class:`~vosnb.engine.Variant`) that records :func:`memory_contents` after every write
    of its banks (``contents[bank][frame]``)."""

    build: Callable[[], MemoryBank]
    contents: list[dict[int, dict[str, float]]] = field(default_factory=list)

    def __call__(self) -> MemoryBank:
        bank = self.build()
        log: dict[int, dict[str, float]] = {}
        self.contents.append(log)
        write = bank.write

        def logged_write(frame_index, key, values, probs, context=None):
            write(frame_index, key, values, probs, context)
            log[frame_index] = memory_contents(bank)

        bank.write = logged_write
        return bank


def plot_pair(video: Video, masks: Mapping[str, np.ndarray], contents: Mapping[str, dict[int, dict[str, float]]],
              frame: int) -> Figure:
    """Two (or more) strategies at ``frame``: each one's mask on the frame, and what its memory held after its last
    write up to ``frame`` (frames' worth per source), beside the ground truth."""
    names = list(masks)
    fig = Figure(figsize=(3.0 * (len(names) + 1), 4.6), layout="constrained")
    axes = fig.subplots(2, len(names) + 1, height_ratios=[3, 2], squeeze=False)
    axes[0, 0].imshow(overlay(video.frame(frame), video.mask(frame)))
    axes[0, 0].set_title(f"frame {frame}: ground truth", fontsize=9)
    axes[1, 0].set_axis_off()
    for col, name in enumerate(names, start=1):
        axes[0, col].imshow(overlay(video.frame(frame), masks[name][frame]))
        axes[0, col].set_title(name, fontsize=9)
        written = [f for f in contents[name] if f <= frame]
        held = contents[name][max(written)] if written else {}
        ax = axes[1, col]
        ax.barh(list(held)[::-1], list(held.values())[::-1], color=color(STRATEGIES[strategy_of(name)].colour))
        ax.set_xlabel("frames' worth held", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    return fig


def pair_widget(videos: Mapping[str, Video], masks: Mapping[tuple[str, str], np.ndarray],
                contents: Mapping[tuple[str, str], dict[int, dict[str, float]]], names: Sequence[str],
                first: str, second: str) -> FigureExplorer:
    """Pick two strategies, a sequence and a frame; see :func:`plot_pair`. ``masks`` and ``contents`` are keyed by
    (strategy, sequence)."""
    layout = ipywidgets.Layout(width="32%")
    a = ipywidgets.Dropdown(options=list(names), value=first, description="left", layout=layout)
    b = ipywidgets.Dropdown(options=list(names), value=second, description="right", layout=layout)
    seq = ipywidgets.Dropdown(options=list(videos), description="sequence", layout=layout)
    length = len(videos[seq.value])
    t = ipywidgets.IntSlider(value=length - 1, min=1, max=length - 1, description="frame",
                             layout=ipywidgets.Layout(width="60%"))

    def draw() -> Figure:
        t.max = len(videos[seq.value]) - 1
        pick = [a.value, b.value] if a.value != b.value else [a.value]
        return plot_pair(videos[seq.value], {n: masks[n, seq.value] for n in pick},
                         {n: contents[n, seq.value] for n in pick}, min(t.value, t.max))

    explorer = FigureExplorer([a, b, seq], draw, "Compares two memory strategies frame by frame: where their masks "
                                                 "part, and what each memory held at that moment.")
    t.observe(explorer.redraw, names="value")
    explorer.children = (explorer.children[0], t, explorer.out)
    return explorer


def interval_of(table: pd.DataFrame, variant: str, column: str) -> Interval:
    """A row of :func:`pass_changes` as an :class:`~vosnb.timing.Interval` (``column``: ``"time"`` or ``"bytes"``)."""
    row = table.loc[variant]
    return Interval(row[f"{column} change"], row[f"{column} low"], row[f"{column} high"], row["confidence"])
