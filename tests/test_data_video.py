"""`Video` (in-memory construction, lazy loading, id filtering) and RDE-VOS long-video synthesis."""
from __future__ import annotations

import numpy as np
import pytest

from vosnb.data import Video, clip, repeat_forward_backward
from vosnb.data.long_video import forward_backward_indices
from vosnb.errors import DataError


def _arrays(length=5, height=6, width=8):
    frames = np.arange(length * height * width * 3, dtype=np.uint32).reshape(length, height, width, 3).astype(np.uint8)
    masks = np.zeros((length, height, width), np.uint8)
    masks[:, 0, 0] = 1
    masks[2:, 5, 7] = 2  # object 2 first appears in frame 2
    return frames, masks


def test_from_arrays_takes_objects_from_their_first_appearance():
    frames, masks = _arrays()
    video = Video.from_arrays("toy", frames, masks)
    assert (len(video), video.height, video.width) == (5, 6, 8)
    assert video.object_ids == [1, 2] and video.first_frame == {1: 0, 2: 2}
    assert video.frame_names == ["00000", "00001", "00002", "00003", "00004"]
    assert np.array_equal(video.frame(3), frames[3]) and np.array_equal(video.mask(-1), masks[4])


def test_from_arrays_with_first_frame_restricts_masks_to_its_objects():
    frames, masks = _arrays()
    video = Video.from_arrays("toy", frames, masks, first_frame={1: 0})
    assert video.object_ids == [1]
    assert video.mask(3)[5, 7] == 0 and video.mask(3)[0, 0] == 1  # object 2 reads as background
    with pytest.raises(DataError, match="object 2 is not in the mask of frame 0"):
        Video.from_arrays("toy", frames, masks, first_frame={2: 0})


def test_from_arrays_rejects_bad_shapes():
    frames, masks = _arrays()
    with pytest.raises(DataError, match="frames must be"):
        Video.from_arrays("toy", frames[..., 0], masks)
    with pytest.raises(DataError, match="masks must be"):
        Video.from_arrays("toy", frames, masks[:, :3])


def test_frames_are_loaded_lazily_and_indices_checked():
    calls = []
    video = Video("lazy", ["a", "b", "c"], [1], {1: 0}, 2, 2,
                  frame_loader=lambda t: calls.append(t) or np.zeros((2, 2, 3), np.uint8),
                  mask_loader=lambda t: None)
    assert calls == []
    video.frame(1)
    assert calls == [1] and video.mask(2) is None
    with pytest.raises(IndexError, match="3 frames"):
        video.frame(3)


def test_forward_backward_indices_alternate_passes():
    assert forward_backward_indices(3, 1).tolist() == [0, 1, 2]
    assert forward_backward_indices(3, 4).tolist() == [0, 1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0]


def test_repeat_forward_backward_maps_frames_and_masks_without_copies():
    frames, masks = _arrays()
    video = Video.from_arrays("toy", frames, masks)
    long = repeat_forward_backward(video, 15)
    assert len(long) == 15 * len(video) and long.name == "toy_x15"
    assert long.object_ids == video.object_ids and long.first_frame == video.first_frame
    index = forward_backward_indices(len(video), 15)
    for t in (0, 4, 5, 9, 10, 74):
        assert np.array_equal(long.frame(t), frames[index[t]])
        assert np.array_equal(long.mask(t), masks[index[t]])
    # adjacent frames of the long video are adjacent (or equal) frames of the source: smooth transitions
    assert np.abs(np.diff(index)).max() <= 1
    with pytest.raises(DataError, match="positive integer"):
        repeat_forward_backward(video, 0)


def test_clip_keeps_the_first_frames_and_refuses_bad_lengths():
    frames = np.arange(6 * 4 * 4 * 3, dtype=np.uint8).reshape(6, 4, 4, 3)
    masks = np.zeros((6, 4, 4), np.uint8)
    masks[:, 1:3, 1:3] = 1
    masks[4:, 0, 0] = 2
    video = Video.from_arrays("v", frames, masks)
    short = clip(Video.from_arrays("v", frames, masks, first_frame={1: 0}), 4)
    assert len(short) == 4 and np.array_equal(short.frame(3), frames[3])
    with pytest.raises(ValueError, match="late"):
        clip(video, 4)  # object 2 first appears at frame 4
    with pytest.raises(ValueError, match="length"):
        clip(video, 2)
