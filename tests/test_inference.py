"""The propagation engine end to end: released-architecture STCN with random weights, multi-object, mid-video
objects, padding, memory strategies, predictions on disk that `vosnb eval` scores."""
import numpy as np
import pytest
import torch

from vosnb.cli import main as cli_main
from vosnb.data import DavisDataset, SequenceConfig, Video, make_sequence
from vosnb.inference import (aggregate, evaluate_model, first_frame_baseline, pad_to_multiple, padding, propagate,
                             unpad)
from vosnb.memory import EveryK
from vosnb.models import STCN


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return STCN.small(key_dim=16, similarity="l2").eval()


@pytest.fixture(scope="module")
def video():
    frames, masks, _ = make_sequence(SequenceConfig(length=7, height=40, width=70, n_objects=2), seed=3)
    return Video.from_arrays("two", frames, masks, first_frame={1: 0, 2: 0})


def test_padding_is_split_evenly_and_undone():
    x = torch.arange(40 * 70, dtype=torch.float).reshape(1, 1, 40, 70)
    padded, pad = pad_to_multiple(x)
    assert padded.shape[-2:] == (48, 80) and pad == (5, 5, 4, 4) == padding(40, 70)
    assert torch.equal(unpad(padded, pad), x)
    assert padding(41, 64) == (0, 0, 3, 4)  # the odd pixel goes to the bottom (right)


def test_frames_are_normalised_then_zero_padded_as_the_authors_do(small_model):
    """A 100×150 video, padded to 112×160: the key encoder sees the normalised frame inside and exact zeros around
    it (the ImageNet mean colour, the authors' convention), whatever the frame. Padding the [0, 1] frame with black
    before normalising (vosnb's old convention, rebuilt here by a caller who pads the frames) changes the
    predictions inside the frame, most near its edges."""
    frames, masks, _ = make_sequence(SequenceConfig(length=4, height=100, width=150, n_objects=2), seed=3)
    video = Video.from_arrays("odd", frames, masks, first_frame={1: 0, 2: 0})
    seen = []
    hook = small_model.key_encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    try:
        ours = propagate(small_model, video, "every2", device="cpu", keep_probs=True)
    finally:
        hook.remove()
    left, right, top, bottom = pad = padding(100, 150)
    assert pad == (5, 5, 6, 6) and len(seen) == 4
    inside = torch.zeros(112, 160, dtype=torch.bool)
    inside[top: top + 100, left: left + 150] = True
    for t, image in enumerate(seen):
        assert image.shape == (1, 3, 112, 160)
        assert torch.equal(image[..., ~inside], torch.zeros(1, 3, int((~inside).sum())))
        rgb = torch.from_numpy(frames[t]).permute(2, 0, 1).unsqueeze(0).float() / 255
        assert torch.equal(unpad(image, pad), small_model.normalise(rgb))

    black = Video.from_arrays("black", np.pad(frames, ((0, 0), (top, bottom), (left, right), (0, 0))),
                              np.pad(masks, ((0, 0), (top, bottom), (left, right))), first_frame={1: 0, 2: 0})
    old = propagate(small_model, black, "every2", device="cpu", keep_probs=True)
    assert not unpad(torch.from_numpy(old.masks), pad).equal(torch.from_numpy(ours.masks))
    change = (unpad(torch.from_numpy(old.probs[1:]).float(), pad) - torch.from_numpy(ours.probs[1:]).float()).abs()
    edge = torch.ones(100, 150, dtype=torch.bool)
    edge[16:-16, 16:-16] = False
    assert change[..., edge].max() > 0.1 and change[..., edge].mean() > 2 * change[..., ~edge].mean()


def test_soft_aggregation_is_a_distribution_with_background_first():
    probs = torch.tensor([[[0.9, 0.1]], [[0.8, 0.0]]])
    out = aggregate(probs)
    torch.testing.assert_close(out.sum(0), torch.ones(1, 2))
    assert out[:, 0, 1].argmax() == 0  # both objects unlikely: background wins
    assert out[1, 0, 0] > out[2, 0, 0] > out[0, 0, 0]


def test_released_architecture_propagates_a_small_video():
    torch.manual_seed(0)
    model = STCN().eval()  # the released widths (ResNet-50 key encoder), random weights
    frames, masks, _ = make_sequence(SequenceConfig(length=4, height=48, width=64, n_objects=2), seed=1)
    result = propagate(model, Video.from_arrays("big", frames, masks, first_frame={1: 0, 2: 0}), "every2",
                       device="cpu")
    assert result.masks.shape == (4, 48, 64) and result.masks.dtype == np.uint8
    assert np.array_equal(result.masks[0], masks[0])
    assert set(np.unique(result.masks)) <= {0, 1, 2}
    assert (result.frame_times > 0).all()
    assert result.banks[0].frame_of.unique().tolist() == [0, 2]


def test_propagation_is_deterministic_and_memory_grows_as_the_strategy_says(small_model, video):
    a = propagate(small_model, video, "every2", device="cpu")
    b = propagate(small_model, video, "every2", device="cpu")
    assert np.array_equal(a.masks, b.masks)
    steps = np.diff(a.memory_bytes)
    assert (steps[[1, 3]] > 0).all() and (steps[[0, 2]] == 0).all()  # writes after frames 2 and 4, not 1 and 3
    fl = propagate(small_model, video, "first_last", device="cpu")
    assert fl.memory_bytes[2] == fl.memory_bytes[-1]  # first + latest: constant after frame 1


def test_a_bank_factory_and_tracking_are_accepted(small_model, video):
    result = propagate(small_model, video, lambda: EveryK(k=1, track=True, similarity="l2"), device="cpu")
    tracker = result.banks[0].tracker
    assert len(tracker) == result.banks[0].num_elements
    assert (tracker.max_weight > 0).all() and (tracker.max_weight <= 1).all()


def test_objects_that_appear_mid_video_join_at_their_first_annotation(small_model):
    frames, masks, events = make_sequence(SequenceConfig(length=8, height=40, width=64, n_objects=2, n_mid_video=1),
                                          seed=5)
    video = Video.from_arrays("late", frames, masks)
    late = max(video.first_frame, key=video.first_frame.get)
    first = video.first_frame[late]
    assert first > 0
    result = propagate(small_model, video, "every3", device="cpu")
    assert not (result.masks[:first] == late).any()
    assert np.array_equal(result.masks[first] == late, masks[first] == late)
    assert sorted(result.banks) == sorted(set(video.first_frame.values()))


def test_evaluate_model_scores_the_first_frame_baseline_below_the_ground_truth(small_model, tiny_davis_root):
    val = DavisDataset(tiny_davis_root, "val")
    result = evaluate_model(small_model, val, "every5", device="cpu", progress=False)
    assert set(result.metrics["sequence"]) == set(val.sequences)
    assert result.fps > 0 and result.summary["J&F-Mean"] <= 1
    video = val[val.sequences[0]]
    assert np.array_equal(first_frame_baseline(video)[-1], video.mask(0))


def test_infer_command_writes_predictions_that_eval_scores(small_model, tiny_davis_root, tmp_path, capsys):
    ckpt = tmp_path / "model.pth"
    payload = {"vosnb_model": {"key_dim": 16, "value_dim": small_model.value_dim, "similarity": "l2",
                               "config": __import__("dataclasses").asdict(small_model.config)},
               "state_dict": small_model.state_dict()}
    torch.save(payload, ckpt)
    out = tmp_path / "pred"
    assert cli_main(["infer", "--data-root", str(tiny_davis_root), "--checkpoint", str(ckpt), "--out", str(out),
                     "--device", "cpu"]) == 0
    val = DavisDataset(tiny_davis_root, "val").sequences
    assert len(list((out / val[0]).glob("*.png"))) == 8
    gt = tiny_davis_root / "Annotations" / "480p"
    assert cli_main(["eval", "--gt", str(gt), "--pred", str(out), "--workers", "1", "--sequences", *val]) == 0
    assert "J&F-Mean" in capsys.readouterr().out


def test_infer_command_names_a_missing_checkpoint(tiny_davis_root, tmp_path, capsys):
    assert cli_main(["infer", "--data-root", str(tiny_davis_root), "--checkpoint", str(tmp_path / "nope.pth"),
                     "--out", str(tmp_path / "o")]) == 2
    assert "nope.pth does not exist" in capsys.readouterr().err
