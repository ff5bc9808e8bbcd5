"""Notebook 04's measurements: Table 5 variants on the engine, the RDE probe and constant size, the paper-shape
timing variants, the flat-claim ratio interval and clipping videos."""
import numpy as np
import pandas as pd
import pytest
import torch

from vosnb.analysis import rde_views
from vosnb.data import SequenceConfig, Video, clip, make_sequence
from vosnb.engine import Variant, long_video, run
from vosnb.errors import DataError
from vosnb.memory.rde import TABLE5_COMPOSITIONS
from vosnb.metrics import paired_bootstrap_ratio
from vosnb.models import RDE, STCN
from vosnb.timing import time_interleaved


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return RDE.from_stcn(STCN.small(key_dim=16, similarity="l2")).eval()


@pytest.fixture(scope="module")
def videos():
    out = []
    for seed in range(2):
        frames, masks, _ = make_sequence(SequenceConfig(length=8, height=40, width=70, n_objects=2), seed=seed)
        out.append(Video.from_arrays(f"v{seed}", frames, masks, first_frame={1: 0, 2: 0}))
    return out


def test_table5_variants_run_and_the_difference_table_pairs_them(model, videos):
    variants = rde_views.strategy_variants(theta=2)
    assert [v.name for v in variants] == list(TABLE5_COMPOSITIONS)
    exp = run(model, videos, variants, warmup=False, device="cpu", progress=False)
    table = rde_views.difference_table(exp, "2F&L&RDE", rde_views.PAPER_TABLE5, names=["F", "2F&L&RDE"])
    assert table.loc["2F&L&RDE", "− 2F&L&RDE"] == 0
    est, low, high = exp.jf_difference("F", "2F&L&RDE")
    assert table.loc["F", "− 2F&L&RDE"] == pytest.approx(est)
    assert table.loc["F", "paper − 2F&L&RDE"] == pytest.approx(71.6 - 86.1)
    # F never updates: its memory is frame 0 alone, smaller than 2F&L&RDE's three embeddings
    summary = exp.summary()
    assert summary.loc["F", "max memory (bytes)"] < summary.loc["2F&L&RDE", "max memory (bytes)"]


def test_probe_counts_four_frames_and_constant_bytes_on_a_long_video(model, videos):
    probe = rde_views.RDEProbe({"similarity": "l2", "top_k": 20, "model": model}, {"theta": 2})
    result = long_video(model, videos[:1], [Variant("RDE", probe)], multipliers=(1, 3), device="cpu",
                        progress=False)
    slots, spread = rde_views.constant_size(result, probe, "RDE", theta=2)
    assert slots == 4 and spread == 0
    assert probe.slots[-1][:2] == [2, 2]  # [GT, GT] before the first update
    keys = probe.keys[-1]
    assert sorted(keys)[:3] == [0, 2, 4] and set(keys[2]) == {"RDE", "latest", "GT"}
    assert not torch.equal(keys[2]["RDE"], keys[4]["RDE"])  # SAM rewrote it


def test_constant_size_fails_loudly_when_reads_disagree(model, videos):
    probe = rde_views.RDEProbe({"similarity": "l2", "top_k": 20, "model": model}, {"theta": 2})
    result = long_video(model, videos[:1], [Variant("RDE", probe)], multipliers=(1,), device="cpu", progress=False)
    with pytest.raises(ValueError, match="different frames' worth"):
        rde_views.constant_size(result, probe, "RDE", theta=0)  # counts the [GT, GT] reads too


def test_period_variants_restore_their_state_and_compose_per_frame_times():
    variants = rde_views.period_variants(3, objects=1, grid=(4, 6), key_dim=8, value_dim=16, top_k=5)
    assert set(variants) == {"stcn_read", "stcn_write", "rde_read", "sam"}
    timing = time_interleaved(variants, repeats=2, warmup=1)
    per_frame = rde_views.per_frame_times(timing, theta=3, k=5)
    wall = {n: timing.times[n].wall for n in variants}
    assert per_frame["rde"][1] == pytest.approx(wall["rde_read"][1] + wall["sam"][1] / 3)
    assert per_frame["stcn_every5"][0] == pytest.approx(wall["stcn_read"][0] + wall["stcn_write"][0] / 5)


def test_paired_bootstrap_ratio_and_relative_change():
    a, b = pd.Series([2.0, 4.0, 6.0], index=list("xyz")), pd.Series([3.0, 2.0, 1.0], index=list("zyx"))
    ratio, low, high = paired_bootstrap_ratio(a, b)  # matched by sequence name: a = 2·b for every sequence
    assert ratio == pytest.approx(2.0) and low == pytest.approx(2.0) and high == pytest.approx(2.0)
    rel, low, high = rde_views.relative_change(pd.Series([1.0, 2.1, 2.9]), pd.Series([1.0, 2.0, 3.0]))
    assert rel == pytest.approx(0.0) and low < 0 < high
    with pytest.raises(ValueError, match="same sequences"):
        paired_bootstrap_ratio(a, pd.Series([1.0], index=["q"]))


def test_clip_keeps_frames_and_refuses_late_objects(videos):
    short = clip(videos[0], 5)
    assert len(short) == 5 and np.array_equal(short.frame(4), videos[0].frame(4))
    masks = np.zeros((6, 8, 8), np.uint8)
    masks[4:, 2:5, 2:5] = 1
    late = Video.from_arrays("late", np.zeros((6, 8, 8, 3), np.uint8), masks, first_frame={1: 4})
    with pytest.raises(DataError, match="objects starting later"):
        clip(late, 3)


def test_keys_widget_redraws_the_picture_of_the_chosen_update(model, videos):
    probe = rde_views.RDEProbe({"similarity": "l2", "top_k": 20, "model": model}, {"theta": 2})
    exp = run(model, videos[:1], [Variant("RDE", probe)], keep=True, warmup=False, score=False, device="cpu",
              progress=False)
    widget = rde_views.keys_widget(videos[0], exp.runs[("RDE", videos[0].name)].masks, probe.keys[0])
    slider, out = widget.children
    assert slider.value == sorted(probe.keys[0])[1] and len(out.outputs) == 1
    shown = out.outputs[0]["data"]["image/png"]
    slider.value = sorted(probe.keys[0])[-1]
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"] != shown  # another update's picture
