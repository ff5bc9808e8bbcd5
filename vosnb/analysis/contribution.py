"""How much each memory node contributes (STCN §4.2, Fig. 4).

A *memory node* is one stride-16 position of one memory frame (an element of ``k^M``). Its contribution to a query
is the softmax weight ``W_ij`` it receives (Eq. 1); over its lifetime we keep the largest weight it gave any query
(:class:`vosnb.memory.ContributionTracker`). STCN-4 compares the distribution of these maxima under dot-product
and L2 affinity: the share of nodes whose best exceeds a threshold (Fig. 4), the share that never exceed 1% or
stay below 10%, and the Gini coefficient (higher = more unequal).

The maxima come from an engine run (:func:`vosnb.engine.run`) of variants with ``track=True``, kept (``keep=True``):
:func:`max_weights` reads them from the final banks' trackers.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes

from vosnb.engine import Experiment
from vosnb.metrics import gini
from vosnb.plotting import color

THRESHOLDS = np.logspace(-4, 0, 161)
"""Contribution thresholds for Fig. 4's curves: 10⁻⁴ … 1, 40 per decade."""


def max_weights(exp: Experiment, name: str) -> dict[str, np.ndarray]:
    """Largest weight of every tracked memory node of variant ``name``, per sequence (all its banks concatenated),
    in the order the sequences ran."""
    out = {}
    for (variant, sequence), result in exp.runs.items():
        trackers = [b.tracker for b in result.banks.values() if getattr(b, "tracker", None) is not None]
        if variant == name and trackers:
            out[sequence] = torch.cat([t.max_weight for t in trackers]).cpu().numpy()
    if not out:
        raise ValueError(f"variant {name!r} tracked no memory nodes: run it with Variant(track=True) and keep=True")
    return out


def node_max_weights(exp: Experiment, name: str) -> np.ndarray:
    """Largest weight of every tracked memory node of variant ``name``, all sequences pooled."""
    return np.concatenate(list(max_weights(exp, name).values()))


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


def contribution_difference(exp: Experiment, a: str, b: str, stat: str, n_resamples: int = 1000,
                            seed: int = 0) -> tuple[float, float, float]:
    """``contribution_stats(a)[stat] − contribution_stats(b)[stat]`` with a paired bootstrap interval over the
    sequences both variants ran on (each sequence's memory nodes pooled)."""
    wa, wb = max_weights(exp, a), max_weights(exp, b)
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
