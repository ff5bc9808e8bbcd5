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
# # A tour of the data: frames, masks, difficulty knobs, long videos and the metric
#
# **The collection.** vosnb reproduces the claims of five papers on *memory-based semi-supervised video object
# segmentation*: STCN (NeurIPS 2021), SWEM (CVPR 2022), RDE-VOS (CVPR 2022), LFU adaptive memory (CRV 2022) and a
# global-attention model. Each numbered notebook measures one paper's claims, judges each with a rule fixed before
# the measurement and ends with a claims table. This one has no claims: it shows what the others run on.
#
# **Semi-supervised VOS.** A video comes with the mask of each object in the frame where it first appears (in DAVIS,
# the first frame): an image of object ids, 0 for background and 1…N for the objects. A method must produce the
# masks of the same objects in every later frame. The memory-based methods of these papers (descendants of STM)
# encode past frames with their masks into keys and values, store some of them in a memory, and segment each new
# frame by attention: its keys query the memory, and the values read out are decoded into masks. The papers differ
# in *what the memory keeps* (every fifth frame, a few EM bases, a fixed budget evicted by use, one recurrent
# embedding) and *how it is read* (dot product or L2 similarity, top-k).
#
# **The score** is the DAVIS 2017 one (`vosnb.metrics`): per object and frame, J is the intersection over union of
# the predicted and true masks, F the F-measure of their boundaries matched within a tolerance of
# ⌈0.008 × image diagonal⌉ pixels; both are averaged over all frames but the first (given) and the last, then over
# objects, and J&F is their mean.
#
# **The DAVIS layout**, which every data set here follows (real DAVIS 2017 and our synthetic set alike):
#
# ```
# ROOT/JPEGImages/480p/<sequence>/00000.jpg ...   RGB frames
# ROOT/Annotations/480p/<sequence>/00000.png ...  palette PNGs: pixel value = object id, coloured with the DAVIS palette
# ROOT/ImageSets/2017/{train,val}.txt             one sequence name per line
# ROOT/synthetic.json                             synthetic set only: generator config and what happens in each sequence
# ```
#
# **Why synthetic data.** DAVIS must be downloaded, and its 480×854 frames make a CPU run of one model over the val
# split take a long time. The embedded set is generated in seconds from images bundled inside scikit-image (nothing
# is downloaded), deterministically from one seed: 30 val sequences × 40 frames and 60 train sequences × 32 frames of
# **128×224** pixels — 14× fewer pixels than 480×854 at the same aspect ratio, an 8×14 grid of memory positions at
# the models' stride 16 instead of 30×54. Textured blobs move over a panning textured background; *knobs* switch on
# the events the papers' claims are about (an object fully hidden, leaving and coming back, a look-alike
# distractor, appearance drift, objects entering mid-video, ...), each measured on the rendered masks and recorded.
#
# **What it can and cannot stand in for.** It can test *mechanisms* and *relative* claims: whether a memory forgets a
# hidden object, whether one similarity spreads attention more evenly than another, how cost grows with video length,
# and whether the metric and data code are right. It cannot reproduce the papers' absolute J&F (their ResNet-50
# models were trained on real video and evaluated at 480p), nor the difficulty of real appearance: articulated
# bodies, motion blur, lighting, crowded scenes of similar instances. For those, pass `dataset="davis2017"` and
# `data_root`: every notebook reads real DAVIS the same way.

# %% tags=["parameters"]
profile: str = "ci"  # ci: minutes on a 2-core CPU; full: paper scale
dataset: str = "synthetic"  # synthetic: the embedded set; davis2017: real DAVIS 2017, needs data_root
data_root: "Optional[str]" = None  # data set folder (DAVIS: the one holding JPEGImages and Annotations)
device: str = "auto"  # auto (CUDA when available), cpu or cuda
seed: int = 0  # seed of every random generator

# %%
# %matplotlib inline
import pandas as pd

import vosnb.context
from vosnb.analysis import data_tour

ctx = vosnb.context.setup(notebook="00_data_tour", profile=profile, dataset=dataset, data_root=data_root,
                          device=device, seed=seed)

# %% [markdown]
# ## The profile
# Both profiles show the same figures; `ci` (well under a minute on a 2-core CPU) runs the metric sanity checks on
# the **first 3 val sequences**, `full` on all of them. The statistics always read every sequence of every split.

# %%
CI = profile == "ci"
SETTINGS = {
    "sanity_sequences": 3 if CI else None,
    "long_video_passes": 3,
    "frames_per_row": 5,
    "grid_sequences": 4,
}
SETTINGS

# %% [markdown]
# ## 1. Building the data
# `setup` built the synthetic set if it was missing (the same as `vosnb data synth --out data/synthetic`, a few
# seconds); building is idempotent and atomic (written beside the target, renamed into place). The generator's
# record `synthetic.json` holds its config, and, per sequence, the seed and config that regenerate it in memory
# (`vosnb.data.make_sequence`) and the events measured on its masks. Real DAVIS has no such record.

# %%
manifest = data_tour.read_manifest(ctx.data_root)
if manifest:
    display(pd.Series(manifest["config"], name="synthetic config", dtype=object))
else:
    print(f"{ctx.data_root}: no synthetic.json (not the synthetic set)")

# %% [markdown]
# ## 2. Difficulty knobs
# In each split every knob is switched on in 30% of the sequences, chosen at random; then what *actually* happened
# is measured on the rendered masks. The table marks, per val sequence, the events measured: *crossing* means an
# object had at least a quarter of its in-frame area covered by another object in some frame, which also happens by
# chance, so it is marked more often than it was asked for.

# %%
# NBVAL_CHECK_OUTPUT
if manifest:
    knobs = data_tour.knob_table(ctx.data_root).replace({True: "●", False: ""})
    display(knobs.rename(columns=data_tour.KNOB_LABELS))
else:
    print("no knobs: real DAVIS data has no synthetic.json")

# %% [markdown]
# One row per knob: the val sequence showing it with the fewest other knobs, masks blended in the DAVIS palette
# (object 1 red, 2 green, 3 olive, 4 blue) with each object's outline in full colour. Frames of the event are
# titled in orange: *covered* (by another object), *out* (of the frame), *hidden* (behind the full-height occluder
# band, which belongs to the background), *enters* (a mid-video object's first frame: DAVIS scoring ignores such
# objects, `DavisDataset(objects="first_appearance")` reads them). The distractor is never annotated: an unlabelled
# twin with exactly the texture of a target. The drift row shows outlines only, so the texture change stays visible.
# For DAVIS (no knobs) the figure shows the first sequences instead.

# %%
if manifest:
    fig = data_tour.knob_grid(ctx.data_root, frames_per_row=SETTINGS["frames_per_row"])
else:
    fig = data_tour.sequence_grid(ctx.data_root, SETTINGS["grid_sequences"], SETTINGS["frames_per_row"])
ctx.savefig(fig, "frame_grid")

# %% [markdown]
# ## 3. Statistics per split
# Objects are those of the first annotation of each sequence (what DAVIS 2017 scores); the mean object area is over
# annotated frames where the object is visible; the `with …` rows count the sequences in which each event was
# measured (synthetic data only).

# %%
stats = data_tour.dataset_statistics(ctx.data_root)

# %%
# NBVAL_CHECK_OUTPUT
stats.round(2).T

# %% [markdown]
# Synthetic objects are small (about 4% of the frame, a blob some 30–50 pixels across) and move several times their
# own size over a sequence, so the first-frame mask alone is far from the answer (section 5).

# %% [markdown]
# ## 4. Long videos by index mapping (RDE-VOS Fig. 3)
# RDE-VOS measures how speed and memory behave on long videos made by playing a sequence forward and backward again
# and again. `vosnb.data.repeat_forward_backward(video, n)` builds the `n`-pass video without copying anything: frame
# *t* of the long video reads source frame `index[t]` (and its ground truth). At each turn the end frame is shown
# twice (long frames 39 and 40 both show source frame 39), so consecutive frames stay consecutive in the source.
# Below, each thumbnail is titled `long frame ← source frame`.

# %%
source = ctx.val[ctx.val.sequences[0]]
fig = data_tour.long_video_strip(source, SETTINGS["long_video_passes"])
ctx.savefig(fig, "long_video")

# %% [markdown]
# ## 5. Metric sanity
# Perturb the ground truth in known ways and score it with `vosnb.metrics.evaluate_sequence` (mean over the objects of
# the sequences). What to expect, before looking:
# - **identity**: exactly 1.0 for J, F and J&F;
# - **shift** right by 2 / 4 / 8 px, **erosion** / **dilation** by a disk of 1 / 2 / 4 px: J falls steadily with the
#   displacement relative to the object's size. F is tolerant: boundaries within ⌈0.008 × 258⌉ = **3 px** match at
#   128×224 (8 px at 480×854), so F barely moves up to 2 px and drops fast beyond (eroding or dilating by 4 px moves
#   every boundary pixel out of reach);
# - **drop** every object in 25% / 50% of the scored frames (evenly spread): J and F ≈ 1 − the share dropped;
# - **empty** prediction: about 0, but not exactly: where an object is absent from the ground truth too (hidden or
#   out of frame), an empty prediction is right and scores 1;
# - **first frame copied** to every frame (no tracking at all): low, because the objects move away from where they
#   started. Every model in the collection must beat it.

# %%
videos = [ctx.val[name] for name in ctx.val.sequences[: SETTINGS["sanity_sequences"]]]
sanity = data_tour.metric_sanity(videos)
assert (sanity.loc["identity", ["J&F", "J", "F"]] == 1.0).all(), "ground truth against itself must score exactly 1"

# %%
# NBVAL_CHECK_OUTPUT
sanity[["J&F", "J", "F"]].round(3)

# %%
fig = data_tour.plot_metric_sanity(sanity)
ctx.savefig(fig, "metric_sanity")

# %% [markdown]
# ## What next
# - **01 — SWEM §3.3, feature redundancy**: how similar a frame's features are to the previous frame's and to each
#   other, the observation behind keeping a few bases instead of every pixel.
# - **02 — STCN, affinity and memory coverage**: L2 vs dot-product similarity, how evenly memory points contribute
#   (Gini), the costs of Table 2, and every fifth frame with or without the last one.
# - **03 — SWEM, sequential weighted EM**: the fixed set of bases, adaptive weights and a per-frame cost that stays
#   constant on the long videos of section 4.
# - **05 — LFU adaptive memory**: a fixed budget of features evicted by use, and what happens to an object hidden
#   for a while (the full-occlusion knob of section 2).
#
# Run them all with `make reproduce` (or `vosnb reproduce --only 01,02`); `vosnb claims` prints every verdict.
