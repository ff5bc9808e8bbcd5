"""vosnb.models: torchvision-named ResNets, STCN's release architecture (strict loading of stcn.pth's tensor names
and shapes), the small CPU variant, and the checkpoint loader's errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import vosnb.models
from vosnb.errors import CheckpointError
from vosnb.models import STCN, QueryFeatures, StcnConfig, load_stcn_checkpoint, resnet18, resnet50
from vosnb.runtime import seed_everything

KEYS_FILE = Path(vosnb.models.__file__).with_name("stcn_checkpoint_keys.json")


def random_state_dict(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors with the given names and shapes (num_batches_tracked as int64 scalars)."""
    g = torch.Generator().manual_seed(seed)
    return {name: torch.tensor(7) if name.endswith("num_batches_tracked") else torch.randn(shape, generator=g)
            for name, shape in shapes.items()}


def save_small(tmp_path: Path, state: object, name: str = "small.pth") -> Path:
    """Write ``state`` with torch.save; return the path."""
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def release_shapes() -> dict[str, list[int]]:
    return json.loads(KEYS_FILE.read_text())["tensors"]


@pytest.fixture(scope="module")
def release_state(release_shapes) -> dict[str, torch.Tensor]:
    return random_state_dict(release_shapes)


@pytest.fixture
def small() -> STCN:
    seed_everything(0)
    return STCN.small().eval()


# ---------------------------------------------------------------- ResNets
@pytest.mark.parametrize("builder, entries, params, shapes", [
    (resnet18, 122, 11_689_512, {"conv1.weight": (64, 3, 7, 7), "layer2.0.downsample.0.weight": (128, 64, 1, 1),
                                 "layer4.1.bn2.running_var": (512,), "fc.weight": (1000, 512)}),
    (resnet50, 320, 25_557_032, {"conv1.weight": (64, 3, 7, 7), "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                                 "layer3.5.conv2.weight": (256, 256, 3, 3), "layer4.2.conv3.weight": (2048, 512, 1, 1),
                                 "fc.weight": (1000, 2048), "fc.bias": (1000,)}),
])
def test_resnets_have_torchvision_names_shapes_and_sizes(builder, entries, params, shapes):
    model = builder()
    state = model.state_dict()
    assert len(state) == entries  # parameters + 3 buffers per batch norm (mean, var, num_batches_tracked)
    assert sum(p.numel() for p in model.parameters()) == params
    for name, shape in shapes.items():
        assert tuple(state[name].shape) == shape, name
    assert not any(k.endswith(".bias") and "conv" in k for k in state)  # torchvision's convs have no bias
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 1000)


def test_resnet_options_bias_channels_and_trunk():
    model = resnet18(None, in_channels=5, bias=True)
    state = model.state_dict()
    assert tuple(state["conv1.weight"].shape) == (64, 5, 7, 7)
    assert "layer3.0.downsample.0.bias" in state and "layer1.1.conv2.bias" in state
    assert "fc.weight" not in state
    features = model.forward_features(torch.rand(1, 5, 64, 96))
    assert [tuple(f.shape) for f in features] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6), (1, 512, 2, 3)]


# ---------------------------------------------------------------- release architecture and checkpoints
def test_release_state_dict_is_the_checkpoints(release_shapes):
    state = STCN().state_dict()
    assert len(release_shapes) == 405
    assert {k: list(v.shape) for k, v in state.items()} == release_shapes
    assert "pixel_mean" not in state and "pixel_std" not in state


def test_random_release_checkpoint_loads_strictly_from_file(tmp_path, release_state):
    path = tmp_path / "stcn.pth"
    torch.save(release_state, path)
    model = load_stcn_checkpoint(path, similarity="dot")
    assert (model.key_dim, model.value_dim, model.similarity, model.config) == (64, 512, "dot", StcnConfig())
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in release_state.items())


def test_wrapped_four_channel_release_checkpoint_gets_a_zero_fifth_channel(tmp_path, release_state):
    """A stage-0 checkpoint (RGB + mask) saved as the authors' training checkpoint, under "network" and through
    DistributedDataParallel ("module." prefixes)."""
    state = {f"module.{k}": v for k, v in release_state.items()}
    four = release_state["value_encoder.conv1.weight"][:, :4].clone()
    state["module.value_encoder.conv1.weight"] = four
    path = tmp_path / "stage0.pth"
    torch.save({"it": 3, "network": state}, path)
    loaded = load_stcn_checkpoint(path).state_dict()
    weight = loaded["value_encoder.conv1.weight"]
    assert weight.shape == (64, 5, 7, 7)
    assert torch.equal(weight[:, :4], four)
    assert torch.count_nonzero(weight[:, 4]) == 0
    assert torch.equal(loaded["decoder.pred.weight"], release_state["decoder.pred.weight"])


def test_fifth_channel_can_be_initialised_as_the_authors_before_training(tmp_path, small):
    state = small.state_dict()
    state["value_encoder.conv1.weight"] = state["value_encoder.conv1.weight"][:, :4].clone()
    path = save_small(tmp_path, {"model": state})
    extra = load_stcn_checkpoint(path, fifth_channel="orthogonal").state_dict()["value_encoder.conv1.weight"][:, 4]
    assert torch.count_nonzero(extra) > 0
    with pytest.raises(ValueError, match="fifth_channel"):
        load_stcn_checkpoint(path, fifth_channel="random")


def test_release_forward_shapes_at_64x64():
    model = STCN().eval()
    frame = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        query = model.encode_key(frame)
        assert [tuple(x.shape) for x in query] == [(1, 64, 4, 4), (1, 512, 4, 4), (1, 1024, 4, 4), (1, 512, 8, 8),
                                                   (1, 256, 16, 16)]
        values = model.encode_value(frame, query.f16, torch.rand(1, 3, 64, 64))
        assert values.shape == (1, 3, 512, 4, 4)
        assert model.segment(values, query).shape == (1, 3, 64, 64)


def test_small_checkpoint_round_trip_infers_the_architecture(tmp_path):
    seed_everything(1)
    model = STCN.small(key_dim=32, similarity="cosine", value_dim=48, decoder_widths=(40, 24, 8)).eval()
    path = save_small(tmp_path, {"state_dict": {k: v.half() for k, v in model.state_dict().items()}})
    loaded = load_stcn_checkpoint(path, similarity="cosine")
    assert (loaded.key_dim, loaded.value_dim, loaded.similarity) == (32, 48, "cosine")
    assert loaded.config == model.config
    frame = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        a, b = model.encode_key(frame), loaded.encode_key(frame)
    assert torch.allclose(a.key, b.key, atol=5e-2)  # fp16 weights


def test_missing_and_unreadable_files_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.pth"):
        load_stcn_checkpoint(tmp_path / "nowhere.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        load_stcn_checkpoint(garbage)
    pickled = save_small(tmp_path, {"model": {"a": torch.zeros(1)}, "config": StcnConfig()}, "pickled.pth")
    with pytest.raises(CheckpointError, match="weights_only"):
        load_stcn_checkpoint(pickled)


def test_non_state_dicts_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_stcn_checkpoint(save_small(tmp_path, torch.zeros(3)))
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_stcn_checkpoint(save_small(tmp_path, {"model": {"weights": [1, 2]}}))
    with pytest.raises(CheckpointError, match="not an STCN checkpoint.*key_encoder.conv1.weight"):
        load_stcn_checkpoint(save_small(tmp_path, {"backbone.conv1.weight": torch.zeros(1)}))


def test_missing_unexpected_and_mismatched_tensors_are_listed(tmp_path, small):
    state = small.state_dict()
    missing = {k: v for k, v in state.items() if k != "decoder.pred.bias"}
    with pytest.raises(CheckpointError, match=r"1 missing tensors, e.g. \['decoder.pred.bias'\]"):
        load_stcn_checkpoint(save_small(tmp_path, missing))
    extra = {**state, "decoder.extra.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match="unexpected.*decoder.extra.weight"):
        load_stcn_checkpoint(save_small(tmp_path, extra))
    wrong = {**state, "key_comp.bias": torch.zeros(7)}
    with pytest.raises(CheckpointError, match=r"small.pth.*mismatched.*key_comp.bias: \(7,\) in the file"):
        load_stcn_checkpoint(save_small(tmp_path, wrong))


# ---------------------------------------------------------------- interfaces of the small model
def test_small_forward_shapes_and_size(small):
    assert sum(p.numel() for p in small.parameters()) < 2_000_000
    c4, c8, c16 = small.config.key_channels
    frame = torch.rand(2, 3, 64, 96)
    with torch.inference_mode():
        query = small.encode_key(frame)
        assert isinstance(query, QueryFeatures)
        assert [tuple(x.shape) for x in query] == [(2, 64, 4, 6), (2, small.config.query_value_dim, 4, 6),
                                                   (2, c16, 4, 6), (2, c8, 8, 12), (2, c4, 16, 24)]
        values = small.encode_value(frame, query.f16, torch.rand(2, 2, 64, 96))
        assert values.shape == (2, 2, small.value_dim, 4, 6)
        assert small.segment(values, query).shape == (2, 2, 64, 96)


def test_inputs_must_be_padded_and_shaped(small):
    with pytest.raises(ValueError, match="multiples of 16"):
        small.encode_key(torch.rand(1, 3, 60, 64))
    frame = torch.rand(1, 3, 64, 64)
    query = small.encode_key(frame)
    with pytest.raises(ValueError, match="multiples of 16"):
        small.encode_value(torch.rand(1, 3, 64, 72), query.f16, torch.rand(1, 1, 64, 72))
    with pytest.raises(ValueError, match="masks must be"):
        small.encode_value(frame, query.f16, torch.rand(1, 1, 32, 64))
    with pytest.raises(ValueError, match="others must"):
        small.encode_value(frame, query.f16, torch.rand(1, 2, 64, 64), torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="f16 must be"):
        small.encode_value(frame, query.f8, torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="readout must be"):
        small.segment(torch.rand(1, 2, small.value_dim + 1, 4, 4), query)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="similarity"):
        STCN.small(similarity="euclid")
    with pytest.raises(ValueError, match="key_block"):
        StcnConfig(key_block="wide")
    with pytest.raises(ValueError, match="three positive integers"):
        StcnConfig(key_layers=(3, 4))


def test_frames_are_normalised_inside(small):
    frame = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.inference_mode():
        f16 = small.key_encoder((frame - mean) / std)[0]
        assert torch.allclose(small.encode_key(frame).f16, f16)
        image = small.normalise(frame)
        assert torch.equal(small.encode_key(image, normalised=True).f16, small.encode_key(frame).f16)
        masks = torch.rand(1, 2, 32, 32)
        assert torch.equal(small.encode_value(image, f16, masks, normalised=True),
                           small.encode_value(frame, f16, masks))
        assert small.normalise(torch.rand(1, 3, 30, 45)).shape == (1, 3, 30, 45)  # any size: pad afterwards


def test_encoding_and_decoding_batched_over_objects_equals_a_loop(small):
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(2, 3, 48, 64, generator=g)
    masks = torch.rand(2, 3, 48, 64, generator=g)
    with torch.inference_mode():
        query = small.encode_key(frame)
        values = small.encode_value(frame, query.f16, masks)
        others = (masks.sum(1, keepdim=True) - masks).clamp(0, 1)
        assert torch.allclose(values, small.encode_value(frame, query.f16, masks, others))
        looped = torch.cat([small.encode_value(frame, query.f16, masks[:, i:i + 1], others[:, i:i + 1])
                            for i in range(3)], dim=1)
        assert torch.allclose(values, looped, atol=1e-5)
        logits = small.segment(values, query)
        looped = torch.cat([small.segment(values[:, i:i + 1], query) for i in range(3)], dim=1)
        assert torch.allclose(logits, looped, atol=1e-5)


def test_single_object_has_empty_others(small):
    frame, mask = torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32)
    with torch.inference_mode():
        query = small.encode_key(frame)
        assert torch.equal(small.encode_value(frame, query.f16, mask),
                           small.encode_value(frame, query.f16, mask, torch.zeros_like(mask)))


def test_gradients_reach_every_parameter_of_the_small_model(small):
    small.train()
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(2, 2, 3, 32, 32, generator=g)
    masks = (torch.rand(2, 2, 32, 32, generator=g) > 0.5).float()
    query = small.encode_key(frames.flatten(0, 1))
    key = query.key.view(2, 2, small.key_dim, -1)
    q1 = QueryFeatures(*(x.view(2, 2, *x.shape[1:])[:, 1] for x in query))
    values = small.encode_value(frames[:, 0], query.f16.view(2, 2, *query.f16.shape[1:])[:, 0], masks)
    weights = torch.softmax(torch.einsum("bcm,bcq->bmq", key[:, 0], key[:, 1]), dim=1)
    readout = torch.einsum("bncm,bmq->bncq", values.flatten(3), weights).view_as(values)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(small.segment(readout, q1), masks)
    loss.backward()
    for name, p in small.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_initialisation_is_seeded_and_the_key_projection_orthogonal():
    seed_everything(3)
    a = STCN.small().state_dict()
    seed_everything(3)
    b = STCN.small().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    w = a["key_proj.key_proj.weight"].flatten(1)
    assert torch.allclose(w @ w.T, torch.eye(w.shape[0]), atol=1e-4)
    assert torch.equal(a["value_encoder.bn1.weight"], torch.ones_like(a["value_encoder.bn1.weight"]))


def test_a_checkpoint_of_an_unknown_model_type_is_refused_by_name(tmp_path):
    from vosnb.errors import CheckpointError
    from vosnb.models.zoo import load_any_checkpoint

    path = tmp_path / "future.pth"
    torch.save({"vosnb_model": {"type": "hologram"}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="type 'hologram'.*known types: stcn"):
        load_any_checkpoint(path)
