"""The global attention model's modules (mask encoder, CAM, MEM), switches, and loading as a typed checkpoint."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vosnb.data import Video
from vosnb.inference import propagate
from vosnb.memory.global_attention import GlobalAttentionMemory
from vosnb.models import GAM, GamConfig, STCN, load_any_checkpoint
from vosnb.models.gam import ChannelAttention, MaskEmbedding, position_channels


def _forward(model: GAM, n: int = 2, history: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(1, 3, 32, 48, generator=g)
    query = model.encode_key(frame)
    masks = torch.rand(1, n, 32, 48, generator=g)
    values = model.encode_value(frame, query.f16, masks)
    bank = GlobalAttentionMemory()
    bank.write(0, query.key[0], values[0], masks[0])
    past = torch.rand(1, n, 3, 32, 48, generator=g) if history else None
    return model.segment(bank.read(query.key[0]).values.unsqueeze(0), query, past)


def test_forward_shapes_and_the_mask_encoder_ignores_the_image():
    torch.manual_seed(0)
    model = GAM.small(key_dim=16).eval()
    assert model.config.query_value_dim == model.value_dim == 64
    with torch.no_grad():
        assert _forward(model).shape == (1, 2, 32, 48)
        query = model.encode_key(torch.rand(1, 3, 32, 48))
        masks = torch.rand(1, 2, 32, 48)
        a = model.encode_value(torch.rand(1, 3, 32, 48), query.f16, masks)
        b = model.encode_value(torch.rand(1, 3, 32, 48), query.f16, masks)
    assert a.shape == (1, 2, 64, 2, 3) and torch.equal(a, b)
    with pytest.raises(ValueError, match="history"):
        _forward(model, history=False)


def test_cam_is_the_identity_at_alpha_zero_and_mixes_channels_after():
    cam = ChannelAttention()
    x = torch.randn(2, 5, 3, 4)
    assert torch.equal(cam(x), x)
    with torch.no_grad():
        cam.alpha.fill_(1.0)
    f1 = x.flatten(2)
    relation = torch.softmax(f1 @ f1.transpose(1, 2), dim=1)  # Eq. 5: column j sums to 1 over i
    expected = x + torch.einsum("bpi,bij->bjp", f1.transpose(1, 2), relation).view_as(x)  # Eq. 6-7
    torch.testing.assert_close(cam(x), expected)


def test_mask_embedding_reaches_the_stride16_grid_with_position_channels():
    position = position_channels(5, 7)
    assert position[0, 2, 0] == -1 and position[1, 0, 3] == -1 and position[2, 2, 3] < 1e-6
    assert torch.isclose(position[2].max(), torch.tensor(1.0))
    mem = MaskEmbedding(history=3, width=8)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in mem.modules()) == 4
    assert mem(torch.rand(4, 3, 32, 48)).shape == (4, 8, 2, 3)


def test_switches_change_the_module_list():
    names = {cfg: {n for n, _ in GAM.small(key_dim=16, gam=cfg).named_modules()}
             for cfg in (GamConfig(), GamConfig(cam=False), GamConfig(mem=False))}
    full, no_cam, no_mem = names.values()
    assert "channel_attention" in full and "mask_embedding" in full
    assert full - no_cam == {"channel_attention"}
    assert {n for n in full - no_mem if n.startswith("mask_embedding")} and "mask_embedding" not in no_mem


def test_a_gam_checkpoint_loads_through_load_any_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = GAM.small(key_dim=16, gam=GamConfig(cam=False)).eval()
    path = tmp_path / "gam.pth"
    torch.save({"vosnb_model": model.architecture, "state_dict": model.state_dict()}, path)
    loaded = load_any_checkpoint(path)
    assert isinstance(loaded, GAM) and loaded.gam_config == model.gam_config
    with torch.no_grad():
        torch.testing.assert_close(_forward(loaded), _forward(model))
    assert type(STCN.small(key_dim=16)) is STCN


def test_propagate_with_a_gam_model_without_mem():
    torch.manual_seed(0)
    model = GAM.small(key_dim=16, gam=GamConfig(mem=False)).eval()
    rgb = np.random.default_rng(0).integers(0, 255, (3, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((3, 32, 48), np.uint8)
    masks[:, 4:20, 5:25] = 1
    result = propagate(model, Video.from_arrays("tiny", rgb, masks), "global", device="cpu")
    assert result.masks.shape == (3, 32, 48)
