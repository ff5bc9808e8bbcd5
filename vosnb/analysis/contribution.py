"""How much each memory node contributes (STCN §4.2, Fig. 4), and the propagation sweeps that measure it.

A *memory node* is one stride-16 position of one memory frame (an element of ``k^M``). Its contribution to a query
is the softmax weight ``W_ij`` it receives (Eq. 1); over its lifetime we keep the largest weight it gave any query
(:class:`vosnb.memory.ContributionTracker`). STCN-4 compares the distribution of these maxima under dot-product
and L2 affinity: the share of nodes whose best exceeds a threshold (Fig. 4), the share that never exceed 1% or
stay below 10%, and the Gini coefficient (higher = more unequal).

:func:`run_sweep` propagates a list of (model, memory, top-k) configurations over the same videos once, so that
several claims share runs. Videos are the outer loop and configurations the inner one, so the configurations are
timed side by side under the same machine load.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from tqdm.auto import tqdm

from vosnb.data import Video
from vosnb.inference import EvalResult, ground_truth, propagate
from vosnb.metrics import evaluate_sequence, gini, paired_bootstrap_ci, per_sequence
from vosnb.plotting import color
from vosnb.timing import Interval, paired_difference, paired_ratio

THRESHOLDS = np.logspace(-4, 0, 161)
"""Contribution thresholds for Fig. 4's curves: 10⁻⁴ … 1, 40 per decade."""


@dataclass(frozen=True)
class RunConfig:
    """One propagation setting: a model (by its key in the ``models`` mapping), a memory spec and top-k."""

    name: str
    model: str
    memory: str = "every5"
    top_k: int | None = 20


@dataclass
class SweepResult:
    """Per-object metrics and per-sequence timings of every configuration, and each tracked memory node's largest
    weight: ``max_weights[config][sequence]`` (one array per sequence, all its banks concatenated)."""

    configs: list[RunConfig]
    metrics: pd.DataFrame
    timings: pd.DataFrame
    max_weights: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def _check(self, name: str) -> None:
        if name not in {c.name for c in self.configs}:
            raise KeyError(f"no configuration {name!r} in this sweep; it has {[c.name for c in self.configs]}")

    def evaluation(self, name: str) -> EvalResult:
        """The configuration's results as an :class:`~vosnb.inference.EvalResult` (``.summary``, ``.fps``)."""
        self._check(name)
        metrics = self.metrics[self.metrics["config"] == name].drop(columns="config").reset_index(drop=True)
        timings = self.timings[self.timings["config"] == name].drop(columns="config").reset_index(drop=True)
        return EvalResult(metrics=metrics, timings=timings)

    def jf_per_sequence(self, name: str) -> pd.Series:
        """J&F of each sequence in percent (mean over its objects)."""
        return 100 * per_sequence(self.evaluation(name).metrics, "J&F")

    def ms_per_frame(self, name: str) -> pd.Series:
        """Milliseconds per propagated frame of each sequence."""
        t = self.evaluation(name).timings.set_index("sequence")
        return 1000 * t["seconds"] / t["frames"]

    def jf_difference(self, a: str, b: str, seed: int = 0) -> tuple[float, float, float]:
        """J&F(a) − J&F(b) in percentage points with its paired bootstrap interval over sequences."""
        return paired_bootstrap_ci(self.jf_per_sequence(a), self.jf_per_sequence(b), seed=seed)

    def ms_difference(self, a: str, b: str) -> Interval:
        """ms/frame(a) − ms/frame(b): the median over sequences of the paired differences (both ran back to back on
        each sequence) with its order-statistic interval (:func:`vosnb.timing.paired_difference`)."""
        ms_b = self.ms_per_frame(b)
        return paired_difference(self.ms_per_frame(a).reindex(ms_b.index).to_numpy(), ms_b.to_numpy())

    def fps_ratio(self, a: str, b: str) -> Interval:
        """FPS(a) / FPS(b): the median over sequences of seconds(b) / seconds(a) (the same frames) with its
        order-statistic interval (:func:`vosnb.timing.paired_ratio`)."""
        ta, tb = (self.evaluation(n).timings.set_index("sequence")["seconds"] for n in (a, b))
        return paired_ratio(tb.to_numpy(), ta.reindex(tb.index).to_numpy())

    def node_max_weights(self, name: str) -> np.ndarray:
        """Largest weight of every tracked memory node of the configuration, all sequences pooled."""
        self._check(name)
        per_seq = self.max_weights.get(name, {})
        if not per_seq:
            raise ValueError(f"configuration {name!r} tracked no memory nodes (its banks have no tracker)")
        return np.concatenate(list(per_seq.values()))

    def summary(self) -> pd.DataFrame:
        """One row per configuration: J&F, J, F (percent), FPS, sequences (top-k "all" = full softmax)."""
        rows = []
        for c in self.configs:
            ev = self.evaluation(c.name)
            s = ev.summary
            rows.append({"config": c.name, "model": c.model, "memory": c.memory,
                         "top_k": "all" if c.top_k is None else str(c.top_k),
                         "J&F": 100 * s["J&F-Mean"], "J": 100 * s["J-Mean"], "F": 100 * s["F-Mean"],
                         "FPS": ev.fps, "sequences": len(ev.timings)})
        return pd.DataFrame(rows)


def run_sweep(models: Mapping[str, torch.nn.Module], videos: Sequence[Video], configs: Sequence[RunConfig], *,
              device: str | torch.device = "auto", track: bool = True, warmup: bool = True,
              progress: bool = True) -> SweepResult:
    """Propagate every configuration over every video once and score it (DAVIS J, F per object).

    ``track=True`` follows each memory node's largest weight in every configuration (the same small overhead in
    all, so timings stay comparable). ``warmup`` first runs the first configuration on the first video untimed.
    """
    if not configs or not videos:
        raise ValueError("run_sweep needs at least one configuration and one video")
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configuration names must be unique; got {names}")
    missing = sorted({c.model for c in configs} - set(models))
    if missing:
        raise KeyError(f"configurations use models {missing} that are not in models={sorted(models)}")
    if warmup:
        first = configs[0]
        propagate(models[first.model], videos[0], first.memory, device=device, top_k=first.top_k)
    metrics, timings = [], []
    max_weights: dict[str, dict[str, np.ndarray]] = {c.name: {} for c in configs}
    for video in tqdm(videos, desc="sequences", disable=not progress):
        gt = ground_truth(video)
        for c in configs:
            result = propagate(models[c.model], video, c.memory, device=device, top_k=c.top_k, track=track)
            metrics.append(evaluate_sequence(gt, result.masks, video.name).assign(config=c.name))
            timings.append({"config": c.name, "sequence": video.name, "frames": len(video) - 1,
                            "seconds": float(result.frame_times[1:].sum()),
                            "max_memory_bytes": int(result.memory_bytes.max())})
            trackers = [b.tracker for b in result.banks.values() if getattr(b, "tracker", None) is not None]
            if trackers:
                max_weights[c.name][video.name] = torch.cat([t.max_weight for t in trackers]).cpu().numpy()
    return SweepResult(configs=list(configs), metrics=pd.concat(metrics, ignore_index=True),
                       timings=pd.DataFrame(timings), max_weights={k: v for k, v in max_weights.items() if v})


def sequence_bootstrap(statistic: Callable[[np.ndarray, np.ndarray], float], groups_a: Sequence[np.ndarray],
                       groups_b: Sequence[np.ndarray], n_resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """Percentile bootstrap of ``statistic(pooled_a, pooled_b)`` over paired groups (one group per sequence):
    sequences are resampled with replacement, the chosen groups pooled on each side. Returns (estimate, low, high).

    Use it for statistics of pooled values that are not means, e.g. a Gini difference over memory nodes.
    """
    if len(groups_a) != len(groups_b) or not groups_a:
        raise ValueError(f"groups must pair up and be non-empty: {len(groups_a)} vs {len(groups_b)}")
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ValueError(f"confidence={confidence} must lie in (0, 1) and n_resamples={n_resamples} be ≥ 1")
    estimate = statistic(np.concatenate(groups_a), np.concatenate(groups_b))
    rng = np.random.default_rng(seed)
    draws = []
    for idx in rng.integers(0, len(groups_a), size=(n_resamples, len(groups_a))):
        draws.append(statistic(np.concatenate([groups_a[i] for i in idx]), np.concatenate([groups_b[i] for i in idx])))
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(estimate), float(low), float(high)


def contribution_curve(max_weights: np.ndarray, thresholds: np.ndarray = THRESHOLDS) -> np.ndarray:
    """Fig. 4: for each threshold, the share of memory nodes whose largest weight ever exceeds it."""
    w = np.asarray(max_weights, dtype=np.float64).ravel()
    if w.size == 0:
        raise ValueError("max_weights is empty: no memory node was tracked")
    return (w[:, None] > np.asarray(thresholds, dtype=np.float64)[None, :]).mean(axis=0)


def contribution_stats(max_weights: np.ndarray) -> dict[str, float]:
    """STCN §4.2's numbers for one model: Gini coefficient ×100, percentage of nodes that never give more than 1%
    weight, percentage whose best is below 10%, and the number of nodes."""
    w = np.asarray(max_weights, dtype=np.float64).ravel()
    if w.size == 0:
        raise ValueError("max_weights is empty: no memory node was tracked")
    return {"gini": 100 * gini(w), "never_above_1pct": 100 * float((w <= 0.01).mean()),
            "below_10pct_at_best": 100 * float((w < 0.10).mean()), "nodes": int(w.size)}


def contribution_difference(sweep: SweepResult, a: str, b: str, stat: str, n_resamples: int = 1000,
                            seed: int = 0) -> tuple[float, float, float]:
    """``contribution_stats(a)[stat] − contribution_stats(b)[stat]`` with a paired bootstrap interval over the
    sequences both configurations ran on (each sequence's memory nodes pooled)."""
    wa, wb = sweep.max_weights[a], sweep.max_weights[b]
    common = [s for s in wa if s in wb]
    return sequence_bootstrap(lambda x, y: contribution_stats(x)[stat] - contribution_stats(y)[stat],
                              [wa[s] for s in common], [wb[s] for s in common], n_resamples=n_resamples, seed=seed)


def plot_contribution_curves(ax: Axes, max_weights: Mapping[str, np.ndarray], thresholds: np.ndarray = THRESHOLDS,
                             colors: Mapping[str, str] | None = None) -> None:
    """Fig. 4: share of memory nodes whose best contribution exceeds each threshold, one curve per model; the 1% and
    10% thresholds of §4.2 are marked. ``colors`` maps labels to colours (default: the affinity colour when the
    label starts with 'dot' or 'l2')."""
    for label, w in max_weights.items():
        c = (colors or {}).get(label) or next((color(k) for k in ("dot", "l2") if label.startswith(k)), None)
        stats = contribution_stats(w)
        ax.plot(thresholds, 100 * contribution_curve(w, thresholds), color=c,
                label=f"{label} (Gini {stats['gini']:.1f})")
    for x in (0.01, 0.1):
        ax.axvline(x, color="grey", lw=0.8, ls="--")
    ax.set(xscale="log", xlabel="threshold on the largest weight a node ever gave",
           ylabel="memory nodes above threshold (%)", ylim=(0, 101))
    ax.legend()
