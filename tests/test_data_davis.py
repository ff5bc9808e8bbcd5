"""Reading the DAVIS and YouTube-VOS layouts, and the clear errors on malformed data."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vosnb.data import DavisDataset, YouTubeVOSDataset, write_mask
from vosnb.errors import DataError


def test_reads_the_synthetic_set_like_davis(tiny_davis_root):
    dataset = DavisDataset(tiny_davis_root, "val")
    assert dataset.sequences == ["val-000", "val-001"] and len(dataset) == 2
    manifest = json.loads((tiny_davis_root / "synthetic.json").read_text())
    for video in dataset:
        assert (len(video), video.height, video.width) == (8, 48, 80)
        first = video.mask(0)
        assert video.object_ids == sorted(set(np.unique(first).tolist()) - {0})
        assert set(video.first_frame.values()) == {0}
        assert video.frame(7).shape == (48, 80, 3) and video.frame(7).dtype == np.uint8
        events = manifest["splits"]["val"]["sequences"][video.name]
        assert {int(k) for k, o in events["objects"].items() if o["first_frame"] == 0} == set(video.object_ids)
    assert DavisDataset(tiny_davis_root, "train").sequences == ["train-000", "train-001"]


def test_first_appearance_mode_introduces_mid_video_objects(make_davis_root, tiny_sequence):
    frames, masks = tiny_sequence
    masks = masks.copy()
    masks[:3][masks[:3] == 2] = 0  # object 2 now first appears in frame 3
    root = make_davis_root({"late": (frames, masks)})
    davis = DavisDataset(root)["late"]
    assert davis.object_ids == [1] and davis.first_frame == {1: 0}
    assert not (davis.mask(4) == 2).any()  # DAVIS semantics: only first-frame objects
    video = DavisDataset(root, objects="first_appearance")["late"]
    assert video.first_frame == {1: 0, 2: 3}
    assert np.array_equal(video.mask(4), masks[4])
    with pytest.raises(DataError, match="objects="):
        DavisDataset(root, objects="all")


def test_unknown_sequence_name(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    with pytest.raises(DataError, match="unknown sequence 'nope'.*blobs"):
        DavisDataset(root)["nope"]


def test_missing_root_and_split_file(tmp_path):
    with pytest.raises(DataError, match="data root not found.*vosnb data synth"):
        DavisDataset(tmp_path / "absent")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(DataError, match=r"ImageSets/2017/val\.txt"):
        DavisDataset(tmp_path / "empty")


def test_missing_first_frame_annotation(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    (root / "Annotations/480p/blobs/00000.png").unlink()
    with pytest.raises(DataError, match=r"blobs/00000\.png: first-frame annotation missing"):
        DavisDataset(root)["blobs"]


def test_frame_mask_size_mismatch(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    write_mask(root / "Annotations/480p/blobs/00000.png", np.ones((20, 64), np.uint8))
    with pytest.raises(DataError, match=r"00000\.png: mask is 20x64 but the sequence's frames are 40x64"):
        DavisDataset(root)["blobs"]
    root = make_davis_root({"blobs": tiny_sequence})
    write_mask(root / "Annotations/480p/blobs/00000.png", tiny_sequence[1][0])
    write_mask(root / "Annotations/480p/blobs/00004.png", np.ones((40, 60), np.uint8))
    video = DavisDataset(root)["blobs"]
    with pytest.raises(DataError, match=r"00004\.png: mask is 40x60"):
        video.mask(4)


def test_non_palette_mask(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    Image.fromarray(np.zeros((40, 64, 3), np.uint8)).save(root / "Annotations/480p/blobs/00000.png")
    with pytest.raises(DataError, match=r"00000\.png: mask is a mode 'RGB' image"):
        DavisDataset(root)["blobs"]


def test_gap_in_frame_numbering(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    (root / "JPEGImages/480p/blobs/00002.jpg").unlink()
    with pytest.raises(DataError, match=r"gap in frame numbering, expected 00002\.jpg but found 00003\.jpg"):
        DavisDataset(root)["blobs"]


def test_empty_sequence(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    for path in (root / "JPEGImages/480p/blobs").iterdir():
        path.unlink()
    with pytest.raises(DataError, match=r"blobs: empty sequence"):
        DavisDataset(root)["blobs"]


def test_unreadable_image(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    (root / "JPEGImages/480p/blobs/00003.jpg").write_bytes(b"\xff\xd8 truncated")
    video = DavisDataset(root)["blobs"]
    assert video.frame(2).shape == (40, 64, 3)
    with pytest.raises(DataError, match=r"00003\.jpg: cannot read this image"):
        video.frame(3)


def test_sparse_annotations_read_as_none(make_davis_root, tiny_sequence):
    root = make_davis_root({"blobs": tiny_sequence})
    (root / "Annotations/480p/blobs/00003.png").unlink()  # like DAVIS test-dev: only some frames annotated
    video = DavisDataset(root)["blobs"]
    assert video.mask(3) is None and video.mask(2) is not None


def test_youtube_vos_objects_start_where_meta_says(tiny_youtube_root):
    dataset = YouTubeVOSDataset(tiny_youtube_root)
    assert dataset.sequences == ["seq"]
    video = dataset["seq"]
    meta = json.loads((tiny_youtube_root / "valid/meta.json").read_text())["videos"]["seq"]["objects"]
    assert video.frame_names[:3] == ["00000", "00005", "00010"]
    assert video.first_frame[1] == 0 and video.first_frame[2] == video.frame_names.index(meta["2"]["frames"][0]) > 0
    later = video.first_frame[2]
    assert (video.mask(later) == 2).any() and video.mask(later + 1) is None
    with pytest.raises(DataError, match="unknown sequence 'x'"):
        dataset["x"]


def test_youtube_vos_missing_first_annotation_and_meta(tiny_youtube_root, tmp_path):
    video = YouTubeVOSDataset(tiny_youtube_root)["seq"]
    stem = video.frame_names[video.first_frame[2]]
    (tiny_youtube_root / f"valid/Annotations/seq/{stem}.png").unlink()
    with pytest.raises(DataError, match=rf"{stem}\.png: first-frame annotation of object 2"):
        YouTubeVOSDataset(tiny_youtube_root)["seq"]
    with pytest.raises(DataError, match="meta.json not found"):
        YouTubeVOSDataset(tmp_path / "nothing")
