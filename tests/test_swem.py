"""SWEM's memory: weighted EM with fixed and adaptive weights, the sequential update, the constant-size bank."""
import numpy as np
import pytest
import torch

from vosnb.analysis import swem_views
from vosnb.data import Video
from vosnb.inference import propagate
from vosnb.memory import MemoryBank, make_memory
from vosnb.memory.swem import (Bases, SWEMMemory, adaptive_weights, batch_weighted_mean, coarse_probability, e_step,
                               em_bases, random_bases, stride16_masks, weighted_em)
from vosnb.models import STCN


def frame(generator, n=2, ck=16, cv=8, h=6, w=10):
    """Random key [Ck, h, w], values [N, Cv, h, w] and soft probabilities [N, 16h, 16w] of N disjoint objects."""
    key = torch.randn(ck, h, w, generator=generator)
    values = torch.randn(n, cv, h, w, generator=generator)
    logits = torch.randn(n + 1, 16 * h, 16 * w, generator=generator) * 3
    probs = torch.softmax(logits, 0)[1:]
    return key, values, probs


def written_bank(frames=6, **kwargs):
    g = torch.Generator().manual_seed(0)
    bank = SWEMMemory(num_bases=4, keep_history=True, **kwargs)
    for t in range(frames):
        bank.write(t, *frame(g))
    return bank


def test_bank_follows_the_protocol_and_is_built_by_make_memory():
    bank = make_memory("swem", {"similarity": "l2", "top_k": 20, "track": False, "model": None})
    assert isinstance(bank, SWEMMemory) and isinstance(bank, MemoryBank)
    assert (bank.num_bases, bank.tau, bank.em_iters, bank.adaptive) == (128, 0.05, 4, True)
    assert all(bank.should_write(t) for t in range(50))
    assert make_memory("swem", num_bases=16).num_bases == 16
    with pytest.raises(ValueError, match="'swem' takes no parameter top_k; it takes adaptive, adaptive_version"):
        make_memory("swem", top_k=20)


def test_size_is_constant_whatever_the_video_length():
    g = torch.Generator().manual_seed(1)
    bank = SWEMMemory(num_bases=4)
    sizes, features = [], []
    for t in range(12):
        bank.write(t, *frame(g))
        sizes.append(bank.nbytes)
        features.append(bank.features_per_object)
    assert features[0] == 2 * 4 and set(features[1:]) == {2 * 2 * 4}
    assert len(set(sizes[1:])) == 1 and sizes[1] == 2 * sizes[0]
    out = bank.read(torch.randn(16, 6, 10, generator=g))
    assert out.values.shape == (2, 8, 6, 10)


def test_sequential_update_equals_the_batch_weighted_mean():
    """SWEM-5: after T writes the update bank is the weighted mean over all T frames with the accumulated weights."""
    bank = written_bank(frames=7)
    hist = bank.history
    stack = lambda name: torch.stack([getattr(h, name) for h in hist])  # noqa: E731
    batch = batch_weighted_mean(bank.initial, stack("key"), stack("values"), stack("responsibilities"))
    for got, want in ((bank.update.kappa, batch.kappa), (bank.update.nu, batch.nu), (bank.update.zeta, batch.zeta)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    first = batch_weighted_mean(bank.initial, stack("key")[:1], stack("values")[:1], stack("responsibilities")[:1])
    torch.testing.assert_close(bank.first.kappa, first.kappa, atol=1e-5, rtol=1e-4)
    assert [h.bank for h in hist] == ["first"] + ["update"] * 6
    # zeta only grows: the accumulated weights of the update bank are at least those of the first frame
    assert torch.all(bank.update.zeta >= bank.first.zeta - 1e-6)


def test_fixed_weights_are_the_masks_and_adaptive_weights_follow_eq7():
    fixed = written_bank(frames=2, adaptive=False).last_write
    torch.testing.assert_close(fixed.weights, fixed.masks)
    assert fixed.coarse_fg is None
    adaptive = written_bank(frames=2).last_write
    p_fg = adaptive.coarse_fg
    torch.testing.assert_close(adaptive.weights[:, 1], adaptive.masks[:, 1] * (1 - p_fg))
    torch.testing.assert_close(adaptive.weights[:, 0], adaptive.masks[:, 0] * p_fg)


def test_masks_on_the_ground_truth_are_the_ground_truth():
    gt = torch.zeros(2, 32, 48)
    gt[0, :16, :16] = 1
    gt[1, 16:, 32:] = 1
    m = stride16_masks(gt, (2, 3))
    assert m.shape == (2, 2, 2, 3)
    torch.testing.assert_close(m[:, 1], gt[:, ::16, ::16])
    torch.testing.assert_close(m[:, 0] + m[:, 1], torch.ones(2, 2, 3))


def test_soft_masks_multiply_the_hard_call():
    probs = torch.full((1, 16, 16), 0.7)
    m = stride16_masks(probs, (1, 1))
    torch.testing.assert_close(m[0, :, 0, 0], torch.tensor([0.0, 0.7]))
    probs = torch.full((1, 16, 16), 0.2)  # background wins the arg-max
    m = stride16_masks(probs, (1, 1))
    torch.testing.assert_close(m[0, :, 0, 0], torch.tensor([0.8, 0.0]))


def test_objects_and_classes_are_independent_in_the_batched_em():
    g = torch.Generator().manual_seed(3)
    x, values = torch.randn(16, 40, generator=g), torch.randn(3, 8, 40, generator=g)
    masks = torch.rand(3, 2, 40, generator=g)
    prior = random_bases(3, 16, 8, 5, seed=4)
    together, z, _, _ = weighted_em(x, values, masks, prior)
    for i in range(3):
        one = Bases(prior.kappa[i:i + 1], prior.nu[i:i + 1], prior.zeta[i:i + 1])
        alone, _, _, _ = weighted_em(x, values[i:i + 1], masks[i:i + 1], one)
        torch.testing.assert_close(alone.kappa[0], together.kappa[i], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(alone.nu[0], together.nu[i], atol=1e-6, rtol=1e-5)


def test_read_recovers_the_value_of_the_matching_class():
    """Two well-separated key clusters (fg, bg) with values 1 and 0: a query near each cluster reads its value.

    Fixed weights: with adaptive ones, pixels this well explained get weight 1 − P ≈ 0 (Eq. 7) in float32."""
    g = torch.Generator().manual_seed(5)
    fg_dir, bg_dir = torch.zeros(8), torch.zeros(8)
    fg_dir[0], bg_dir[1] = 1, 1
    h, w = 4, 8
    fg = torch.zeros(h, w, dtype=torch.bool)
    fg[:, :3] = True
    key = torch.where(fg, fg_dir.view(8, 1, 1), bg_dir.view(8, 1, 1)) * 3 + 0.05 * torch.randn(8, h, w, generator=g)
    values = fg.float().expand(1, 1, h, w).clone()
    probs = fg.float().repeat_interleave(16, 0).repeat_interleave(16, 1).unsqueeze(0)
    bank = SWEMMemory(num_bases=3, adaptive=False)
    bank.write(0, key, values, probs)
    out = bank.read(key).values[0, 0]
    assert out[fg].min() > 0.95 and out[~fg].max() < 0.05
    weights = bank.read_weights(key)
    torch.testing.assert_close(weights.sum(1), torch.ones(1, h * w, dtype=weights.dtype))


def test_adaptive_weights_favour_pixels_the_bases_misclassify():
    """A foreground pixel whose key looks like the background is a hard sample: it gets more weight (Eq. 7)."""
    g = torch.Generator().manual_seed(6)
    fg_dir, bg_dir = torch.zeros(8), torch.zeros(8)
    fg_dir[0], bg_dir[1] = 1, 1
    h, w = 4, 8
    fg = torch.zeros(h, w, dtype=torch.bool)
    fg[:, :4] = True
    looks_bg = fg.clone()
    looks_bg[:, :3] = False  # the fg column 3 has background-like keys
    key = torch.where(fg & ~looks_bg, fg_dir.view(8, 1, 1), bg_dir.view(8, 1, 1)) * 3
    key = key + 0.05 * torch.randn(8, h, w, generator=g)
    probs = fg.float().repeat_interleave(16, 0).repeat_interleave(16, 1).unsqueeze(0)
    bank = SWEMMemory(num_bases=2)
    bank.write(0, key, torch.randn(1, 4, h, w, generator=g), probs)
    trace = bank.last_write
    w_fg = trace.weights[0, 1]
    assert w_fg[looks_bg].min() > 2 * w_fg[fg & ~looks_bg].max()
    assert trace.coarse_fg[0][looks_bg].max() < 0.5 < trace.coarse_fg[0][fg & ~looks_bg].min()


def test_e_step_rows_sum_to_the_weights_and_coarse_probability_is_normalised():
    g = torch.Generator().manual_seed(7)
    x, kappa = torch.randn(16, 30, generator=g), torch.randn(2, 2, 16, 5, generator=g)
    weights = torch.rand(2, 2, 30, generator=g)
    z = e_step(x, kappa, weights, 0.05)
    torch.testing.assert_close(z.sum(-1), weights)
    p = coarse_probability(x, kappa, 0.05)
    torch.testing.assert_close(p.sum(1), torch.ones(2, 30))


def test_em_bases_find_the_clusters_of_a_frame():
    g = torch.Generator().manual_seed(8)
    centres = torch.eye(6)[:3] * 4
    x = (centres.repeat_interleave(20, 0) + 0.05 * torch.randn(60, 6, generator=g)).t()
    bases = em_bases(x, 8, em_iters=6)
    cos = torch.nn.functional.normalize(centres, dim=1) @ torch.nn.functional.normalize(bases, dim=0)
    assert cos.amax(1).min() > 0.99


def test_same_seed_same_bases_and_bad_parameters_are_refused():
    a, b = written_bank(frames=3), written_bank(frames=3)
    torch.testing.assert_close(a.update.kappa, b.update.kappa, atol=0, rtol=0)
    for kwargs, word in (({"num_bases": 0}, "num_bases"), ({"tau": 0}, "tau"), ({"em_iters": 0}, "em_iters")):
        with pytest.raises(ValueError, match=word):
            SWEMMemory(**kwargs)
    with pytest.raises(RuntimeError, match="empty memory"):
        SWEMMemory().read(torch.zeros(4, 2, 2))
    g = torch.Generator().manual_seed(9)
    bank = SWEMMemory(num_bases=2)
    bank.write(0, *frame(g, n=2))
    with pytest.raises(ValueError, match="holds 2 objects"):
        bank.write(1, *frame(g, n=3))
    key, values, probs = frame(g)
    with pytest.raises(ValueError, match=r"probs must be \[N, H, W\]"):
        bank.write(1, key, values, probs[:1])


def test_assignments_mark_pixels_without_weight():
    trace = written_bank(frames=1).last_write
    a = trace.assignments()
    assert a.shape == trace.masks.shape
    zero = trace.weights == 0
    assert torch.all(a[zero] == 4) and torch.all(a[~zero] < 4)


@torch.inference_mode()
def test_runs_with_a_small_stcn_frame_by_frame():
    torch.manual_seed(0)
    model = STCN.small(key_dim=32, similarity="l2").eval()
    g = torch.Generator().manual_seed(10)
    frames = torch.rand(3, 1, 3, 64, 96, generator=g)
    masks = torch.zeros(2, 64, 96)
    masks[0, 10:30, 10:40] = 1
    masks[1, 35:60, 50:90] = 1
    bank = SWEMMemory(num_bases=8)
    q = model.encode_key(frames[0])
    bank.write(0, q.key[0], model.encode_value(frames[0], q.f16, masks.unsqueeze(0))[0], masks)
    for t in (1, 2):
        q = model.encode_key(frames[t])
        logits = model.segment(bank.read(q.key[0]).values.unsqueeze(0), q)
        assert logits.shape == (1, 2, 64, 96)
        probs = torch.sigmoid(logits[0])
        bank.write(t, q.key[0], model.encode_value(frames[t], q.f16, probs.unsqueeze(0))[0], probs)
    assert bank.features_per_object == 32


def tiny_video(frames=5):
    g = np.random.default_rng(0)
    rgb = g.integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8)
    masks = np.zeros((frames, 48, 64), np.uint8)
    masks[:, 5:25, 5:30] = 1
    masks[:, 28:45, 35:60] = 2
    return Video.from_arrays("tiny", rgb, masks)


def test_propagate_through_the_engine_keeps_the_memory_constant():
    torch.manual_seed(0)
    model = STCN.small(key_dim=16).eval()
    video = tiny_video(6)
    result = propagate(model, video, "swem", device="cpu")
    assert result.masks.shape == (6, 48, 64)
    assert result.memory_bytes[1] == 2 * result.memory_bytes[0]
    assert len(set(result.memory_bytes[1:].tolist())) == 1
    traced, bank = swem_views.propagate_traced(model, video, num_bases=8, seed=1)
    assert [tr.frame_index for tr in bank.history] == [0, 1, 2, 3, 4]  # the last frame is not written
    assert swem_views.sequential_batch_gap(bank) < 1e-5
    table = swem_views.weight_disagreement(bank.history)
    assert len(table) == 5 * 2 and (table["disagree"] <= table["pixels"]).all()


def test_swem_memory_stays_flat_on_a_long_video_where_every1_grows():
    """SWEM-7's end-to-end path: one engine run of the ×4 video; SWEM's bytes stay put from pass to pass."""
    from vosnb.data import clip
    from vosnb.engine import Variant, long_video

    torch.manual_seed(0)
    model = STCN.small(key_dim=16).eval()
    short = clip(tiny_video(5), 3)
    result = long_video(model, [short], [Variant("swem", "swem"), Variant("every1", "every1")], (1, 2, 4),
                        device="cpu", progress=False)
    table = result.by_length((1, 2, 4))
    assert table["multiplier"].tolist() == [1, 1, 2, 2, 4, 4]
    swem_bytes = table.loc[table["variant"] == "swem", "memory (bytes)"]
    every_bytes = table.loc[table["variant"] == "every1", "memory (bytes)"].to_numpy()
    assert swem_bytes.nunique() == 1 and (np.diff(every_bytes) > 0).all()


def test_the_sweep_names_each_setting_and_tables_what_its_banks_use():
    from vosnb.engine import run

    torch.manual_seed(0)
    model = STCN.small(key_dim=16).eval()
    settings = [{"num_bases": 4, "seed": 0}, {"num_bases": 4, "em_iters": 2, "seed": 0},
                {"num_bases": 8, "adaptive": False, "seed": 0}]
    variants = swem_views.sweep_variants(settings)
    assert [v.name for v in variants] == ["L=4, 4 iterations, adaptive", "L=4, 2 iterations, adaptive",
                                          "L=8, 4 iterations, fixed"]
    exp = run(model, [tiny_video(5)], variants, keep=True, device="cpu", progress=False)
    table = swem_views.sweep_table(exp)
    assert table[["num_bases", "em_iters", "adaptive"]].values.tolist() == [[4, 4, True], [4, 2, True], [8, 4, False]]
    assert table["J&F"].tolist() == pytest.approx([exp.jf(v.name) for v in variants])
    direct = propagate(model, tiny_video(5), lambda: SWEMMemory(num_bases=4, em_iters=2, seed=0), device="cpu")
    assert np.array_equal(exp.runs[(variants[1].name, "tiny")].masks, direct.masks)


def test_length_variants_hold_their_length_and_every5_grows():
    variants = swem_views.length_variants(3, (1, 4), k=2, objects=2, grid=(2, 3), key_dim=4, value_dim=5)
    assert list(variants) == [("swem", 1), ("every5", 1), ("swem", 4), ("every5", 4)]
    small, long = (variants["swem", n].__defaults__[0] for n in (1, 4))
    before = long.update.kappa.clone()
    first = variants["swem", 4]().values
    assert torch.equal(long.update.kappa, before) is False  # the call wrote one frame ...
    torch.testing.assert_close(variants["swem", 4]().values, first)  # ... from the restored state, every time
    assert small.features_per_object == long.features_per_object == 4 * 128
    sizes = [variants["every5", n].__defaults__[0].num_elements for n in (1, 4)]
    assert sizes == [2 * 6, 6 * 6]  # ⌈3 / 2⌉ and ⌈12 / 2⌉ frames of 2×3
    assert variants["every5", 4]().values.shape == (2, 5, 2, 3)


def test_count_features_matches_the_paper_shapes_on_a_small_grid():
    table = swem_views.count_features(frames=3, grid=(3, 4), key_dim=8, value_dim=4, num_bases=5)
    assert table["swem_features"].tolist() == [10, 20, 20]
    assert table["all_frames_features"].tolist() == [12, 24, 36]


def test_the_hard_mask_runs_over_every_object_of_the_frame_whichever_bank_holds_it():
    """Objects 1 and 2 live in one bank, object 3 (joined mid-video) in another: the bank's hard mask is the
    arg-max over background and all three objects, computed here independently on the stride-16 samples."""
    g = torch.Generator().manual_seed(4)
    grid = (3, 5)
    all_probs = torch.rand(3, 16 * grid[0], 16 * grid[1], generator=g) / 1.5
    members = (0, 1)
    masks = stride16_masks(all_probs[list(members)], grid, all_probs, members)
    samples = all_probs[:, ::16, ::16]  # nearest-neighbour resizing by 1/16 samples each cell's first pixel
    background = (1 - samples.sum(0)).clamp_min(0)
    label = torch.stack([background, *samples]).argmax(0)  # 0 = background, i + 1 = object i
    for slot, obj in enumerate(members):
        hard = (label == obj + 1).float()
        soft = torch.nn.functional.interpolate(all_probs[None, [obj]], size=grid, mode="bilinear",
                                               align_corners=False)[0, 0]
        torch.testing.assert_close(masks[slot, 1], hard * soft)
        torch.testing.assert_close(masks[slot, 0], (1 - hard) * (1 - soft))
    alone = stride16_masks(all_probs[list(members)], grid)  # the old behaviour: object 3 counted as background
    assert not torch.equal(alone, masks)


def test_propagate_gives_a_bank_the_other_banks_objects(monkeypatch):
    """A bank's write receives the probabilities of every object and its members' place among them."""
    seen = []
    original = SWEMMemory.write

    def spy(self, frame_index, key, values, probs, context=None):
        seen.append((probs.shape[0], context.object_probs.shape[0], context.members))
        return original(self, frame_index, key, values, probs, context)

    monkeypatch.setattr(SWEMMemory, "write", spy)
    video = late_object_video()
    propagate(STCN(key_dim=16, value_dim=16, similarity="l2").eval(), video, lambda: SWEMMemory(num_bases=4),
              device="cpu")
    assert (2, 3, (0, 1)) in seen and (1, 3, (2,)) in seen


def late_object_video() -> Video:
    """Objects 1 and 2 from frame 0, object 3 from frame 2 (YouTube-VOS style), 6 frames of 32×48."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(6, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((6, 32, 48), np.uint8)
    masks[:, 2:12, 2:14], masks[:, 18:30, 20:34] = 1, 2
    masks[2:, 4:16, 30:44] = 3
    return Video.from_arrays("late", frames, masks)


@pytest.mark.parametrize("num_bases", [4, 8])
def test_first_release_weights_half_of_the_bases_from_the_top5_kernel(num_bases):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 20, generator=g, dtype=torch.float64)
    kappa = torch.randn(1, 2, 8, num_bases, generator=g, dtype=torch.float64)
    masks = torch.rand(1, 2, 20, generator=g, dtype=torch.float64)
    p_all, p_top = coarse_probability(x, kappa, 0.05), coarse_probability(x, kappa, 0.05, top=5)
    if num_bases <= 5:
        torch.testing.assert_close(p_all, p_top)  # the top 5 of ≤ 5 values are all of them
    else:
        assert not torch.allclose(p_all, p_top)
    w = adaptive_weights(masks, p_top, num_bases, "first_release")
    assert w.shape == (1, 2, 20, num_bases)
    torch.testing.assert_close(w[..., : num_bases // 2], (masks * (1 - p_top)).unsqueeze(-1).expand(-1, -1, -1, num_bases // 2))
    torch.testing.assert_close(w[..., num_bases // 2:], masks.unsqueeze(-1).expand(-1, -1, -1, num_bases // 2))
    assert adaptive_weights(masks, p_all, num_bases).shape == (1, 2, 20)
    bank = written_bank(3, adaptive_version="first_release")
    assert bank.last_write.weights.shape == bank.last_write.masks.shape
    with pytest.raises(ValueError, match="even L"):
        SWEMMemory(num_bases=5, adaptive_version="first_release")
    with pytest.raises(ValueError, match="adaptive_version"):
        SWEMMemory(adaptive_version="v9")


def test_assignment_widget_redraws_in_place_without_pyplot_state():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    masks = np.zeros((4, 96, 160), np.uint8)
    masks[:, 20:60, 30:90] = 1
    video = Video.from_arrays("grid", rng.integers(0, 255, (4, 96, 160, 3), dtype=np.uint8), masks)
    traced = written_bank(4).history  # 6×10 key grid = 96×160 frames
    before = plt.get_fignums()
    widget = swem_views.assignment_widget(video, traced)
    slider, out = widget.children
    assert len(out.outputs) == 1 and plt.get_fignums() == before
    shown = out.outputs
    slider.value = 2
    assert out.outputs is not shown and len(out.outputs) == 1
