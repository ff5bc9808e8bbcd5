"""The XMem-style working + long-term memory: bounds, usage, consolidation into prototypes, and its read."""
import pytest
import torch

from vosnb.memory import EveryK, make_memory, similarity
from vosnb.memory.xmem import XMemMemory

CK, CV, H, W = 8, 3, 3, 4  # 12 elements per frame


def test_equals_every_k_until_the_working_memory_first_fills(drive):
    xmem = XMemMemory(top_k=5, every=2, min_frames=2, max_frames=4)
    every = EveryK(k=2, top_k=5)
    # writes at 0, 2, 4: three frames; the fourth (frame 6) consolidates, so reads up to frame 6 agree
    for a, b in zip(drive(xmem, 7), drive(every, 7)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert xmem.consolidations == 1 and xmem.num_long_term > 0


def test_stays_within_its_bounds_and_keeps_the_first_frame():
    bank = XMemMemory(top_k=5, every=1, min_frames=2, max_frames=3, prototypes=0.5, long_term_max=2.0)
    g = torch.Generator().manual_seed(0)
    sizes = []
    for t in range(40):
        if t:
            bank.read(torch.randn(CK, H, W, generator=g))
        bank.write(t, torch.randn(CK, H, W, generator=g), torch.randn(1, CV, H, W, generator=g), None)
        assert 0 in bank.frame_of.tolist()
        assert bank.working_frames < 3
        assert bank.num_long_term <= 2 * H * W
        assert bank.use.shape == bank.life.shape == (bank.num_long_term + bank.num_elements,)
        sizes.append(bank.nbytes)
    assert bank.consolidations == 39 - 1  # every write from frame 2 on fills three frames
    assert len(set(sizes[-10:])) == 1  # the long-term memory is full: the size no longer moves


def test_usage_is_summed_weight_over_reads_lived():
    bank = XMemMemory(top_k=None, every=1)
    g = torch.Generator().manual_seed(3)
    bank.write(0, torch.randn(CK, H, W, generator=g), torch.randn(1, CV, H, W, generator=g), None)
    queries = [torch.randn(CK, H, W, generator=g) for _ in range(3)]
    expected = torch.zeros(H * W)
    for q in queries:
        bank.read(q)
        aff = similarity(bank.keys[None], q.flatten(1)[None], "l2")[0]
        expected += torch.softmax(aff, 0).sum(1)
    torch.testing.assert_close(bank.usage(), expected / 3)


def test_consolidation_keeps_the_most_used_candidates_and_potentiates_their_values():
    bank = XMemMemory(top_k=None, every=1, min_frames=2, max_frames=3, prototypes=2 / (H * W))
    g = torch.Generator().manual_seed(5)
    frames = [(torch.randn(CK, H, W, generator=g), torch.randn(1, CV, H, W, generator=g)) for _ in range(3)]
    bank.write(0, *frames[0], None)
    bank.write(1, *frames[1], None)
    bank.use = torch.arange(2 * H * W, dtype=torch.float32)  # frame 1's last two elements are the most used
    bank.life = torch.ones(2 * H * W)
    cand_keys, cand_rows = bank.keys[:, H * W:].clone(), bank.value_rows[H * W:].clone()
    bank.write(2, *frames[2], None)  # three frames: frame 1 is the candidate
    assert bank.frame_of.tolist() == [0] * (H * W) + [2] * (H * W)
    torch.testing.assert_close(bank.long_keys, cand_keys[:, -2:])
    weights = torch.softmax(similarity(cand_keys[None], cand_keys[:, -2:][None], "l2")[0], 0)  # [M, 2]
    expected = torch.einsum("mnc,mp->pnc", cand_rows, weights)
    torch.testing.assert_close(bank.long_value_rows, expected)
    assert bank.use[:2].tolist() == [0, 0] and bank.life[:2].tolist() == [0, 0]


def test_long_term_overflow_removes_the_least_used():
    bank = XMemMemory(top_k=None, every=1, min_frames=2, max_frames=3, prototypes=1 / (H * W),
                      long_term_max=2 / (H * W))
    g = torch.Generator().manual_seed(7)

    def write(t):
        bank.write(t, torch.randn(CK, H, W, generator=g), torch.randn(1, CV, H, W, generator=g), None)

    for t in range(4):  # consolidations after frames 2 and 3: two prototypes
        write(t)
    assert bank.num_long_term == 2
    first, second = bank.long_keys[:, 0].clone(), bank.long_keys[:, 1].clone()
    bank.use[:2] = torch.tensor([1.0, 0.0])
    bank.life[:2] = 1
    write(4)  # a third prototype: the least used of the two (the second) goes
    assert bank.num_long_term == 2
    torch.testing.assert_close(bank.long_keys[:, 0], first)
    assert not torch.equal(bank.long_keys[:, 1], second)


def test_reads_long_term_and_working_memory_in_one_softmax(drive):
    bank = XMemMemory(top_k=None, every=1, min_frames=2, max_frames=3)
    drive(bank, 5)
    query = torch.randn(CK, H, W, generator=torch.Generator().manual_seed(9))
    keys = torch.cat([bank.long_keys, bank.keys], 1)
    rows = torch.cat([bank.long_value_rows, bank.value_rows], 0)
    w = torch.softmax(similarity(keys[None], query.flatten(1)[None], "l2")[0], 0)
    expected = torch.einsum("mnc,mq->ncq", rows, w).reshape(2, CV, H, W)
    torch.testing.assert_close(bank.read(query).values, expected)


@pytest.mark.parametrize("params, message", [
    ({"min_frames": 1}, "2 ≤ min_frames"), ({"min_frames": 5, "max_frames": 5}, "min_frames < max_frames"),
    ({"every": 0}, "every=0"), ({"prototypes": 0}, "prototypes"), ({"prototypes": 3, "long_term_max": 2}, "≤"),
])
def test_bad_sizes_are_rejected_with_the_parameter_named(params, message):
    with pytest.raises(ValueError, match=message):
        XMemMemory(**params)


def test_make_memory_builds_it_and_rejects_unknown_parameters():
    assert isinstance(make_memory("xmem", {"similarity": "l2", "top_k": 20, "track": False}), XMemMemory)
    with pytest.raises(ValueError, match="takes no parameter capacity"):
        make_memory("xmem", capacity=2)
