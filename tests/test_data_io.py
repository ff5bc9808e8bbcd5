"""DAVIS palette and single-file reading/writing (vosnb.data.io)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vosnb.data import DAVIS_PALETTE, read_frame, read_mask, write_frame, write_mask
from vosnb.errors import DataError


def test_palette_is_the_pascal_voc_colour_map():
    assert DAVIS_PALETTE.shape == (256, 3) and DAVIS_PALETTE.dtype == np.uint8
    first = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128]]
    assert DAVIS_PALETTE[:6].tolist() == first
    assert DAVIS_PALETTE[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in DAVIS_PALETTE}) == 256


def test_mask_round_trip_is_a_palette_png_with_the_davis_palette(tmp_path):
    mask = np.zeros((5, 7), np.uint8)
    mask[1:3, 2:5] = 1
    mask[4, :] = 3
    path = write_mask(tmp_path / "a" / "00000.png", mask)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert np.array_equal(np.asarray(image.getpalette()[: 3 * 4]), DAVIS_PALETTE[:4].ravel())
    assert np.array_equal(read_mask(path), mask)
    assert list(tmp_path.joinpath("a").iterdir()) == [path]  # no temporary file left over


def test_write_mask_rejects_non_uint8_or_non_2d(tmp_path):
    with pytest.raises(DataError, match="uint8"):
        write_mask(tmp_path / "m.png", np.zeros((4, 4), np.int32))
    with pytest.raises(DataError, match="H×W"):
        write_mask(tmp_path / "m.png", np.zeros((4, 4, 3), np.uint8))
    assert not list(tmp_path.iterdir())


def test_non_palette_mask_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    with pytest.raises(DataError, match=r"rgb\.png.*mode 'RGB'"):
        read_mask(path)
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((4, 4), 2, np.uint8)).save(grey)
    with pytest.raises(DataError, match="grey.png"):
        read_mask(grey)
    assert read_mask(grey, require_palette=False).max() == 2


def test_unreadable_files_raise_data_error_naming_them(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.jpg"):
        read_frame(broken)
    with pytest.raises(DataError, match="missing.png"):
        read_mask(tmp_path / "missing.png")


def test_frame_round_trip_and_size_check(tmp_path):
    frame = np.zeros((16, 24, 3), np.uint8)
    frame[:, :12] = (200, 30, 60)
    path = write_frame(tmp_path / "00000.jpg", frame)
    back = read_frame(path)
    assert back.shape == (16, 24, 3) and np.abs(back.astype(int) - frame).max() < 12
    with pytest.raises(DataError, match="16x24.*20x24"):
        read_frame(path, size=(20, 24))
