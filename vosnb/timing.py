"""Interleaved timing: several variants measured in alternation, so that drift in the machine's load falls on all.

:func:`time_interleaved` runs ``warmup`` untimed rounds, then ``repeats`` timed rounds; a round runs every variant
once, in an order shuffled anew each round from a seed (or, with ``seed=None``, in the given order). A fixed order
biases a comparison: each variant always follows the same other one and inherits the state of the caches it left
(at the paper's shapes, notebook 07's first & latest and global memories read 1–10% cheaper at T = 200 than at
T = 10 in the fixed order, where they do the same work; within 5% of each other once shuffled). A sample is one call
of a variant, or, for a call shorter than ``min_seconds`` in the last warm-up round, the mean of as many
back-to-back calls as fill ``min_seconds``: a 5 ms call is otherwise at the mercy of a scheduler tick. Each sample
records its wall time (``time.perf_counter``, the device synchronised before each reading) and this process's CPU
time (``time.process_time``, all threads). :class:`Timing` gives per variant the median and interquartile range, and
the ratio (or relative change) of two variants as the median of their per-round values with a distribution-free
interval (:func:`paired_ratio`): both ran in the same round, so drift slower than a round cancels, and the
interval's width is the noise floor a verdict is judged against. A timing is compared as a ratio, never as an
absolute difference: the claims' timing band (`vosnb.claims.TIMING_RESOLUTION`) is relative.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from vosnb.runtime import synchronize

Clock = Callable[[], float]
TIMING_ROUNDS = {"ci": 15, "full": 25}
"""Interleaved rounds of every timed comparison, by profile. With 15 rounds the median's 95% order-statistic
interval runs from the 4th to the 12th sorted per-round value (96.5%), so three slow rounds on either side do not
move it; with 9 it ran from the 2nd to the 8th, and one slow round decided a verdict."""
MIN_SAMPLE_SECONDS = 0.05
"""Shortest timed sample: a variant whose last warm-up call took less is run ``⌈0.05 s / its time⌉`` times back to
back per sample (at most :data:`MAX_CALLS_PER_SAMPLE`), and the sample is their mean."""
MAX_CALLS_PER_SAMPLE = 100


@dataclass(frozen=True)
class Interval:
    """An estimate and its two-sided interval; ``confidence`` is the coverage the interval reaches."""

    estimate: float
    low: float
    high: float
    confidence: float


def median_interval(samples: Sequence[float], confidence: float = 0.95) -> Interval:
    """The median of ``samples`` with the order-statistic interval ``[x_(j), x_(n+1−j)]`` for the median.

    Its coverage is ``1 − 2·P(Bin(n, ½) < j)`` whatever the distribution; ``j`` is the largest rank that reaches
    ``confidence``, or 1 (minimum to maximum) when ``n`` is too small, the reached coverage being reported (5 samples:
    93.75%; 95% needs 6).
    """
    x = sorted(samples)
    n = len(x)
    if n == 0:
        raise ValueError("median_interval needs at least one sample")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must lie in (0, 1)")

    def coverage(j: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2**n

    j = 1
    while j < (n + 1) // 2 and coverage(j + 1) >= confidence:
        j += 1
    return Interval(statistics.median(x), x[j - 1], x[n - j], coverage(j))


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float], confidence: float = 0.95) -> Interval:
    """The median of the pairwise ratios ``a_i / b_i`` with its order-statistic interval (pairs: rounds, sequences)."""
    if len(numerator) != len(denominator):
        raise ValueError(f"paired_ratio needs pairs: {len(numerator)} vs {len(denominator)} samples")
    return median_interval([a / b for a, b in zip(numerator, denominator)], confidence)


def shifted(interval: Interval, offset: float) -> Interval:
    """``interval`` with ``offset`` added to its estimate and both ends (e.g. a ratio − 1: a relative change)."""
    return Interval(interval.estimate + offset, interval.low + offset, interval.high + offset, interval.confidence)


@dataclass
class VariantTimes:
    """One variant's seconds per timed call: ``wall`` and process ``cpu``."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def samples(self, cpu: bool = False) -> list[float]:
        return self.cpu if cpu else self.wall


@dataclass
class Timing:
    """What :func:`time_interleaved` measured: per-variant times (seconds per call), the timed samples in the order
    they ran, the calls that made up each variant's sample, and the torch CPU thread count they ran with."""

    times: dict[Hashable, VariantTimes]
    calls: list[Hashable]
    threads: int
    warmup: int
    calls_per_sample: dict[Hashable, int] = field(default_factory=dict)

    def median(self, name: Hashable, cpu: bool = False) -> float:
        """Median seconds (wall, or process CPU with ``cpu=True``)."""
        return statistics.median(self.times[name].samples(cpu))

    def iqr(self, name: Hashable, cpu: bool = False) -> float:
        """Interquartile range of the seconds (75th − 25th percentile, linear interpolation)."""
        q1, q3 = np.percentile(np.asarray(self.times[name].samples(cpu), dtype=np.float64), [25, 75])
        return float(q3 - q1)

    @property
    def repeats(self) -> int:
        """Timed rounds (every variant ran once per round)."""
        return min(len(t.wall) for t in self.times.values())

    def ratio(self, numerator: Hashable, denominator: Hashable, confidence: float = 0.95,
              cpu: bool = False) -> Interval:
        """``numerator / denominator``: the median of the per-round ratios (both ran in the same round, so drift
        slower than a round cancels) and its order-statistic interval (:func:`median_interval`)."""
        return paired_ratio(self.times[numerator].samples(cpu), self.times[denominator].samples(cpu), confidence)

    def relative_change(self, changed: Hashable, reference: Hashable, confidence: float = 0.95,
                        cpu: bool = False) -> Interval:
        """``changed / reference − 1`` per round: the measured value of a "stays flat" claim, with its interval."""
        return shifted(self.ratio(changed, reference, confidence, cpu), -1.0)

    def describe(self) -> str:
        """How it was measured, for a record's unit: rounds, warm-up and threads."""
        return (f"median of {self.repeats} shuffled interleaved rounds after {self.warmup} warm-up, {self.threads} "
                f"thread{'s' if self.threads != 1 else ''}")

    def table(self, scale: float = 1000.0) -> pd.DataFrame:
        """Per variant: median and IQR of wall time and median CPU time, in seconds × ``scale`` (default ms): the
        noise floor shown beside a verdict."""
        return pd.DataFrame({"median": {str(n): scale * self.median(n) for n in self.times},
                             "IQR": {str(n): scale * self.iqr(n) for n in self.times},
                             "CPU median": {str(n): scale * self.median(n, cpu=True) for n in self.times}})


def time_interleaved(variants: Mapping[Hashable, Callable[[], object]], repeats: int = 5, warmup: int = 1, *,
                     device: torch.device | str = "cpu", seed: int | None = 0,
                     min_seconds: float = MIN_SAMPLE_SECONDS, clock: Clock = time.perf_counter,
                     cpu_clock: Clock = time.process_time) -> Timing:
    """Time every variant ``repeats`` times, interleaved round by round after ``warmup`` untimed rounds (module doc).

    Args:
        variants: name → a callable that runs the work once (and leaves the state as it found it).
        device: synchronised before each clock reading (CUDA work is asynchronous).
        seed: an integer: a fresh seeded shuffle of the order per round (warm-up included); None: the given order.
        min_seconds: a sample's least duration, set from each variant's last warm-up call (no warm-up: one call).
        clock, cpu_clock: the wall and CPU clocks, replaceable for tests.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats} must be ≥ 1 and warmup={warmup} ≥ 0")
    if not variants:
        raise ValueError("time_interleaved needs at least one variant")
    if min_seconds < 0:
        raise ValueError(f"min_seconds={min_seconds} must be ≥ 0")
    device = torch.device(device)
    names = list(variants)
    rng = None if seed is None else np.random.default_rng(seed)
    times = {name: VariantTimes() for name in names}
    number = dict.fromkeys(names, 1)
    calls: list[Hashable] = []
    for round_ in range(warmup + repeats):
        order = names if rng is None else [names[i] for i in rng.permutation(len(names))]
        for name in order:
            n = number[name] if round_ >= warmup else 1
            synchronize(device)
            wall, cpu = clock(), cpu_clock()
            for _ in range(n):
                variants[name]()
            synchronize(device)
            wall, cpu = (clock() - wall) / n, (cpu_clock() - cpu) / n
            if round_ >= warmup:
                times[name].wall.append(wall)
                times[name].cpu.append(cpu)
                calls.append(name)
            elif round_ == warmup - 1 and 0 < wall < min_seconds:
                number[name] = min(MAX_CALLS_PER_SAMPLE, math.ceil(min_seconds / wall))
    return Timing(times=times, calls=calls, threads=torch.get_num_threads(), warmup=warmup,
                  calls_per_sample=number)
