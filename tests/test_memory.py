"""Memory readout (STCN Eq. 1–5) and the every-k / first-and-latest banks."""
import math

import pytest
import torch

from vosnb.memory import (ContributionTracker, EveryK, FirstAndLatest, KeyValueMemory, MemoryBank, TopKWeights,
                          make_memory, readout, similarity, softmax_weights, top_k_mask, top_k_weights,
                          use_sparse_read)


@pytest.fixture
def keys():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 16, 60, generator=g), torch.randn(2, 16, 24, generator=g)


def test_l2_efficient_form_equals_negative_squared_distance_up_to_query_norm(keys):
    mk, qk = keys
    naive = similarity(mk, qk, "l2", naive=True)
    fast = similarity(mk, qk, "l2")
    q_sq = qk.pow(2).sum(1, keepdim=True) / math.sqrt(16)
    torch.testing.assert_close(fast - q_sq, naive, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(softmax_weights(fast), softmax_weights(naive), atol=1e-6, rtol=1e-5)


def test_dot_and_cosine_are_scaled_by_sqrt_ck(keys):
    mk, qk = keys
    expected = torch.einsum("bci,bcj->bij", mk, qk) / 4.0
    torch.testing.assert_close(similarity(mk, qk, "dot"), expected)
    cos = similarity(mk, qk, "cosine", temperature=0.5)
    assert cos.abs().max() <= 1 / 4.0 / 0.5 + 1e-6


def test_bad_similarity_and_shapes_are_refused(keys):
    mk, qk = keys
    with pytest.raises(ValueError, match="similarity kind"):
        similarity(mk, qk, "manhattan")
    with pytest.raises(ValueError, match=r"\[B, Ck, M\]"):
        similarity(mk, qk[:, :8], "dot")


def test_top_k_keeps_exactly_k_and_breaks_ties_towards_lower_index():
    aff = torch.tensor([[[1.0], [3.0], [3.0], [3.0], [0.0]]])  # memory axis of 5, one query
    mask = top_k_mask(aff, 2)
    assert mask[0, :, 0].tolist() == [False, True, True, False, False]
    w = softmax_weights(aff, top_k=2)
    assert w[0, :, 0].tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]


def test_top_k_weights_are_a_softmax_over_the_kept_entries(keys):
    mk, qk = keys
    aff = similarity(mk, qk, "l2")
    w = softmax_weights(aff, top_k=7)
    assert ((w > 0).sum(1) == 7).all()
    torch.testing.assert_close(w.sum(1), torch.ones(2, 24))
    kept = torch.where(w > 0, aff, torch.full_like(aff, -torch.inf))
    torch.testing.assert_close(w, torch.softmax(kept, 1))


def test_readout_shares_one_affinity_across_objects(keys):
    mk, qk = keys
    w = softmax_weights(similarity(mk, qk, "l2"))
    values = torch.randn(2, 3, 5, 60)
    out = readout(values, w)
    for n in range(3):
        torch.testing.assert_close(out[:, n], values[:, n] @ w)


def test_tracker_records_largest_weight_and_topk_hits():
    tracker = ContributionTracker.empty()
    tracker.extend(3)
    tracker.update(torch.tensor([[[0.2, 0.9], [0.8, 0.1], [0.0, 0.0], [0.5, 0.5]]]))  # 4th row untracked (temp)
    tracker.update(torch.tensor([[[0.6, 0.0], [0.4, 0.0], [0.0, 1.0], [0.0, 0.0]]]))
    assert tracker.max_weight.tolist() == pytest.approx([0.9, 0.8, 1.0])
    assert tracker.top_k_hits.tolist() == [3, 3, 1]
    tracker.keep(torch.tensor([2, 0]))
    assert tracker.top_k_hits.tolist() == [1, 3]


def _drive(bank, n_frames, shape=(8, 4, 5), objects=2):
    g = torch.Generator().manual_seed(1)
    written = []
    for t in range(n_frames):
        if t:
            out = bank.read(torch.randn(*shape, generator=g))
            assert out.values.shape == (objects, 3, *shape[1:])
        if bank.should_write(t):
            written.append(t)
            bank.write(t, torch.randn(*shape, generator=g), torch.randn(objects, 3, *shape[1:], generator=g), None)
    return written


def test_every_k_writes_by_absolute_index_and_optionally_reads_the_last_frame():
    bank = EveryK(k=5)
    assert isinstance(bank, MemoryBank)
    assert _drive(bank, 13) == [0, 5, 10]
    assert bank.frame_of.unique().tolist() == [0, 5, 10]
    assert bank.num_elements == 3 * 20
    with_last = EveryK(k=5, include_last=True)
    assert _drive(with_last, 13) == list(range(13))
    assert with_last.frame_of.unique().tolist() == [0, 5, 10]
    assert with_last.temp_keys.shape == (8, 20)
    assert with_last.nbytes > bank.nbytes


def test_first_and_latest_holds_two_frames():
    bank = FirstAndLatest()
    _drive(bank, 9)
    assert bank.frame_of.unique().tolist() == [0]
    assert bank.num_elements + bank.temp_keys.shape[1] == 2 * 20


def test_make_memory_specs_and_errors():
    assert isinstance(make_memory("every3"), EveryK) and make_memory("every3").k == 3
    assert make_memory("every5+last").include_last
    assert isinstance(make_memory("first_last", top_k=None), FirstAndLatest)
    with pytest.raises(ValueError, match="unknown memory spec"):
        make_memory("everything")
    with pytest.raises(ValueError, match="k=0"):
        make_memory("every0")


def test_tracking_is_opt_in_and_follows_appends():
    assert EveryK().tracker is None
    bank = EveryK(k=2, track=True)
    _drive(bank, 6)
    assert len(bank.tracker) == bank.num_elements == 60
    assert (bank.tracker.max_weight > 0).any()


def test_reading_an_empty_memory_is_an_error():
    with pytest.raises(RuntimeError, match="empty memory"):
        EveryK().read(torch.zeros(8, 2, 2))


# ------------------------------------------------------------------------------------------ sparse top-k read
def _tied_affinity(b: int, m: int, q: int, seed: int) -> torch.Tensor:
    """Random affinities on a coarse grid (steps of 0.5), so that many queries tie at their k-th value."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, m, q, generator=g) * 2).round() / 2


@pytest.mark.parametrize("k", [1, 3, 20, 59, 60, 75])
def test_sparse_readout_equals_the_dense_one(k):
    aff = _tied_affinity(2, 60, 24, seed=k)
    values = torch.randn(2, 3, 5, 60, generator=torch.Generator().manual_seed(1))  # 3 objects share the affinity
    dense = readout(values, softmax_weights(aff, k))
    sparse = top_k_weights(aff, k)
    assert sparse.index.shape == sparse.weights.shape == (2, 24, min(k, 60))
    torch.testing.assert_close(readout(values, sparse), dense, atol=1e-5, rtol=0)
    element_major = values.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)  # how KeyValueMemory stores them
    torch.testing.assert_close(readout(element_major, sparse), dense, atol=1e-5, rtol=0)
    torch.testing.assert_close(sparse.dense(), softmax_weights(aff, k), atol=1e-6, rtol=0)
    # the query-major affinity selects the same elements (ties towards the lower index) and weighs them alike
    query_major = top_k_weights(aff.transpose(1, 2).contiguous(), k, query_major=True)
    assert torch.equal(query_major.index.sort(-1).values, sparse.index.sort(-1).values)
    torch.testing.assert_close(readout(values, query_major), dense, atol=1e-5, rtol=0)


def test_query_major_similarity_is_the_transpose(keys):
    """Equal up to float round-off: the two layouts are different matrix products, and whether BLAS rounds them
    alike depends on the CPU (bit-equal on the AMD EPYC, 2e-6 apart on an AVX-512 Xeon, both on the AVX2 path)."""
    mk, qk = keys
    for kind in ("dot", "cosine", "l2"):
        torch.testing.assert_close(similarity(mk, qk, kind, query_major=True),
                                   similarity(mk, qk, kind).transpose(1, 2), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(similarity(mk, qk, "l2", naive=True, query_major=True),
                               similarity(mk, qk, "l2", naive=True).transpose(1, 2))


def test_tracker_from_sparse_weights_equals_the_dense_update():
    aff = _tied_affinity(1, 50, 30, seed=3)
    aff[0, 7] = -300.0  # a kept element whose weight underflows to 0 is not a hit
    aff[0, 7, 0] = 10.0
    aff[0, :, 1] = torch.arange(50.0) * -200  # column 1: element 0 takes all the weight, the rest underflow
    dense, sparse = ContributionTracker.empty(), ContributionTracker.empty()
    dense.extend(45)  # elements 45..49 are a temporary frame: read, never tracked
    sparse.extend(45)
    for k in (20, 4):
        w = top_k_weights(aff, k)
        dense.update(w.dense())
        sparse.update(w)
    assert torch.equal(sparse.max_weight, dense.max_weight)
    assert torch.equal(sparse.top_k_hits, dense.top_k_hits)
    assert dense.top_k_hits[7] == 2  # element 7 is a hit only where its weight is positive


def _filled_bank(monkeypatch, sparse: bool, **kwargs) -> KeyValueMemory:
    monkeypatch.setattr("vosnb.memory.base.use_sparse_read", lambda m, q, device: sparse)
    g = torch.Generator().manual_seed(5)
    bank = EveryK(k=3, include_last=True, **kwargs)
    for t in range(5):  # frames 0 and 3 permanent, frame 4 temporary
        bank.write(t, torch.randn(8, 6, 7, generator=g), torch.randn(2, 5, 6, 7, generator=g), None)
    return bank


@pytest.mark.parametrize("similarity_kind", ["l2", "dot"])
def test_a_bank_reads_alike_with_sparse_and_dense_weights(monkeypatch, similarity_kind):
    query = torch.randn(8, 6, 7, generator=torch.Generator().manual_seed(9))
    reads = {}
    for sparse in (False, True):
        bank = _filled_bank(monkeypatch, sparse, similarity=similarity_kind, top_k=5, track=True, keep_weights=True)
        form = bank.match(query)
        assert isinstance(form, TopKWeights) == sparse
        reads[sparse] = bank.read(query), bank.tracker
    (dense, dense_tracker), (sparse, sparse_tracker) = reads[False], reads[True]
    torch.testing.assert_close(sparse.values, dense.values, atol=1e-5, rtol=0)
    torch.testing.assert_close(sparse.weights, dense.weights, atol=1e-6, rtol=0)
    assert len(sparse_tracker) == 2 * 42
    torch.testing.assert_close(sparse_tracker.max_weight, dense_tracker.max_weight, atol=1e-6, rtol=0)
    assert torch.equal(sparse_tracker.top_k_hits, dense_tracker.top_k_hits)


def test_the_sparse_read_skips_dense_weights_unless_asked(monkeypatch):
    query = torch.randn(8, 6, 7)
    assert _filled_bank(monkeypatch, True).read(query).weights is None
    assert _filled_bank(monkeypatch, True, keep_weights=True).read(query).weights.shape == (3 * 42, 42)


def test_the_sparse_read_is_chosen_for_large_cpu_reads_only():
    cpu = torch.device("cpu")
    assert not use_sparse_read(896, 112, cpu)  # the synthetic data's every-5 memory of 40 frames
    assert use_sparse_read(16200, 1620, cpu)  # STCN's paper shapes
    assert not use_sparse_read(16200, 1620, torch.device("cuda"))


class _Learned(EveryK):
    """A strategy that needs the model (as RDE's SAM does)."""

    def __init__(self, model, width: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model, self.width = model, width


def test_make_memory_offers_engine_options_and_refuses_unknown_parameters(monkeypatch):
    import vosnb.memory as memory

    monkeypatch.setitem(memory._STRATEGIES, "learned", ("unused", "unused"))
    monkeypatch.setattr(memory, "_builder", lambda name: _Learned)
    model = object()
    bank = make_memory("learned", {"model": model, "top_k": 7, "similarity": "dot", "unheard_of": 1}, width=3)
    assert (bank.model, bank.width, bank.top_k, bank.similarity) == (model, 3, 7, "dot")
    assert make_memory("every5", {"model": model, "top_k": 3}).top_k == 3  # every-k does not take the model
    with pytest.raises(ValueError, match="'every5' takes no parameter capacity; it takes .*top_k"):
        make_memory("every5", capacity=2)
    with pytest.raises(ValueError, match="takes no parameter k"):
        make_memory("every5", k=3)  # fixed by the spec itself


def test_every_bank_in_the_package_takes_the_frame_context():
    """The engine passes a FrameContext to every read and write (a wrapper that drops it breaks propagate)."""
    import inspect

    from vosnb.analysis.lfu_views import ProbedBank
    from vosnb.memory.global_attention import GlobalAttentionMemory
    from vosnb.memory.lfu import LFUMemory
    from vosnb.memory.rde import RDEMemory
    from vosnb.memory.swem import SWEMMemory

    for cls in (EveryK, FirstAndLatest, LFUMemory, SWEMMemory, RDEMemory, GlobalAttentionMemory, ProbedBank):
        for method in ("read", "write"):
            assert "context" in inspect.signature(getattr(cls, method)).parameters, f"{cls.__name__}.{method}"
