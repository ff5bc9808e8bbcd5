"""Redundancy statistics of SWEM §3.3 (Fig. 2): histograms, streaming pairs, EM bases, the video-file loader."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vosnb.analysis import redundancy
from vosnb.analysis.redundancy import (EDGES, SimilarityHistogram, bin_pairs, max_similarity, measure_redundancy,
                                       read_video_file, scaled_num_bases)
from vosnb.data import Video
from vosnb.errors import DataError
from vosnb.models import STCN


def test_histogram_bins_shares_and_per_frame_counts():
    hist = SimilarityHistogram()
    hist.start_video()
    hist.add(torch.tensor([-1.0, -0.95, 0.05, 0.3, 0.95, 1.0, 1.0000001]), frames=2)
    pooled = hist.pooled()
    assert pooled.sum() == 7 and pooled[0] == 2 and pooled[10] == 1 and pooled[13] == 1 and pooled[19] == 3
    assert hist.share_above(0.9) == pytest.approx(3 / 7)
    assert hist.share_above(0.3) == pytest.approx(4 / 7)
    assert hist.count_above_per_frame(0.9) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="bin edge"):
        hist.share_above(0.95)
    hist.start_video()
    hist.add(torch.tensor([0.0]), frames=1)
    np.testing.assert_allclose(hist.share_above_per_video(0.9), [3 / 7, 0.0])


def test_add_needs_a_video_row():
    with pytest.raises(RuntimeError, match="start_video"):
        SimilarityHistogram().add(torch.zeros(3))


def test_chunked_pairs_equal_the_full_upper_triangle():
    g = torch.Generator().manual_seed(0)
    f = F.normalize(torch.randn(37, 5, generator=g), dim=1)
    chunked, full = SimilarityHistogram(), SimilarityHistogram()
    chunked.start_video()
    full.start_video()
    bin_pairs(chunked, f, chunk=4)
    sims = f @ f.t()
    full.add(sims[torch.triu(torch.ones(37, 37, dtype=torch.bool), diagonal=1)], frames=1)
    np.testing.assert_array_equal(chunked.counts, full.counts)
    assert chunked.total == 37 * 36 // 2 and chunked.frames.tolist() == [1]


def test_max_similarity_matches_a_brute_force_max():
    g = torch.Generator().manual_seed(1)
    a, b = F.normalize(torch.randn(23, 6, generator=g), dim=1), F.normalize(torch.randn(9, 6, generator=g), dim=1)
    torch.testing.assert_close(max_similarity(a, b, chunk=5), (a @ b.t()).amax(1))


def test_scaled_bases_keep_the_papers_pixels_per_basis():
    assert scaled_num_bases((30, 54)) == 256
    assert scaled_num_bases((8, 14)) == 18
    assert scaled_num_bases((1, 1)) == 1


class ConstantEncoder(torch.nn.Module):
    """Every pixel of every frame gets the same key: maximal redundancy."""

    def encode_key(self, frame):
        b, _, h, w = frame.shape
        key = torch.ones(b, 4, h // 16, w // 16)
        return type("Q", (), {"key": key, "f16": key})()


def still_video(frames=3, height=32, width=48):
    rgb = np.zeros((frames, height, width, 3), np.uint8)
    return Video.from_arrays("still", rgb, np.zeros((frames, height, width), np.uint8), first_frame={})


def test_identical_features_are_fully_redundant():
    report = measure_redundancy(ConstantEncoder(), [still_video()], encoder="constant", source="still", num_bases=2,
                                progress=False)
    assert report.grid == (2, 3) and report.input_size == (32, 48)
    assert report.inter_pixels.share_above(0.9) == 1.0 and report.inter_pixels.total == 2 * 6
    assert report.intra_pixels.total == 3 * 15 and report.intra_pixels.share_above(0.9) == 1.0
    assert report.inter_bases.share_above(0.7) == 1.0
    assert report.intra_pixels.frames.tolist() == [3] and report.inter_pixels.frames.tolist() == [2]


def test_small_stcn_report_is_deterministic_and_per_video():
    torch.manual_seed(0)
    model = STCN.small(key_dim=16).eval()
    g = np.random.default_rng(0)
    videos = [Video.from_arrays(f"v{i}", g.integers(0, 255, (3, 44, 56, 3), dtype=np.uint8),
                                np.zeros((3, 44, 56), np.uint8), first_frame={}) for i in range(2)]
    a = measure_redundancy(model, videos, encoder="small", source="noise", num_bases=4, progress=False)
    b = measure_redundancy(model, videos, encoder="small", source="noise", num_bases=4, progress=False)
    assert a.input_size == (48, 64)  # rounded to multiples of 16
    assert a.inter_pixels.counts.shape == (2, len(EDGES) - 1)
    np.testing.assert_array_equal(a.intra_bases.counts, b.intra_bases.counts)
    assert a.share_interval("inter_pixels", 0.9) is not None
    row = a.summary()
    assert row["encoder"] == "small" and row["grid"] == "3×4" and row["frames"] == 6


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="feature"):
        measure_redundancy(ConstantEncoder(), [still_video()], encoder="c", source="s", feature="pixels")
    with pytest.raises(ValueError, match="multiples of 16"):
        measure_redundancy(ConstantEncoder(), [still_video()], encoder="c", source="s", size=(30, 50))
    with pytest.raises(ValueError, match="no videos"):
        measure_redundancy(ConstantEncoder(), [], encoder="c", source="s")
    with pytest.raises(ValueError, match="ships"):
        redundancy.sample_clip_path("nope")


def test_read_video_file_round_trip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for t in range(5):
        writer.write(np.full((48, 64, 3), 40 * t, np.uint8))
    writer.release()
    video = read_video_file(path, size=(32, 48), max_frames=4)
    assert len(video) == 4 and (video.height, video.width) == (32, 48) and video.object_ids == []
    assert video.frame(3).shape == (32, 48, 3) and video.mask(0) is None
    assert abs(int(video.frame(2).mean()) - 80) <= 3
    with pytest.raises(DataError, match="does not exist"):
        read_video_file(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(DataError, match="no frame"):
        read_video_file(tmp_path / "junk.mp4")


def test_sample_clip_is_found_in_the_installed_wheel():
    path = redundancy.sample_clip_path("bigbuckbunny")
    assert path.name == "bigbuckbunny.mp4" and path.stat().st_size > 100_000
