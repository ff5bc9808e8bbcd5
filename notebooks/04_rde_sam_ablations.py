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
# # RDE-VOS: a memory of constant size, learned
#
# STCN writes every fifth frame into its memory, so the memory and the time of each read grow with the video.
# Li et al. (CVPR 2022, *Recurrent Dynamic Embedding for Video Object Segmentation*) keep three frames' worth:
# the first frame with its ground truth (**F**, "GT"), the latest memory frame (**L**), and one **recurrent
# dynamic embedding** (RDE) that a small learned module, **SAM** (spatio-temporal aggregation module), rewrites
# every θ frames from the previous RDE and the new frame (§3.2–3.3, Eq. 3–6). The read matches the query
# against [RDE, L, F, F]: the ground truth counts twice ("2F&L&RDE").
#
# SAM takes the old RDE and the new frame stacked along time, `[C, 2, h, w]`, relates them with a non-local
# block, enriches them with a 3-D atrous pyramid, and squeezes the two time steps back into one with a (2, 3, 3)
# convolution; keys and values have their own SAMs (`vosnb.models.rde`, built as the authors' released code
# computes it; their released network loads strictly, all 435 tensors).
#
# | ID | claim | here |
# |---|---|---|
# | RDE-1 | Table 5: RDE alone beats latest beats first; adding RDE to F, L, F&L helps; 2F&L&RDE is best | the ten compositions with the full model, 30 val sequences |
# | RDE-2 | Table 5: θ = 3 is the best sampling interval | θ = 2 … 5 |
# | RDE-3 | Table 6: both training losses help (+1.7 together) | four small models trained with and without them |
# | RDE-4 | Fig. 3: on a long video, RDE's J&F and speed stay flat, STCN's fall | forward-backward ×1, ×10, ×15, ×20 |
# | RDE-5 | the memory has constant size, four frames' worth | counted at every frame of the ×20 video |
# | RDE-6 | 1.3× faster than STCN | the memory work at the paper's shapes; end to end beside it |
# | RDE-7 | 86.1 J&F on DAVIS 2017 val | needs DAVIS and the authors' network |
#
# **Training (RDE-3).** Four small RDE models start from the shipped small STCN (`stcn_small_l2_ck64`, SAM
# freshly initialised) and train on five-frame clips of the synthetic train split exactly alike but for two loss
# switches: the *unbiased guidance* loss (Eq. 7: the decoder input read from the SAM memory should match the one
# read from an every-frame memory) and the *mask consistency* loss (Eq. 8: the frame-0 value embedding from a
# slightly wrong mask should match the one from the right mask). Their model cards (`data/checkpoints/`) hold
# the recipe, the training cost and their val J&F; `docs/DESIGN.md` explains where we follow the authors' code
# rather than the paper.
#
# **Our setting.** The synthetic val split (30 sequences of 40 frames, 128×224, an 8×14 feature grid); top-k 20
# for every read (the shipped STCN's setting; the authors use 40 for RDE on DAVIS's 30×54 grid); θ = 3 unless
# varied. A difference is judged on its direction and significance (95% paired bootstrap over sequences); the
# paper's magnitudes belong to DAVIS with the authors' model and are shown beside ours, not judged.

# %% tags=["parameters"]
profile: str = "ci"  # ci: minutes on a 2-core CPU; full: paper scale
dataset: str = "synthetic"  # synthetic: the embedded set; davis2017: real DAVIS 2017, needs data_root
data_root: "Optional[str]" = None  # data set folder (DAVIS: the one holding JPEGImages and Annotations)
device: str = "auto"  # auto (CUDA when available), cpu or cuda
seed: int = 0  # seed of every random generator
checkpoint: "Optional[str]" = None  # RDE-7: path of the authors' released RDE-VOS network (with dataset davis2017)

# %%
import pandas as pd

import vosnb.context
from vosnb import engine
from vosnb.analysis import data_tour, rde_views
from vosnb.claims import TIMED
from vosnb.data import clip
from vosnb.metrics import paired_bootstrap_ci
from vosnb.models.zoo import load_any_checkpoint, load_pretrained, model_card
from vosnb.timing import TIMING_ROUNDS, paired_ratio, time_interleaved

ctx = vosnb.context.setup(notebook="04_rde_sam_ablations", profile=profile, dataset=dataset, data_root=data_root,
                          device=device, seed=seed)
LOSS_VARIANTS = ("full", "no_mc", "no_ug", "no_both")
models = {v: load_pretrained(f"rde_small_{v}", device=ctx.device) for v in LOSS_VARIANTS}
models["stcn"] = load_pretrained("stcn_small_l2_ck64", device=ctx.device)
ctx.ledger.model = "rde_small_full"
pd.DataFrame({v: {"val J&F": 100 * model_card(f"rde_small_{v}")["val"]["J&F"],
                  "copy first frame": 100 * model_card(f"rde_small_{v}")["first_frame_baseline"]["J&F"],
                  "steps": model_card(f"rde_small_{v}")["steps"],
                  "train minutes": model_card(f"rde_small_{v}")["wall_time_s"] / 60} for v in LOSS_VARIANTS}).T.round(1)

# %% [markdown]
# ## Budget
# `ci`: one engine run over all 30 val sequences serves RDE-1, RDE-2, RDE-3 and the end-to-end speed of RDE-6
# (17 settings: the ten compositions, θ = 2, 4, 5, the three other loss variants, and STCN every-5 timed beside
# RDE on each sequence). The long videos (RDE-4, RDE-5) play the first 16 frames of 4 sequences ×1, ×10, ×15 and
# ×20 (320 frames at ×20: STCN's every-5 memory reaches 64 frames); the memory work at the paper's shapes
# (RDE-6) runs 15 interleaved rounds. `full`: whole sequences of 8 sequences for the long videos, 25 rounds.

# %%
full = profile == "full"
val = [ctx.val[name] for name in ctx.val.sequences]
long_base = val[::4][:8] if full else [clip(v, 16) for v in val[::8][:4]]
multipliers = engine.LONG_VIDEO_MULTIPLIERS
timing_repeats = TIMING_ROUNDS[profile]

# %% [markdown]
# ## The rules, fixed before any measurement
# From the catalogue (`vosnb/claims.yaml`), in J&F points unless stated:
# - RDE-1: RDE − L > 0; L − F > 0; F&RDE − F > 0; L&RDE − L > 0; F&L&RDE − F&L > 0; 2F&L&RDE − F&L&RDE > 0.
# - RDE-2: θ = 3 minus each of θ = 2, 4, 5 > 0. RDE-3: the full model minus each of the other three > 0.
# - RDE-4: RDE's J&F over the ×20 video relative to ×1 stays within ±10% over its whole interval (the
#   collection's one "flat" bound), and its per-frame time from pass 1 to pass 20 stays flat by the timing rule
#   below; STCN every-5's J&F falls (×1 − ×20 > 0) and its per-frame time grows (pass 20 / pass 1 − 1 > 0).
# - RDE-5 (a check of our configuration): a read matches exactly 4 frames' worth at every frame after the first
#   update, and the bytes held do not change after it.
# - RDE-6: the frame rate of RDE / STCN every-5 > 1, judged on its interval across interleaved rounds (~).
# - Timed records (RDE-4's times, RDE-6): a band of ±10% around a timed rule's bound cannot be told
#   (`vosnb.claims.TIMING_RESOLUTION`, twice the drift measured between runs by `benchmarks/bench_noise_floor.py`),
#   and a flat timing is judged against ±25% (`TIMING_FLAT_BOUND`), not the paper's 10%, which this machine cannot
#   resolve: reproduced within ±15%, not reproduced beyond ±35%; a speed ratio is decisive only beyond 1 ± 0.10.
# - RDE-7: within 1 point of 86.1 on DAVIS 2017 val with the authors' network.

# %% [markdown]
# ## One run for RDE-1, RDE-2, RDE-3 and the end-to-end speed
# Every setting runs on each sequence before the next sequence starts, so the machine's drift falls on all alike.

# %%
variants = [*rde_views.strategy_variants(theta=3, model="full"),
            *(rde_views.rde_variant(f"θ={t}", theta=t, model="full") for t in (2, 4, 5)),
            *(rde_views.rde_variant(f"loss={v}", model=v) for v in LOSS_VARIANTS[1:]),
            engine.Variant("STCN every-5", "every5", model="stcn")]
exp = engine.run(models, val, variants, device=ctx.device)
exp.summary()[["J&F", "J", "F", "max memory (bytes)"]].round(2)

# %% [markdown]
# ## RDE-1: which frames to read (Table 5)
# Each composition's J&F minus the paper's method (2F&L&RDE), ours with its 95% interval and the paper's.

# %%
table5 = rde_views.difference_table(exp, rde_views.METHOD, rde_views.PAPER_TABLE5,
                                    names=list(rde_views.PAPER_TABLE5), seed=seed)
ctx.savefig(rde_views.plot_differences(table5, rde_views.METHOD, "Table 5: read compositions"), "table5")
table5.round(2)

# %%
RDE1 = {"rde_vs_latest": ("RDE", "L"), "latest_vs_first": ("L", "F"), "rde_adds_to_first": ("F&RDE", "F"),
        "rde_adds_to_latest": ("L&RDE", "L"), "rde_adds_to_both": ("F&L&RDE", "F&L"),
        "second_gt": ("2F&L&RDE", "F&L&RDE")}
for sub_claim, (a, b) in RDE1.items():
    estimate, low, high = exp.jf_difference(a, b, seed=seed)
    ctx.ledger.record("RDE-1", sub_claim, measured=estimate, interval=(low, high), unit="J&F points")

# %% [markdown]
# ## RDE-2: the sampling interval θ, and RDE-3: the training losses (Tables 5 and 6)

# %%
theta = rde_views.difference_table(exp, rde_views.METHOD, {}, names=["θ=2", rde_views.METHOD, "θ=4", "θ=5"],
                                   seed=seed)
theta["paper J&F"] = list(rde_views.PAPER_THETA.values())
for t in (2, 4, 5):
    estimate, low, high = exp.jf_difference(rde_views.METHOD, f"θ={t}", seed=seed)
    ctx.ledger.record("RDE-2", f"theta3_vs_{t}", measured=estimate, interval=(low, high), unit="J&F points")
losses = rde_views.difference_table(exp, rde_views.METHOD, {},
                                    names=[rde_views.METHOD, *(f"loss={v}" for v in LOSS_VARIANTS[1:])], seed=seed)
losses["paper J&F"] = list(rde_views.PAPER_LOSSES.values())
for v in LOSS_VARIANTS[1:]:
    estimate, low, high = exp.jf_difference(rde_views.METHOD, f"loss={v}", seed=seed)
    ctx.ledger.record("RDE-3", f"full_vs_{v}", measured=estimate, interval=(low, high), unit="J&F points",
                      model=f"rde_small_full vs rde_small_{v}")
pd.concat({"θ (RDE-2)": theta, "losses (RDE-3)": losses}).round(2)

# %% [markdown]
# The loss variants are one training run each, with one seed: the interval covers the sequences, not a second
# training run, so a difference of a point or two between models may be the training's own spread.

# %% [markdown]
# ## RDE-4 and RDE-5: long videos (Fig. 3)
# Each clip played forward then backward, ×20 (one run gives every shorter length: inference is causal). STCN
# every-5 with the shipped STCN against the full RDE model with 2F&L&RDE, θ = 3. The probe logs what every RDE read
# matches against and the keys after every update (for the pictures below).

# %%
probe = rde_views.RDEProbe({"similarity": "l2", "top_k": 20, "model": models["full"]},
                           {"composition": rde_views.METHOD, "theta": 3})
long = engine.long_video(models, long_base, [engine.Variant("RDE", probe, model="full"),
                                             engine.Variant("STCN every-5", "every5", model="stcn")],
                         multipliers, device=ctx.device)
ctx.savefig(rde_views.plot_long_video(long, multipliers, {"RDE": "RDE (2F&L&RDE)", "STCN every-5": "STCN every-5"}),
            "long_video")
by_length = long.by_length(multipliers)
by_length.pivot(index="multiplier", columns="variant", values=["J&F", "memory (bytes)"]).round(2)

# %%
print(TIMED, by_length.pivot(index="multiplier", columns="variant", values=["ms per frame", "read ms"])
      .round(2).to_string())

# %%
longest = max(multipliers)
jf, jf_1 = long.jf_per_sequence_by_length(longest), long.jf_per_sequence_by_length(1)
rel, rel_low, rel_high = rde_views.relative_change(jf["RDE"], jf_1["RDE"], seed=seed)
ctx.ledger.record("RDE-4", "rde_jf_flat", measured=rel, interval=(rel_low, rel_high),
                  unit="relative change of J&F (ratio of means over sequences − 1)")
estimate, low, high = paired_bootstrap_ci(jf_1["STCN every-5"], jf["STCN every-5"], seed=seed)
ctx.ledger.record("RDE-4", "stcn_jf_falls", measured=estimate, interval=(low, high), unit="J&F points",
                  model="stcn_small_l2_ck64")
for variant, sub_claim in (("RDE", "rde_time_flat"), ("STCN every-5", "stcn_time_grows")):
    change = long.pass_change(variant, longest, per_frame=True)
    ctx.ledger.record("RDE-4", sub_claim, measured=change.estimate, interval=(change.low, change.high),
                      unit=f"relative change (median over frames paired by position, {change.confidence:.0%} "
                           f"interval)",
                      timing=True, model="stcn_small_l2_ck64" if variant != "RDE" else None)

# %%
slots, spread = rde_views.constant_size(long, probe, "RDE", theta=3)
ctx.ledger.record("RDE-5", "slots_read", measured=slots, unit="frames' worth read, at every read after the first update")
ctx.ledger.record("RDE-5", "bytes_spread", measured=spread, unit="bytes (max − min held after the first update)")
print(f"every read after the first update matched {slots} frames' worth; the bytes held varied by {spread}")

# %% [markdown]
# ## What the RDE holds (widget)
# A sequence where an object is fully hidden for a while (chosen from the data's events). After each update: the
# frame with the prediction, the ground truth, and the keys of the ground-truth frame, the latest memory frame and
# the RDE, coloured by their first three principal components taken together (the same colour is the same
# direction in key space). Keys carry no mask: they encode the frame, so the RDE key shows what SAM made of the
# scene so far. The slider steps through the updates.

# %%
name, _ = data_tour.example_sequence(ctx.data_root, "full_occlusion")
picture_probe = rde_views.RDEProbe({"similarity": "l2", "top_k": 20, "model": models["full"]},
                                   {"composition": rde_views.METHOD, "theta": 3})
pictured = engine.run(models, [ctx.val[name]], [engine.Variant("RDE", picture_probe, model="full")], keep=True,
                      warmup=False, score=False, device=ctx.device, progress=False)
masks, keys = pictured.runs[("RDE", name)].masks, picture_probe.keys[0]
ctx.savefig(rde_views.plot_keys(ctx.val[name], masks, keys, sorted(keys)[len(keys) // 2]), "rde_keys")
rde_views.keys_widget(ctx.val[name], masks, keys)

# %% [markdown]
# ## RDE-6: speed
# Where the paper's effect lives: the memory work per frame at the paper's shapes (30×54 grid, Ck 64, Cv 512,
# 2 objects; STCN's memory at 7 frames, the mean every-5 holds on DAVIS 2017 val), random weights and features.
# Four operations are timed in interleaved rounds: STCN's read and write, RDE's read and SAM update; per frame,
# STCN every-5 does a read and a fifth of a write, RDE a read and a third of a SAM update (θ = 3). Then the
# frame rate end to end on the small model, from the run above (STCN every-5 and 2F&L&RDE ran back to back on
# every sequence).

# %%
periods = time_interleaved(rde_views.period_variants(device=ctx.device), repeats=timing_repeats, warmup=1,
                           device=ctx.device)
per_frame = rde_views.per_frame_times(periods)
ratio = paired_ratio(per_frame["stcn_every5"], per_frame["rde"])
ctx.ledger.record("RDE-6", "speed", measured=ratio.estimate, interval=(ratio.low, ratio.high),
                  unit=f"× ({periods.describe()})", timing=True, model="none (random weights and features)",
                  claim="speed of the memory work per frame at the paper's shapes (30×54, Ck 64, Cv 512, 2 objects, "
                        "every-5 at 7 frames): RDE / STCN every-5")
e2e = exp.fps_ratio(rde_views.METHOD, "STCN every-5")
ctx.ledger.record("RDE-6", "speed", measured=e2e.estimate, interval=(e2e.low, e2e.high), timing=True,
                  unit="FPS ratio (median over sequences)",
                  claim="end to end on the small models (8×14 grid): FPS of RDE / STCN every-5")
print(TIMED, periods.describe())
print(TIMED, pd.concat([periods.table(), pd.DataFrame({"median": {n: 1000 * pd.Series(v).median()
                                                                    for n, v in per_frame.items()}})]).round(2)
      .to_string())
print(TIMED, exp.summary().loc[[rde_views.METHOD, "STCN every-5"], ["FPS", "read share (%)"]].round(2).to_string())

# %% [markdown]
# ## RDE-7: DAVIS 2017 with the authors' network
# Runs only with `dataset="davis2017"`, `data_root` and `checkpoint` pointing at the authors' released RDE-VOS
# network; their DAVIS setting: 2F&L&RDE, θ = 3, top-k 40.

# %%
if dataset == "davis2017" and checkpoint is not None:
    released = {"model": load_any_checkpoint(checkpoint, device=ctx.device)}
    davis = engine.run(released, val, [rde_views.rde_variant("RDE", top_k=40)], device=ctx.device)
    ctx.ledger.record("RDE-7", "davis_jf", measured=davis.jf("RDE"), unit="J&F points", model=str(checkpoint),
                      authors_weights=True)
else:
    ctx.ledger.not_run("RDE-7", "davis_jf", reason="needs DAVIS 2017 val and the authors' released RDE-VOS network",
                       command="papermill notebooks/04_rde_sam_ablations.ipynb build/04_davis.ipynb -p dataset "
                               "davis2017 -p data_root <DAVIS 2017 root> -p checkpoint <path to the RDE-VOS .pth>")

# %% [markdown]
# ## What we found (the verdicts are in the claims table below; the measurements in the tables above)
# - **Read compositions (RDE-1).** Adding the RDE helps where the paper says it helps most clearly: F&RDE over F
#   and F&L&RDE over F&L gain one to two points with intervals above zero. The ordering of the single frames is
#   the other way round here: the first frame alone beats the latest frame alone by about six points, and RDE
#   alone is level with the latest frame. Our objects keep their texture through the video, so the ground-truth
#   frame stays a good template, while a memory of predictions only (L, RDE) carries its own errors forward; on
#   DAVIS, where appearance changes, the latest frame wins. The second GT slot (2F&L&RDE against F&L&RDE) moves
#   J&F by less than a point, as in the paper, but our interval contains no effect.
# - **θ (RDE-2).** Intervals of 2 to 5 are within a point of each other, every interval containing zero: on
#   40-frame videos with slow motion, the sampling interval barely matters.
# - **The losses (RDE-3).** The models trained without unbiased guidance and without either loss score *higher*
#   than the full model. The model cards show why the losses can hardly be what separates them: by the end of
#   training the unweighted guidance term is about 0.001 and the consistency term about 1e-4, against a
#   cross-entropy of 0.35, so at the paper's weight of 10 they add a few per cent of the loss. Each model is one
#   training run with one seed; two runs of one recipe can land several points apart (notebook 06 saw it for
#   GAM), and the intervals here cover the sequences, not that spread.
# - **Long videos (RDE-4, RDE-5).** RDE's memory holds the same bytes from its first update on and every read
#   matches four frames' worth (the two checks in the claims table). Its J&F over the ×20 video stays within 2% of
#   the ×1 video. STCN's J&F shows no fall we can detect on our clips (its every-5 memory of up to 64 frames segments as
#   well), but its per-frame time grows with the memory, as the figure *long video* shows (~ machine-dependent).
# - **Speed (RDE-6).** The timing table gives each memory operation at the paper's shapes: RDE reads fewer frames
#   than STCN's every-5 memory, but pays a SAM update every θ frames; SAM's convolutions over 512 value channels
#   are what decides the ratio on this CPU. End to end, RDE also encodes a memory value every 3 frames where STCN
#   does every 5 (~ machine-dependent).

# %% [markdown]
# ## Exercises
#
# 1. **Update the RDE at every frame.** θ is how often the RDE is updated (every θ-th frame). Predict whether θ = 1
#    beats the paper's θ = 3 on the first ten val sequences, then run it.
#
#    ```python
#    exp_theta = engine.run(models, val[:10], [rde_views.rde_variant("θ=1", theta=1, model="full"),
#                                              rde_views.rde_variant(rde_views.METHOD, model="full")], device=ctx.device)
#    exp_theta.jf_difference(rde_views.METHOD, "θ=1", seed=seed)  # θ = 3 minus θ = 1, with its 95% interval
#    ```
#
#    <details><summary>What you should see</summary>
#
#    In our run (about 30 s) θ = 1 scored a little higher on average (58.0 against 55.1 J&F), but θ = 3 minus
#    θ = 1 is −2.7 with a 95% interval of [−8.6, 1.6]: it spans zero, so ten sequences cannot tell the two apart.
#    The paper picks θ = 3 from θ = 2 … 5 (Table 5) on DAVIS; updating at every frame also costs a SAM update at
#    every frame, the most expensive memory operation timed under RDE-6.
#    </details>
#
# 2. **Does STCN really degrade on long videos?** RDE-VOS Fig. 3 shows STCN's accuracy falling as a video gets
#    longer while its memory grows. Before reading the long-video tables above, predict the memory held by STCN
#    every-5 and by RDE at ×20 relative to ×1, and the J&F change of each.
#
#    <details><summary>What you should see</summary>
#
#    The memory is as the paper says: every-5 holds 16 times its ×1 bytes at ×20 (about 0.46 MB to 7.3 MB in our
#    run, one frame more every five), the RDE the same 0.34 MB throughout. The accuracy is not: on these 16-frame
#    clips played back and forth, STCN's J&F was no lower at ×20 (about 69 at ×1, 71 at ×20), and the RDE's moved
#    by about one point; the claims table gives the verdicts, with their intervals. A likely reason: our clips repeat the same frames, so a large memory holds near-duplicates
#    of every query, which helps a read rather than confusing it; the paper's effect may need genuinely new
#    content, drift, or far more frames.
#    </details>

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
ctx.finish()
