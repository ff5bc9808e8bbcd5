"""Which memory point wins where: the geometry of dot-product vs L2 affinity (STCN §4.1, Fig. 2–3, App. A).

A memory point *wins* a query when it is the query's most similar memory point (the hard version of the softmax
vote of Eq. 1–2). Under L2 similarity (−‖k − q‖²) every memory point wins at least its own location — the regions
form a Voronoi diagram — so 100% of the points can win (STCN-1). Under the dot product a point wins some query in
ℝᵈ only if it is a vertex of the convex hull of the memory: a point that is a convex combination of others,
``p_i = Σ λ_j p_j``, has ``q·p_i ≤ max_j q·p_j`` for every query q, so it never wins.

Counting (STCN-1): in 2-D the hull vertices are found exactly (:func:`hull_vertices`); in high dimension the share
of dot winners is bracketed: a lower bound from the points that win at least one of many sampled queries, and an
upper bound from linear-programming certificates that some points are convex combinations of the others
(:func:`dot_winner_bounds`). Similarities come from :func:`vosnb.memory.similarity`, the function the models use.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from scipy.optimize import linprog
from scipy.spatial import ConvexHull

from vosnb.memory import similarity, softmax_weights
from vosnb.widgets import FigureExplorer

KINDS = ("dot", "l2")
KIND_TITLES = {"dot": "dot product", "l2": "L2 similarity"}
# Region colours: a qualitative palette repeated for point sets larger than it (tab20 is colour-blind tolerable).
_REGION_CMAP = "tab20"
_QUERY_CHUNK = 8192


def _check_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite [n, d] array with n, d ≥ 1; got shape {np.shape(points)}")
    return arr


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; expected one of {KINDS}")


def random_points(num_points: int, dim: int, *, norm_spread: float = 0.0, seed: int = 0) -> np.ndarray:
    """``num_points`` Gaussian points in ``dim`` dimensions, each scaled by ``exp(norm_spread · ε)``, ε ~ N(0, 1).

    ``norm_spread = 0`` is the standard normal; larger values give keys of unequal magnitude, the situation §4.1
    describes ("memory keys with large magnitudes will predominately suppress any representation from others").
    """
    if num_points < 1 or dim < 1 or norm_spread < 0:
        raise ValueError(f"num_points={num_points} and dim={dim} must be ≥ 1, norm_spread={norm_spread} ≥ 0")
    rng = np.random.default_rng(seed)
    points = rng.standard_normal((num_points, dim))
    return points * np.exp(norm_spread * rng.standard_normal(num_points))[:, None]


def similarities(points: np.ndarray, queries: np.ndarray, kind: str) -> np.ndarray:
    """``S [n, Q]`` between memory points ``[n, d]`` and queries ``[Q, d]`` (float64, scaled by 1/√d as Eq. 1; the
    L2 form drops ``‖q‖²``, which changes neither the winner nor the softmax: App. A)."""
    _check_kind(kind)
    points, queries = _check_points(points), _check_points(queries, "queries")
    if points.shape[1] != queries.shape[1]:
        raise ValueError(f"points are {points.shape[1]}-D but queries are {queries.shape[1]}-D")
    mem = torch.from_numpy(points.T.copy()).unsqueeze(0)
    return similarity(mem, torch.from_numpy(queries.T.copy()).unsqueeze(0), kind)[0].numpy()


def winners(points: np.ndarray, queries: np.ndarray, kind: str) -> np.ndarray:
    """Index of the most similar memory point for each query, ``[Q]`` (ties, e.g. duplicate points, go to the lower
    index)."""
    queries = _check_points(queries, "queries")
    return np.concatenate([similarities(points, queries[i: i + _QUERY_CHUNK], kind).argmax(0)
                           for i in range(0, len(queries), _QUERY_CHUNK)])


def winning_mask(points: np.ndarray, queries: np.ndarray | None, kind: str, *,
                 include_points: bool = True) -> np.ndarray:
    """Boolean ``[n]``: which memory points win at least one query; with ``include_points`` the points' own
    locations are queries too (under L2 each distinct point then wins itself). ``queries=None``: only those."""
    points = _check_points(points)
    parts = [points] if include_points else []
    if queries is not None:
        parts.append(_check_points(queries, "queries"))
    if not parts:
        raise ValueError("no queries: pass queries, or include_points=True to query the points' own locations")
    mask = np.zeros(len(points), dtype=bool)
    mask[winners(points, np.concatenate(parts), kind)] = True
    return mask


def winning_fraction(points: np.ndarray, queries: np.ndarray | None, kind: str, *,
                     include_points: bool = True) -> float:
    """Share of memory points that win at least one query (see :func:`winning_mask`)."""
    return float(winning_mask(points, queries, kind, include_points=include_points).mean())


def hull_vertices(points: np.ndarray) -> np.ndarray:
    """Boolean ``[n]``: the vertices of the convex hull — exactly the points that win some query of ℝᵈ under the dot
    product. Exact (Qhull) for d = 2 or 3; use :func:`dot_winner_bounds` in higher dimension."""
    points = _check_points(points)
    if points.shape[1] not in (2, 3):
        raise ValueError(f"hull_vertices is exact for 2-D and 3-D points only; got {points.shape[1]}-D "
                         f"(use dot_winner_bounds)")
    mask = np.zeros(len(points), dtype=bool)
    mask[ConvexHull(points).vertices] = True
    return mask


def convex_weights(points: np.ndarray, index: int, tol: float = 1e-7) -> np.ndarray | None:
    """Weights ``λ ≥ 0, Σλ = 1`` with ``points[index] = Σ_j λ_j points[j]`` over the other points, checked to
    ``tol``; ``None`` when the linear program finds none (the point is a hull vertex)."""
    points = _check_points(points)
    others = np.delete(points, index, axis=0)
    a_eq = np.vstack([others.T, np.ones(len(others))])
    b_eq = np.append(points[index], 1.0)
    result = linprog(np.zeros(len(others)), A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if result.status != 0:
        return None
    weights = result.x
    if weights.min() < -tol or abs(weights.sum() - 1) > tol or np.abs(others.T @ weights - points[index]).max() > tol:
        return None
    return np.insert(weights, index, 0.0)


@dataclass(frozen=True)
class WinnerBounds:
    """Bounds on the share of memory points that win some query of ℝᵈ under the dot product."""

    lower: float          # share winning at least one sampled query (or its own location)
    upper: float          # 1 − (points proven to be convex combinations of others) / n
    certified: int        # how many points were proven never to win
    tried: int            # how many candidates were tested with a linear program


def dot_winner_bounds(points: np.ndarray, queries: np.ndarray, max_certificates: int = 5) -> WinnerBounds:
    """Bracket the share of dot-product winners in any dimension.

    Lower bound: points that win one of ``queries`` or their own location. Upper bound: of the points that won
    nothing, the ``max_certificates`` of smallest norm (the likeliest to lie inside the hull) are tested with
    :func:`convex_weights`; each one proven to be a convex combination of the others can never win.
    """
    points = _check_points(points)
    won = winning_mask(points, queries, "dot")
    losers = np.flatnonzero(~won)
    candidates = losers[np.argsort(np.linalg.norm(points[losers], axis=1), kind="stable")][:max_certificates]
    certified = sum(convex_weights(points, int(i)) is not None for i in candidates)
    n = len(points)
    return WinnerBounds(lower=float(won.mean()), upper=1.0 - certified / n, certified=int(certified),
                        tried=len(candidates))


def winner_shares(points: np.ndarray, queries: np.ndarray | None = None, max_certificates: int = 5) -> dict:
    """STCN-1 for one point set: the share of memory points that win some query under L2 (their own locations and
    ``queries``) and under the dot product — exact (hull vertices) in 2-D and 3-D, bracketed by
    :func:`dot_winner_bounds` above that (``queries`` then needed)."""
    points = _check_points(points)
    row = {"points": len(points), "dim": points.shape[1], "l2": winning_fraction(points, queries, "l2")}
    if points.shape[1] <= 3:
        exact = float(hull_vertices(points).mean())
        return {**row, "dot_lower": exact, "dot_upper": exact, "dot_method": "convex hull (exact)"}
    if queries is None:
        raise ValueError(f"{points.shape[1]}-D points: pass sampled queries for the lower bound on dot winners")
    bounds = dot_winner_bounds(points, queries, max_certificates)
    return {**row, "dot_lower": bounds.lower, "dot_upper": bounds.upper,
            "dot_method": f"{len(queries)} sampled queries; {bounds.certified}/{bounds.tried} LP certificates"}


def l2_decomposition_gap(mem_key: torch.Tensor, query_key: torch.Tensor) -> dict[str, float]:
    """STCN-2 (Eq. 5, App. A): how far the efficient L2 affinity ``2 k·q − ‖k‖²`` is from ``−‖k − q‖²``.

    Returns the largest deviation of ``S_fast − S_naive`` from the per-query constant ``‖q‖²/√Ck`` (zero if the
    decomposition holds) and the largest difference between the two softmaxes over memory (zero if ``‖q‖²``
    cancels). Keys are ``[B, Ck, M]`` and ``[B, Ck, Q]``; pass float64 to see the identity to rounding error.
    """
    fast = similarity(mem_key, query_key, "l2")
    naive = similarity(mem_key, query_key, "l2", naive=True)
    q_sq = query_key.pow(2).sum(1, keepdim=True) / mem_key.shape[1] ** 0.5
    return {"affinity_offset_error": float((fast - naive - q_sq).abs().max()),
            "softmax_max_abs_diff": float((softmax_weights(fast) - softmax_weights(naive)).abs().max())}


# --------------------------------------------------------------------------------------------- figures (Fig. 2, 3)
def figure2_points(seed: int = 0) -> np.ndarray:
    """A 2-D memory in the spirit of Fig. 2: a cluster near the origin, a cluster dominant in y (top left), an
    outlier far out (top right), a cluster bottom right and a loose cluster in between."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.4, 0.3], [-0.9, 1.9], [0.9, -1.2], [-1.2, -0.6], [1.1, 0.9]])
    spread = np.array([0.25, 0.2, 0.25, 0.3, 0.35])
    clusters = [c + s * rng.standard_normal((5, 2)) for c, s in zip(centres, spread)]
    return np.concatenate([*clusters, [[2.4, 2.6]]])


def figure3_points() -> np.ndarray:
    """Fig. 3's three points: two outer points and one on the diagonal between them. Under the dot product the
    middle one never wins a query of the first quadrant: for q ≥ 0, ``max(q·a, q·b) ≥ (q·a + q·b)/2 > q·c``."""
    return np.array([[4.0, 1.0], [1.0, 4.0], [2.0, 2.0]])


def query_grid(extent: Sequence[float], resolution: int = 200) -> tuple[np.ndarray, tuple[int, int]]:
    """Queries on a regular ``resolution × resolution`` grid over ``extent = (x0, x1, y0, y1)``: ``[R², 2]`` points
    (row-major, y increasing with the row) and the image shape."""
    x0, x1, y0, y1 = extent
    if not (x1 > x0 and y1 > y0) or resolution < 2:
        raise ValueError(f"extent={tuple(extent)} must have x1 > x0 and y1 > y0; resolution={resolution} ≥ 2")
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), (resolution, resolution)


def padded_extent(points: np.ndarray, margin: float = 0.5) -> tuple[float, float, float, float]:
    """A square view around the 2-D points and the origin (the dot product's geometry is anchored at 0)."""
    points = _check_points(points)
    lo = np.minimum(points.min(0), 0) - margin
    hi = np.maximum(points.max(0), 0) + margin
    half = (hi - lo).max() / 2
    mid = (hi + lo) / 2
    return (mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half)


def _point_colors(n: int) -> np.ndarray:
    """One RGB colour per memory point, cycling through the qualitative palette."""
    palette = np.asarray(colormaps[_REGION_CMAP].colors)
    return palette[np.arange(n) % len(palette)]


def plot_winner_regions(ax: Axes, points: np.ndarray, kind: str, extent: Sequence[float] | None = None,
                        resolution: int = 200) -> np.ndarray:
    """Fig. 2: colour each query location by its most similar memory point under ``kind``; points that win
    somewhere in view are triangles, the others circles. Returns the in-view winning mask ``[n]``."""
    points = _check_points(points)
    extent = padded_extent(points) if extent is None else extent
    grid, shape = query_grid(extent, resolution)
    win = winners(points, grid, kind)
    colors = _point_colors(len(points))
    ax.imshow(colors[win].reshape(*shape, 3), origin="lower", extent=extent, interpolation="nearest", alpha=0.55)
    mask = np.zeros(len(points), dtype=bool)
    mask[win] = True
    for marker, sel, label in (("^", mask, "wins somewhere"), ("o", ~mask, "never wins in view")):
        if sel.any():
            ax.scatter(points[sel, 0], points[sel, 1], c=colors[sel], marker=marker, s=42, edgecolors="black",
                       linewidths=0.7, label=label, zorder=3)
    ax.scatter([0], [0], marker="+", c="black", s=40, zorder=3)
    ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal",
           title=f"{KIND_TITLES[kind]}: {int(mask.sum())}/{len(points)} points win")
    ax.grid(False)
    return mask


def soft_weights(points: np.ndarray, queries: np.ndarray, kind: str) -> np.ndarray:
    """Softmax weights ``W [n, Q]`` (Eq. 1, full softmax over memory) that the queries give the memory points."""
    return softmax_weights(torch.from_numpy(similarities(points, queries, kind)).unsqueeze(0))[0].numpy()


def plot_soft_contributions(ax: Axes, points: np.ndarray, kind: str, extent: Sequence[float] | None = None,
                            resolution: int = 200, colors: Sequence[str] = ("#D55E00", "#0072B2", "#009E73"),
                            focus: int | None = None) -> float:
    """Fig. 3: each query location coloured by the softmax weights its memory points receive, mixing one colour
    per point (at most ``len(colors)`` points); with ``focus`` only that point's weight is shown (0 → 1, viridis).
    Returns the largest weight the focus point (or any point) receives in view."""
    points = _check_points(points)
    if len(points) > len(colors):
        raise ValueError(f"{len(points)} points but {len(colors)} colours; pass more colours or fewer points")
    extent = padded_extent(points) if extent is None else extent
    grid, shape = query_grid(extent, resolution)
    weights = soft_weights(points, grid, kind)
    rgb = np.array([to_rgb(c) for c in colors[: len(points)]])
    if focus is None:
        ax.imshow((weights.T @ rgb).reshape(*shape, 3).clip(0, 1), origin="lower", extent=extent,
                  interpolation="bilinear")
        title, best = f"softmax weights, {KIND_TITLES[kind]}", float(weights.max())
    else:
        ax.imshow(weights[focus].reshape(shape), origin="lower", extent=extent, vmin=0, vmax=1, cmap="viridis",
                  interpolation="bilinear")
        best = float(weights[focus].max())
        title = f"weight of the middle point (max {best:.2f})"
    ax.scatter(points[:, 0], points[:, 1], c=rgb, s=60, edgecolors="white", linewidths=1.2, zorder=3)
    ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal", title=title)
    ax.grid(False)
    return best


def winner_regions_figure(points: np.ndarray, extent: Sequence[float] | None = None,
                          resolution: int = 200) -> Figure:
    """Fig. 2 side by side: winner regions under the dot product (left) and L2 similarity (right)."""
    extent = padded_extent(points) if extent is None else extent
    fig = Figure(figsize=(9.0, 4.4))
    for ax, kind in zip(fig.subplots(1, 2), KINDS):
        plot_winner_regions(ax, points, kind, extent, resolution)
    fig.axes[0].legend(loc="lower left", fontsize=8, frameon=True)
    return fig


def soft_contribution_figure(points: np.ndarray, extent: Sequence[float] = (0.0, 5.0, 0.0, 5.0),
                             resolution: int = 200, focus: int = 2) -> Figure:
    """Fig. 3 side by side, dot product (left) vs L2 (right): the points' mixed softmax weights (top row) and the
    weight of point ``focus`` alone (bottom row), over the first quadrant by default."""
    fig = Figure(figsize=(8.0, 8.0))
    axes = fig.subplots(2, 2)
    for column, kind in enumerate(KINDS):
        plot_soft_contributions(axes[0, column], points, kind, extent, resolution)
        plot_soft_contributions(axes[1, column], points, kind, extent, resolution, focus=focus)
    return fig


def _inner_extent(extent: Sequence[float], share: float) -> tuple[float, float, float, float]:
    """The central ``share`` of an extent (x0, x1, y0, y1), about its centre."""
    cx, cy = (extent[0] + extent[1]) / 2, (extent[2] + extent[3]) / 2
    hx, hy = share * (extent[1] - extent[0]) / 2, share * (extent[3] - extent[2]) / 2
    return cx - hx, cx + hx, cy - hy, cy + hy


def winner_regions_widget(points: np.ndarray, extent: Sequence[float] | None = None, resolution: int = 120,
                          max_extra: int = 30, seed: int = 0):
    """Interactive Fig. 2: sliders move point 0 and add up to ``max_extra`` random points; both maps redraw.

    Returns a :class:`~vosnb.widgets.FigureExplorer` (display it); it draws once on construction, so it also runs
    headless.
    """
    import ipywidgets as widgets

    points = _check_points(points)
    extent = tuple(padded_extent(points) if extent is None else extent)
    extra_points = np.random.default_rng(seed).uniform(
        [extent[0] * 0.8, extent[2] * 0.8], [extent[1] * 0.8, extent[3] * 0.8], (max_extra, 2))
    step = (extent[1] - extent[0]) / 100
    inner = _inner_extent(extent, 0.9)  # keep the moved point (and its marker) inside the plotted area
    label = {"style": {"description_width": "initial"}}  # the whole description, not cut to the default width
    x = widgets.FloatSlider(value=float(np.clip(points[0, 0], *inner[:2])), min=inner[0], max=inner[1], step=step,
                            description="point 0: x", **label)
    y = widgets.FloatSlider(value=float(np.clip(points[0, 1], *inner[2:])), min=inner[2], max=inner[3], step=step,
                            description="point 0: y", **label)
    extra = widgets.IntSlider(value=0, min=0, max=max_extra, description="added points", **label)

    def draw() -> Figure:
        moved = points.copy()
        moved[0] = (x.value, y.value)
        return winner_regions_figure(np.concatenate([moved, extra_points[: extra.value]]), extent, resolution)

    return FigureExplorer([x, y, extra], draw, "Move point 0 and add random points: the regions each memory point "
                                               "wins under dot product and under L2 similarity redraw.")
