"""The global attention memory (Eq. 1–3), its GC variant, and GAM-4's exactness check."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vosnb.data import Video
from vosnb.inference import propagate
from vosnb.memory import FrameContext, MemoryBank, make_memory
from vosnb.memory.global_attention import GlobalAttentionMemory, running_mean, weighted_mean
from vosnb.models import STCN


def _frame(g: torch.Generator, n: int = 2, ck: int = 4, cv: int = 3, h: int = 2, w: int = 3):
    return torch.randn(ck, h, w, generator=g), torch.randn(n, cv, h, w, generator=g)


def test_bank_follows_the_protocol_and_holds_the_mean_of_eq1():
    g = torch.Generator().manual_seed(0)
    bank = make_memory("global")
    assert isinstance(bank, MemoryBank) and isinstance(bank, GlobalAttentionMemory)
    frames = [_frame(g) for _ in range(3)]
    for t, (key, values) in enumerate(frames):
        bank.write(t, key, values, torch.ones(2, 32, 48))
    # A_T = F_Tᵀ M_T per object, written out with explicit sums over positions
    expected = sum(torch.einsum("kp,ncp->nkc", k.flatten(1), v.flatten(2)) for k, v in frames) / 3
    torch.testing.assert_close(bank.global_matrix, expected)
    query = torch.randn(4, 2, 3, generator=g)
    read = bank.read(query).values
    assert read.shape == (2, 3, 2, 3)
    torch.testing.assert_close(read, torch.einsum("kp,nkc->ncp", query.flatten(1), expected).unflatten(2, (2, 3)))


def test_state_size_is_constant_over_writes_and_resolutions():
    g = torch.Generator().manual_seed(1)
    sizes = set()
    for h, w in ((2, 3), (6, 9)):
        bank = GlobalAttentionMemory()
        for t in range(20):
            bank.write(t, *_frame(g, h=h, w=w), torch.ones(2, 16 * h, 16 * w))
            sizes.add(bank.nbytes)
        assert bank.count == 20
    assert sizes == {2 * 4 * 3 * 4}


def test_gc_variant_reads_convex_combinations_of_mean_mask_features():
    g = torch.Generator().manual_seed(2)
    bank = GlobalAttentionMemory(variant="gc", every=2)
    assert [bank.should_write(t) for t in range(4)] == [True, False, True, False]
    values = torch.rand(1, 3, 2, 3, generator=g)
    bank.write(0, torch.randn(4, 2, 3, generator=g), values, torch.ones(1, 32, 48))
    read = bank.read(torch.randn(4, 2, 3, generator=g)).values
    low, high = values.amin(dim=(2, 3)), values.amax(dim=(2, 3))
    assert ((read >= low[..., None, None] - 1e-6) & (read <= high[..., None, None] + 1e-6)).all()


def test_f16_features_come_from_the_context_and_bad_inputs_are_refused():
    g = torch.Generator().manual_seed(3)
    bank = make_memory("global", features="f16")
    key, values = _frame(g)
    f16 = torch.randn(1, 5, 2, 3, generator=g)
    features = type("Features", (), {"f16": f16})()
    bank.write(0, key, values, torch.ones(2, 32, 48), FrameContext(features=features))
    assert bank.global_matrix.shape == (2, 5, 3)
    with pytest.raises(ValueError, match="FrameContext"):
        bank.read(key)
    with pytest.raises(ValueError, match="bank of their own"):
        bank.write(1, key, values[:1], torch.ones(1, 32, 48), FrameContext(features=features))
    with pytest.raises(RuntimeError, match="empty"):
        GlobalAttentionMemory().read(key)
    with pytest.raises(ValueError, match="variant"):
        make_memory("global", variant="softmax")


def test_running_update_is_the_equal_weight_mean_and_not_an_unequal_one():
    g = torch.Generator().manual_seed(4)
    attentions = [torch.randn(3, 4, 5, generator=g, dtype=torch.float64) for _ in range(50)]
    running = running_mean(attentions)
    torch.testing.assert_close(running, weighted_mean(attentions), rtol=0, atol=1e-12)
    recency = weighted_mean(attentions, [p + 1.0 for p in range(50)])
    assert (running - recency).abs().max() > 1e-2
    single = [a.float() for a in attentions]
    torch.testing.assert_close(running_mean(single), weighted_mean(single))


def test_propagate_runs_with_a_small_stcn_and_keeps_the_state_constant():
    torch.manual_seed(0)
    model = STCN.small(key_dim=16).eval()
    rgb = np.random.default_rng(0).integers(0, 255, (5, 40, 56, 3), dtype=np.uint8)
    masks = np.zeros((5, 40, 56), np.uint8)
    masks[:, 4:20, 5:25] = 1
    masks[:, 22:36, 30:50] = 2
    result = propagate(model, Video.from_arrays("tiny", rgb, masks), "global", device="cpu")
    assert result.masks.shape == (5, 40, 56)
    assert set(result.memory_bytes.tolist()) == {2 * 16 * 64 * 4}
    assert result.banks[0].count == 4  # every frame but the last is written
