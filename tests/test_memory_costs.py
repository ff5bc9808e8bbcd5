"""Memory accounting of space-time memory, STCN every-5 and the global module: measured == analytic."""
from __future__ import annotations

import pytest

from vosnb.analysis.memory_costs import RESOLUTIONS, STRATEGIES, analytic_cost, cost_table, measured_cost


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_measured_bytes_equal_the_analytic_count(strategy: str):
    for frames, objects in ((1, 1), (3, 2)):
        shape = dict(frames=frames, height=40, width=56, key_dim=8, value_dim=6, objects=objects)
        measured, analytic = measured_cost(strategy, **shape), analytic_cost(strategy, **shape)
        assert measured == analytic


def test_global_state_is_constant_and_space_time_memory_grows():
    small = analytic_cost("global", frames=1, height=480, width=854, objects=2)
    assert analytic_cost("global", frames=100, height=1080, width=2048, objects=2).state_bytes == small.state_bytes
    stm = analytic_cost("stm", frames=10, height=480, width=854, objects=2)
    stcn = analytic_cost("stcn", frames=10, height=480, width=854, objects=2)
    assert stm.intermediates["affinity"] == 2 * stcn.intermediates["affinity"] == 2 * 10 * (30 * 54) ** 2 * 4
    assert stm.total > stcn.total > small.total


def test_table_at_the_paper_resolutions_allocates_nothing_unless_asked():
    table = cost_table((1, 100), RESOLUTIONS)
    assert len(table) == 4 * 3 * 2 and "measured_total_bytes" not in table
    huge = table[(table.strategy == "stm") & (table.resolution == "2K") & (table.frames == 100)]
    assert huge.total_bytes.item() > 30 * 10**9  # 100 × (68·128)² fp32 affinity: no test could allocate it
    measured = cost_table((2,), {"tiny": (32, 48)}, key_dim=4, value_dim=4, measure=True)
    assert (measured.measured_total_bytes == measured.total_bytes).all()
    with pytest.raises(ValueError, match="strategy"):
        analytic_cost("xmem", frames=1, height=16, width=16)
