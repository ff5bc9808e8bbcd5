"""The experiment engine: one runner for every comparison the notebooks make.

A comparison is a list of :class:`Variant` s — a name, a model, a memory strategy with its settings, top-k — run
over the same videos. :func:`run` propagates every variant over every video ``repeats`` times, interleaved per
video in an order shuffled anew for each (video, repeat) from a seed (B C A, A C B, …), so that load drift on a
shared machine falls on every variant alike and no variant always runs after the same other one, and returns an
:class:`Experiment`:

- J&F per object, scored once (CPU runs are deterministic; the engine checks that every repeat gives the same masks);
- per frame: wall time, this process's CPU time, the memory reads' wall time and the bytes the memory holds;
- on request, the masks, merged probabilities and final banks of the first repeat.

Comparisons are paired: J&F differences over sequences with a paired bootstrap (:mod:`vosnb.metrics`), time ratios
over (sequence, repeat) pairs that ran back to back with an order-statistic interval (:mod:`vosnb.timing`).

:func:`long_video` is RDE-VOS's long-video protocol (Li et al. 2022, Fig. 3): each video played forward then
backward, ×1, ×10, ×15, ×20 its length. Inference is causal, so one run of the longest version gives every shorter
one: pass ``p`` of the ×20 video is pass ``p`` of any ×n video with ``n ≥ p``. While the last pass runs, a fresh
propagation segments the first pass in alternation with it, frame by frame (:class:`~vosnb.inference.Propagation`),
so that the first and the last pass are timed back to back, not minutes apart (``LongVideoResult.pass_change``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from vosnb.data import DavisDataset, Video
from vosnb.data.long_video import repeat_forward_backward
from vosnb.inference import EvalResult, MemorySpec, Propagation, PropagationResult, ground_truth
from vosnb.memory import MemoryBank, make_memory
from vosnb.metrics import evaluate_sequence, paired_bootstrap_ci, per_sequence, summarize
from vosnb.timing import Interval, Timing, VariantTimes, paired_ratio

DEFAULT_MODEL = "model"
LONG_VIDEO_MULTIPLIERS = (1, 10, 15, 20)


@dataclass(frozen=True)
class Variant:
    """One setting to compare: ``memory`` is a spec (``"every5"``, ``"rde"``, …) built by
    :func:`~vosnb.memory.make_memory` with ``params`` and what the engine offers (the model's similarity, ``top_k``,
    ``track``, the model), or a factory of fresh banks; ``model`` names one of the models given to :func:`run`."""

    name: str
    memory: MemorySpec = "every5"
    params: Mapping[str, Any] = field(default_factory=dict)
    model: str = DEFAULT_MODEL
    top_k: int | None = 20
    track: bool = False

    def factory(self, model: torch.nn.Module) -> Callable[[], MemoryBank]:
        """A factory of fresh banks for ``model``; a bad spec or parameter fails here, before any video runs."""
        if callable(self.memory):
            if self.params:
                raise ValueError(f"variant {self.name!r}: params apply to a memory spec, not to a bank factory")
            return self.memory
        options = {"similarity": model.similarity, "top_k": self.top_k, "track": self.track, "model": model}
        make_memory(self.memory, options, **self.params)
        return lambda: make_memory(self.memory, options, **self.params)


def _models(models: torch.nn.Module | Mapping[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
    return {DEFAULT_MODEL: models} if isinstance(models, torch.nn.Module) else dict(models)


def _videos(videos: DavisDataset | Sequence[Video]) -> list[Video]:
    items = [videos[name] for name in videos.sequences] if isinstance(videos, DavisDataset) else list(videos)
    if not items:
        raise ValueError("the engine needs at least one video")
    return items


def _check_variants(variants: Sequence[Variant], models: Mapping[str, torch.nn.Module]) -> None:
    names = [v.name for v in variants]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"variants need unique names, at least one; got {names}")
    missing = sorted({v.model for v in variants} - set(models))
    if missing:
        raise KeyError(f"variants use models {missing}; the models given are {sorted(models)}")


@dataclass
class Experiment:
    """What :func:`run` measured. ``metrics``: one row per (variant, sequence, object) with the DAVIS columns;
    ``frames``: one row per (variant, sequence, repeat, frame) with ``wall_s``, ``cpu_s``, ``read_s`` and
    ``memory_bytes`` (each video's first frame, which only writes, left out); ``runs``: the first repeat's
    :class:`~vosnb.inference.PropagationResult` per (variant, sequence), when kept; ``first_pass`` (with
    ``run(first_pass=L)``): one row per (variant, sequence, repeat, position) with the ``wall_s`` of a fresh
    propagation's frame at that position, segmented in alternation with the frame at the same position of the
    video's last ``L`` frames."""

    variants: list[Variant]
    metrics: pd.DataFrame
    frames: pd.DataFrame
    runs: dict[tuple[str, str], PropagationResult] = field(default_factory=dict)
    first_pass: pd.DataFrame | None = None

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variants]

    def _check(self, name: str) -> None:
        if name not in self.names:
            raise KeyError(f"no variant {name!r} in this experiment; it has {self.names}")

    def evaluation(self, name: str) -> EvalResult:
        """The variant's metrics and per-sequence timings as an :class:`~vosnb.inference.EvalResult`."""
        self._check(name)
        metrics = self.metrics[self.metrics["variant"] == name].drop(columns="variant").reset_index(drop=True)
        seconds = self.seconds(name).groupby(level="sequence", sort=False).median()
        frames = self.frames[(self.frames["variant"] == name) & (self.frames["repeat"] == 0)]
        per_seq = frames.groupby("sequence", sort=False).agg(frames=("frame", "size"),
                                                              max_memory_bytes=("memory_bytes", "max"))
        timings = per_seq.assign(seconds=seconds.reindex(per_seq.index)).reset_index()
        return EvalResult(metrics=metrics, timings=timings[["sequence", "frames", "seconds", "max_memory_bytes"]])

    def jf_per_sequence(self, name: str) -> pd.Series:
        """J&F of each sequence in points (mean over its objects), indexed by sequence."""
        self._check(name)
        return 100 * per_sequence(self.metrics[self.metrics["variant"] == name])

    def jf(self, name: str) -> float:
        """J&F-Mean in points over all objects (the DAVIS table's number)."""
        return 100 * float(self.evaluation(name).summary["J&F-Mean"])

    def jf_difference(self, a: str, b: str, seed: int = 0) -> tuple[float, float, float]:
        """Mean over sequences of J&F(a) − J&F(b) in points, with its paired bootstrap interval."""
        return paired_bootstrap_ci(self.jf_per_sequence(a), self.jf_per_sequence(b), seed=seed)

    def seconds(self, name: str, column: str = "wall_s") -> pd.Series:
        """Seconds per (sequence, repeat) over the propagated frames: ``wall_s``, ``cpu_s`` or ``read_s``."""
        self._check(name)
        rows = self.frames[self.frames["variant"] == name]
        return rows.groupby(["sequence", "repeat"], sort=False)[column].sum()

    def timing(self, column: str = "wall_s") -> Timing:
        """Every variant's seconds per (sequence, repeat) as a :class:`~vosnb.timing.Timing`, in the same order for
        all, so ratios and differences pair runs that ran back to back."""
        wall = {n: self.seconds(n, column).tolist() for n in self.names}
        cpu = {n: self.seconds(n, "cpu_s").tolist() for n in self.names}
        return Timing(times={n: VariantTimes(wall[n], cpu[n]) for n in self.names},
                      calls=[n for _ in range(len(wall[self.names[0]])) for n in self.names],
                      threads=torch.get_num_threads(), warmup=1)

    def fps_ratio(self, a: str, b: str) -> Interval:
        """FPS(a) / FPS(b) = seconds(b) / seconds(a) on the same frames: the median over (sequence, repeat) pairs
        with its order-statistic interval."""
        return paired_ratio(self.seconds(b).to_numpy(), self.seconds(a).reindex(self.seconds(b).index).to_numpy())

    def read_share(self, name: str) -> float:
        """Share of the frame time spent in memory reads, over all sequences and repeats."""
        rows = self.frames[self.frames["variant"] == name]
        return float(rows["read_s"].sum() / rows["wall_s"].sum())

    def summary(self) -> pd.DataFrame:
        """One row per variant: J&F, J, F (points), FPS (frames over the median seconds per sequence), ms per frame,
        the reads' share of it, the most memory held (bytes) and the sequences scored."""
        rows = []
        for v in self.variants:
            ev = self.evaluation(v.name)
            s = ev.summary
            rows.append({"variant": v.name, "J&F": 100 * s["J&F-Mean"], "J": 100 * s["J-Mean"],
                         "F": 100 * s["F-Mean"], "FPS": ev.fps, "ms per frame": 1000 / ev.fps,
                         "read share (%)": 100 * self.read_share(v.name),
                         "max memory (bytes)": int(ev.timings["max_memory_bytes"].max()),
                         "sequences": len(ev.timings)})
        return pd.DataFrame(rows).set_index("variant")


def _frame_rows(variant: str, video: Video, repeat: int, result: PropagationResult) -> pd.DataFrame:
    start = min(video.first_frame.values()) + 1
    return pd.DataFrame({"variant": variant, "sequence": video.name, "repeat": repeat,
                         "frame": np.arange(start, len(video)), "wall_s": result.frame_times[start:],
                         "cpu_s": result.cpu_times[start:], "read_s": result.read_times[start:],
                         "memory_bytes": result.memory_bytes[start:]})


def run(models: torch.nn.Module | Mapping[str, torch.nn.Module], videos: DavisDataset | Sequence[Video],
        variants: Sequence[Variant], *, repeats: int = 1, warmup: bool = True, keep: bool = False,
        keep_probs: bool = False, score: bool = True, first_pass: Mapping[str, int] | None = None,
        device: str | torch.device = "auto", seed: int = 0, progress: bool = True,
        desc: str = "sequences") -> Experiment:
    """Propagate every variant over every video ``repeats`` times, interleaved per video (module doc).

    ``warmup`` first runs each variant once on the first video, untimed (allocator and kernel caches). ``keep``
    keeps the first repeat's result per (variant, sequence) with its banks; ``keep_probs`` also its probabilities.
    ``score=False`` skips the DAVIS metrics (videos without full annotations, timing-only runs). ``first_pass``
    (video name → pass length ``L``) segments each named video's last ``L`` frames in alternation with a fresh
    propagation of its first ``L`` frames, so that frames at the same position of the first and the last pass are
    timed back to back (``Experiment.first_pass``; :func:`long_video`). ``seed`` draws the variants' order per
    (video, repeat); the results are collected in the given order whatever the order they ran in.
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats} must be at least 1")
    models = _models(models)
    items = _videos(videos)
    _check_variants(variants, models)
    first_pass = dict(first_pass or {})
    for video in items:
        if not 0 < first_pass.get(video.name, 1) <= len(video):
            raise ValueError(f"first_pass[{video.name!r}]={first_pass[video.name]} must lie in 1 … {len(video)}")
    factories = {v.name: v.factory(models[v.model]) for v in variants}

    def once(v: Variant, video: Video, probs: bool = False,
             pass_length: int | None = None) -> tuple[PropagationResult, np.ndarray | None]:
        def start() -> Propagation:
            return Propagation(models[v.model], video, factories[v.name], device=device, top_k=v.top_k,
                               track=v.track, keep_probs=probs)

        main, fresh_times = start(), None
        last_start = len(video) - (pass_length or 0)
        while not main.done and main.t < last_start:
            main.step()
        if pass_length:
            fresh = start()
            first = fresh.t  # the first annotated frame: it only writes, so it has no time to pair
            for position in range(pass_length):
                if position >= first:
                    fresh.step()
                main.step()
            fresh_times = np.full(pass_length, np.nan)
            fresh_times[first + 1:] = fresh.times[first + 1:pass_length]
        while not main.done:
            main.step()
        return main.result(), fresh_times

    if warmup:
        for v in variants:
            once(v, items[0])
    metrics, frames, runs, paired = [], [], {}, []
    rng = np.random.default_rng(seed)
    for video in tqdm(items, desc=desc, disable=not progress):
        gt = ground_truth(video) if score else None
        first_masks: dict[str, np.ndarray] = {}
        for repeat in range(repeats):
            ran = {i: once(variants[i], video, keep_probs and repeat == 0, first_pass.get(video.name))
                   for i in rng.permutation(len(variants))}
            for i, v in enumerate(variants):
                result, fresh_times = ran[i]
                frames.append(_frame_rows(v.name, video, repeat, result))
                if fresh_times is not None:
                    paired.append(pd.DataFrame({"variant": v.name, "sequence": video.name, "repeat": repeat,
                                                "position": np.arange(len(fresh_times)), "wall_s": fresh_times}))
                if repeat == 0:
                    first_masks[v.name] = result.masks
                    if score:
                        metrics.append(evaluate_sequence(gt, result.masks, video.name).assign(variant=v.name))
                    if keep:
                        runs[(v.name, video.name)] = result
                elif not np.array_equal(first_masks[v.name], result.masks):
                    raise RuntimeError(f"variant {v.name!r} gave other masks on repeat {repeat} of {video.name!r}: "
                                       f"the run is not deterministic (seed every generator, pin the numerics)")
    metric_table = pd.concat(metrics, ignore_index=True) if metrics else pd.DataFrame(columns=["variant", "sequence"])
    return Experiment(variants=list(variants), metrics=metric_table, frames=pd.concat(frames, ignore_index=True),
                      runs=runs, first_pass=pd.concat(paired, ignore_index=True) if paired else None)


@dataclass
class LongVideoResult:
    """:func:`long_video`'s measurements: ``passes`` has one row per (variant, sequence, repeat, pass) with the
    pass's J&F (points, scored over its frames), median ms per frame, median read ms and the memory bytes held at
    its end; ``frames`` the experiment's per-frame rows with the base sequence's name, the ``pass`` and the
    ``position`` in it; ``first_pass`` the frame times of a first pass segmented in alternation with the last pass,
    per (variant, sequence, repeat, position); ``experiment`` is the underlying :class:`Experiment` on the longest
    versions."""

    passes: pd.DataFrame
    frames: pd.DataFrame
    first_pass: pd.DataFrame
    experiment: Experiment

    def by_length(self, multipliers: Sequence[int] = LONG_VIDEO_MULTIPLIERS) -> pd.DataFrame:
        """Fig. 3's view: per (variant, multiplier n), J&F of the whole ×n video (mean over its passes and over
        sequences), and the per-frame time and memory of its last pass (medians over sequences and repeats)."""
        rows = []
        for n in multipliers:
            for variant, group in self.passes[self.passes["pass"] <= n].groupby("variant", sort=False):
                last = group[group["pass"] == n]
                per_seq = group[group["repeat"] == 0].groupby("sequence")["J&F"].mean()
                rows.append({"variant": variant, "multiplier": n, "J&F": float(per_seq.mean()),
                             "ms per frame": float(last["ms per frame"].median()),
                             "read ms": float(last["read ms"].median()),
                             "memory (bytes)": int(last["memory bytes"].max())})
        return pd.DataFrame(rows)

    def jf_per_sequence_by_length(self, n: int) -> dict[str, pd.Series]:
        """Per variant, the J&F of each sequence's ×``n`` video (mean over its first ``n`` passes), in points."""
        rows = self.passes[(self.passes["pass"] <= n) & (self.passes["repeat"] == 0)]
        return {variant: group.groupby("sequence", sort=False)["J&F"].mean()
                for variant, group in rows.groupby("variant", sort=False)}

    def pass_change(self, variant: str, last: int, column: str = "ms per frame", *,
                    per_frame: bool = False) -> Interval:
        """Relative change from pass 1 to pass ``last`` of the per-frame time (or another column of ``passes``, e.g.
        ``"memory bytes"``): per (sequence, repeat) the ratio of the two passes' values, then the median of those
        ratios minus 1 with its order-statistic interval. ``per_frame`` (time only; ``last`` the longest pass) pairs
        each frame of the last pass with the frame at its position in a first pass segmented in alternation with it
        (:func:`run`'s ``first_pass``), so that the two were timed back to back and the machine's drift between
        the passes cancels: an interval over the passes' frames, from as little as one sequence."""
        if per_frame:
            if column != "ms per frame":
                raise ValueError(f"per_frame pairs frame times; column={column!r} has one value per pass")
            longest = int(self.passes["pass"].max())
            if last != longest:
                raise ValueError(f"per_frame pairs the last pass ({longest}) with a first pass timed beside it; "
                                 f"last={last} was not")
            first = self.first_pass[self.first_pass["variant"] == variant].dropna(subset=["wall_s"])
            first = first.set_index(["sequence", "repeat", "position"])["wall_s"]
            final = self.frames[(self.frames["variant"] == variant) & (self.frames["pass"] == last)]
            final = final.set_index(["sequence", "repeat", "position"])["wall_s"]
            interval = paired_ratio(final.reindex(first.index).to_numpy(), first.to_numpy())
            return Interval(interval.estimate - 1, interval.low - 1, interval.high - 1, interval.confidence)
        else:
            rows = self.passes[self.passes["variant"] == variant]
            rows = rows.set_index(["sequence", "repeat", "pass"])[column]
        first = rows.xs(1, level="pass")
        final = rows.xs(last, level="pass").reindex(first.index)
        interval = paired_ratio(final.to_numpy(), first.to_numpy())
        return Interval(interval.estimate - 1, interval.low - 1, interval.high - 1, interval.confidence)


def long_video(models: torch.nn.Module | Mapping[str, torch.nn.Module], videos: DavisDataset | Sequence[Video],
               variants: Sequence[Variant], multipliers: Sequence[int] = LONG_VIDEO_MULTIPLIERS, *,
               repeats: int = 1, warmup: bool = True, device: str | torch.device = "auto",
               progress: bool = True) -> LongVideoResult:
    """Run every variant on each video played forward then backward ``max(multipliers)`` times (module doc) and
    measure every pass: J&F over the pass's frames against the ground truth, the median per-frame wall and read
    time (per repeat) and the memory held at the pass's end. ``warmup`` first runs each variant once, untimed, on
    the first video as it is (not on its ×n version: warming the caches does not need hundreds of frames)."""
    if not multipliers or min(multipliers) < 1:
        raise ValueError(f"multipliers={list(multipliers)} must be positive integers")
    items = _videos(videos)
    longest = max(multipliers)
    long_items = [repeat_forward_backward(v, longest) for v in items]
    if warmup:
        run(models, items[:1], variants, warmup=False, score=False, device=device, progress=False)
    experiment = run(models, long_items, variants, repeats=repeats, warmup=False, keep=True, score=False,
                     first_pass={long.name: len(video) for video, long in zip(items, long_items)}, device=device,
                     progress=progress, desc=f"×{longest} videos")
    rows, pass_frames = [], []
    for video, long in zip(items, long_items):
        length = len(video)
        gt = ground_truth(long)
        for v in variants:
            masks = experiment.runs[(v.name, long.name)].masks
            frames = experiment.frames[(experiment.frames["variant"] == v.name)
                                       & (experiment.frames["sequence"] == long.name)]
            for p in range(1, longest + 1):
                span = slice((p - 1) * length, p * length)
                scores = evaluate_sequence(gt[span], masks[span], long.name, first_gt=gt[0])
                jf = 100 * float(summarize(scores)["J&F-Mean"])
                in_pass = frames[(frames["frame"] >= span.start) & (frames["frame"] < span.stop)]
                pass_frames.append(in_pass.assign(sequence=video.name, position=in_pass["frame"] - span.start,
                                                  **{"pass": p}))
                for repeat, group in in_pass.groupby("repeat"):
                    rows.append({"variant": v.name, "sequence": video.name, "repeat": int(repeat), "pass": p,
                                 "J&F": jf, "ms per frame": 1000 * float(group["wall_s"].median()),
                                 "read ms": 1000 * float(group["read_s"].median()),
                                 "memory bytes": int(group["memory_bytes"].iloc[-1])})
    base = {long.name: video.name for video, long in zip(items, long_items)}
    first_pass = experiment.first_pass.assign(sequence=experiment.first_pass["sequence"].map(base))
    return LongVideoResult(passes=pd.DataFrame(rows), frames=pd.concat(pass_frames, ignore_index=True),
                           first_pass=first_pass, experiment=experiment)
