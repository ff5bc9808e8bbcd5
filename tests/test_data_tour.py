"""Notebook 00's helpers (vosnb.analysis.data_tour) on the tiny fixtures of conftest.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from vosnb.analysis import data_tour
from vosnb.data import DAVIS_PALETTE, DavisDataset, SequenceConfig, Video, make_sequence, write_davis_sequence
from vosnb.data.long_video import forward_backward_indices
from vosnb.data.synthetic import KNOBS
from vosnb.errors import DataError


@pytest.fixture(scope="module")
def tiny_video(tiny_sequence) -> Video:
    frames, masks = tiny_sequence
    return Video.from_arrays("tiny", frames, masks)


@pytest.fixture(scope="module")
def event_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DAVIS-layout val split of two generated sequences with a synthetic.json holding their events: one with
    object 1 hidden for frames 4..6, one with object 2 entering mid-video."""
    root = tmp_path_factory.mktemp("events") / "synthetic"
    configs = {
        "val-000": SequenceConfig(length=12, height=48, width=80, n_objects=1, hide_object=(1, 4, 3)),
        "val-001": SequenceConfig(length=12, height=48, width=80, n_objects=2, n_mid_video=1),
    }
    sequences = {}
    for seed, (name, config) in enumerate(configs.items()):
        frames, masks, events = make_sequence(config, seed)
        write_davis_sequence(root, name, masks, frames)
        sequences[name] = events
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{name}\n" for name in configs))
    (root / "synthetic.json").write_text(json.dumps({"splits": {"val": {"sequences": sequences}}}))
    return root


# ------------------------------------------------------------------------------------------------ overlay
def test_overlay_keeps_background_pixels_and_tints_objects(tiny_sequence):
    frames, masks = tiny_sequence
    frame, mask = frames[2], masks[2]
    out = data_tour.overlay(frame, mask, alpha=0.5)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    for k in (1, 2):
        inside = mask == k
        before = np.abs(frame[inside].astype(int) - DAVIS_PALETTE[k]).mean()
        after = np.abs(out[inside].astype(int) - DAVIS_PALETTE[k]).mean()
        assert after < 0.6 * before  # pulled halfway (or all the way on the outline) to the palette colour


def test_overlay_draws_the_outline_in_full_colour_and_handles_missing_masks():
    frame = np.full((9, 9, 3), 200, np.uint8)
    mask = np.zeros((9, 9), np.uint8)
    mask[2:7, 2:7] = 1
    out = data_tour.overlay(frame, mask, alpha=0.0)
    assert (out[2, 2:7] == DAVIS_PALETTE[1]).all() and (out[4, 4] == 200).all()  # alpha 0: outline only
    assert np.array_equal(data_tour.overlay(frame, None), frame)
    with pytest.raises(ValueError, match="mask must be H×W"):
        data_tour.overlay(frame, mask[:5])


# ------------------------------------------------------------------------------------------------ knobs
def test_event_frames_frame_the_first_run():
    assert data_tour.event_frames([2, 3, 4, 5, 6], 40, 6) == [1, 2, 3, 5, 6, 7]
    assert data_tour.event_frames(list(range(18, 27)) + [30], 40, 6) == [17, 18, 21, 23, 26, 27]
    assert data_tour.event_frames([20], 40, 5) == [18, 19, 20, 21, 22]
    assert data_tour.event_frames([0], 5, 8) == [0, 1, 2, 3, 4]  # never beyond the video
    with pytest.raises(ValueError):
        data_tour.event_frames([3], 10, 3)


def test_knob_table_and_grid_show_the_recorded_events(event_root):
    table = data_tour.knob_table(event_root)
    assert list(table.index) == ["val-000", "val-001"] and list(table.columns) == ["objects", *KNOBS]
    assert table.loc["val-000", "full_occlusion"] and not table.loc["val-001", "full_occlusion"]
    assert table.loc["val-001", "mid_video"] and table["objects"].tolist() == [1, 2]

    fig = data_tour.knob_grid(event_root, knobs=("full_occlusion", "mid_video"), frames_per_row=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 10
    titles = [ax.get_title() for ax in fig.axes]
    assert [t for t in titles[:5] if "hidden" in t] == ["t=4 · hidden", "t=5 · hidden", "t=6 · hidden"]
    entering = json.loads((event_root / "synthetic.json").read_text())
    first = entering["splits"]["val"]["sequences"]["val-001"]["objects"]["2"]["first_frame"]
    assert f"t={first} · enters" in titles[5:]
    assert "full occlusion\nval-000" in fig.axes[0].get_ylabel()


def test_knob_grid_explains_what_is_missing(tiny_davis_root, make_davis_root, tiny_sequence):
    with pytest.raises(DataError, match="distractor"):  # knob_rate 0: no sequence has a distractor
        data_tour.knob_grid(tiny_davis_root, knobs=("distractor",))
    with pytest.raises(ValueError, match="subset"):
        data_tour.knob_grid(tiny_davis_root, knobs=("teleport",))
    davis = make_davis_root({"seq": tiny_sequence})
    with pytest.raises(DataError, match="synthetic.json.*sequence_grid"):
        data_tour.knob_grid(davis)
    fig = data_tour.sequence_grid(davis, n_sequences=1, frames_per_row=4)
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes] == ["t=0", "t=2", "t=3", "t=5"]


# ------------------------------------------------------------------------------------------------ statistics
def test_dataset_statistics_count_sequences_frames_and_objects(tiny_davis_root):
    stats = data_tour.dataset_statistics(tiny_davis_root, progress=False)
    assert list(stats.index) == ["train", "val"]
    for split in ("train", "val"):
        dataset = DavisDataset(tiny_davis_root, split)
        row = stats.loc[split]
        assert row["sequences"] == 2 and row["frames"] == 16 and row["frame size"] == "48×80"
        assert row["objects"] == sum(len(video.object_ids) for video in dataset)
        assert 0 < row["mean object area %"] < 100
        assert all(row[f"with {data_tour.KNOB_LABELS[k]}"] == 0 for k in KNOBS if k != "crossing")  # knob_rate 0


def test_dataset_statistics_of_a_davis_root_without_events(make_davis_root):
    masks = np.zeros((4, 10, 20), np.uint8)
    masks[:, :5, :4] = 1  # 20 pixels of 200: 10%
    masks[:2, 5:, 10:] = 2  # 50 pixels: 25%, visible in 2 frames only
    frames = np.zeros((4, 10, 20, 3), np.uint8)
    stats = data_tour.dataset_statistics(make_davis_root({"a": (frames, masks), "b": (frames, masks)}),
                                         progress=False)
    row = stats.loc["val"]
    assert (row["sequences"], row["frames"], row["objects"]) == (2, 8, 4)
    assert row["mean object area %"] == pytest.approx(100 * (8 * 0.10 + 4 * 0.25) / 12)
    assert not any(column.startswith("with ") for column in stats.columns)


# ------------------------------------------------------------------------------------------------ long videos
def test_long_video_strip_titles_follow_the_index_mapping(tiny_video):
    fig = data_tour.long_video_strip(tiny_video, 3, thumbnails=5)
    index = forward_backward_indices(len(tiny_video), 3)
    thumbs = fig.axes[1:]
    assert len(thumbs) == 5
    for ax in thumbs:
        t, source = ax.get_title().split(" ← source ")
        assert index[int(t)] == int(source)
    line = fig.axes[0].get_lines()[0]
    assert np.array_equal(line.get_ydata(), index)


# ------------------------------------------------------------------------------------------------ metric sanity
def test_perturbations_change_the_masks_as_named(tiny_sequence):
    _, masks = tiny_sequence
    assert np.array_equal(data_tour.perturb(masks, "identity", 0), masks)
    shifted = data_tour.perturb(masks, "shift", 3)
    assert np.array_equal(shifted[..., 3:], masks[..., :-3]) and not shifted[..., :3].any()
    area = np.count_nonzero(masks)
    assert np.count_nonzero(data_tour.perturb(masks, "erosion", 1)) < area
    assert np.count_nonzero(data_tour.perturb(masks, "dilation", 1)) > area
    dropped = data_tour.perturb(masks, "drop", 50)  # 2 of the 4 scored frames (1..4)
    assert [bool(m.any()) for m in dropped] == [True, False, True, False, True, True]
    assert not data_tour.perturb(masks, "empty", 100).any()
    assert (data_tour.perturb(masks, "first frame copied", 0) == masks[0]).all()
    with pytest.raises(ValueError, match="unknown kind"):
        data_tour.perturb(masks, "blur", 1)
    for kind, amount in (("shift", masks.shape[-1]), ("erosion", -1), ("drop", 150)):
        with pytest.raises(ValueError, match="must lie in"):
            data_tour.perturb(masks, kind, amount)


def test_metric_sanity_scores_match_expectations(tiny_video, tiny_sequence):
    _, masks = tiny_sequence
    assert all(len(np.unique(m)) == 3 for m in masks[1:-1])  # both objects visible in every scored frame
    table = data_tour.metric_sanity(tiny_video)
    assert (table.loc["identity", ["J&F", "J", "F"]] == 1.0).all()
    shifts = table.loc[["identity", "shift 2 px", "shift 4 px", "shift 8 px"], "J&F"].to_numpy()
    assert np.all(np.diff(shifts) < 0)  # a larger shift scores lower
    for kind in ("erosion", "dilation"):
        scores = table.loc[["identity", f"{kind} 1 px", f"{kind} 2 px", f"{kind} 4 px"], "J"].to_numpy()
        assert np.all(np.diff(scores) < 0)
    assert table.loc["drop 25%", "J&F"] == pytest.approx(0.75)  # 1 of 4 scored frames empty
    assert table.loc["drop 50%", "J&F"] == pytest.approx(0.5)
    assert table.loc["empty", "J&F"] == 0.0
    assert table.loc["first frame copied", "J&F"] < 1.0


def test_metric_sanity_pools_objects_of_several_videos_and_plots(tiny_video):
    one = data_tour.metric_sanity(tiny_video, [("identity", 0), ("shift", 4)])
    two = data_tour.metric_sanity([tiny_video, tiny_video], [("identity", 0), ("shift", 4)])
    assert np.allclose(one[["J&F", "J", "F"]], two[["J&F", "J", "F"]])
    fig = data_tour.plot_metric_sanity(data_tour.metric_sanity(tiny_video))
    left, right = fig.axes
    assert len(left.get_lines()) == 4 and len(right.get_lines()) == 2  # 3 families + reference; drop + reference
    assert list(right.get_lines()[0].get_xdata()) == [0, 25, 50, 100]
    with pytest.raises(ValueError, match="no videos"):
        data_tour.metric_sanity([])
