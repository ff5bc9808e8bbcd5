"""The experiment engine: variants over the same videos, interleaved repeats, paired comparisons, long videos."""
import numpy as np
import pytest
import torch

from vosnb.data import SequenceConfig, Video, make_sequence
from vosnb.engine import Variant, long_video, run
from vosnb.inference import propagate
from vosnb.memory import FirstAndLatest
from vosnb.models import STCN


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return STCN.small(key_dim=16, similarity="l2").eval()


@pytest.fixture(scope="module")
def videos():
    out = []
    for seed in range(3):
        frames, masks, _ = make_sequence(SequenceConfig(length=6, height=40, width=70, n_objects=2), seed=seed)
        out.append(Video.from_arrays(f"v{seed}", frames, masks, first_frame={1: 0, 2: 0}))
    return out


VARIANTS = [Variant("every2", "every2"), Variant("first_last", FirstAndLatest), Variant("all", "every1", top_k=None)]


def test_run_scores_each_variant_as_propagate_does(model, videos):
    exp = run(model, videos, VARIANTS, repeats=2, keep=True, device="cpu", progress=False)
    assert set(exp.metrics["variant"]) == {"every2", "first_last", "all"}
    assert len(exp.frames) == 3 * 3 * 2 * 5  # variants × videos × repeats × propagated frames
    direct = propagate(model, videos[1], "every2", device="cpu")
    assert np.array_equal(exp.runs[("every2", "v1")].masks, direct.masks)
    jf = exp.jf_per_sequence("every2")
    assert list(jf.index) == ["v0", "v1", "v2"] and ((0 <= jf) & (jf <= 100)).all()
    est, low, high = exp.jf_difference("every2", "first_last")
    assert low <= est <= high
    assert est == pytest.approx(float((jf - exp.jf_per_sequence("first_last")).mean()))
    summary = exp.summary()
    assert summary.loc["all", "max memory (bytes)"] > summary.loc["every2", "max memory (bytes)"]
    assert 0 < exp.read_share("all") < 1


def test_time_ratios_pair_runs_that_ran_back_to_back(model, videos):
    exp = run(model, videos, VARIANTS[:2], repeats=2, device="cpu", progress=False)
    assert len(exp.seconds("every2")) == 6  # sequences × repeats
    ratio = exp.fps_ratio("every2", "first_last")
    expected = np.median(exp.seconds("first_last").to_numpy() / exp.seconds("every2").to_numpy())
    assert ratio.estimate == pytest.approx(expected)
    assert exp.timing().repeats == 6
    with pytest.raises(KeyError, match="no variant"):
        exp.evaluation("nope")


def test_bad_variants_fail_before_any_video_runs(model, videos):
    with pytest.raises(ValueError, match="unique"):
        run(model, videos, [Variant("a"), Variant("a")], device="cpu", progress=False)
    with pytest.raises(KeyError, match="other"):
        run(model, videos, [Variant("a", model="other")], device="cpu", progress=False)
    with pytest.raises(ValueError, match="capacity"):
        run(model, videos, [Variant("a", "every5", {"capacity": 3})], device="cpu", progress=False)
    with pytest.raises(ValueError, match="repeats"):
        run(model, videos, VARIANTS, repeats=0, device="cpu", progress=False)


def test_a_nondeterministic_bank_is_caught(model, videos):
    """Repeats must give the same masks; a bank that reads noise on its second life is reported by name."""
    lives = []

    class Flaky(FirstAndLatest):
        def __init__(self):
            super().__init__(similarity="l2")
            lives.append(self)
            self.noisy = len(lives) > 2  # the warm-up and first repeat clean, the second repeat noisy

        def read(self, query_key, context=None):
            out = super().read(query_key, context)
            if self.noisy:
                out.values = torch.randn_like(out.values) * 10
            return out

    with pytest.raises(RuntimeError, match="flaky.*not deterministic"):
        run(model, videos[:1], [Variant("flaky", Flaky)], repeats=2, device="cpu", progress=False)


def test_long_video_passes_equal_separate_runs(model, videos):
    """Inference is causal: pass p of the ×3 run scores like pass p of its own ×p run would, and memory grows
    for every-k but not for first-and-latest."""
    result = long_video(model, videos[:1], VARIANTS[:2], multipliers=(1, 3), device="cpu", progress=False)
    passes = result.passes
    assert sorted(passes["pass"].unique()) == [1, 2, 3]
    grow = passes[passes["variant"] == "every2"].sort_values("pass")["memory bytes"].to_numpy()
    flat = passes[passes["variant"] == "first_last"].sort_values("pass")["memory bytes"].to_numpy()
    assert (np.diff(grow) > 0).all() and (np.diff(flat) == 0).all()
    assert result.pass_change("every2", 3, "memory bytes").estimate == pytest.approx(grow[2] / grow[0] - 1)
    assert result.pass_change("first_last", 3, "memory bytes").estimate == 0
    by_length = result.by_length((1, 3))
    assert set(by_length["multiplier"]) == {1, 3}
    one = long_video(model, videos[:1], VARIANTS[:2], multipliers=(1,), device="cpu", progress=False)
    first = passes[(passes["pass"] == 1)].set_index("variant")["J&F"]
    assert one.passes.set_index("variant")["J&F"].to_dict() == pytest.approx(first.to_dict())


def test_long_video_scores_a_pass_for_the_objects_of_the_first_frame(model, videos):
    """A backward pass starts on the clip's last frame; where no object shows there, the pass is still scored for
    the video's objects (not for none, which would reject every predicted id)."""
    frames = np.stack([videos[0].frame(t) for t in range(len(videos[0]))])
    masks = np.stack([videos[0].mask(t) for t in range(len(videos[0]))])
    masks[-1] = 0  # both objects hidden on the last frame
    hidden = Video.from_arrays("hidden", frames, masks, first_frame={1: 0, 2: 0})
    result = long_video(model, [hidden], VARIANTS[:1], multipliers=(2,), device="cpu", progress=False)
    assert sorted(result.passes["pass"]) == [1, 2] and result.passes["J&F"].notna().all()


def test_pass_change_per_frame_pairs_the_last_pass_with_a_first_pass_timed_beside_it(model, videos):
    """Frame i of the last pass over frame i of a fresh first pass segmented in alternation with it (frame 0 of a
    first pass only writes and is left out); the fresh pass gives the same masks as the run's own first pass."""
    result = long_video(model, videos[:1], VARIANTS[:1], multipliers=(1, 3), device="cpu", progress=False)
    frames = result.frames
    assert sorted(frames["pass"].unique()) == [1, 2, 3]
    assert frames[frames["pass"] == 1]["position"].tolist() == [1, 2, 3, 4, 5]
    assert frames[frames["pass"] == 3]["position"].tolist() == [0, 1, 2, 3, 4, 5]
    fresh = result.first_pass.set_index("position")["wall_s"]
    assert result.first_pass["sequence"].unique().tolist() == [videos[0].name]  # the base name, not the ×3 one
    assert np.isnan(fresh[0]) and (fresh[1:] > 0).all()
    last = frames[frames["pass"] == 3].set_index("position")["wall_s"]
    ratios = [last[i] / fresh[i] for i in range(1, 6)]
    change = result.pass_change("every2", 3, per_frame=True)
    assert change.estimate == pytest.approx(np.median(ratios) - 1)
    assert change.low == pytest.approx(min(ratios) - 1) and change.high == pytest.approx(max(ratios) - 1)
    with pytest.raises(ValueError, match="last pass"):
        result.pass_change("every2", 2, per_frame=True)
    per_run = result.pass_change("every2", 3)
    assert per_run.low == per_run.high  # a single (sequence, repeat) pair: no interval to speak of


def test_first_pass_segmented_in_alternation_gives_the_same_masks(model, videos):
    video = videos[0]
    plain = run(model, [video], VARIANTS[:1], keep=True, device="cpu", progress=False)
    paired = run(model, [video], VARIANTS[:1], keep=True, first_pass={video.name: 4}, device="cpu", progress=False)
    assert np.array_equal(plain.runs[("every2", video.name)].masks, paired.runs[("every2", video.name)].masks)
    assert paired.first_pass["position"].tolist() == [0, 1, 2, 3] and plain.first_pass is None
    with pytest.raises(ValueError, match="must lie in 1"):
        run(model, [video], VARIANTS[:1], first_pass={video.name: len(video) + 1}, device="cpu", progress=False)
