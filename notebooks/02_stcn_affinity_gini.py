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
# # STCN: which memory points get a say, and what the memory read costs
#
# STCN (Cheng, Tai & Tang, NeurIPS 2021) keeps STM's memory read — every query position attends to every memory
# position through a softmax over similarities (Eq. 1–2) — but changes three things: the key comes from the image
# alone, so **one affinity serves every object** (§3); the similarity is the **negative squared Euclidean
# distance** (L2) instead of the dot product (§4); and the last frame is **not** kept as a temporary memory (§3.3).
# This notebook measures the nine STCN claims of the catalogue:
#
# | ID | claim | the paper |
# |---|---|---|
# | STCN-1 | under the dot product only some memory points can be the most similar point of any query; under L2 every point wins its own (Voronoi) region | Fig. 2 |
# | STCN-2 | the query-norm term of L2 cancels in the softmax: `2ab − a²` gives the weights of `−‖a − b‖²` | App. A, Eq. 5 |
# | STCN-3 | cost of Eq. 3/4 at T = 10, 480×864: 6.26 / 3.13 GFLOPs (dot, Ck 128 / 64), 6.33 / 3.20 (L2); keys 8.70 / 4.35 MB | Table 2 |
# | STCN-4 | the largest weight each memory node ever gives is far more equal under L2: Gini 44.0 (dot) vs 31.8 (L2) | Fig. 4 |
# | STCN-5 | every 5th frame *without* the last frame is better and faster: 85.4 vs 83.1 J&F, FPS ×1.31 | Table 1 |
# | STCN-6 | L2 beats dot at Ck = 64; Ck 128 → 64 hurts dot but not L2 | Table 2 |
# | STCN-7 | matching cost is flat in the number of objects for STCN, ∝ objects for STM | §6.2, Fig. 5 |
# | STCN-8 | top-k filtering (k = 20) helps accuracy and running time | §5 |
# | STCN-9 | 85.4 J&F on DAVIS 2017 val with the released model | Table 3 |
#
# **What our data and models can and cannot show.** STCN-1, -2 and -3 are mathematics and counting: they hold or
# fail on any data. STCN-4 to -8 are *relative* claims; we test them with four small STCNs (dot / L2 × Ck 64 / 128,
# trained from scratch on the synthetic train split with the same recipe and seed; their parameter counts are
# printed where they are loaded) on the embedded synthetic val split (30 sequences × 40 frames at 128×224: an 8×14
# grid of memory positions per frame). The paper's models are ResNet-50 STCNs trained on static images,
# YouTube-VOS and DAVIS and evaluated on 480p video (1,620 positions per frame). So our numbers test whether each *mechanism* shows up, not its DAVIS
# magnitude: short, clean synthetic sequences leave little room for drift (STCN-5), and a 64-dimensional key space
# is already roomy for 112 positions per frame (STCN-6). The speed claims (STCN-5, -7, -8) are judged where the
# paper's effect lives, the memory operation at the paper's shapes (*Timing the memory*), with the end-to-end figure
# of our small model recorded beside it; their numbers depend on this machine (~) and so, between runs, can their
# verdicts: the notebook checks compare neither, the claims table shows both. STCN-9 needs DAVIS 2017 and the authors' checkpoint: pass
# `dataset="davis2017"`, `data_root` and `checkpoint` to run it; otherwise it is recorded as *not run*.

# %% tags=["parameters"]
profile: str = "ci"  # ci: minutes on a 2-core CPU; full: paper scale
dataset: str = "synthetic"  # synthetic: the embedded set; davis2017: real DAVIS 2017, needs data_root
data_root: "Optional[str]" = None  # data set folder (DAVIS: the one holding JPEGImages and Annotations)
device: str = "auto"  # auto (CUDA when available), cpu or cuda
seed: int = 0  # seed of every random generator
checkpoint: "Optional[str]" = None  # STCN-9: path of the released stcn.pth, evaluated on DAVIS 2017 val (dataset davis2017)

# %%
import pandas as pd
import torch
from matplotlib.figure import Figure

import vosnb.context
from vosnb import engine
from vosnb.analysis import affinity_geometry as ag
from vosnb.analysis import contribution as contrib
from vosnb.analysis import costs
from vosnb.claims import TIMED
from vosnb.models.zoo import load_any_checkpoint, load_pretrained
from vosnb.timing import TIMING_ROUNDS, shifted, time_interleaved

ctx = vosnb.context.setup(notebook="02_stcn_affinity_gini", profile=profile, dataset=dataset, data_root=data_root,
                          device=device, seed=seed)

# %% [markdown]
# ## The profile
# `ci` keeps the notebook within about three minutes on a 2-core CPU; `full` is the paper's scale where it has one.
# - STCN-1: 2,000 Gaussian points in 2-D (both profiles); in 64-D, 1,000 points and 20,000 sampled queries in `ci`,
#   2,000 points and 100,000 queries in `full`.
# - STCN-4 to -8: six propagation runs (four models, three memory settings) over the **first 10 of the 30 val
#   sequences** in `ci` (400 frames per run) and all of them in `full`; every claim reuses these runs, and every
#   J&F comparison is paired over the same sequences. Ten sequences give wide intervals: a `direction only` in
#   `ci` may become `reproduced` in `full`.
# - Timings (STCN-5, -7, -8) at the paper's shapes: 15 interleaved rounds after a warm-up round in `ci`, 25 in
#   `full`, one thread pinned in `ci`; STCN-7 times the matching alone in `ci` and matching plus readout too in
#   `full`.

# %%
CI = profile == "ci"
SETTINGS = {
    "points_64d": 1000 if CI else 2000,
    "queries_64d": 20_000 if CI else 100_000,
    "certificates": 5 if CI else 20,
    "sweep_sequences": 10 if CI else None,
    "timing_repeats": TIMING_ROUNDS[profile],
    "matching_parts": ("matching",) if CI else costs.MATCHING_PARTS,
    "objects": (1, 2, 4, 8),
}
SETTINGS

# %% [markdown]
# ## Rules, fixed before any measurement
# Every verdict below is computed by the catalogue's rule for the sub-claim (`vosnb/claims.yaml`; `vosnb claims
# --catalogue-md` prints them); none is typed in. The conventions are the same for every claim (docs/DESIGN.md):
# - **exact** (STCN-1 to -3): equality up to float precision. STCN-1: under L2 the share of memory points that win
#   some query equals 1; under dot the share that can win, minus 1, is below 0 (in 64-D the upper bound proven by
#   linear-programming certificates, so a verdict is a proof, not a sample). STCN-2: the softmax of `2ab − ‖a‖²`
#   and of `−‖a − b‖²` differ by at most 1e-9 (float64). STCN-3: the six recounted numbers, rounded to two decimals
#   as the table prints them, equal the paper's.
# - **relative** (STCN-4 to -8) on our data: the claimed direction with the 95% interval (a paired bootstrap over
#   sequences, or over timing repeats) clear of no effect; an interval that contains no effect is inconclusive.
#   The paper's magnitude is shown beside ours, and judged only on DAVIS 2017 with the authors' weights. STCN-7:
#   STCN's matching time stays flat from 1 to 8 objects, STM's grows (ratio > 1; the paper: ×8). Timings are ratios
#   or relative changes; a band of ±10% around a timed rule's bound cannot be told (`vosnb.claims.TIMING_RESOLUTION`,
#   twice the drift measured between runs by `benchmarks/bench_noise_floor.py`), and a flat timing is judged against
#   ±25% (`TIMING_FLAT_BOUND`), not the paper's 10%, which this machine cannot resolve: reproduced within ±15%, not
#   reproduced beyond ±35%; a speed ratio is decisive only beyond 1 ± 0.10.
# - **absolute** (STCN-9): J&F on DAVIS 2017 val within 1 point of 85.4.
#
# **Timing intervals.** Every timed comparison runs its variants in interleaved rounds (A B C A B C …, after an
# untimed warm-up round, `vosnb.timing`), so that load from other processes falls on all of them alike; the
# measured value is the median over rounds of the per-round ratio (or relative change), and its interval is the
# distribution-free order-statistic interval of that median (15 rounds: the 4th to 12th of the sorted values, 96.5%).
# The rules judge the interval, so when the machine's noise is wider than the effect, the verdict is
# *inconclusive* — it says the noise was too large, not that the paper is wrong. The median and interquartile
# range of every variant (the noise floor) are printed beside each record.

# %% [markdown]
# ## STCN-1: who wins where (Fig. 2)
# A memory point *wins* a query when it is the query's most similar memory point. Each location of the plane
# below is a query, coloured by its winner; triangles win somewhere in view, circles nowhere. Under the dot product
# (left) the similarity `k·q = ‖k‖‖q‖ cos θ` rewards magnitude: the far outlier (top right) takes a whole sector,
# points in the middle of a cluster and the cluster near the origin never win. Under L2 (right) the regions are the
# Voronoi cells of the points: every point wins at least its own location.

# %%
fig = ag.winner_regions_figure(ag.figure2_points(seed))
ctx.savefig(fig, "fig2_winner_regions")

# %% [markdown]
# Move point 0 and add points with the sliders (in a live kernel): a point pushed outwards grabs a sector under the
# dot product, while L2 only ever redraws the borders between neighbours.

# %%
ag.winner_regions_widget(ag.figure2_points(seed), seed=seed)

# %% [markdown]
# ### Counting it
# Under L2 the count is exact on any point set: a point is at distance 0 from its own location, so querying the
# points' own locations already shows every point winning. Under the dot product, a point can win a query of ℝᵈ
# only if it is a vertex of the convex hull (if `p = Σ λⱼ pⱼ` with λ ≥ 0 summing to 1, then `q·p ≤ maxⱼ q·pⱼ`).
# - 2-D, 2,000 standard Gaussian points: the hull vertices are counted exactly.
# - 64-D, the key size of our models: random Gaussian points whose magnitudes vary (each scaled by `exp(0.5 ε)`,
#   the unequal-norm keys §4.1 is about). Exact hulls are out of reach in 64-D, so the share of dot winners is
#   bracketed: *lower* = points winning one of many sampled queries (or their own location), *upper* = 1 − points
#   proven never to win by a linear-programming certificate `p = Σ λⱼ pⱼ`.
# - For contrast, 64-D points of *equal-ish* norm (standard Gaussian): in high dimension almost every such point is a
#   hull vertex, so the dot product's hard winners cover nearly everything. The inequality the paper cares about
#   then lives in the soft weights (Fig. 3, STCN-4), not in who wins outright.

# %%
n64, q64 = SETTINGS["points_64d"], SETTINGS["queries_64d"]
point_sets = {
    "2-D Gaussian": (ag.random_points(2000, 2, seed=seed), None),
    "64-D, varying norms": (ag.random_points(n64, 64, norm_spread=0.5, seed=seed + 1),
                            ag.random_points(q64, 64, norm_spread=0.5, seed=seed + 2)),
    "64-D Gaussian (contrast)": (ag.random_points(n64, 64, seed=seed + 3), ag.random_points(q64, 64, seed=seed + 4)),
}
shares = pd.DataFrame({name: ag.winner_shares(points, queries, SETTINGS["certificates"])
                       for name, (points, queries) in point_sets.items()}).T
shares

# %%
for name, row in shares.iterrows():  # the contrast set too: it shows where the dot product leaves no point out
    ctx.ledger.record("STCN-1", "l2_share", measured=row["l2"], model="none (geometry)",
                      claim=f"{name}: share of memory points that win some query under L2")
    ctx.ledger.record("STCN-1", "dot_share", measured=row["dot_upper"] - 1, model="none (geometry)",
                      claim=f"{name}: share that can win under dot, minus 1 ({row['dot_method']})")

# %% [markdown]
# ## Soft weights (Fig. 3)
# The softmax turns similarities into weights. Three memory points, the middle one on the diagonal between the
# other two: for any query of the first quadrant, its dot product is at most the mean of the other two, so it never
# receives more than a three-way tie (⅓, at the origin) and mostly next to nothing (bottom left). Under L2 it owns
# the neighbourhood around it and the weights change smoothly between the three.

# %%
fig = ag.soft_contribution_figure(ag.figure3_points())
ctx.savefig(fig, "fig3_soft_contributions")

# %% [markdown]
# ## STCN-2: the query norm cancels (App. A, Eq. 5)
# `−‖a − b‖² = 2a·b − ‖a‖² − ‖b‖²`; the last term is the same for every memory element of one query, and a softmax
# over memory elements is unchanged by a constant shift. We compare `vosnb.memory.similarity` in its efficient form
# (what the models use) with the naive form on random float64 keys (Ck = 64, 2,000 memory and 500 query
# elements, scaled ×3 so the softmax is peaked): the affinities differ by exactly `‖b‖²/√Ck` and the weights agree.

# %%
g = torch.Generator().manual_seed(seed)
gap = ag.l2_decomposition_gap(3 * torch.randn(1, 64, 2000, generator=g, dtype=torch.float64),
                              3 * torch.randn(1, 64, 500, generator=g, dtype=torch.float64))
ctx.ledger.record("STCN-2", "softmax_gap", measured=gap["softmax_max_abs_diff"], model="none (algebra)",
                  machine_dependent=True)  # a round-off residual: its digits depend on the CPU's rounding
gap

# %% [markdown]
# ## STCN-3: Table 2's costs, recounted from the shapes
# T = 10 memory frames of 480×864 at stride 16 give M = 10·30·54 = 16,200 memory and Q = 1,620 query elements.
# The dot-product affinity is one matrix product, `2·Ck·M·Q` FLOPs; L2 adds `‖k‖²` (`2·Ck·M`) and three
# element-wise passes over the `M × Q` affinity (×2, −‖k‖², ÷√Ck — the authors' `(2*ab - a_sq) / math.sqrt(CK)`).
#
# **The units** are fixed in docs/DESIGN.md (STCN-3): the table's "G" FLOPs are **2³⁰** FLOPs (GiB-style, not
# 10⁹) and its "MB" of keys are **2²⁰ bytes of fp32 memory *and* query keys**, `Ck·(M + Q)·4` bytes; L2 adds three
# element-wise operations per affinity entry. The claim is recorded under that convention only. The second table
# shows what the alternatives (decimal units, memory keys only) would give for the same six cells, for comparison:
# it is not a search. The paper's dot and cosine figures leave out the ÷√Ck scaling (it would add 0.02), its L2
# figure includes it.

# %%
table2 = costs.table2_costs()
table2.round(4)

# %%
cell = table2.set_index(["similarity", "key_dim"])
recount = [cell.loc[("dot", 128), "gflops"], cell.loc[("l2", 128), "gflops"], cell.loc[("dot", 64), "gflops"],
           cell.loc[("l2", 64), "gflops"], cell.loc[("dot", 128), "key_mb"], cell.loc[("dot", 64), "key_mb"]]
ctx.ledger.record("STCN-3", "recount", measured=[round(v, 2) for v in recount], model="none (counting)",
                  claim="dot/L2 GFLOPs at Ck 128, 64 and key MB at Ck 128, 64 (2³⁰ FLOPs, 2²⁰ bytes, fp32 k^M + k^Q)")
costs.unit_alternatives().round(2)

# %% [markdown]
# ## The propagation runs shared by STCN-4 to -8
# Six configurations in one engine run over the same sequences (each sequence runs every configuration before the
# next one starts, so all are timed under the same machine load), memory every 5th frame and top-k 20 unless the
# name says otherwise. Every run tracks, for each memory node, the largest weight it ever gave a query (the same
# small overhead in every run).

# %%
MODELS = {name: load_pretrained(name, device=ctx.device) for name in
          ("stcn_small_l2_ck64", "stcn_small_dot_ck64", "stcn_small_l2_ck128", "stcn_small_dot_ck128")}
CONFIGS = [
    engine.Variant("l2_ck64", model="stcn_small_l2_ck64", track=True),
    engine.Variant("dot_ck64", model="stcn_small_dot_ck64", track=True),
    engine.Variant("l2_ck64 every5+last", "every5+last", model="stcn_small_l2_ck64", track=True),
    engine.Variant("l2_ck64 full softmax", model="stcn_small_l2_ck64", top_k=None, track=True),
    engine.Variant("l2_ck128", model="stcn_small_l2_ck128", track=True),
    engine.Variant("dot_ck128", model="stcn_small_dot_ck128", track=True),
]
names = ctx.val.sequences[: SETTINGS["sweep_sequences"]]
sweep = engine.run(MODELS, [ctx.val[n] for n in names], CONFIGS, keep=True, device=ctx.device)
print("parameters:", ", ".join(f"{name} {sum(p.numel() for p in m.parameters()) / 1e6:.2f} M"
                              for name, m in MODELS.items()))
sweep.summary()[["J&F", "J", "F", "FPS", "sequences"]].round(2)

# %% [markdown]
# ## STCN-4: how equal are the memory nodes' contributions? (Fig. 4)
# For every memory node the L2 and the dot model ever wrote (every 5th frame, both with top-k 20 as at inference,
# so a node outside a query's top 20 gives it weight 0), the largest softmax weight it gave any query in its
# lifetime. The curves show the share of nodes whose best exceeds each threshold (higher = more nodes contribute);
# the Gini coefficient of these maxima measures their inequality (0: all equal). Intervals: 95% bootstrap over
# sequences, each sequence's nodes kept together.

# %%
best = {name: contrib.node_max_weights(sweep, name) for name in ("dot_ck64", "l2_ck64")}
fig = Figure(figsize=(6.4, 4.0))
contrib.plot_contribution_curves(fig.subplots(), best)
ctx.savefig(fig, "fig4_contribution_curves")

# %%
stats4 = pd.DataFrame({name: contrib.contribution_stats(w) for name, w in best.items()}).T
stats4["paper"] = ["Gini 44.0, 3% ≤ 1%, 31% < 10%", "Gini 31.8, 0.06% ≤ 1%, 7% < 10%"]
stats4.round(3)

# %%
for stat in ("gini", "never_above_1pct", "below_10pct_at_best"):
    d, low, high = contrib.contribution_difference(sweep, "dot_ck64", "l2_ck64", stat, seed=seed)
    ctx.ledger.record("STCN-4", stat, measured=d, interval=(low, high),
                      model="stcn_small_dot_ck64 vs stcn_small_l2_ck64 (top-k 20)")

# %% [markdown]
# ## Timing the memory at the paper's shapes (STCN-5, STCN-8)
# The paper's speed claims are about the memory read, and on our small model the encoders dominate each frame
# (an 8×14 grid reads a memory of at most 8 × 112 elements). So we time the read itself at the paper's shapes:
# T = 10 memory frames of 30×54 (480×864 at stride 16), Ck = 64, Cv = 512, 2 objects (DAVIS 2017 val's average),
# random keys and values (`costs.read_variants`, the code `benchmarks/bench_readout.py` prints too): STCN's top-20
# read, the same read with a softmax over all 16,200 elements (STCN-8), and the top-20 read after writing the
# previous frame into the temporary slot, over 11 frames (STCN-5's "every 5th + last"). Medians in ms:

# %%
bank, _, query = costs.matching_banks(costs.PAPER_OBJECTS, seed=seed, device=ctx.device)
with torch.inference_mode():
    reads = time_interleaved(costs.read_variants(bank, query, seed=seed), repeats=SETTINGS["timing_repeats"],
                             device=ctx.device)
print(TIMED, reads.describe())
print(TIMED, reads.table().round(1).to_string())

# %% [markdown]
# ## STCN-5: every 5th frame, with or without the last frame (Table 1)
# Same model (L2, Ck 64), same sequences. Without the temporary last frame the value encoder runs on every 5th
# frame only, and the memory read has one frame fewer to match. The paper finds the last frame harmful for STCN
# (83.1 vs 85.4 J&F) because its key, from the same encoder, is too similar to the query's and invites drift; our
# 40-frame synthetic sequences move smoothly, so the last frame may well help here.
#
# Speed, two records: the memory read at the paper's shapes (above; the temporary slot adds a frame to match and
# a copy of the memory per read, but not the value encoder's extra run per frame, which the paper's 1.31 also
# contains), and, beside it, the end-to-end frame rate of the small model over the sweep's sequences (median over
# sequences of the per-sequence ratio, the two runs of a sequence back to back, with its order-statistic
# interval), where the extra value encoding is included and the read is a small share of the frame.

# %%
d, low, high = sweep.jf_difference("l2_ck64", "l2_ck64 every5+last", seed=seed)
ctx.ledger.record("STCN-5", "jf", measured=d, interval=(low, high), unit="J&F points", model="stcn_small_l2_ck64")
ratio = reads.ratio("top-k + last frame", "top-k")
ctx.ledger.record("STCN-5", "fps", measured=ratio.estimate, interval=ratio, model="none (random keys)", timing=True,
                  unit=f"× ({reads.describe()})",
                  claim="speed of the memory read at the paper's shapes (T = 10, 30×54, 2 objects): time with the "
                        "last frame as a temporary slot / without")
ratio = sweep.fps_ratio("l2_ck64", "l2_ck64 every5+last")
ctx.ledger.record("STCN-5", "fps", measured=ratio.estimate, interval=ratio, model="stcn_small_l2_ck64", timing=True,
                  unit="× (median over sequences)",
                  claim="end to end on the small model (8×14 grid): FPS(every 5th) / FPS(every 5th + last frame)")
sweep.summary().loc[["l2_ck64", "l2_ck64 every5+last"], ["J&F", "J", "F"]].round(2)

# %% [markdown]
# ## STCN-6: similarity × key size (Table 2)
# Four models trained alike. The paper: L2 85.4 vs dot 83.2 at Ck 64; dot drops from 84.1 (Ck 128) to 83.2 (Ck 64)
# while L2 rises from 85.0 to 85.4: the dot product needs room to spread keys out of the high-magnitude keys' way.
# The paper's Ck effects are small (0.4 and 0.9 points) against our models' sequence-to-sequence spread, so expect
# wide intervals here. Where the L2 key-size comparison goes the other way, the likely reasons are ours: 112
# positions per frame do not crowd even a 128-dimensional key space, and 2,000 training steps from scratch favour
# whichever model happens to train faster, which is not the regime (a converged ResNet-50) the paper describes.

# %%
comparisons6 = {"l2_vs_dot": ("l2_ck64", "dot_ck64"), "dot_ck128_vs_ck64": ("dot_ck128", "dot_ck64"),
                "l2_ck64_vs_ck128": ("l2_ck64", "l2_ck128")}
for sub_claim, (a, b) in comparisons6.items():
    d, low, high = sweep.jf_difference(a, b, seed=seed)
    ctx.ledger.record("STCN-6", sub_claim, measured=d, interval=(low, high), unit="J&F points",
                      model="stcn_small_{l2,dot}_ck{64,128}")
grid6 = sweep.summary().loc[["dot_ck128", "dot_ck64", "l2_ck128", "l2_ck64"], "J&F"]
pd.DataFrame({"J&F": grid6.round(2).values, "paper": [84.1, 83.2, 85.0, 85.4]}, index=grid6.index)

# %% [markdown]
# ## STCN-7: matching time vs the number of objects (§3.2, §6.2)
# STCN computes the affinity `W` once per query frame from the image keys and reuses it for every object; STM's
# memory keys come from an encoder that also sees the object's mask, so each object needs its own affinity. We
# time one query frame's matching (affinity + top-20 softmax) on random keys — one shared memory for STCN, one
# memory per object for STM — and, separately, matching plus the readout `v^M W` (Eq. 2), which *both* designs
# repeat per object (so that part grows with the objects in both; `full` only). The primary records use the paper's
# shapes (T = 10 memory frames of 30×54, Ck 64, Cv 512, k = 20), every (objects, design) cell timed once per round
# in a shuffled order; the same matching on our model's 8×14 grid is recorded beside them. Bars: the IQR over rounds.

# %%
lo, hi = min(SETTINGS["objects"]), max(SETTINGS["objects"])
matchings = {grid: costs.matching_time_vs_objects(SETTINGS["objects"], height=grid[0], width=grid[1],
                                                  parts=SETTINGS["matching_parts"],
                                                  repeats=SETTINGS["timing_repeats"], seed=seed, device=ctx.device)
             for grid in (costs.PAPER_GRID, (8, 14))}
timing = costs.matching_table(matchings[costs.PAPER_GRID])
fig = Figure(figsize=(4.5 * len(SETTINGS["matching_parts"]), 3.6))
costs.plot_matching_times(fig.subplots(1, len(SETTINGS["matching_parts"]), squeeze=False)[0], timing)
ctx.savefig(fig, "fig5_matching_time_vs_objects")

# %%
for (h16, w16), matched in matchings.items():
    where = "the paper's shapes" if (h16, w16) == costs.PAPER_GRID else "our model's grid"
    change = matched.relative_change((hi, costs.STCN_DESIGN, "matching"), (lo, costs.STCN_DESIGN, "matching"))
    ctx.ledger.record("STCN-7", "stcn_flat", measured=change.estimate, interval=change, model="none (random keys)",
                      timing=True, unit=f"relative change ({matched.describe()})",
                      claim=f"STCN matching time at {hi} objects / at {lo}, minus 1 ({where}: T = 10, {h16}×{w16})")
    stm = matched.ratio((hi, costs.STM_DESIGN, "matching"), (lo, costs.STM_DESIGN, "matching"))
    ctx.ledger.record("STCN-7", "stm_growth", measured=stm.estimate, interval=stm, model="none (random keys)",
                      timing=True, unit=f"× ({matched.describe()})",
                      claim=f"STM matching time at {hi} objects / at {lo} ({where}: T = 10, {h16}×{w16})")
    print(TIMED, f"{h16}×{w16}: median ms (IQR)")
    print(TIMED, (1000 * costs.matching_table(matched).set_index(["part", "design", "objects"])[["seconds", "iqr"]])
          .round(2).to_string())

# %% [markdown]
# ## STCN-8: top-k filtering (§5)
# The same L2 model with the softmax over the 20 most similar memory elements of each query vs over all of them.
# Top-k removes the long tail of small weights (noise from unrelated positions). Its speed depends on the
# implementation: selecting the top 20 costs a `topk` over the memory axis, and it saves the softmax over every
# memory element and the dense readout product (our read keeps the top-20 weights sparse and gathers 20 value
# rows per query). The primary speed record is the read at the paper's shapes (*Timing the memory*: the time of
# the full-softmax read relative to the top-20 read, minus 1, median of the per-round ratios); the end-to-end
# change per frame of the small model (median over sequences and repeats of the paired ratio) is recorded beside it.

# %%
d, low, high = sweep.jf_difference("l2_ck64", "l2_ck64 full softmax", seed=seed)
ctx.ledger.record("STCN-8", "jf", measured=d, interval=(low, high), unit="J&F points", model="stcn_small_l2_ck64")
d = reads.relative_change("full softmax", "top-k")
ctx.ledger.record("STCN-8", "time", measured=d.estimate, interval=d, unit=f"relative change ({reads.describe()})",
                  model="none (random keys)", timing=True,
                  claim="memory read at the paper's shapes (T = 10, 30×54, 2 objects): time (full softmax) / time "
                        "(top-20) − 1")
d = shifted(sweep.fps_ratio("l2_ck64", "l2_ck64 full softmax"), -1.0)
ctx.ledger.record("STCN-8", "time", measured=d.estimate, interval=d,
                  unit="relative change (median over sequences × repeats)", model="stcn_small_l2_ck64", timing=True,
                  claim="end to end on the small model (8×14 grid): time per frame (full softmax) / time per frame "
                        "(top-20) − 1")
sweep.summary().loc[["l2_ck64", "l2_ck64 full softmax"], ["J&F", "J", "F"]].round(2)

# %% [markdown]
# ## STCN-9: the released model on DAVIS 2017 val (Table 3)
# Runs only with `dataset="davis2017"` (and `data_root`) and `checkpoint` pointing at the authors' `stcn.pth`
# (every 5th frame, top-k 20, all 30 val sequences whatever the profile). Expect about a second per 480p frame on
# a CPU: use a GPU.

# %%
if dataset == "davis2017" and checkpoint is not None:
    released = load_any_checkpoint(checkpoint, device=ctx.device)
    davis = engine.run(released, ctx.val, [engine.Variant("STCN-9", "every5", top_k=20)], device=ctx.device)
    row = davis.summary().loc["STCN-9"]
    ctx.ledger.record("STCN-9", "davis_jf", measured=row["J&F"], unit="J&F", model=str(checkpoint),
                      authors_weights=True)
    print(f"J {row['J']:.1f} (paper 82.2), F {row['F']:.1f} (paper 88.6), ~ {row['FPS']:.1f} FPS (paper 20.2 on a "
          "2080Ti)")
else:
    ctx.ledger.not_run("STCN-9", "davis_jf", reason="needs DAVIS 2017 val and the authors' stcn.pth",
                       command="papermill notebooks/02_stcn_affinity_gini.ipynb build/02_davis.ipynb -p dataset "
                               "davis2017 -p data_root <DAVIS 2017 root> -p checkpoint <path to stcn.pth>")

# %% [markdown]
# ## Exercises
#
# 1. **Dimension and the dot product.** Under L2 every memory point wins somewhere; under the dot product only the
#    vertices of the convex hull can. Predict how the share of hull vertices among 1,000 Gaussian points changes
#    from 2-D to 6-D.
#
#    ```python
#    from scipy.spatial import ConvexHull
#    for d in (2, 3, 4, 6):
#        points = ag.random_points(1000, d, seed=seed)
#        print(d, len(ConvexHull(points).vertices) / len(points))
#    ```
#
#    <details><summary>What you should see</summary>
#
#    It grows quickly with the dimension: about 0.8% in 2-D, 4% in 3-D, 9% in 4-D, 29% in 6-D. In 64-D almost
#    every Gaussian point is a vertex (the contrast set above), so with equal norms the dot product leaves few
#    points out; what §4.1 of the paper is about is keys of *unequal* norms. Try
#    `ag.winner_shares(ag.random_points(500, 16, norm_spread=s, seed=1), ag.random_points(5000, 16, norm_spread=s, seed=2))`
#    for `s` = 0, 0.5 and 1: the lower bound on dot winners falls from about 0.87 to 0.27 to 0.11, and the L2
#    share stays 1.
#    </details>
#
# 2. **Break Eq. 5.** STCN's L2 affinity drops the query's own norm ‖q‖² because it is the same for every memory
#    element and a softmax ignores a constant shift. Drop the *memory* norm ‖k‖² instead (that is the dot product)
#    and predict whether the weights stay the same.
#
#    ```python
#    from vosnb.memory import similarity, softmax_weights
#    g = torch.Generator().manual_seed(seed)
#    k = 3 * torch.randn(1, 64, 2000, generator=g, dtype=torch.float64)
#    q = 3 * torch.randn(1, 64, 500, generator=g, dtype=torch.float64)
#    per_query = q.pow(2).sum(1, keepdim=True) / 8  # ‖q‖²/√Ck, one number per query
#    l2 = similarity(k, q, "l2")
#    print("minus a per-query term:", (softmax_weights(l2) - softmax_weights(l2 - per_query)).abs().max().item())
#    print("dot product instead:   ", (softmax_weights(l2) - softmax_weights(similarity(k, q, "dot"))).abs().max().item())
#    ```
#
#    <details><summary>What you should see</summary>
#
#    Subtracting a per-query term changes the weights only at rounding level (about 3e-15): STCN-2's claim. Using
#    the dot product changes them completely (a largest difference of 1.0: some queries' winning memory element
#    changes), because ‖k‖² differs from one memory element to the next. That is the whole difference between
#    the two similarities.
#    </details>

# %% [markdown]
# ## Claims
# Verdicts come from the catalogue's rules. Where a relative claim does not show on the synthetic data, the
# sections above give the likely reasons (short clean sequences, a small model, a roomy key space).

# %%
# NBVAL_CHECK_OUTPUT
ctx.finish()
