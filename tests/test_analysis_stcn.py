"""The STCN analyses: cost counting (Table 2), affinity geometry (Fig. 2–3, App. A), contributions (Fig. 4)."""
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch.utils.flop_counter import FlopCounterMode

from vosnb.analysis import affinity_geometry as ag
from vosnb.analysis import contribution as contrib
from vosnb.analysis import costs
from vosnb.data import Video
from vosnb.engine import Variant, run
from vosnb.memory import KeyValueMemory, readout, similarity
from vosnb.metrics import paired_bootstrap_ci
from vosnb.models import STCN


# ------------------------------------------------------------------------------------------------------ costs
def test_table2_costs_match_the_paper_to_two_decimals_in_binary_units():
    table = costs.table2_costs()
    m, q = costs.memory_sizes()
    assert (m, q) == (16200, 1620)  # T = 10 frames of 30 × 54 at stride 16
    assert table["gflops"].round(2).tolist() == [6.26, 6.26, 6.33, 3.13, 3.13, 3.20]
    assert table["key_mb"].round(2).tolist() == [8.70, 8.70, 8.70, 4.35, 4.35, 4.35]
    assert costs.affinity_flops(64, m, q, "dot") / costs.GIB == pytest.approx(3.1285, abs=1e-4)
    assert costs.key_bytes(64, m, q) == 64 * (16200 + 1620) * 4


def test_unit_alternatives_start_with_the_fixed_convention_and_show_the_others():
    table = costs.unit_alternatives()
    assert len(table) == 8
    fixed = table.iloc[0]
    assert (fixed["FLOPs"], fixed["bytes"], fixed["keys"]) == ("2^30", "2^20", "memory+query")
    assert fixed.iloc[3:].astype(float).round(2).tolist() == [6.26, 6.33, 3.13, 3.20, 8.70, 4.35]
    decimal = table[(table["FLOPs"] == "10^9") & (table["bytes"] == "10^6") & (table["keys"] == "memory+query")]
    assert decimal[["GFLOPs dot Ck128", "key MB Ck128"]].round(2).values.tolist() == [[6.72, 9.12]]


def test_matrix_product_counts_agree_with_torch_flop_counter():
    g = torch.Generator().manual_seed(0)
    mk, qk = torch.randn(1, 8, 30, generator=g), torch.randn(1, 8, 6, generator=g)
    values = torch.randn(1, 3, 5, 30, generator=g)
    for kind in ("dot", "l2"):
        with FlopCounterMode(display=False) as counter:
            w = torch.softmax(similarity(mk, qk, kind), 1)
        assert counter.get_total_flops() == costs.affinity_flops(8, 30, 6, "dot")  # the counter sees matmuls only
    with FlopCounterMode(display=False) as counter:
        readout(values, w)
    assert counter.get_total_flops() == costs.readout_flops(5, 30, 6, num_objects=3)
    assert costs.affinity_flops(8, 30, 6, "l2") - costs.affinity_flops(8, 30, 6, "dot") == 2 * 8 * 30 + 3 * 30 * 6


def test_key_bytes_equal_the_bytes_a_bank_and_its_query_hold():
    bank, _, query = costs.matching_banks(1, frames=3, height=4, width=5, key_dim=16, value_dim=2)
    assert bank.keys.numel() * 4 + query.numel() * 4 == costs.key_bytes(16, 3 * 20, 20)


def test_bad_shapes_and_kinds_are_refused():
    with pytest.raises(ValueError, match="multiples of stride"):
        costs.memory_sizes(height=481)
    with pytest.raises(ValueError, match="frames=0"):
        costs.memory_sizes(frames=0)
    with pytest.raises(ValueError, match="kind='manhattan'"):
        costs.affinity_flops(64, 10, 10, "manhattan")
    with pytest.raises(ValueError, match="num_objects=0"):
        costs.matching_banks(0)


def test_matmul_rate_is_positive():
    assert costs.matmul_rate(size=64, repeats=2) > 0


def test_shared_affinity_serves_every_object_like_its_own_bank():
    shared, per_object, query = costs.matching_banks(3, frames=2, height=3, width=4, key_dim=8, value_dim=5, top_k=4)
    assert len(per_object) == 3 and shared.values.shape == (3, 5, 24)
    out = shared.read(query).values
    for i in range(3):  # an STM-style bank holding the shared keys and object i's values reads the same thing
        own = KeyValueMemory(similarity="l2", top_k=4)
        own.append(0, shared.keys.view(8, 6, 4), shared.values[i: i + 1].reshape(1, 5, 6, 4))
        torch.testing.assert_close(own.read(query).values[0], out[i])
    assert not torch.equal(per_object[0].keys, per_object[1].keys)  # STM: keys differ per object


def test_matching_time_table_has_one_row_per_objects_design_and_part():
    timing = costs.matching_time_vs_objects((1, 2), frames=2, height=3, width=4, key_dim=8, value_dim=4, repeats=1)
    table = costs.matching_table(timing)
    assert len(table) == 8 and timing.repeats == 1
    assert set(table["part"]) == {"matching", "matching+readout"}
    assert (table["seconds"] > 0).all() and (table["iqr"] >= 0).all()
    only = costs.matching_time_vs_objects((1, 2), frames=2, height=3, width=4, key_dim=8, value_dim=4, repeats=1,
                                          parts=("matching",))
    assert set(only.times) == {(m, design, "matching") for m in (1, 2)
                               for design in (costs.STCN_DESIGN, costs.STM_DESIGN)}


def test_read_variants_share_the_bank_and_differ_only_in_softmax_and_last_frame():
    bank, _, query = costs.matching_banks(2, frames=3, height=3, width=4, key_dim=8, value_dim=5, top_k=4)
    reads = costs.read_variants(bank, query)
    assert list(reads) == ["top-k", "full softmax", "top-k + last frame"]
    torch.testing.assert_close(reads["top-k"]().values, bank.read(query).values)
    full = reads["full softmax"]().values  # a softmax over all 36 elements: every value row gets some weight
    assert full.shape == (2, 5, 3, 4) and not torch.allclose(full, bank.read(query).values)
    assert reads["top-k + last frame"]().values.shape == (2, 5, 3, 4)
    assert bank.temp_keys is None and bank.num_elements == 36  # the twins wrote nothing into the bank itself


def test_random_frame_shapes():
    key, values, probs = costs.random_frame(3, grid=(2, 3), key_dim=4, value_dim=5, generator=torch.Generator())
    assert key.shape == (4, 2, 3) and values.shape == (3, 5, 2, 3) and probs.shape == (3, 32, 48)
    assert ((probs == 0) | torch.isclose(probs, torch.tensor(0.9))).all()


# ------------------------------------------------------------------------------------------------------ geometry
@pytest.mark.parametrize("dim, spread", [(2, 0.0), (16, 0.5), (64, 1.0)])
def test_every_point_wins_its_own_location_under_l2(dim, spread):
    points = ag.random_points(300, dim, norm_spread=spread, seed=dim)
    assert ag.winning_fraction(points, None, "l2") == 1.0


def test_dot_winners_in_2d_are_exactly_the_hull_vertices():
    points = ag.random_points(400, 2, seed=3)
    angles = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)], 1)
    dot = ag.winning_mask(points, directions, "dot", include_points=False)
    hull = ag.hull_vertices(points)
    np.testing.assert_array_equal(dot, hull)
    assert 0 < hull.mean() < 0.1
    grid, _ = ag.query_grid(ag.padded_extent(points), 60)
    assert not (ag.winning_mask(points, grid, "dot") & ~hull).any()  # no interior point ever wins


def test_convex_weights_certify_interior_points_and_refuse_vertices():
    square = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0], [1.0, 0.5]])
    w = ag.convex_weights(square, 4)
    assert w is not None and w[4] == 0 and w.min() >= -1e-9
    np.testing.assert_allclose(w @ square, square[4], atol=1e-7)
    assert ag.convex_weights(square, 0) is None


def test_dot_winner_bounds_bracket_the_exact_share():
    points = ag.random_points(300, 2, seed=5)
    queries = ag.random_points(2000, 2, seed=6)
    bounds = ag.dot_winner_bounds(points, queries, max_certificates=4)
    exact = ag.hull_vertices(points).mean()
    assert bounds.lower <= exact <= bounds.upper
    assert bounds.certified == bounds.tried == 4 and bounds.upper == 1 - 4 / 300


def test_hull_vertices_refuse_high_dimension_and_bad_points():
    with pytest.raises(ValueError, match="dot_winner_bounds"):
        ag.hull_vertices(ag.random_points(50, 5))
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        ag.winning_fraction(np.zeros(3), None, "l2")
    with pytest.raises(ValueError, match="kind='cosine'"):
        ag.winners(np.zeros((2, 2)), np.zeros((1, 2)), "cosine")
    with pytest.raises(ValueError, match="no queries"):
        ag.winning_mask(np.zeros((2, 2)), None, "dot", include_points=False)


def test_l2_decomposition_holds_to_rounding_error():
    g = torch.Generator().manual_seed(0)
    gap = ag.l2_decomposition_gap(torch.randn(2, 16, 50, generator=g, dtype=torch.float64),
                                  torch.randn(2, 16, 7, generator=g, dtype=torch.float64) * 3)
    assert gap["affinity_offset_error"] < 1e-12 and gap["softmax_max_abs_diff"] < 1e-14


def test_figure3_middle_point_is_starved_by_dot_but_not_by_l2():
    points = ag.figure3_points()
    grid, _ = ag.query_grid((0.0, 5.0, 0.0, 5.0), 50)
    dot, l2 = ag.soft_weights(points, grid, "dot"), ag.soft_weights(points, grid, "l2")
    assert dot[2].max() <= 1 / 3 + 1e-9  # at best a three-way tie at the origin
    assert l2[2].max() > 0.9
    np.testing.assert_allclose(dot.sum(0), 1)


def test_figures_are_built_without_pyplot_and_report_winners():
    points = ag.figure2_points()
    fig = ag.winner_regions_figure(points, resolution=40)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    grid, _ = ag.query_grid(ag.padded_extent(points), 40)
    expected = np.zeros(len(points), bool)
    expected[ag.winners(points, grid, "dot")] = True
    mask = ag.plot_winner_regions(Figure().subplots(), points, "dot", resolution=40)
    np.testing.assert_array_equal(mask, expected)
    assert len(ag.soft_contribution_figure(ag.figure3_points(), resolution=20).axes) == 4


def test_widget_redraws_when_a_point_moves():
    widget = ag.winner_regions_widget(ag.figure2_points(), resolution=20, max_extra=3)
    controls, out = widget.children
    x, _, extra = controls.children
    assert len(out.outputs) == 1
    extent = ag.padded_extent(ag.figure2_points())
    margin = 0.05 * (extent[1] - extent[0])
    assert x.max <= extent[1] - margin + 1e-9 and x.min >= extent[0] + margin - 1e-9  # the point stays in view
    assert all(c.style.description_width == "initial" for c in controls.children)  # labels are not cut
    for control, value in ((x, x.max), (extra, 2)):
        before = out.outputs
        control.value = value
        assert out.outputs is not before and len(out.outputs) == 1  # redrawn in place, not appended


# ------------------------------------------------------------------------------------------------------ contribution
def test_contribution_curve_and_stats_on_known_values():
    w = np.array([0.005, 0.01, 0.05, 0.2, 0.5, 1.0, 0.0, 0.3])
    curve = contrib.contribution_curve(w, np.array([-1.0, 0.0, 0.01, 0.1, 1.0]))
    np.testing.assert_allclose(curve, [1.0, 7 / 8, 5 / 8, 4 / 8, 0.0])
    assert (np.diff(contrib.contribution_curve(w)) <= 0).all()
    stats = contrib.contribution_stats(w)
    assert stats["never_above_1pct"] == pytest.approx(100 * 3 / 8)
    assert stats["below_10pct_at_best"] == pytest.approx(100 * 4 / 8)
    assert contrib.contribution_stats(np.full(5, 0.3))["gini"] == pytest.approx(0.0)
    assert contrib.contribution_stats(np.array([0, 0, 0, 1.0]))["gini"] == pytest.approx(75.0)
    with pytest.raises(ValueError, match="empty"):
        contrib.contribution_stats(np.array([]))


def test_sequence_bootstrap_of_a_mean_difference_matches_the_paired_bootstrap():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=12), rng.normal(size=12)
    ours = contrib.sequence_bootstrap(lambda x, y: float(x.mean() - y.mean()), [np.array([v]) for v in a],
                                      [np.array([v]) for v in b], n_resamples=500, seed=3)
    assert ours == pytest.approx(paired_bootstrap_ci(a, b, n_resamples=500, seed=3))
    with pytest.raises(ValueError, match="pair up"):
        contrib.sequence_bootstrap(np.subtract, [a], [a, b])


def _toy_video(name: str, seed: int, frames: int = 7) -> Video:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (frames, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((frames, 32, 48), np.uint8)
    for t in range(frames):
        masks[t, 4 + t: 14 + t, 5:20] = 1
        masks[t, 18:28, 25 + t: 40 + t] = 2
    return Video.from_arrays(name, images, masks)


@pytest.fixture(scope="module")
def sweep():
    torch.manual_seed(0)
    models = {"l2": STCN.small(16, "l2").eval(), "dot": STCN.small(16, "dot").eval()}
    variants = [Variant("l2", model="l2", track=True), Variant("dot", model="dot", track=True),
                Variant("l2+last", "every5+last", model="l2", track=True),
                Variant("l2 full", model="l2", top_k=None, track=True)]
    videos = [_toy_video(f"toy-{i}", i) for i in range(3)]
    return run(models, videos, variants, keep=True, device="cpu", progress=False)


def test_tracked_variants_give_every_memory_nodes_largest_weight(sweep):
    w = contrib.max_weights(sweep, "l2")
    assert list(w) == ["toy-0", "toy-1", "toy-2"]
    assert w["toy-0"].shape == (2 * 2 * 3,)  # frames 0 and 5 written, 2×3 positions at stride 16
    assert ((w["toy-0"] > 0) & (w["toy-0"] <= 1)).all()
    assert len(contrib.node_max_weights(sweep, "dot")) == 3 * 12
    torch.manual_seed(0)
    untracked = run(STCN.small(16, "l2").eval(), [_toy_video("toy", 0, frames=3)], [Variant("l2")], keep=True,
                    device="cpu", progress=False)
    with pytest.raises(ValueError, match="track=True"):
        contrib.max_weights(untracked, "l2")


def test_contribution_difference_is_paired_over_sequences(sweep):
    gini, low, high = contrib.contribution_difference(sweep, "dot", "l2", "gini", n_resamples=50)
    stats = [contrib.contribution_stats(contrib.node_max_weights(sweep, n))["gini"] for n in ("dot", "l2")]
    assert gini == pytest.approx(stats[0] - stats[1]) and low <= high
    same = contrib.contribution_difference(sweep, "l2", "l2", "gini", n_resamples=50)
    assert same == (0.0, 0.0, 0.0)


def test_contribution_curves_plot_one_line_per_model(sweep):
    ax = Figure().subplots()
    contrib.plot_contribution_curves(ax, {n: contrib.node_max_weights(sweep, n) for n in ("dot", "l2")})
    assert len(ax.get_lines()) == 2 + 2  # two curves and the 1% / 10% markers
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("dot (Gini ") and labels[1].startswith("l2 (Gini ")
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(100.0)  # every node gave more than 10⁻⁴ once


def test_winner_shares_is_exact_in_2d_and_bracketed_in_high_dimension():
    flat = ag.winner_shares(ag.random_points(200, 2, seed=1))
    assert flat["l2"] == 1.0 and flat["dot_lower"] == flat["dot_upper"] < 0.2
    points, queries = ag.random_points(150, 8, norm_spread=1.0, seed=2), ag.random_points(500, 8, seed=3)
    high = ag.winner_shares(points, queries, max_certificates=2)
    assert high["l2"] == 1.0 and high["dot_lower"] <= high["dot_upper"] == 1 - 2 / 150
    with pytest.raises(ValueError, match="sampled queries"):
        ag.winner_shares(points)


def test_matching_time_plot_has_one_panel_per_part():
    table = costs.matching_table(costs.matching_time_vs_objects((1, 3), frames=2, height=3, width=4, key_dim=8,
                                                                value_dim=4, repeats=2))
    axes = Figure().subplots(1, 2)
    costs.plot_matching_times(axes, table)
    assert [ax.get_title() for ax in axes] == ["matching", "matching+readout"]
    assert all(len(ax.containers) == 2 for ax in axes)  # one error-bar line per design
    with pytest.raises(ValueError, match="axes"):
        costs.plot_matching_times(axes[:1], table)
