# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SWEM: a fixed set of bases, updated by sequential weighted EM
#
# STCN stores every fifth frame's features: its memory, and the cost of reading it, grow with the video. SWEM
# (Lin et al., CVPR 2022) keeps, per object, L = 128 foreground and 128 background **bases** in two banks
# (`first`, from frame 0, and `update`, re-estimated at every frame): 512 features per object, whatever the
# length. A write runs four iterations of weighted EM over the new frame's stride-16 features (`vosnb.memory.swem`):
#
# - **E** (Eq. 3, 5): each pixel's responsibility over the L bases of a class, `softmax(x·κ̂/τ)`, times its weight;
# - **M**: `ζ = ζ⁻ + Σ z`, `κ = (ζ⁻κ⁻ + Σ z x) / ζ`: always the previous frame's state plus this frame, so the
#   bases are a running weighted mean over every frame seen (SWEM-5);
# - **W** (Eq. 6–7, *adaptive weights*): the bases classify each pixel as fg or bg (`P_fg`); a pixel gets weight
#   `m_fg·(1 − P_fg)` for the fg bases and `m_bg·P_fg` for the bg ones, so pixels the bases already explain lose
#   weight and *hard* pixels (the coarse call disagrees with the mask) gain it. With *fixed weights* the masks are
#   the weights.
#
# A read compares the query key with all of the object's bases by cosine similarity and reads their values with
# `softmax(cos/τ)`, τ = 0.05.
#
# | ID | claim | here |
# |---|---|---|
# | SWEM-4 | adaptive weights favour hard pixels and segment better than fixed weights | weight vs disagreement; J&F with a paired bootstrap |
# | SWEM-5 | the sequential update equals a weighted average over all past frames | exact, on a real run |
# | SWEM-6 | 512 features per object vs 1,620 per 480×864 frame for STCN | counted on real banks |
# | SWEM-7 | constant per-frame cost, whatever the video length | write + read at ×1 vs ×20 length at the paper's shapes; end to end beside it |
# | SWEM-8 | 84.3 J&F on DAVIS 2017 val | needs SWEM-trained weights and DAVIS |
#
# **Our model was not trained with this memory.** We plug SWEM's memory into the small STCN trained on the
# synthetic data with STCN's every-5 memory (no retraining). A model trained with SWEM would differ: its encoders
# and decoder learn to read cosine-softmax readouts of bases; the released SWEM also fuses a permutation-invariant
# fg/bg ratio feature (built from the top-64 affinities of each class) into the decoder input through a gated
# convolution, which STCN's decoder has no input for; it uses 128-channel keys and 480×864 frames. Absolute J&F
# here therefore says little about SWEM; comparisons between SWEM variants on the same model are what we judge.

# %% tags=["parameters"]
profile: str = "ci"  # ci: minutes on a 2-core CPU; full: paper scale
dataset: str = "synthetic"  # synthetic: the embedded set; davis2017: real DAVIS 2017, needs data_root
data_root: "Optional[str]" = None  # data set folder (DAVIS: the one holding JPEGImages and Annotations)
device: str = "auto"  # auto (CUDA when available), cpu or cuda
seed: int = 0  # seed of every random generator
model_name: str = "stcn_small_l2_ck64"  # the trained small STCN that reads the SWEM memory
swem_checkpoint: "Optional[str]" = None  # SWEM-8: a checkpoint trained with SWEM memory (STCN layout); dataset davis2017

# %%
import functools

import pandas as pd
import torch

import vosnb.context
from vosnb import engine
from vosnb.analysis import swem_views
from vosnb.claims import TIMED
from vosnb.data import SequenceConfig, Video, clip, make_sequence
from vosnb.memory.swem import SWEMMemory
from vosnb.metrics import paired_bootstrap_ci
from vosnb.models.zoo import load_any_checkpoint, load_pretrained
from vosnb.plotting import color
from vosnb.timing import TIMING_ROUNDS, time_interleaved

ctx = vosnb.context.setup(notebook="03_swem_weighted_em", profile=profile, dataset=dataset, data_root=data_root,
                          device=device, seed=seed)
model = load_pretrained(model_name, device=ctx.device)
ctx.ledger.model = model_name

# %% [markdown]
# ## Budget
# `ci` (minutes on a 2-core CPU; the course map, notebooks/README.md, gives each run time): fixed vs adaptive weights on all 30 val sequences; the sweeps
# of the number of bases and of EM iterations on the first 3; the end-to-end length study on the first 20 frames of
# one sequence (×20 = 400 frames per memory); SWEM-7 at the paper's shapes on a 3-frame random video (×20 = 60
# frames written), 15 interleaved rounds; 4 generated distractor sequences. `full`: every val sequence for the
# comparison and the sweeps, finer grids, three whole sequences for the length study, a 20-frame random video
# (×20 = 400 frames) and 25 rounds for SWEM-7, 12 distractor sequences.

# %%
full = profile == "full"
val = [ctx.val[name] for name in ctx.val.sequences]
compare_videos = val
sweep_videos = val if full else val[:3]
length_videos = val[:3] if full else [clip(val[0], 20)]
paper_base_frames, timing_repeats = (20 if full else 3), TIMING_ROUNDS[profile]
bases_grid = (8, 16, 32, 64, 128, 256) if full else (16, 64, 128, 256)
iters_grid = (1, 2, 3, 4, 6, 8) if full else (1, 2, 4, 8)
distractor_config = SequenceConfig(n_objects=1, n_distractors=2, distractor_of=1)
distractors = [Video.from_arrays(f"distractor_{i}", *make_sequence(distractor_config, seed=10_000 + seed + i)[:2])
               for i in range(12 if full else 4)]

# %% [markdown]
# ## SWEM-5: the sequential update is a weighted mean over all frames
# After T writes, the `update` bank's bases must equal `(ζ₀κ₀ + Σ_t Σ_pixels z_t x_t) / (ζ₀ + Σ_t Σ_pixels z_t)`
# computed in one batch from the initial state and every frame's keys and responsibilities (the z of each write's
# last E step, which is what entered ζ) — the values ν likewise. We run one val sequence with a bank that keeps
# every write and compare. Rule: the largest difference, relative to each tensor's largest entry, is below 1e-9
# (float64 round-off: on the CPU the bank computes in float64, see "Precision" in `vosnb.memory.swem`). The residual
# itself depends on the CPU's rounding, so the table shows it as machine-dependent (~); the verdict does not.

# %%
_, bank = swem_views.propagate_traced(model, val[0], device=ctx.device, seed=seed)
gap = swem_views.sequential_batch_gap(bank)
ctx.ledger.record("SWEM-5", "sequential_vs_batch", measured=gap, unit="max relative difference",
                  machine_dependent=True)  # a round-off residual (CPU-dependent)
print(f"{len(bank.history)} writes; sequential vs batch: largest relative difference {gap:.2e}")

# %% [markdown]
# ## SWEM-6: a fixed number of features
# Counted on real banks at the paper's shapes (a 480×864 frame gives a 30×54 grid; L = 128; Ck = 128; Cv = 512):
# the features a query is compared with, per object, after each write, for SWEM and for a memory that keeps every
# frame. Rule: exactly 512 and 1,620.

# %%
counts = swem_views.count_features(frames=3, seed=seed)
ctx.ledger.record("SWEM-6", "features",
                  measured=[int(counts["swem_features"].iloc[-1]), int(counts["all_frames_features"].iloc[0])])
counts

# %% [markdown]
# SWEM's 512 stays 512 for any length (the tensors have fixed shapes; the bank's bytes stop growing after the
# second write); a memory of every frame holds 1,620·T features (every fifth frame: 324·T).

# %% [markdown]
# ## SWEM-4: adaptive weights
# ### Where the weight goes
# Fig. 5 of the paper shows the weights on videos with objects that look like the target. We generate such videos
# (one target and two distractors with exactly the target's texture, `make_sequence`) and trace every write of
# the adaptive bank. For each write and pixel: the bases' coarse call (`P_fg > ½`, Eq. 6) agrees or disagrees with
# the final mask, and its weight is `w_bg + w_fg` (Eq. 7). Rule (SWEM-4, weights): the mean weight of disagreeing
# pixels minus that of agreeing pixels is > 0, with the 95% bootstrap interval over the generated sequences
# above 0. With near-binary masks this follows from Eq. 7 by construction (`w ≈ 1 − P` of the true class), so the
# catalogue counts it as a check, not a finding; what the measurement adds is how much weight moves, and the maps
# show *where* the hard pixels are.

# %%
traced = {video.name: swem_views.propagate_traced(model, video, device=ctx.device, seed=seed) for video in distractors}
fixed_runs = {video.name: swem_views.propagate_traced(model, video, device=ctx.device, seed=seed, adaptive=False)[0]
              for video in distractors}
per_sequence_weights = pd.DataFrame(
    {name: swem_views.disagreement_summary(swem_views.weight_disagreement(bank.history))
     for name, (_, bank) in traced.items()}).T
per_sequence_weights["difference"] = per_sequence_weights["weight_disagree"] - per_sequence_weights["weight_agree"]
estimate, low, high = paired_bootstrap_ci(per_sequence_weights["weight_disagree"], per_sequence_weights["weight_agree"],
                                          seed=seed)
ctx.ledger.record("SWEM-4", "weight_shift", measured=estimate, interval=(low, high),
                  unit="weight per pixel, disagree − agree")
per_sequence_weights.round(3)

# %%
example = distractors[0]
fig = swem_views.plot_weight_maps(example, {"fixed weights": fixed_runs[example.name].masks,
                                            "adaptive weights": traced[example.name][0].masks},
                                  traced[example.name][1].history, frames=(1, 10, 20, 30))
ctx.savefig(fig, "adaptive_weight_maps")

# %% [markdown]
# ### Does it segment better?
# Rule (SWEM-4, J&F): J&F(adaptive) − J&F(fixed) > 0 on the embedded val set (all 30 sequences),
# with the 95% paired bootstrap interval over sequences above 0.
#
# **Two versions of the adaptive weights exist.** The paper's Eq. 6–7 — and the authors' code since a merged
# outside change of July 2022 — sum the kernel over all L bases of a class for `P_c` and give every basis the
# adaptive weights. The authors' first upload (June 2022) summed only the 5 largest kernel values and gave adaptive
# weights to half of the bases, the other half keeping the fixed masks. The repository does not say which one
# produced the published numbers, so we run both against fixed weights. The `jf` record (the verdict we quote for
# SWEM-4) uses Eq. 6–7, because that is what the paper states; `jf_first_release` is recorded beside it.
#
# **These J&F numbers depend on the CPU's rounding.** With τ = 0.05 the EM amplifies differences in the last bits of
# the keys (docs/DESIGN.md): run on another instruction-set path, the same comparison gave +1.35 [−2.54, 5.20]
# instead of +1.50 [−2.38, 5.39], with the same verdict. The table therefore marks the values machine-dependent (~)
# and the tests compare only the verdict. Recorded at L = 16 bases per class, about the
# paper's pixels per basis (SWEM: 128 bases for 1,620 pixels; ours: 16 for 112): with more bases than pixels
# (L = 128 on our 8×14 grid) even fixed-weight bases represent almost every pixel and the weights have nothing to
# decide; that setting is in the sweep below. The distractor sequences are shown beside it (too few for a verdict;
# they use the release's L = 128).

# %%
COMPARE_BASES = 16
weights = {"fixed": {"adaptive": False}, "adaptive": {"adaptive": True},
           "adaptive (first release)": {"adaptive": True, "adaptive_version": "first_release"}}
exp = engine.run(model, compare_videos, [
    engine.Variant(name, functools.partial(SWEMMemory, num_bases=COMPARE_BASES, seed=seed, **options))
    for name, options in weights.items()], device=ctx.device)
for sub_claim, name in (("jf", "adaptive"), ("jf_first_release", "adaptive (first release)")):
    estimate, low, high = exp.jf_difference(name, "fixed", seed=seed)
    ctx.ledger.record("SWEM-4", sub_claim, measured=estimate, interval=(low, high), unit="J&F points",
                      claim=f"J&F with {name} − fixed weights, L = {COMPARE_BASES} ({len(compare_videos)} val sequences)",
                      machine_dependent=True)  # SWEM's EM amplifies the encoder's last bits (see below)
distractor_jf = {"fixed": swem_views.j_and_f(distractors, {n: r.masks for n, r in fixed_runs.items()}),
                 "adaptive": swem_views.j_and_f(distractors, {n: r.masks for n, (r, _) in traced.items()})}
pd.DataFrame({f"val J&F (L = {COMPARE_BASES})": exp.summary()["J&F"], "distractor J&F": distractor_jf}).round(2)

# %% [markdown]
# **Reading it.** Where the hard pixels are is what Fig. 5 shows: the adaptive weight lights up on the
# distractors (background that looks like the target: the background bases must learn them) and on the target's
# boundary. Whether that buys accuracy here is another matter: compare the J&F difference with its interval in the
# claims table. One reason it may not, about our setting rather than the method: the decoder was trained with
# STCN's memory, never with these bases, so it cannot have learned to exploit what adaptive weights change. Eq. 7
# fixes templates that are *incomplete* because there are fewer bases than pixels, which is why the comparison
# is recorded at L = 16; the sweep below adds fixed weights at the release's L = 128 on a few sequences.

# %% [markdown]
# ## Number of bases and EM iterations
# J&F and per-frame time on a subset of val, one parameter at a time around the release's L = 128, 4 iterations,
# adaptive weights; plus fixed weights at L = 16 and 128, all settings in one engine run. Time is
# machine-dependent; with 3 sequences in `ci` a J&F difference of a few points is within the spread between
# sequences, so read trends, not single steps.

# %%
settings = ([{"num_bases": n, "seed": seed} for n in bases_grid]
            + [{"em_iters": n, "seed": seed} for n in iters_grid if n != 4]
            + [{"num_bases": n, "adaptive": False, "seed": seed} for n in (16, 128)])
swept = swem_views.sweep_table(engine.run(model, sweep_videos, swem_views.sweep_variants(settings),
                                          device=ctx.device))
adaptive_rows = swept[swept["adaptive"]]
ctx.savefig(swem_views.plot_sweep(adaptive_rows[adaptive_rows["em_iters"] == 4], "num_bases"), "sweep_num_bases")
ctx.savefig(swem_views.plot_sweep(adaptive_rows[adaptive_rows["num_bases"] == 128], "em_iters"), "sweep_em_iters")
swept.round(2)

# %% [markdown]
# ## SWEM-7: per-frame cost vs video length
# **At the paper's shapes (the primary record).** The claim is about SWEM's memory, so we time its memory work per
# frame — one write (four EM iterations with adaptive weights) and one read — at 30×54 (480×864 at stride 16),
# Ck = 64, Cv = 512, L = 128, 2 objects, on a bank that has seen a random video of `paper_base_frames` frames
# once (×1) and twenty times (×20) (`swem_views.length_variants`; each call restores its bank first, so the
# length stays put). Beside it, every-5's top-20 read of the same video at ×1 and ×20, the read that grows with
# the length. All four run in interleaved rounds after a warm-up round (`vosnb.timing`). Rule (fixed before
# timing): SWEM's per-frame time at ×20 over ×1, minus 1, stays flat, judged on the median of the per-round ratios
# and its order-statistic interval (with 15 rounds the 4th to the 12th sorted value, 96.5%). For a timing, a band of
# ±10% around a timed rule's bound cannot be told (`vosnb.claims.TIMING_RESOLUTION`, twice the drift measured between
# runs by `benchmarks/bench_noise_floor.py`), and a flat timing is judged against ±25% (`TIMING_FLAT_BOUND`), not the
# paper's 10%, which this machine cannot resolve: reproduced within ±15%, not reproduced beyond ±35%; a speed ratio
# is decisive only beyond 1 ± 0.10. Between the two, the rule cannot decide: this machine's noise is wider than what
# separates the measurement from the bound.

# %%
with torch.inference_mode():
    lengths = time_interleaved(swem_views.length_variants(paper_base_frames, (1, 20), seed=seed, device=ctx.device),
                               repeats=timing_repeats, device=ctx.device)
change = lengths.relative_change(("swem", 20), ("swem", 1))
ctx.ledger.record("SWEM-7", "time_flat", measured=change.estimate, interval=change,
                  unit=f"relative change of ms/frame, ×20 vs ×1 ({lengths.describe()})", timing=True,
                  model="none (random features)",
                  claim="SWEM write + read per frame at the paper's shapes (30×54, Ck 64, Cv 512, L 128, 2 objects): "
                        "×20 vs ×1 video length")
growth = lengths.ratio(("every5", 20), ("every5", 1))
print(TIMED, f"{lengths.describe()}; every-5's read ×20 / ×1: {growth.estimate:.2f} "
      f"[{growth.low:.2f}, {growth.high:.2f}]")
print(TIMED, lengths.table().round(1).to_string())

# %% [markdown]
# **End to end on our model (recorded beside it).** Each val excerpt is played forward and backward ×1, ×5, ×10
# and ×20 (`repeat_forward_backward`, RDE-VOS Fig. 3). Inference is causal, so one engine run of the ×20 video
# serves every length: its pass n is the last pass of the ×n video (`engine.long_video`). The record is the
# per-frame time of pass 20 over pass 1, frame position by frame position, minus 1: the median over the pass's
# frames (of every excerpt) and its order-statistic interval. The pass 1 it is compared with is a fresh one,
# segmented in alternation with pass 20 frame by frame, so the two are timed back to back and load drift cancels
# as in interleaved rounds. The figure shows the median of each pass.

# %%
memories = [engine.Variant("swem", functools.partial(SWEMMemory, seed=seed)), engine.Variant("every5", "every5")]
long = engine.long_video(model, length_videos, memories, (1, 5, 10, 20), device=ctx.device)
pass_changes = {v.name: long.pass_change(v.name, 20, per_frame=True) for v in memories}
excerpts = ", ".join(video.name for video in length_videos)
ctx.ledger.record("SWEM-7", "time_flat", measured=pass_changes["swem"].estimate, interval=pass_changes["swem"],
                  unit="relative change of ms/frame, pass 20 vs pass 1 (median over frames)", timing=True,
                  claim=f"end to end on the small model (8×14 grid, {excerpts}): ms per frame ×20 vs ×1")
print(TIMED, "end to end, pass 20 vs pass 1: "
      + "; ".join(f"{name} {100 * c.estimate:+.0f}% [{100 * c.low:+.0f}%, {100 * c.high:+.0f}%]"
                  for name, c in pass_changes.items()))
by_length = long.by_length((1, 5, 10, 20))
ctx.savefig(swem_views.plot_time_vs_length(by_length, colors={n: color(n) for n in pass_changes}), "time_vs_length")

# %% [markdown]
# SWEM's memory stays flat however long the video, while every-5's grows linearly in bytes and, with it, the cost
# of each read. At the paper's shapes the read dominates every-5's growth (the printed ×20 / ×1 ratio). On our
# tiny frames the encoders dominate, so end to end every-5 starts *faster* than SWEM (which encodes a value and
# runs EM at every frame) and its growth takes some hundreds of frames to matter. The passes of one run lie minutes
# apart on a shared machine, so the pass-to-pass changes of the end-to-end times (the figure, and the end-to-end
# record) carry that machine's load too; `benchmarks/bench_swem.py` times SWEM's write and read alone, for 1–3
# objects and Ck 64 / 128.

# %% [markdown]
# ## SWEM-8: the paper's DAVIS number
# Needs weights trained with SWEM memory (the authors released none) and DAVIS 2017. Pass `swem_checkpoint` (an
# STCN-architecture checkpoint trained with this memory) and `dataset="davis2017"`, `data_root=...`. Rule (an
# absolute claim): within the J&F tolerance (1 point) of 84.3.

# %%
if swem_checkpoint is not None and ctx.dataset == "davis2017":
    swem_model = load_any_checkpoint(swem_checkpoint, device=ctx.device)
    davis = engine.run(swem_model, ctx.val, [engine.Variant("SWEM", functools.partial(SWEMMemory, seed=seed))],
                       device=ctx.device)
    ctx.ledger.record("SWEM-8", "davis_jf", measured=davis.jf("SWEM"), model=str(swem_checkpoint), unit="J&F")
else:
    ctx.ledger.not_run("SWEM-8", "davis_jf", reason="needs weights trained with SWEM memory (none released) and "
                                                    "DAVIS 2017 val",
                       command="papermill notebooks/03_swem_weighted_em.ipynb build/03_davis.ipynb -p dataset "
                               "davis2017 -p data_root <DAVIS 2017 root> -p swem_checkpoint <SWEM-trained .pth>")

# %% [markdown]
# ## Watch the bases (teaching)
# Step through the writes of a distractor video: which of the object's fg and bg bases takes each pixel (a basis
# keeps its colour from frame to frame: the `update` bank continues from its previous state), and the adaptive
# weights. Frame 0 builds the `first` bank from random bases; later frames refine `update`. The figure is the write
# halfway through the video (its frame in the title), saved as `figures/03_swem_weighted_em/bases_assignments.png`;
# the slider (in a live kernel) steps through every write.

# %%
writes = traced[example.name][1].history
ctx.savefig(swem_views.plot_assignments(example, writes, len(writes) // 2), "bases_assignments")
swem_views.assignment_widget(example, writes)

# %% [markdown]
# ## Exercises
#
# 1. **A fixed size, counted.** Predict both columns after 10 writes at the paper's shapes, then count them.
#
#    ```python
#    swem_views.count_features(frames=10).tail(1)
#    ```
#
#    <details><summary>What you should see</summary>
#
#    SWEM compares a query with 512 features per object (L = 128 bases per class, as configured for SWEM-6) from
#    the second write on, at any length: 256 after the first write, 512 after every later one. A memory of every
#    frame holds 1,620 × 10 = 16,200 (a 30×54 grid per frame). This is a
#    check of the bank's shapes, not a finding: it cannot come out otherwise when the code is right.
#    </details>
#
# 2. **More bases, better memory?** Before reading the sweep table above, predict how J&F changes as L grows from 16
#    to 256 bases per class on our 8×14 grid (112 pixels per frame). Then read the table and explain.
#
#    <details><summary>What you should see</summary>
#
#    J&F falls as L grows (in our run about 69 at L = 16 and 57 at L = 256, on three sequences: read the trend, not
#    the steps). With more bases than pixels, the bases no longer summarise the frame, and the decoder, trained
#    with STCN's pixel memory and never with bases, was not trained on what a read of many weak bases gives. The
#    paper's L = 128 is for 1,620 pixels per frame, about 13 pixels per basis; L = 16 is the closest to that here.
#    </details>

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
ctx.finish()
