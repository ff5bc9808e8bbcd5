"""Interleaved timing (vosnb.timing) on fake clocks: order of calls, medians, IQRs and ratio intervals."""
import pytest

from vosnb.timing import Interval, median_interval, paired_ratio, shifted, time_interleaved


class FakeClocks:
    """A wall clock and a CPU clock that only move when a variant runs: by the seconds it is given."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.calls: list[str] = []

    def variant(self, name: str, walls: list[float], cpu_share: float = 0.5):
        it = iter(walls)

        def run() -> None:
            seconds = next(it)
            self.calls.append(name)
            self.wall += seconds
            self.cpu += cpu_share * seconds
        return run


def test_rounds_interleave_the_variants_after_the_warmup():
    clocks = FakeClocks()
    variants = {"a": clocks.variant("a", [9.0, 1, 2, 3]), "b": clocks.variant("b", [9.0, 4, 5, 6])}
    timing = time_interleaved(variants, repeats=3, warmup=1, seed=None, clock=lambda: clocks.wall,
                              cpu_clock=lambda: clocks.cpu)
    assert clocks.calls == ["a", "b"] * 4
    assert timing.calls == ["a", "b"] * 3  # the warm-up round is not recorded
    assert timing.times["a"].wall == [1, 2, 3] and timing.times["b"].wall == [4, 5, 6]
    assert timing.times["b"].cpu == [2, 2.5, 3]
    assert timing.warmup == 1 and timing.threads >= 1


def test_a_seed_shuffles_each_round_and_every_variant_runs_once_per_round():
    clocks = FakeClocks()
    names = ["a", "b", "c", "d"]
    variants = {n: clocks.variant(n, [1.0] * 7) for n in names}
    timing = time_interleaved(variants, repeats=6, warmup=1, seed=3, clock=lambda: clocks.wall,
                              cpu_clock=lambda: clocks.cpu)
    rounds = [timing.calls[i:i + 4] for i in range(0, 24, 4)]
    assert all(sorted(r) == names for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1
    again = FakeClocks()
    time_interleaved({n: again.variant(n, [1.0] * 7) for n in names}, repeats=6, warmup=1, seed=3,
                     clock=lambda: again.wall, cpu_clock=lambda: again.cpu)
    assert again.calls == clocks.calls


def test_the_default_order_is_a_seeded_shuffle():
    def order(seed):
        clocks = FakeClocks()
        time_interleaved({n: clocks.variant(n, [1.0] * 9) for n in "abc"}, repeats=8, warmup=1,
                         clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu, **seed)
        return clocks.calls
    shuffled = order({})
    assert shuffled == order({"seed": 0}) != order({"seed": None})
    assert len({tuple(shuffled[i:i + 3]) for i in range(0, 27, 3)}) > 1


def test_a_short_call_is_repeated_to_fill_a_sample_and_timed_per_call():
    clocks = FakeClocks()
    # warm-up: 0.01 s, so each sample runs ⌈0.05 / 0.01⌉ = 5 calls; the slow variant is never repeated
    short = clocks.variant("short", [0.01] + [0.01, 0.01, 0.01, 0.01, 0.06] * 3)
    slow = clocks.variant("slow", [1.0, 2.0, 2.0, 2.0])
    timing = time_interleaved({"short": short, "slow": slow}, repeats=3, warmup=1, min_seconds=0.05,
                              clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    assert timing.calls_per_sample == {"short": 5, "slow": 1}
    assert clocks.calls.count("short") == 1 + 3 * 5 and clocks.calls.count("slow") == 4
    assert timing.times["short"].wall == pytest.approx([0.02] * 3)  # the mean of each sample's five calls
    assert timing.times["slow"].wall == pytest.approx([2.0] * 3)
    capped = FakeClocks()
    tiny = capped.variant("tiny", [1e-9] * 301)
    assert time_interleaved({"tiny": tiny}, repeats=3, clock=lambda: capped.wall,
                            cpu_clock=lambda: capped.cpu).calls_per_sample == {"tiny": 100}
    with pytest.raises(ValueError, match="min_seconds"):
        time_interleaved({"a": lambda: None}, min_seconds=-1)


def test_median_and_iqr_arithmetic():
    clocks = FakeClocks()
    walls = [5.0, 1.0, 4.0, 2.0, 3.0, 100.0]
    timing = time_interleaved({"a": clocks.variant("a", [0.0] + walls, cpu_share=0.25)}, repeats=6, warmup=1,
                              clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    assert timing.median("a") == 3.5
    assert timing.iqr("a") == pytest.approx(4.75 - 2.25)  # linear-interpolated quartiles of 1, 2, 3, 4, 5, 100
    assert timing.median("a", cpu=True) == pytest.approx(3.5 / 4)


def test_ratio_pairs_the_rounds_and_gives_an_order_statistic_interval():
    clocks = FakeClocks()
    slow = [10.0, 20.0, 40.0, 12.0, 30.0]   # drift: both variants slow down together
    fast = [5.0, 10.0, 10.0, 4.0, 10.0]     # per-round ratios 2, 2, 4, 3, 3
    timing = time_interleaved({"slow": clocks.variant("slow", [0.0] + slow),
                               "fast": clocks.variant("fast", [0.0] + fast)}, repeats=5, warmup=1,
                              clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    ratio = timing.ratio("slow", "fast")
    assert ratio == Interval(estimate=3.0, low=2.0, high=4.0, confidence=1 - 2 / 32)


def test_median_interval_ranks_and_coverage():
    assert median_interval([3.0, 1.0, 2.0]) == Interval(2.0, 1.0, 3.0, 0.75)  # n = 3 cannot reach 95%
    ten = median_interval(list(range(10)))
    assert (ten.low, ten.high) == (1, 8) and ten.confidence == pytest.approx(1 - 2 * 11 / 1024)
    assert median_interval(list(range(10)), confidence=0.8).low == 2
    with pytest.raises(ValueError, match="at least one"):
        median_interval([])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="repeats=0"):
        time_interleaved({"a": lambda: None}, repeats=0)
    with pytest.raises(ValueError, match="at least one variant"):
        time_interleaved({})


def test_relative_change_table_and_description_from_the_rounds():
    clocks = FakeClocks()
    slow = [10.0, 20.0, 40.0, 12.0, 30.0]
    fast = [5.0, 10.0, 10.0, 4.0, 10.0]  # per-round ratios 2, 2, 4, 3, 3
    timing = time_interleaved({"slow": clocks.variant("slow", [0.0] + slow),
                               "fast": clocks.variant("fast", [0.0] + fast)}, repeats=5, warmup=1,
                              clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)
    assert timing.relative_change("slow", "fast") == Interval(2.0, 1.0, 3.0, 1 - 2 / 32)
    assert timing.repeats == 5
    assert timing.describe().startswith("median of 5 shuffled interleaved rounds after 1 warm-up, ")
    table = timing.table()
    assert list(table.columns) == ["median", "IQR", "CPU median"]
    assert table.loc["slow", "median"] == 20_000.0 and table.loc["fast", "CPU median"] == 5_000.0


def test_paired_functions_refuse_unpaired_samples_and_shift_intervals():
    assert paired_ratio([2.0, 6.0, 3.0], [1.0, 2.0, 1.0]) == Interval(3.0, 2.0, 3.0, 0.75)
    assert shifted(Interval(1.0, 0.5, 2.0, 0.9), -1.0) == Interval(0.0, -0.5, 1.0, 0.9)
    with pytest.raises(ValueError, match="pairs"):
        paired_ratio([1.0], [1.0, 2.0])
