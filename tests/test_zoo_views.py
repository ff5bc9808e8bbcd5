"""The memory zoo's helpers (notebook 07): its variants, the transplanted SAM, paper-shape banks, and what the
tables and the pair view read off a run."""
import pandas as pd
import pytest
import torch

from vosnb.analysis import zoo_views
from vosnb.data import SequenceConfig, Video, make_sequence
from vosnb.engine import LongVideoResult, Variant, run
from vosnb.memory import EveryK, make_memory
from vosnb.models import STCN
from vosnb.models.rde import RDE
from vosnb.timing import Interval

SMALL = {"grid": (3, 4), "key_dim": 8, "value_dim": 16, "objects": 2}


def test_every_strategy_runs_once_on_the_shared_model_and_trained_ones_again():
    variants = zoo_views.variants()
    names = [v.name for v in variants]
    assert names[:8] == list(zoo_views.STRATEGIES) and len(set(names)) == len(names) == 10
    by_name = {v.name: v for v in variants}
    assert by_name["RDE"].model == zoo_views.SHARED_WITH_SAM
    assert by_name["RDE (trained)"].model == "rde_small_full" and by_name["global (trained)"].model == "gam_small_full"
    assert {v.model for v in zoo_views.variants(trained=False)} == {zoo_views.SHARED, zoo_views.SHARED_WITH_SAM}
    assert zoo_views.strategy_of("global (trained)") == "global"


def test_with_sam_keeps_the_stcn_weights_and_takes_the_trained_sam():
    torch.manual_seed(0)
    stcn = STCN.small(key_dim=16, similarity="l2").eval()
    trained = RDE.from_stcn(STCN.small(key_dim=16, similarity="l2"))
    with torch.no_grad():
        for p in trained.mem_compress.parameters():
            p.add_(1.0)
    model = zoo_views.with_sam(stcn, trained)
    state = model.state_dict()
    for name, tensor in stcn.state_dict().items():
        assert torch.equal(state[name], tensor), name
    for name, tensor in trained.mem_compress.state_dict().items():
        assert torch.equal(state[f"mem_compress.{name}"], tensor), name


@pytest.mark.parametrize("name", list(zoo_views.STRATEGIES))
def test_filled_banks_grow_only_for_every_k(name):
    small, large = (zoo_views.filled_bank(name, t, **SMALL)[0].nbytes for t in (3, 8))
    if name in zoo_views.GROWING:
        assert large > small
    elif name == "XMem-style":
        assert large >= small  # bounded, filling towards its bound
    else:
        assert large == small


def test_every_k_filled_bank_holds_its_frames_in_write_order():
    bank, t, _ = zoo_views.filled_bank("every-5", 4, **SMALL)
    assert t == 15
    assert bank.frame_of.tolist() == [f for f in (0, 5, 10, 15) for _ in range(12)]


def test_paper_shape_costs_restore_the_bank_after_each_call():
    timing, table = zoo_views.paper_shape_costs((2, 4), ("every-5", "LFU"), repeats=1, **SMALL)
    assert list(table.index) == [("every-5", 2), ("every-5", 4), ("LFU", 2), ("LFU", 4)]
    assert table.loc[("every-5", 4), "MiB held"] == pytest.approx(2 * table.loc[("every-5", 2), "MiB held"])
    assert (table["ms per frame"] >= table["read ms"]).all()
    assert timing.repeats == 1
    change = zoo_views.paper_shape_change(timing, "every-5", 2, 4)
    per_frame = {t: timing.times[("every-5", t, "read")].wall[0] + timing.times[("every-5", t, "writes")].wall[0] / 5
                 for t in (2, 4)}
    assert change.estimate == pytest.approx(per_frame[4] / per_frame[2] - 1)


def test_memory_contents_counts_frames_worth_per_source():
    bank = EveryK(k=2, include_last=True)
    g = torch.Generator().manual_seed(0)
    for t in range(4):
        bank.write(t, torch.randn(8, 3, 4, generator=g), torch.randn(1, 16, 3, 4, generator=g), None)
    assert zoo_views.memory_contents(bank) == {"frame 0": 1.0, "frame 2": 1.0, "previous frame": 1.0}
    xmem = make_memory("xmem", every=1, min_frames=2, max_frames=3, prototypes=0.5)
    for t in range(3):
        xmem.write(t, torch.randn(8, 3, 4, generator=g), torch.randn(1, 16, 3, 4, generator=g), None)
    assert zoo_views.memory_contents(xmem) == {"long-term": 0.5, "frame 0": 1.0, "frame 2": 1.0}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = STCN.small(key_dim=16, similarity="l2").eval()
    videos = []
    for seed in range(3):
        frames, masks, _ = make_sequence(SequenceConfig(length=8, height=40, width=70, n_objects=2), seed=seed)
        videos.append(Video.from_arrays(f"v{seed}", frames, masks, first_frame={1: 0, 2: 0}))
    return model, videos


def test_accuracy_table_and_content_probe_read_one_engine_run(tiny):
    model, videos = tiny
    probe = zoo_views.ContentProbe(lambda: make_memory("every2", {"top_k": 20}))
    exp = run(model, videos, [Variant("every-5", "every5"), Variant("xmem", "xmem", {"every": 1, "min_frames": 2,
                                                                                       "max_frames": 3}),
                              Variant("probed", probe)], warmup=False, keep=True, progress=False)
    table = zoo_views.accuracy_table(exp)
    assert table.loc["every-5", "− every-5"] == 0
    est, low, high = exp.jf_difference("xmem", "every-5")
    assert table.loc["xmem", ["− every-5", "diff low", "diff high"]].tolist() == pytest.approx([est, low, high])
    assert table.loc["xmem", "low"] <= table.loc["xmem", "J&F"] <= table.loc["xmem", "high"]
    assert len(probe.contents) == 3 and sorted(probe.contents[0]) == [0, 2, 4, 6]
    assert probe.contents[0][6] == {f"frame {f}": 1.0 for f in (0, 2, 4, 6)}
    fig = zoo_views.plot_pair(videos[0], {"every-5": exp.runs[("probed", "v0")].masks},
                              {"every-5": probe.contents[0]}, 5)
    assert len(fig.axes) == 4


def test_pass_changes_and_length_table_read_the_passes():
    rows, frames = [], []
    for seq in ("a", "b"):
        for repeat in (0, 1):
            for p in (1, 2):
                rows.append({"variant": "v", "sequence": seq, "repeat": repeat, "pass": p, "J&F": 50.0 + p,
                             "ms per frame": 10.0 * p + repeat, "read ms": 1.0, "memory bytes": 100 * p})
                frames += [{"variant": "v", "sequence": seq, "repeat": repeat, "pass": p, "position": i,
                            "wall_s": 0.01 * p * (1 + i)} for i in range(3)]
    first = [{**f, "wall_s": f["wall_s"] / 2} for f in frames if f["pass"] == 2]  # pass 1 timed beside pass 2
    long = LongVideoResult(passes=pd.DataFrame(rows), frames=pd.DataFrame(frames),
                           first_pass=pd.DataFrame(first).drop(columns="pass"), experiment=None)
    changes = zoo_views.pass_changes(long, 2)
    assert changes.loc["v", "bytes change"] == 1.0
    assert changes.loc["v", "time change"] == pytest.approx(1.0)  # every frame twice as slow in pass 2
    assert zoo_views.interval_of(changes, "v", "time") == long.pass_change("v", 2, per_frame=True)
    table = zoo_views.length_table(long, (1, 2))
    assert table.loc[("v", 2), "J&F"] == 51.5 and table.loc[("v", 2), "bytes"] == 200
    assert isinstance(zoo_views.interval_of(changes, "v", "bytes"), Interval)
