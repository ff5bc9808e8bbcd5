"""LFU adaptive memory (AMM §III-D): index and age bookkeeping, eviction, capacity, and its place in propagation."""
import numpy as np
import pytest
import torch

from vosnb.memory import EveryK, MemoryBank, make_memory, similarity, softmax_weights
from vosnb.memory.lfu import LFUMemory

CK, CV, H, W = 8, 3, 3, 4  # a 3×4 grid: 12 features per frame


def _frame(g, objects=2):
    return torch.randn(CK, H, W, generator=g), torch.randn(objects, CV, H, W, generator=g)


class ReferenceLFU:
    """A slow, loop-per-feature LFU written straight from the paper's words, to check the vectorised bank."""

    def __init__(self, top_k, k, capacity, index, similarity_kind="l2"):
        self.top_k, self.k, self.capacity, self.kind, self.sim = top_k, k, capacity, index, similarity_kind
        self.features = []  # dicts: frame, pos, key [Ck], value [N, Cv], index

    def read(self, query):
        q = query.flatten(1)
        keys = torch.stack([f["key"] for f in self.features], 1)
        aff = similarity(keys[None], q[None], self.sim)[0]  # [M, Q]
        weights = torch.zeros_like(aff)
        for j in range(q.shape[1]):
            col = aff[:, j].tolist()
            best = sorted(range(len(col)), key=lambda i: -col[i])[: self.top_k]
            e = torch.tensor([np.exp(col[i] - col[best[0]]) for i in best])
            weights[best, j] = (e / e.sum()).float()
        for i, f in enumerate(self.features):
            f["index"] += float((weights[i] > 0).sum()) if self.kind == "topk" else float(weights[i].sum())
        values = torch.stack([f["value"] for f in self.features], -1)  # [N, Cv, M]
        return values @ weights

    def write(self, t, key, values):
        hw = key.shape[1] * key.shape[2]
        excess = len(self.features) + hw - round(self.capacity * hw)
        if excess > 0:
            scored = [(f["index"] / max(t - f["frame"], 1), slot) for slot, f in enumerate(self.features)]
            drop = {slot for _, slot in sorted(scored)[:excess]}  # ties: lower slot = older first
            self.features = [f for slot, f in enumerate(self.features) if slot not in drop]
        k, v = key.flatten(1), values.flatten(2)
        self.features += [{"frame": t, "pos": p, "key": k[:, p], "value": v[:, :, p], "index": 0.0} for p in range(hw)]


@pytest.mark.parametrize("index", ["topk", "softmax"])
def test_matches_a_loop_reference_read_for_read(index):
    bank = LFUMemory(top_k=5, k=2, capacity=2.0, index=index)
    ref = ReferenceLFU(top_k=5, k=2, capacity=2.0, index=index)
    g = torch.Generator().manual_seed(3)
    for t in range(11):
        query = torch.randn(CK, H, W, generator=g)
        if t:
            ours = bank.read(query).values.flatten(2)
            torch.testing.assert_close(ours, ref.read(query), atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(bank.index.double(), torch.tensor([f["index"] for f in ref.features],
                                                                          dtype=torch.float64), atol=1e-4, rtol=1e-5)
        key, values = _frame(g)
        if bank.should_write(t):
            bank.write(t, key, values, None)
            ref.write(t, key, values)
            assert list(zip(bank.frame_of.tolist(), bank.position.tolist())) == \
                [(f["frame"], f["pos"]) for f in ref.features]
    assert bank.evicted > 0 and set(bank.frame_of.tolist()) != {0, 10}


def test_writes_every_k_frames_and_never_exceeds_capacity():
    bank = LFUMemory(top_k=4, k=5, capacity=2.0)
    assert isinstance(bank, MemoryBank)
    g = torch.Generator().manual_seed(0)
    held, written = [], []
    for t in range(23):
        if t:
            bank.read(torch.randn(CK, H, W, generator=g))
            held.append(bank.frames_worth)
        if bank.should_write(t):
            written.append(t)
            bank.write(t, *_frame(g), None)
            assert bank.num_elements <= 2 * H * W
            assert bank.keys.shape[1] == bank.values.shape[2] == bank.index.shape[0] == bank.num_elements
    assert written == [0, 5, 10, 15, 20]
    assert held == [1.0] * 5 + [2.0] * 17  # frame 0 alone for reads 1-5, two frames' worth from frame 6 on
    assert bank.evicted == 3 * H * W


def test_index_counts_top_k_appearances_per_query_pixel():
    bank = LFUMemory(similarity="dot", top_k=2, k=1, capacity=4.0)
    # four memory features on a 1×4 grid with keys along one axis; three query pixels pointing the same way
    key = torch.tensor([[[4.0, 3.0, 2.0, 1.0]], [[0.0, 0.0, 0.0, 0.0]]])
    bank.write(0, key, torch.zeros(1, 1, 1, 4), None)
    bank.read(torch.tensor([[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]]]))
    assert bank.index.tolist() == [3, 3, 0, 0]  # every query pixel's top-2 is features 0 and 1
    bank.read(torch.tensor([[[-1.0, 1.0, -1.0]], [[0.0, 0.0, 0.0]]]))
    assert bank.index.tolist() == [4, 4, 2, 2]


def test_softmax_index_sums_the_readout_weights():
    bank = LFUMemory(top_k=3, k=1, capacity=4.0, index="softmax")
    g = torch.Generator().manual_seed(5)
    bank.write(0, *_frame(g), None)
    query = torch.randn(CK, H, W, generator=g)
    bank.read(query)
    aff = similarity(bank.keys[None], query.flatten(1)[None], "l2")
    torch.testing.assert_close(bank.index, softmax_weights(aff, 3)[0].sum(1))
    assert bank.index.sum().item() == pytest.approx(H * W, rel=1e-5)  # each query pixel hands out weight 1


def test_score_divides_by_age_in_frames():
    bank = LFUMemory(top_k=1, k=1, capacity=8.0)
    g = torch.Generator().manual_seed(0)
    for t in range(3):
        bank.write(t, *_frame(g), None)
    bank.index = torch.tensor([6] * 12 + [4] * 12 + [0] * 12)
    scores = bank.scores(3).view(3, 12)[:, 0].tolist()
    assert scores == [pytest.approx(6 / 3), pytest.approx(4 / 2), 0.0]
    assert bank.scores(2).view(3, 12)[2, 0].item() == 0.0  # age 0: score 0, no division by zero


def test_a_young_busy_frame_outlives_an_old_one_with_more_hits():
    bank = LFUMemory(top_k=1, k=1, capacity=2.0)
    g = torch.Generator().manual_seed(0)
    bank.write(0, *_frame(g), None)
    bank.write(4, *_frame(g), None)
    bank.index = torch.tensor([9] * 12 + [5] * 12)  # frame 0: 9 hits over 6 frames; frame 4: 5 hits over 2
    bank.write(6, *_frame(g), None)
    assert sorted(set(bank.frame_of.tolist())) == [4, 6]


def test_ties_break_towards_the_oldest_by_default_and_can_be_reversed():
    oldest, newest = LFUMemory(top_k=2, k=1, capacity=2.0), LFUMemory(top_k=2, k=1, capacity=2.0, tie_break="newest")
    for bank in (oldest, newest):
        g = torch.Generator().manual_seed(0)
        for t in range(4):  # never read: every score is 0
            bank.write(t, *_frame(g), None)
    assert sorted(set(oldest.frame_of.tolist())) == [2, 3]
    assert sorted(set(newest.frame_of.tolist())) == [0, 3]


def test_protect_first_keeps_frame_zero_and_exempt_newest_controls_the_incoming_frame(drive):
    protected = LFUMemory(top_k=1, k=5, capacity=2.0, protect_first=True)
    drive(protected, 21)
    assert sorted(set(protected.frame_of.tolist())) == [0, 20]  # no choice left: first + latest written
    plain = LFUMemory(top_k=1, k=5, capacity=2.0)
    drive(plain, 21)
    assert 20 in plain.frame_of.tolist() and plain.num_elements == 24

    competing = LFUMemory(top_k=H * W, k=1, capacity=1.0, exempt_newest=False)
    g = torch.Generator().manual_seed(2)
    competing.write(0, *_frame(g), None)
    competing.read(torch.randn(CK, H, W, generator=g))
    competing.write(1, *_frame(g), None)  # every frame-0 feature has hits, frame 1 none yet
    assert set(competing.frame_of.tolist()) == {0}


def test_huge_capacity_reads_exactly_like_every_k(drive):
    lfu, every = LFUMemory(top_k=4, k=3, capacity=100.0), EveryK(k=3, top_k=4)
    for ours, theirs in zip(drive(lfu, 14), drive(every, 14)):
        torch.testing.assert_close(ours, theirs)
    assert lfu.evicted == 0 and lfu.frame_of.tolist() == every.frame_of.tolist()


def test_same_inputs_same_survivors(drive):
    banks = [LFUMemory(top_k=3, k=2, capacity=2.5) for _ in range(2)]
    for bank in banks:
        drive(bank, 17, seed=9)
    assert torch.equal(banks[0].frame_of, banks[1].frame_of) and torch.equal(banks[0].position, banks[1].position)
    assert banks[0].num_elements == round(2.5 * 12)


def test_history_records_survivors_after_every_write_when_tracking(drive):
    bank = LFUMemory(top_k=3, k=2, capacity=2.0, track=True)
    drive(bank, 9)
    assert [s.frame_index for s in bank.history] == [0, 2, 4, 6, 8]
    last = bank.history[-1]
    assert last.grid == (H, W) and len(last.frame_of) == len(last.position) == len(last.score) == 24
    assert (last.frame_of == 8).sum() == 12 and len(bank.tracker) == bank.num_elements
    assert LFUMemory().history is None


def test_nbytes_counts_keys_values_and_bookkeeping(drive):
    bank = LFUMemory(top_k=3, k=1, capacity=2.0)
    drive(bank, 5, objects=2)
    m = bank.num_elements
    assert m == 24
    assert bank.nbytes == m * (CK + 2 * CV) * 4 + m * 8 + m * 8


def test_bad_parameters_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="index='median'"):
        LFUMemory(index="median")
    with pytest.raises(ValueError, match="tie_break"):
        LFUMemory(tie_break="random")
    with pytest.raises(ValueError, match="capacity ≥ 2"):
        LFUMemory(capacity=1.5, protect_first=True)
    with pytest.raises(ValueError, match="capacity ≥ 1"):
        LFUMemory(capacity=0.5)
    with pytest.raises(ValueError, match="k=0"):
        LFUMemory(k=0)
    with pytest.raises(ValueError, match="needs top_k"):
        LFUMemory(top_k=None)
    assert LFUMemory(top_k=None, index="softmax").top_k is None


def test_make_memory_builds_it_and_passes_only_accepted_keywords():
    bank = make_memory("lfu", similarity="dot", top_k=7, track=False, capacity=3.0)
    assert isinstance(bank, LFUMemory) and bank.capacity == 3.0 and bank.top_k == 7 and bank.similarity == "dot"


def test_propagation_with_a_small_stcn_keeps_two_frames_worth():
    from vosnb.data import Video
    from vosnb.inference import propagate
    from vosnb.models import STCN

    torch.manual_seed(0)
    model = STCN.small(key_dim=64, similarity="l2")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (12, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((12, 32, 48), np.uint8)
    masks[:, 4:14, 6:20], masks[:, 18:28, 26:44] = 1, 2
    video = Video.from_arrays("toy", frames, masks)
    result = propagate(model, video, lambda: LFUMemory(top_k=20, k=2, capacity=2.0, track=True), device="cpu")
    bank = result.banks[0]
    assert result.masks.shape == (12, 32, 48)
    assert bank.frames_worth == 2.0 and bank.evicted == 4 * 6  # writes at 4, 6, 8, 10 evict a 2×3 grid each
    assert bank.index.sum() > 0 and result.memory_bytes.max() == bank.nbytes


def test_a_probed_bank_logs_the_frames_worth_every_read_saw(drive):
    from vosnb.analysis.lfu_views import frames_held, probed, strategy

    bank = probed(strategy("first_last", "l2", top_k=4))()
    drive(bank, 6)
    assert bank.frames_read == [1.0, 2.0, 2.0, 2.0, 2.0]  # frame 0, then frame 0 + the latest frame
    lfu = probed(strategy("lfu", "l2", top_k=4, k=2, capacity=2.0))()
    drive(lfu, 8)
    assert lfu.frames_read == [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    assert frames_held(EveryK()) == 0.0


def test_the_lfu_tables_read_an_engine_run_of_probed_banks():
    """Notebook 05's path: one engine run of probed banks (with its untimed warm-up) gives Table I with the frames'
    worth of every scored read (none of the warm-up's), the object shares and the capacity rows."""
    from vosnb.analysis import lfu_views
    from vosnb.data import SequenceConfig, Video, make_sequence
    from vosnb.engine import Variant, run
    from vosnb.models import STCN

    torch.manual_seed(0)
    model = STCN.small(key_dim=16, similarity="l2").eval()
    videos = [Video.from_arrays(f"v{seed}", *make_sequence(SequenceConfig(length=12, height=40, width=70,
                                                                          n_objects=2), seed=seed)[:2])
              for seed in range(2)]
    builds = {"every5": lfu_views.strategy("every5", "l2"), "first_last": lfu_views.strategy("first_last", "l2"),
              "lfu": lfu_views.strategy("lfu", "l2", capacity=1)}
    exp = run(model, videos, [Variant(n, lfu_views.probed(b)) for n, b in builds.items()], keep=True, device="cpu",
              progress=False)
    quality = lfu_views.quality_table(exp, list(builds))
    assert quality.loc["lfu", "J&F-Mean"] == pytest.approx(exp.jf("lfu"), abs=0.05)
    reads = lfu_views.probed_banks(exp, "every5")
    assert list(reads) == ["v0", "v1"] and all(len(b.frames_read) == 11 for b in reads.values())
    assert reads["v0"].frames_read[-1] == 3.0  # frames 0, 5 and 10 written before frame 11 reads
    assert quality.loc["every5", "memory (frames, max)"] == 3.0 and quality.loc["lfu", "memory (frames, max)"] == 1.0
    assert quality.loc["first_last", "memory (frames, mean)"] == round((1 + 10 * 2) / 11, 2)
    share = lfu_views.object_share(exp, ["every5", "lfu"], videos)
    assert list(share.index) == ["v0", "v1"] and ((share >= 0) & (share <= 1)).all().all()
    table = lfu_views.capacity_table(exp, {1: "lfu", 8: "every5"})
    assert table["capacity"].tolist() == [1, 8] and table["J&F"].tolist() == pytest.approx(
        [exp.jf("lfu"), exp.jf("every5")])
    plain = run(model, videos, [Variant("every5", "every5")], keep=True, device="cpu", progress=False)
    with pytest.raises(ValueError, match="ProbedBank"):
        lfu_views.probed_banks(plain, "every5")


def test_grid_ownership_follows_the_engines_even_padding():
    from vosnb.analysis.lfu_views import grid_ownership

    masks = np.zeros((1, 24, 40), np.uint8)  # padded to 32×48: 4 rows on top, 4 columns on the left
    masks[0, :12, :12] = 1
    owned = grid_ownership(masks, [1], (2, 3))
    assert owned.shape == (1, 2, 3)
    np.testing.assert_allclose(owned[0], [[12 * 12 / 256, 0, 0], [0, 0, 0]])


def test_memory_at_gives_the_memory_a_frame_reads(drive):
    from vosnb.analysis.lfu_views import memory_at

    bank = LFUMemory(top_k=3, k=2, capacity=2.0, track=True)
    drive(bank, 7)
    assert memory_at(bank.history, 0).frame_index == 0
    assert memory_at(bank.history, 2).frame_index == 0  # frame 2 is read before it is written
    assert memory_at(bank.history, 5).frame_index == 4


@pytest.mark.parametrize("index", ["topk", "softmax"])
def test_the_index_is_the_same_from_sparse_and_dense_reads(monkeypatch, index, drive):
    runs = {}
    for sparse in (False, True):
        monkeypatch.setattr("vosnb.memory.base.use_sparse_read", lambda m, q, device: sparse)
        bank = LFUMemory(top_k=3, k=1, capacity=3.0 if index == "topk" else 20.0, index=index, track=True)
        runs[sparse] = bank, drive(bank, 10)
    (dense, dense_outs), (sparse, sparse_outs) = runs[False], runs[True]
    assert dense.evicted == sparse.evicted == (7 * 12 if index == "topk" else 0)
    assert torch.equal(sparse.frame_of, dense.frame_of) and torch.equal(sparse.position, dense.position)
    if index == "topk":
        assert torch.equal(sparse.index, dense.index)
    torch.testing.assert_close(sparse.index, dense.index, atol=1e-5, rtol=0)
    torch.testing.assert_close(sparse.tracker.max_weight, dense.tracker.max_weight, atol=1e-6, rtol=0)
    for a, b in zip(sparse_outs, dense_outs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_filled_lfu_is_at_capacity_and_restores_its_state():
    from vosnb.analysis.lfu_views import filled_lfu
    bank, restore = filled_lfu(capacity=2.0, k=3, objects=1, grid=(2, 3), key_dim=4, value_dim=5, top_k=2)
    assert bank.num_elements == 2 * 6 and int(bank.index.sum()) > 0
    index, frames = bank.index.clone(), bank.frame_of.clone()
    bank.read(torch.randn(4, 2, 3))
    bank.write(int(frames.max()) + 3, torch.randn(4, 2, 3), torch.randn(1, 5, 2, 3), None)
    assert not torch.equal(bank.frame_of, frames)
    restore()
    assert torch.equal(bank.index, index) and torch.equal(bank.frame_of, frames) and bank.num_elements == 12


def test_period_variants_run_one_write_period_from_the_same_state():
    from vosnb.analysis.lfu_views import period_variants
    variants = period_variants(4, capacity=2.0, k=3, objects=2, grid=(2, 3), key_dim=4, value_dim=5, top_k=2)
    assert list(variants) == ["every5", "lfu", "first_last"]
    every5 = variants["every5"].__closure__
    for _ in range(2):  # each call restores its state first, so repeats time the same position
        for run in variants.values():
            run()
    sizes = {cell.cell_contents.num_elements for cell in every5 if hasattr(cell.cell_contents, "num_elements")}
    assert sizes == {5 * 6}  # 4 frames + the period's write, restored to 4 at the next call


def test_survival_widget_opens_at_the_saved_view_and_follows_its_sliders():
    import matplotlib.pyplot as plt

    from vosnb.analysis import lfu_views
    from vosnb.data import Video
    from vosnb.models import STCN

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (12, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((12, 32, 48), np.uint8)
    masks[:, 4:14, 6:20] = 1
    video = Video.from_arrays("toy", frames, masks)
    histories = lfu_views.survival_histories(STCN.small(key_dim=64, similarity="l2"), video, (1, 2), similarity="l2",
                                             k=2)
    open_before = plt.get_fignums()
    lfu_views.survivors_figure(video, histories[2], 11)
    assert plt.get_fignums() == open_before  # no pyplot figure left behind to show up twice
    widget = lfu_views.survival_widget(video, histories, capacity=2)
    (capacity, frame), out = widget.children[0].children, widget.children[1]
    assert (capacity.value, frame.value) == (2, 11) and len(out.outputs) == 1
    for control, value in ((capacity, 1), (frame, 3)):
        before = out.outputs
        control.value = value
        assert out.outputs is not before and len(out.outputs) == 1  # redrawn in place, not appended
    with pytest.raises(ValueError, match="capacity=3"):
        lfu_views.survival_widget(video, histories, capacity=3)
