"""The measurements and figures of notebook 04 (RDE-VOS, Li et al., CVPR 2022).

- :func:`strategy_variants`: the ten read compositions of Table 5 as engine variants; :func:`difference_table`
  turns an :class:`~vosnb.engine.Experiment` into Table 5's rows with paired intervals.
- :class:`RDEProbe`: an RDE bank factory that logs, per read, the frames' worth matched against, and per update the
  RDE, latest and GT keys (RDE-5, and the pictures of what the RDE holds).
- :func:`period_variants` and :func:`per_frame_times`: the memory work per frame of RDE against STCN every-5 at
  the paper's shapes (RDE-6).
- :func:`plot_differences`, :func:`plot_long_video`, :func:`plot_keys` and :func:`keys_widget`.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import Tensor

from vosnb.analysis import costs
from vosnb.analysis.swem_views import _upsample, overlay
from vosnb.data import Video
from vosnb.engine import DEFAULT_MODEL, Experiment, LongVideoResult, Variant
from vosnb.memory import KeyValueMemory, make_memory
from vosnb.memory.rde import TABLE5_COMPOSITIONS, RDEMemory
from vosnb.metrics import paired_bootstrap_ratio
from vosnb.models.rde import MemCompress
from vosnb.plotting import color
from vosnb.timing import Timing
from vosnb.widgets import FigureExplorer

PAPER_TABLE5 = {"RDE": 81.8, "F": 71.6, "F&RDE": 85.3, "L": 80.4, "L&RDE": 82.2, "F&L": 84.6, "F&L&RDE": 85.4,
                "2F&L": 85.1, "F&2L": 84.0, "2F&L&RDE": 86.1}
"""Table 5's J&F on DAVIS 2017 val (authors' model), per composition."""
PAPER_THETA = {2: 85.1, 3: 86.1, 4: 85.1, 5: 84.2}
PAPER_LOSSES = {"full": 84.2, "no_mc": 83.7, "no_ug": 82.9, "no_both": 82.5}
"""Table 6 (without BL30K pre-training): J&F per loss variant."""
METHOD = "2F&L&RDE"


def rde_variant(name: str, composition: str = METHOD, theta: int = 3, model: str = DEFAULT_MODEL,
                top_k: int | None = 20) -> Variant:
    """An engine variant reading the RDE bank with ``composition`` and sampling interval ``theta``."""
    return Variant(name, "rde", {"composition": composition, "theta": theta}, model=model, top_k=top_k)


def strategy_variants(theta: int = 3, model: str = DEFAULT_MODEL, top_k: int | None = 20) -> list[Variant]:
    """Table 5's ten compositions, named by their composition."""
    return [rde_variant(c, c, theta, model, top_k) for c in TABLE5_COMPOSITIONS]


def difference_table(exp: Experiment, reference: str, paper: Mapping[str, float], names: Sequence[str],
                     seed: int = 0) -> pd.DataFrame:
    """Per variant of ``names``: J&F (points), the paper's J&F (from ``paper`` by name, when it has it), and J&F −
    ``reference`` with its 95% paired bootstrap interval over sequences, beside the paper's difference."""
    rows = []
    for name in names:
        est, low, high = exp.jf_difference(name, reference, seed=seed) if name != reference else (0.0, 0.0, 0.0)
        rows.append({"variant": name, "J&F": exp.jf(name), "paper J&F": paper.get(name, np.nan),
                     f"− {reference}": est, "low": low, "high": high,
                     f"paper − {reference}": paper.get(name, np.nan) - paper.get(reference, np.nan)})
    return pd.DataFrame(rows).set_index("variant")


def relative_change(changed: pd.Series, reference: pd.Series, seed: int = 0) -> tuple[float, float, float]:
    """mean(changed) / mean(reference) − 1 over the same sequences, with its 95% paired bootstrap interval (the
    measured value of a "stays flat" claim about a score)."""
    ratio, low, high = paired_bootstrap_ratio(changed, reference, seed=seed)
    return ratio - 1, low - 1, high - 1


def constant_size(long: LongVideoResult, probe: RDEProbe, variant: str, theta: int) -> tuple[int, int]:
    """RDE-5 from a long-video run whose ``variant`` read through ``probe``: the frames' worth every read after the
    first update matched against (one number if they all agree; else a ValueError names the counts), and the
    largest spread (max − min) of the bytes held after the first update within one video (videos differ in their
    number of objects, so their banks differ in size)."""
    counts = {n for slots in probe.slots for n in slots[theta:]}  # read t + 1 follows the write at frame t
    if len(counts) != 1:
        raise ValueError(f"the reads after the first update matched different frames' worth: {sorted(counts)}")
    frames = long.experiment.frames
    held = frames[(frames["variant"] == variant) & (frames["frame"] >= theta)]
    spread = held.groupby(["sequence", "repeat"])["memory_bytes"].agg(lambda b: b.max() - b.min())
    return counts.pop(), int(spread.max())


def plot_differences(table: pd.DataFrame, reference: str, title: str) -> Figure:
    """Ours (dot, 95% interval) against the paper's difference (cross), per variant, relative to ``reference``."""
    fig = Figure(figsize=(7.5, 0.42 * len(table) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(table))[::-1]
    ours = table[f"− {reference}"].to_numpy()
    ax.errorbar(ours, y, xerr=[ours - table["low"], table["high"] - ours], fmt="o", color=color("rde"),
                capsize=3, label="ours (synthetic val, 95% paired bootstrap)")
    ax.plot(table[f"paper − {reference}"], y, "x", color="black", label="paper (DAVIS 2017 val)")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(yticks=y, yticklabels=table.index, xlabel=f"J&F − {reference} (points)", title=title)
    ax.legend(fontsize=8, loc="lower left")
    return fig


@dataclass
class RDEProbe:
    """A factory of :class:`~vosnb.memory.rde.RDEMemory` banks (``params`` as ``make_memory("rde")`` takes them)
    that logs, for each bank, the frames' worth each read matches against (``slots``) and after each write the
    RDE, latest and GT keys ``[Ck, h, w]`` (``keys``: frame index → dict)."""

    options: dict
    params: dict = field(default_factory=dict)
    slots: list[list[int]] = field(default_factory=list)
    keys: list[dict[int, dict[str, Tensor]]] = field(default_factory=list)

    def __call__(self) -> RDEMemory:
        bank = make_memory("rde", self.options, **self.params)
        slots, keys = [], {}
        self.slots.append(slots)
        self.keys.append(keys)
        read, write = bank.read, bank.write

        def logged_read(query_key, context=None):
            slots.append(len(bank.frames()))
            return read(query_key, context)

        def logged_write(frame_index, key, values, probs, context=None):
            write(frame_index, key, values, probs, context)
            keys[frame_index] = {name: frame[0].clone() for name, frame in
                                 (("RDE", bank.rde), ("latest", bank.latest), ("GT", bank.gt)) if frame is not None}

        bank.read, bank.write = logged_read, logged_write
        return bank


def period_variants(every5_frames: int = 7, *, theta: int = 3, k: int = 5, objects: int = costs.PAPER_OBJECTS,
                    grid: tuple[int, int] = costs.PAPER_GRID, key_dim: int = costs.PAPER_KEY_DIM,
                    value_dim: int = costs.PAPER_VALUE_DIM, top_k: int = costs.PAPER_TOP_K, seed: int = 0,
                    device: torch.device | str = "cpu") -> dict[str, Callable[[], object]]:
    """RDE-6's memory operations at the paper's shapes, random weights and features, one operation per call (each
    call restores the state it started from), for :func:`per_frame_times`:

    - ``stcn_read``: a top-k read over ``every5_frames`` frames (the mean an every-5 memory holds on DAVIS 2017
      val); ``stcn_write``: appending one frame to it;
    - ``rde_read``: a top-k read over [RDE, latest, GT, GT]; ``sam``: one update (the key SAM once, the value SAM
      on every object).

    Encoders and decoder are left out (the value encoder runs at every write: every θ = 3 frames for RDE, every 5
    for STCN; the end-to-end timing includes it).
    """
    g = torch.Generator().manual_seed(seed)
    frame = functools.partial(costs.random_frame, objects, grid=grid, key_dim=key_dim, value_dim=value_dim,
                              generator=g, device=device)
    query, incoming = frame()[0], frame()
    torch.manual_seed(seed)
    compress = MemCompress(key_dim, value_dim).to(device).eval()
    stcn = KeyValueMemory(top_k=top_k)
    for t in range(every5_frames):
        stcn.append(k * t, *frame()[:2])
    saved = (stcn.keys, stcn.value_rows, stcn.frame_of)
    rde = RDEMemory(SAMHolder(compress), top_k=top_k, theta=theta)
    rde.write(0, *frame()[:2], None)
    rde.write(theta, *frame()[:2], None)
    state = (rde.rde, rde.latest, list(rde.updated_at))

    def stcn_write() -> None:
        stcn.append(k * every5_frames, *incoming[:2])
        stcn.keys, stcn.value_rows, stcn.frame_of = saved

    def sam() -> None:
        with torch.inference_mode():
            rde.write(2 * theta, *incoming[:2], None)
        rde.rde, rde.latest, rde.updated_at = state[0], state[1], list(state[2])

    return {"stcn_read": lambda: stcn.read(query), "stcn_write": stcn_write, "rde_read": lambda: rde.read(query),
            "sam": sam}


def per_frame_times(timing: Timing, theta: int = 3, k: int = 5) -> dict[str, list[float]]:
    """Seconds of memory work per frame in each timed round: STCN every-5 = read + write / k, RDE = read + SAM / θ
    (a write every k, an update every θ frames); the rounds pair them for a ratio with an interval."""
    wall = {name: timing.times[name].wall for name in ("stcn_read", "stcn_write", "rde_read", "sam")}
    return {"stcn_every5": [r + w / k for r, w in zip(wall["stcn_read"], wall["stcn_write"])],
            "rde": [r + s / theta for r, s in zip(wall["rde_read"], wall["sam"])]}


class SAMHolder(torch.nn.Module):
    """A stand-in model that carries only SAM (``mem_compress``), for timing the bank at the paper's shapes."""

    def __init__(self, compress: MemCompress) -> None:
        super().__init__()
        self.mem_compress = compress


def plot_long_video(result: LongVideoResult, multipliers: Sequence[int], names: dict[str, str]) -> Figure:
    """Fig. 3: J&F of the whole ×n video (mean over sequences, bars: min–max over sequences) and the last pass's
    per-frame time (median, bars: IQR over sequences and repeats) against n, per variant."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_q, ax_t = fig.subplots(1, 2)
    passes = result.passes
    for variant, label in names.items():
        rows = passes[passes["variant"] == variant]
        c = color("rde" if "rde" in variant.lower() else "every5")
        jf = [rows[(rows["pass"] <= n) & (rows["repeat"] == 0)].groupby("sequence")["J&F"].mean() for n in multipliers]
        means = np.array([s.mean() for s in jf])
        ax_q.errorbar(multipliers, means, yerr=[means - [s.min() for s in jf], [s.max() for s in jf] - means],
                      fmt="o-", color=c, capsize=3, label=label)
        ms = [rows[rows["pass"] == n]["ms per frame"] for n in multipliers]
        med = np.array([m.median() for m in ms])
        q1, q3 = np.array([m.quantile(0.25) for m in ms]), np.array([m.quantile(0.75) for m in ms])
        ax_t.errorbar(multipliers, med, yerr=[med - q1, q3 - med], fmt="o-", color=c, capsize=3, label=label)
    ax_q.set(xlabel="length (× the sequence, forward then backward)", ylabel="J&F of the whole video",
             xticks=list(multipliers), ylim=(0, 100))
    ax_t.set(xlabel="length (× the sequence, forward then backward)", ylabel="ms per frame (last pass)",
             xticks=list(multipliers), ylim=(0, None))
    ax_q.legend()
    return fig


def _pca_rgb(maps: Sequence[Tensor]) -> list[np.ndarray]:
    """Project key maps ``[Ck, h, w]`` on the first three principal components of all of them together, scaled to
    [0, 1] jointly, so the same colour means the same direction in key space in every map."""
    flat = torch.cat([m.flatten(1).T for m in maps]).double()
    centred = flat - flat.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    proj = centred @ v[:3].T
    proj *= torch.sign(proj.sum(0))  # a fixed sign per component (SVD's is arbitrary)
    low, high = proj.min(0).values, proj.max(0).values
    proj = (proj - low) / (high - low).clamp_min(1e-12)
    out, start = [], 0
    for m in maps:
        n = m.shape[1] * m.shape[2]
        out.append(proj[start:start + n].T.reshape(3, *m.shape[1:]).permute(1, 2, 0).float())
        start += n
    return [x.numpy() for x in out]


def plot_keys(video: Video, masks: np.ndarray, keys: dict[int, dict[str, Tensor]], frame: int) -> Figure:
    """What the memory holds after the update at ``frame``: the frame with the prediction, the ground truth, and
    the GT, latest and RDE keys in one shared 3-component PCA colour space (upsampled to the frame)."""
    held = keys[frame]
    names = [n for n in ("GT", "latest", "RDE") if n in held]
    rgb = _pca_rgb([held[n] for n in names])
    fig = Figure(figsize=(2.6 * (2 + len(names)), 2.2), layout="constrained")
    axes = fig.subplots(1, 2 + len(names))
    axes[0].imshow(overlay(video.frame(frame), masks[frame]))
    axes[0].set_title(f"frame {frame}: prediction")
    axes[1].imshow(overlay(video.frame(frame), video.mask(frame)))
    axes[1].set_title("ground truth")
    for ax, name, image in zip(axes[2:], names, rgb):
        up = np.stack([_upsample(torch.from_numpy(image[..., c]), video.height, video.width) for c in range(3)], -1)
        ax.imshow(up.clip(0, 1))
        ax.set_title(f"{name} key (PCA)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    return fig


def keys_widget(video: Video, masks: np.ndarray, keys: dict[int, dict[str, Tensor]]) -> FigureExplorer:
    """Step through the updates of one RDE bank and see :func:`plot_keys` at each."""
    frames = sorted(keys)
    slider = ipywidgets.SelectionSlider(options=frames, value=frames[min(1, len(frames) - 1)],
                                        description="update at", layout=ipywidgets.Layout(width="90%"))
    return FigureExplorer([slider], lambda: plot_keys(video, masks, keys, slider.value),
                          "Steps through the RDE bank's updates: where its keys lie among the ground-truth and "
                          "latest frame's keys.")
