"""The global attention model's training kind, its start from an STCN, the mask history in propagate, and the
notebook-06 measurements (GAM-4 check, memory accounting, memory work)."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vosnb.analysis import gam_views
from vosnb.analysis.memory_costs import analytic_cost
from vosnb.data import SequenceConfig, Video, make_sequence
from vosnb.errors import VosnbError
from vosnb.inference import propagate
from vosnb.memory.global_attention import (GlobalAttentionMemory, attention_matrix, read_matrix)
from vosnb.models import GAM, STCN, GamConfig, load_any_checkpoint
from vosnb.train import Clips, TrainConfig, clip_loss, mask_history, train


def _clips(b: int = 2, height: int = 32, width: int = 48) -> Clips:
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(b, 3, 3, height, width, generator=g)
    masks = torch.zeros(b, 3, 2, height, width)
    masks[:, :, 0, 4:20, 5:25] = 1
    masks[0, :, 1, 20:30, 30:44] = 1  # the second clip has one object only
    return Clips(frames, masks, None)


def test_the_gam_configs_differ_only_in_the_switches():
    configs = {p.stem: TrainConfig.from_yaml(p) for p in sorted(Path("configs/train").glob("gam_small_*.yaml"))}
    assert set(configs) == {"gam_small_full", "gam_small_no_cam", "gam_small_no_mem"}
    assert {k: (c.gam["cam"], c.gam["mem"]) for k, c in configs.items()} == {
        "gam_small_full": (True, True), "gam_small_no_cam": (False, True), "gam_small_no_mem": (True, False)}
    common = [{k: v for k, v in dataclasses.asdict(c).items() if k not in ("name", "gam")} for c in configs.values()]
    assert all(c == common[0] for c in common) and common[0]["model"] == "gam"
    with pytest.raises(VosnbError, match="model: gam only"):
        TrainConfig(name="x", gam={"cam": False})
    with pytest.raises(VosnbError, match="unknown gam keys"):
        TrainConfig(name="x", model="gam", gam={"cma": False})


def test_batched_global_functions_match_the_bank():
    g = torch.Generator().manual_seed(1)
    key, values, query = torch.randn(8, 3, 4, generator=g), torch.randn(2, 5, 3, 4, generator=g), \
        torch.randn(8, 3, 4, generator=g)
    for variant in ("paper", "gc"):
        bank = GlobalAttentionMemory(variant=variant)
        bank.write(0, key, values, None)
        batched = attention_matrix(key.flatten(1)[None].repeat(3, 1, 1), values.flatten(2)[None].repeat(3, 1, 1, 1),
                                   variant)
        torch.testing.assert_close(batched[1], bank.global_matrix)
        read = read_matrix(batched, query.flatten(1)[None].repeat(3, 1, 1), variant)
        torch.testing.assert_close(read[2].unflatten(-1, (3, 4)), bank.read(query).values)


@pytest.mark.parametrize("gam", [{"cam": True, "mem": True}, {"cam": True, "mem": False}])
def test_the_gam_kind_runs_forward_and_backward_on_a_tiny_clip(gam):
    torch.manual_seed(0)
    config = TrainConfig(name="t", model="gam", gam=gam, key_dim=16)
    model = GAM.small(key_dim=16, gam=GamConfig(**gam)).train()
    with torch.no_grad():
        model.channel_attention.alpha.fill_(0.5)  # at 0 (its start) CAM's inner weights get no gradient yet
    loss, terms = clip_loss(model, _clips(), config, top_p=1.0)
    assert torch.isfinite(loss) and set(terms) == {"ce"} and loss.item() == pytest.approx(terms["ce"])
    loss.backward()
    assert model.channel_attention.alpha.grad.abs() > 0
    assert model.value_encoder.conv1.weight.grad.abs().sum() > 0
    if gam["mem"]:
        assert model.mask_embedding.layers[0].weight.grad.abs().sum() > 0
    else:
        assert model.mask_embedding is None and model.mask_history == 0


def test_mask_history_repeats_the_oldest_while_fewer_frames_exist():
    past = [torch.full((1, 2, 4, 4), float(i)) for i in range(4)]
    assert mask_history(past[:1], 3)[0, 0, :, 0, 0].tolist() == [0, 0, 0]
    assert mask_history(past[:2], 3)[0, 0, :, 0, 0].tolist() == [0, 0, 1]
    assert mask_history(past, 3)[0, 0, :, 0, 0].tolist() == [1, 2, 3]


def test_from_stcn_copies_the_shared_weights_and_starts_cam_and_mem_switched_off():
    torch.manual_seed(0)
    stcn = STCN.small(key_dim=16).eval()
    full = GAM.from_stcn(stcn, GamConfig()).eval()
    no_mem = GAM.from_stcn(stcn, GamConfig(mem=False)).eval()
    assert not full.training
    torch.testing.assert_close(full.key_encoder.conv1.weight, stcn.key_encoder.conv1.weight)
    torch.testing.assert_close(full.value_encoder.conv1.weight, stcn.value_encoder.conv1.weight[:, 3:5])
    frame = torch.rand(1, 3, 32, 48)
    query = full.encode_key(frame)
    readout = torch.randn(1, 2, full.value_dim, 2, 3)
    history = torch.rand(1, 2, 3, 32, 48)
    with torch.no_grad():
        a = full.segment(readout, query, history)
        b = no_mem.segment(readout, query)
    torch.testing.assert_close(a, b)  # MEM's decoder weights start at 0, CAM's α at 0: the same function


class _Spy(GAM):
    """A GAM that records the history propagate hands to segment."""

    seen: list

    def segment(self, readout, query, history=None):
        self.seen.append(None if history is None else history.clone())
        return super().segment(readout, query, history)


def test_propagate_feeds_mem_the_last_three_merged_probabilities():
    torch.manual_seed(0)
    model = _Spy.small(key_dim=16, gam=GamConfig()).eval()
    model.seen = []
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (6, 32, 48, 3), dtype=np.uint8)
    masks = np.zeros((6, 32, 48), np.uint8)
    masks[:, 4:20, 5:25] = 1
    masks[:, 22:30, 30:46] = 2
    result = propagate(model, Video.from_arrays("tiny", rgb, masks), "global", device="cpu", keep_probs=True)
    assert len(model.seen) == 5 and all(h.shape == (1, 2, 3, 32, 48) for h in model.seen)
    first = torch.from_numpy((masks[0] == 1).astype(np.float32))
    for j in range(3):  # frame 1: only the ground truth exists, three times
        torch.testing.assert_close(model.seen[0][0, 0, j], first)
    probs = torch.from_numpy(result.probs.astype(np.float32))  # [T, N+1, H, W]; this frame size needs no padding
    for j, frame in enumerate((1, 2, 3)):  # frame 4 sees frames 1, 2, 3, oldest first
        torch.testing.assert_close(model.seen[3][0, :, j], probs[frame, 1:], atol=2e-3, rtol=0)


def test_a_tiny_gam_training_run_writes_a_loadable_checkpoint(tiny_davis_root, tmp_path):
    config = TrainConfig(name="gam_tiny", model="gam", gam={"cam": True, "mem": True}, key_dim=16,
                         data_root=str(tiny_davis_root), crop=(48, 64), batch_size=2, steps=3, save_every=10,
                         top_p=1.0, threads=1, out_dir=str(tmp_path / "state"), checkpoint_dir=str(tmp_path / "ckpt"))
    path = train(config, device="cpu", progress=False)
    model = load_any_checkpoint(path)
    assert isinstance(model, GAM) and model.gam_config == GamConfig() and model.mask_history == 3
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["model"] == "gam" and card["config"]["gam"] == {"cam": True, "mem": True}
    # Sliced (--stop-at) at the learning-rate milestone (step 2 of 3) and resumed, the run ends with the very same
    # weights (the resume once decayed the rate a second time there).
    sliced = dataclasses.replace(config, out_dir=str(tmp_path / "state2"), checkpoint_dir=str(tmp_path / "ckpt2"))
    assert train(sliced, device="cpu", progress=False, stop_at=2) is None
    resumed = train(sliced, device="cpu", progress=False)
    first = torch.load(path, weights_only=True)["state_dict"]
    second = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_the_gam4_check_holds_for_equal_weights_and_fails_for_growing_ones():
    gaps = gam_views.running_mean_gap(frames=30, value_dim=8, key_dim=4)
    assert gaps["equal"] < 1e-12
    assert gaps["growing"] > 0.05


def test_memory_sweep_counts_from_tensors_what_the_shapes_say_and_skips_over_budget():
    limit = 4 << 20
    table = gam_views.memory_sweep([("480p", 1), ("480p", 3)], objects=1, key_dim=8, value_dim=16,
                                   measure_limit=limit, progress=False)
    measured = table.dropna(subset=["measured_total_bytes"])
    assert (measured["measured_total_bytes"] == measured["total_bytes"]).all()
    assert table.loc[table["total_bytes"] > limit, "measured_total_bytes"].isna().all()
    assert len(measured) < len(table)
    glob = table[table["strategy"] == "global"]
    assert glob["total_bytes"].nunique() == 1
    assert gam_views.relative_change(table, "stm", "total_bytes", vary="frames", at={"resolution": "480p"}) > 1
    cost = analytic_cost("stm", frames=3, height=480, width=854, key_dim=8, value_dim=16)
    assert int(table.query("strategy == 'stm' and frames == 3")["total_bytes"].iloc[0]) == cost.total


def test_peak_rss_increase_sees_a_large_allocation():
    grown = gam_views.peak_rss_increase(lambda: torch.ones(64 << 20, dtype=torch.uint8).sum())
    if grown is None:
        pytest.skip("no /proc/self/clear_refs here")
    assert grown >= 48 << 20


def test_memory_work_is_repeatable_and_the_global_state_does_not_grow():
    work = gam_views.memory_work("global", frames=50, grid=(3, 4), objects=2, key_dim=8, value_dim=16)
    first, second = work(), work()
    torch.testing.assert_close(first.values, second.values)
    for strategy in ("stm", "stcn"):
        reads = gam_views.memory_work(strategy, frames=2, grid=(3, 4), objects=2, key_dim=8, value_dim=16)()
        assert sum(r.values.shape[0] for r in reads) == 2


def test_frame_step_runs_the_whole_model_at_any_size():
    torch.manual_seed(0)
    model = GAM.small(key_dim=16)
    probs = gam_views.frame_step(model, height=40, width=50, objects=2)()
    assert probs.shape == (1, 2, 48, 64) and (probs >= 0).all() and (probs <= 1).all()


def test_global_widget_redraws_the_matrix_after_the_chosen_frame():
    torch.manual_seed(0)
    frames, masks, _ = make_sequence(SequenceConfig(length=5, height=32, width=48, n_objects=1), seed=2)
    picture = gam_views.record_run(GAM.small(key_dim=8).eval(), Video.from_arrays("toy", frames, masks))
    widget = gam_views.global_widget(picture)
    slider, out = widget.children
    assert slider.value == len(picture.matrices) and len(out.outputs) == 1
    shown = out.outputs[0]["data"]["image/png"]
    slider.value = 1
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"] != shown  # the matrix after frame 1
