"""vosnb.metrics summaries: the standard table, per-sequence values, the Gini coefficient and bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vosnb import metrics


@pytest.fixture
def per_object() -> pd.DataFrame:
    rows = [("a", 1, 0.8, 1.0, 0.1, 0.6, 1.0, 0.2),
            ("a", 2, 0.4, 0.0, 0.3, 0.2, 0.0, 0.0),
            ("b", 1, 0.9, 1.0, -0.1, 1.0, 1.0, 0.0)]
    return pd.DataFrame(rows, columns=list(metrics.OBJECT_COLUMNS))


def test_summarize_averages_over_objects(per_object):
    s = metrics.summarize(per_object)
    assert list(s.index) == list(metrics.STANDARD_COLUMNS)
    assert s["J-Mean"] == pytest.approx(0.7)
    assert s["F-Mean"] == pytest.approx(0.6)
    assert s["J&F-Mean"] == pytest.approx(0.65)
    assert s["J-Recall"] == pytest.approx(2 / 3)
    assert s["J-Decay"] == pytest.approx(0.1)
    assert s["F-Decay"] == pytest.approx(0.2 / 3)
    with pytest.raises(ValueError, match="no objects"):
        metrics.summarize(per_object.iloc[:0])


def test_per_sequence_means_over_each_sequences_objects(per_object):
    jf = metrics.per_sequence(per_object)
    assert jf.to_dict() == pytest.approx({"a": (0.7 + 0.3) / 2, "b": 0.95})
    assert metrics.per_sequence(per_object, "F-Recall").to_dict() == {"a": 0.5, "b": 1.0}
    with pytest.raises(ValueError, match="column"):
        metrics.per_sequence(per_object, "object")


@pytest.mark.parametrize("values,expected", [
    ([1, 1, 1, 1], 0.0),
    ([0, 0, 0, 1], 0.75),          # one holder of everything: (n - 1) / n
    ([1, 2, 3, 4], 0.25),          # Σ(2i - n - 1) y_(i) = -3 - 2 + 3 + 12 = 10; n Σy = 40
    ([1, 1, 2], 1 / 6),            # ties: (-2)(1) + 0(1) + 2(2) = 2; n Σy = 12
    ([5], 0.0),
    ([0, 3], 0.5),
])
def test_gini_hand_computed(values, expected):
    assert metrics.gini(values) == pytest.approx(expected, abs=1e-12)


def test_gini_equals_mean_absolute_difference_form_and_is_invariant():
    rng = np.random.default_rng(0)
    y = rng.exponential(size=257)
    # Lerman & Yitzhaki's covariance form equals the mean-difference form Σ_i Σ_j |y_i - y_j| / (2 n² mean).
    mean_difference = np.abs(y[:, None] - y[None, :]).sum() / (2 * y.size**2 * y.mean())
    assert metrics.gini(y) == pytest.approx(mean_difference, abs=1e-12)
    assert metrics.gini(rng.permutation(y)) == pytest.approx(metrics.gini(y), abs=1e-12)
    assert metrics.gini(3.5 * y) == pytest.approx(metrics.gini(y), abs=1e-12)
    assert metrics.gini(y ** 3) > metrics.gini(y)  # more concentrated, more unequal


@pytest.mark.parametrize("bad", [[], [0, 0], [1, -1], [1, np.nan]])
def test_gini_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="non-negative"):
        metrics.gini(bad)


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(0.7, 0.1, size=30)
    est, low, high = metrics.bootstrap_ci(x, seed=3)
    assert est == pytest.approx(x.mean())
    assert low < est < high
    assert metrics.bootstrap_ci(x, seed=3) == (est, low, high)
    assert metrics.bootstrap_ci(x, seed=4) != (est, low, high)
    wider = metrics.bootstrap_ci(x, confidence=0.99, seed=3)
    assert wider[1] < low and wider[2] > high
    assert metrics.bootstrap_ci([0.5] * 7) == (0.5, 0.5, 0.5)


def test_bootstrap_width_matches_the_normal_approximation():
    x = np.random.default_rng(2).normal(0.0, 1.0, size=400)
    _, low, high = metrics.bootstrap_ci(x, n_resamples=4000)
    assert high - low == pytest.approx(2 * 1.96 * x.std() / np.sqrt(x.size), rel=0.1)


@pytest.mark.parametrize("kwargs,match", [({"values": []}, "non-empty"), ({"values": [1.0], "confidence": 1.0},
                                                                        "confidence"),
                                          ({"values": [1.0], "n_resamples": 0}, "n_resamples")])
def test_bootstrap_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        metrics.bootstrap_ci(**kwargs)


def test_paired_bootstrap_resamples_sequences_together():
    rng = np.random.default_rng(5)
    names = [f"seq{i}" for i in range(25)]
    hardness = rng.uniform(0.3, 0.95, size=25)           # large spread between sequences
    a = pd.Series(hardness + 0.02 + rng.normal(0, 0.005, 25), index=names)
    b = pd.Series(hardness, index=names)
    est, low, high = metrics.paired_bootstrap_ci(a, b)
    assert est == pytest.approx((a - b).mean())
    assert 0 < low < est < high                          # paired: the small gain is resolved
    a_low, a_high = metrics.bootstrap_ci(a)[1:]
    b_low, b_high = metrics.bootstrap_ci(b)[1:]
    assert a_low < b_high                                # unpaired intervals overlap
    # Matched by sequence name, not by position.
    shuffled = b.sample(frac=1.0, random_state=0)
    assert metrics.paired_bootstrap_ci(a, shuffled) == (est, low, high)
    assert metrics.paired_bootstrap_ci(a.to_numpy(), b.to_numpy()) == (est, low, high)


def test_paired_bootstrap_rejects_unpaired_inputs():
    a = pd.Series([0.5, 0.6], index=["x", "y"])
    with pytest.raises(ValueError, match="not in both: \\['y', 'z'\\]"):
        metrics.paired_bootstrap_ci(a, pd.Series([0.5, 0.6], index=["x", "z"]))
    with pytest.raises(ValueError, match="pair up"):
        metrics.paired_bootstrap_ci([0.1, 0.2], [0.1])
