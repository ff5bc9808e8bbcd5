"""RDE-VOS: SAM as the authors' code computes it, strict loading of their released network's tensor names and shapes
(tests/data/rde_checkpoint_keys.json, listed from their evaluation class), the RDE memory bank's write schedule,
Table 5 read compositions and constant size, and `vosnb infer --memory rde` end to end."""
import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vosnb.cli import main as cli_main
from vosnb.data import DavisDataset, SequenceConfig, Video, make_sequence
from vosnb.errors import CheckpointError
from vosnb.inference import propagate
from vosnb.memory import make_memory
from vosnb.memory.rde import TABLE5_COMPOSITIONS, RDEMemory, parse_composition
from vosnb.models import RDE, SAM, STCN, load_any_checkpoint, load_pretrained, load_rde_checkpoint
from vosnb.models.rde import MemCompress

KEYS = json.loads((Path(__file__).parent / "data" / "rde_checkpoint_keys.json").read_text())["tensors"]


@pytest.fixture(scope="module")
def small() -> RDE:
    torch.manual_seed(0)
    return RDE.small(key_dim=16).eval()


def save_authors_format(model: torch.nn.Module, path: Path, edit=None) -> Path:
    """``model``'s plain state dict (the authors' format), optionally edited in place by ``edit``."""
    state = model.state_dict()
    if edit is not None:
        edit(state)
    torch.save(state, path)
    return path


# ---------------------------------------------------------------- the released network's tensors
def test_release_rde_has_exactly_the_authors_435_tensors_and_loads_a_random_one_strictly(tmp_path):
    model = RDE()
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == KEYS
    assert len(KEYS) == 435 and sum(k.startswith("mem_compress.") for k in KEYS) == 30
    g = torch.Generator().manual_seed(0)
    state = {k: torch.tensor(3) if k.endswith("num_batches_tracked") else torch.randn(shape, generator=g)
             for k, shape in KEYS.items()}
    path = tmp_path / "rde_authors.pth"
    torch.save(state, path)
    loaded = load_any_checkpoint(path)  # recognised as RDE-VOS by its mem_compress tensors
    assert isinstance(loaded, RDE) and not loaded.training
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("mem_compress.value_encoder.non_local.W.bias"),
     r"1 missing tensors, e\.g\. \['mem_compress\.value_encoder\.non_local\.W\.bias'\]"),
    (lambda s: s.update({"mem_compress.compress_key.weight": torch.zeros(16, 16, 1, 3, 3)}),
     r"mem_compress\.compress_key\.weight: \(16, 16, 1, 3, 3\) in the file, \(16, 16, 2, 3, 3\) in the model"),
    (lambda s: s.update({"mem_compress.key_encoder.se_block.0.conv1.weight": torch.zeros(1)}),
     r"1 unexpected tensors, e\.g\. \['mem_compress\.key_encoder\.se_block"),
])
def test_a_dropped_reshaped_or_extra_tensor_is_named_with_the_fix(small, tmp_path, edit, named):
    path = save_authors_format(small, tmp_path / "bad.pth", edit)
    with pytest.raises(CheckpointError, match=named) as err:
        load_rde_checkpoint(path)
    assert "bad.pth" in str(err.value) and "give the released RDE-VOS checkpoint unmodified" in str(err.value)


def test_vosnb_rde_checkpoints_load_by_type_and_from_stcn_keeps_stcns_weights(small, tmp_path):
    payload = {"vosnb_model": {"type": small.model_type, "key_dim": 16, "value_dim": small.value_dim,
                               "similarity": "l2", "config": dataclasses.asdict(small.config)},
               "state_dict": small.state_dict()}
    torch.save(payload, tmp_path / "rde.pth")
    assert isinstance(load_any_checkpoint(tmp_path / "rde.pth"), RDE)

    stcn = load_pretrained("stcn_small_l2_ck64")
    rde = RDE.from_stcn(stcn)
    state = rde.state_dict()
    assert all(torch.equal(state[k], v) for k, v in stcn.state_dict().items())
    assert tuple(state["mem_compress.compress_value.weight"].shape) == (64, 64, 2, 3, 3)
    assert not rde.training and rde.config == stcn.config
    again = RDE.from_stcn(rde).state_dict()  # a fresh SAM, the same STCN
    assert torch.equal(again["key_comp.weight"], state["key_comp.weight"])
    assert not torch.equal(again["mem_compress.compress_key.weight"], state["mem_compress.compress_key.weight"])


# ---------------------------------------------------------------- SAM
def test_sam_keeps_shape_and_the_squeeze_turns_two_frames_into_one_per_object():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 3, 5, 7)  # T = 3, odd h and w: the pool floors them
    assert SAM(16)(x).shape == x.shape
    compress = MemCompress(16, 8)
    key, values = torch.randn(1, 16, 2, 5, 7), torch.randn(1, 3, 8, 2, 5, 7)
    k, v = compress(key, values)
    assert k.shape == (1, 16, 1, 5, 7) and v.shape == (1, 3, 8, 1, 5, 7)
    other = values.clone()
    other[0, 1] += 1  # objects are separate batch entries of the value SAM: object 0 does not see object 1
    assert torch.equal(compress(key, other)[1][0, 0], v[0, 0]) and not torch.equal(compress(key, other)[1][0, 1],
                                                                                   v[0, 1])
    with pytest.raises(ValueError, match=r"\[B, Ck, 2, h, w\]"):
        compress(torch.randn(1, 16, 3, 5, 7), torch.randn(1, 3, 8, 3, 5, 7))
    with pytest.raises(ValueError, match="divisible by 4"):
        SAM(10)


def test_non_local_divides_by_the_pooled_count_without_softmax():
    """θ = φ = 1 (biases only) and g = x's channel 0: f = θᵀφ / N = (C/2) / N everywhere, so the block adds
    (C/2) · mean of the max-pooled channel 0 (a softmax would add the mean without the C/2 factor)."""
    block = SAM(16).non_local
    with torch.no_grad():
        for conv, bias in ((block.theta, 1.0), (block.phi[0], 1.0), (block.g[0], 0.0), (block.W, 0.0)):
            conv.weight.zero_()
            conv.bias.fill_(bias)
        block.g[0].weight[0, 0] = 1
        block.W.weight[0, 0] = 1
    x = torch.randn(1, 16, 2, 5, 7)
    added = block(x) - x
    expected = 8 * F.max_pool3d(x[:, :1], (1, 2, 2)).mean()
    assert torch.allclose(added[0, 0], expected.expand(2, 5, 7), atol=1e-5)
    assert torch.allclose(added[0, 1:], torch.zeros(15, 2, 5, 7), atol=1e-6)


# ---------------------------------------------------------------- the RDE bank
def frame(n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, 4, generator=g), torch.randn(n, 64, 3, 4, generator=g)


def test_theta_counts_from_frame_zero_and_each_update_fuses_the_previous_rde_with_the_new_frame(small):
    bank = RDEMemory(small, theta=3)
    written = [t for t in range(11) if bank.should_write(t)]
    assert written == [0, 3, 6, 9]
    gt = frame(seed=0)
    bank.write(0, *gt, probs=None)
    assert bank.frames() == [gt, gt]  # [RDE = GT, GT] before the first update
    new = frame(seed=3)
    bank.write(3, *new, probs=None)
    k, v = small.mem_compress(torch.stack([gt[0], new[0]], 1)[None], torch.stack([gt[1], new[1]], 2)[None])
    assert torch.equal(bank.rde[0], k[0, :, 0]) and torch.equal(bank.rde[1], v[0, :, :, 0])
    assert bank.frames() == [bank.rde, new, gt, gt] and bank.updated_at == [3]
    assert RDEMemory(small, theta=2, composition="F").should_write(2) is False  # nothing besides GT to update


@pytest.mark.parametrize("composition", TABLE5_COMPOSITIONS)
def test_every_table5_composition_reads_its_slots_before_and_after_the_first_update(small, composition):
    counts = parse_composition(composition)
    bank = RDEMemory(small, top_k=5, composition=composition)
    gt, new = frame(seed=0), frame(seed=1)
    bank.write(0, *gt, probs=None)
    before = counts.get("RDE", 0) + min(1, counts.get("F", 0))
    assert bank.frames() == [gt] * max(1, before)
    bank.write(3, *new, probs=None)
    held = {"RDE": bank.rde, "L": new, "F": gt}
    assert bank.frames() == [held[s] for s in ("RDE", "L", "F") for _ in range(counts.get(s, 0))]
    out = bank.read(torch.randn(16, 3, 4))
    assert out.values.shape == (2, 64, 3, 4) and torch.isfinite(out.values).all()


def test_bank_size_is_constant_after_the_first_update_whatever_the_video_length(small):
    for composition in ("2F&L&RDE", "RDE", "L"):
        bank = RDEMemory(small, theta=1, composition=composition)
        sizes = []
        for t in range(40):
            bank.write(t, *frame(seed=t), probs=None)
            sizes.append(bank.nbytes)
        one = frame()[0].numel() * 4 + frame()[1].numel() * 4
        held = {"2F&L&RDE": 3, "RDE": 1, "L": 1}[composition]
        assert set(sizes[1:]) == {held * one}, composition


def test_bad_compositions_and_models_are_refused(small):
    for spec in ("2F&F", "0F", "F&X", ""):
        with pytest.raises(ValueError, match="composition"):
            parse_composition(spec)
    with pytest.raises(ValueError, match="needs an RDE-VOS model"):
        RDEMemory(STCN.small(key_dim=16), composition="F&RDE")
    assert RDEMemory(None, composition="2F&L").frames() == []  # no SAM needed without the RDE


# ---------------------------------------------------------------- propagation and the command line
def test_propagate_runs_every_composition_with_masks_of_the_video_shape(small):
    frames, masks, _ = make_sequence(SequenceConfig(length=6, height=40, width=64, n_objects=2), seed=3)
    video = Video.from_arrays("two", frames, masks, first_frame={1: 0, 2: 0})
    result = propagate(small, video, "rde", device="cpu")
    assert result.masks.shape == (6, 40, 64) and set(result.banks) == {0}
    assert isinstance(result.banks[0], RDEMemory) and result.banks[0].updated_at == [3]
    options = {"similarity": "l2", "top_k": 20, "model": small}
    for composition in TABLE5_COMPOSITIONS:
        out = propagate(small, video, lambda: make_memory("rde", options, composition=composition, theta=2),
                        device="cpu")
        assert out.masks.shape == (6, 40, 64) and set(out.masks.flat) <= {0, 1, 2}, composition


def test_infer_with_the_rde_memory_and_an_authors_format_checkpoint(small, tiny_davis_root, tmp_path):
    path = save_authors_format(small, tmp_path / "rde_authors.pth")
    out = tmp_path / "pred"
    assert cli_main(["infer", "--data-root", str(tiny_davis_root), "--checkpoint", str(path), "--out", str(out),
                     "--memory", "rde", "--top-k", "40", "--device", "cpu"]) == 0
    for name in DavisDataset(tiny_davis_root, "val").sequences:
        assert len(list((out / name).glob("*.png"))) == 8
