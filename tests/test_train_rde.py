"""RDE-VOS training: the mask perturbation, the KL losses, the five-frame forward, the four loss-variant configs,
and a smoke run that lowers the loss, is deterministic and resumes bit-identically."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vosnb.data.perturb import perturb_mask, perturb_masks
from vosnb.errors import VosnbError
from vosnb.models import RDE
from vosnb.models.zoo import load_any_checkpoint
from vosnb.train import (ClipSampler, Clips, TrainConfig, channel_kl, clip_loss, score_checkpoint, set_train_mode,
                         train)

LOSS_SWITCHES = ("unbiased_guidance", "mask_consistency")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


@pytest.mark.parametrize("target", [0.85, 0.9, 0.97])
def test_the_perturbation_reaches_the_target_iou(target):
    mask = np.zeros((48, 64), bool)
    mask[10:40, 12:50] = True
    field = np.random.default_rng(1).random((48, 64))
    out = perturb_mask(mask, target, field)
    assert abs(_iou(out, mask) - target) <= 1 / mask.sum()  # within one pixel's worth of IoU
    assert out.sum() != mask.sum() or not np.array_equal(out, mask)


def test_the_perturbation_is_seeded_and_shares_one_target():
    masks = np.zeros((2, 48, 64), np.float32)
    masks[0, 5:30, 5:30] = 1
    masks[1, 20:45, 30:60] = 1
    first = perturb_masks(masks, np.random.default_rng(3), (0.85, 1.0))
    again = perturb_masks(masks, np.random.default_rng(3), (0.85, 1.0))
    other = perturb_masks(masks, np.random.default_rng(4), (0.85, 1.0))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    target = np.random.default_rng(3).uniform(0.85, 1.0)
    for j in range(2):
        assert abs(_iou(first[j] > 0, masks[j] > 0) - target) <= 1 / masks[j].sum()
    assert not perturb_masks(np.zeros((1, 8, 8), np.float32), np.random.default_rng(0), (0.85, 1.0)).any()


def test_channel_kl_is_zero_for_agreeing_embeddings_and_follows_the_authors_mean():
    x = torch.randn(2, 2, 6, 3, 4)
    assert channel_kl(x, x).item() == pytest.approx(0.0, abs=1e-7)
    y = torch.randn(2, 2, 6, 3, 4)
    kl = channel_kl(x, y)
    assert kl > 0
    p, q = torch.softmax(x, 2), torch.softmax(y, 2)
    per_object = (p * (p.log() - q.log())).transpose(0, 1).flatten(1).mean(1)  # PyTorch KLDivLoss('mean') per object
    assert kl.item() == pytest.approx(per_object.sum().item(), rel=1e-5)


@pytest.fixture
def tiny_clips():
    torch.manual_seed(0)
    frames = torch.rand(2, 5, 3, 32, 48)
    masks = torch.zeros(2, 5, 2, 32, 48)
    masks[:, :, 0, 8:24, 10:30] = 1
    return Clips(frames, masks, masks[:, 0].clone())


def test_the_rde_forward_and_an_unperturbed_mask(tiny_clips):
    """Mask consistency is zero when the 'perturbed' mask is the clean one; the terms appear only when switched on;
    gradients reach SAM through the frames read from the SAM memory."""
    model = RDE.small()
    set_train_mode(model, TrainConfig(name="x", model="rde").kind)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms) and model.mem_compress.training  # BN frozen, as the authors
    config = TrainConfig(name="x", model="rde", unbiased_guidance=True, mask_consistency=True)
    loss, terms = clip_loss(model, tiny_clips, config, 1.0)
    assert terms["mc"] == 0.0 and terms["ug"] > 0
    loss.backward()
    assert model.mem_compress.compress_value.weight.grad.abs().sum() > 0
    _, plain = clip_loss(model, tiny_clips, dataclasses.replace(config, unbiased_guidance=False,
                                                                mask_consistency=False), 1.0)
    assert set(plain) == {"ce"} and plain["ce"] == pytest.approx(terms["ce"])


def test_rde_clips_have_five_frames_and_a_perturbed_first_mask(tiny_davis_root):
    sampler = ClipSampler(tiny_davis_root, "train", (48, 64), clip_frames=5, perturb_iou=(0.85, 0.9))
    clips = sampler.batch(np.random.default_rng(0), 2, max_skip=1)
    assert clips.frames.shape == (2, 5, 3, 48, 64) and clips.perturbed.shape == (2, 2, 48, 64)
    first = clips.masks[:, 0, 0] > 0
    assert 0.84 < _iou(clips.perturbed[:, 0].numpy() > 0, first.numpy()) < 0.91


def test_the_four_rde_configs_differ_only_in_the_loss_switches():
    configs = [TrainConfig.from_yaml(p) for p in sorted(Path("configs/train").glob("rde_small_*.yaml"))]
    assert {(c.unbiased_guidance, c.mask_consistency) for c in configs} == {(a, b) for a in (0, 1) for b in (0, 1)}
    common = [{k: v for k, v in dataclasses.asdict(c).items() if k not in ("name", *LOSS_SWITCHES)} for c in configs]
    assert all(c == common[0] for c in common)
    assert common[0]["model"] == "rde" and common[0]["init_from"] == "stcn_small_l2_ck64"
    assert common[0]["unbiased_guidance_weight"] == common[0]["mask_consistency_weight"] == 10.0


def test_rde_losses_need_the_rde_kind():
    with pytest.raises(VosnbError, match="set model: rde"):
        TrainConfig(name="x", unbiased_guidance=True)


def test_rde_smoke_training_lowers_the_loss_is_deterministic_and_resumes(tiny_davis_root, tmp_path):
    config = TrainConfig(name="rde", model="rde", init_from="stcn_small_l2_ck64", data_root=str(tiny_davis_root),
                         crop=(48, 64), batch_size=2, steps=10, lr=1e-3, save_every=5, top_p=1.0, threads=1,
                         out_dir=str(tmp_path / "state"), checkpoint_dir=str(tmp_path / "ckpt"),
                         unbiased_guidance=True, mask_consistency=True)
    path = train(config, device="cpu", progress=False)
    losses = torch.load(tmp_path / "state" / "rde.state.pt", weights_only=True)["losses"]
    assert len(losses) == 10 and np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["model"] == "rde" and len(card["init_from"]["sha256"]) == 64 and card["device"] == "cpu"
    assert card["losses"]["unbiased_guidance"] == {"weight": 10.0}
    assert card["losses"]["mask_consistency"]["perturb_iou"] == [0.85, 1.0]
    assert set(card["final_train_loss_terms"]) == {"ce", "ug", "mc"} and card["wall_time_s"] >= 0
    model = load_any_checkpoint(path)
    assert isinstance(model, RDE) and not model.training
    scored = score_checkpoint(path, tiny_davis_root, device="cpu", progress=False)
    assert scored["val"]["memory"] == "rde" and scored["val"]["theta"] == 3 and "first_frame_baseline" in scored

    rerun = dataclasses.replace(config, out_dir=str(tmp_path / "state2"), checkpoint_dir=str(tmp_path / "ckpt2"))
    assert train(rerun, device="cpu", progress=False, stop_at=4) is None
    resumed = train(rerun, device="cpu", progress=False)
    first = torch.load(path, weights_only=True)["state_dict"]
    second = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)
