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
# # The memory zoo: every memory strategy on one model, one data set, one machine
#
# Each paper of this collection compares its memory with STCN's on its own network, its own training and its own
# GPU. Here every strategy runs side by side through one engine, on the same small STCN, the same 30 synthetic
# val sequences and the same CPU, so that what differs is the memory:
#
# | strategy | what it keeps | from |
# |---|---|---|
# | every-5 | every fifth frame, forever | STCN (notebook 02) |
# | every-5 + last | every fifth frame and the previous one (STM's memory) | STCN-5 |
# | first & latest | the ground-truth frame and the latest frame | AMM's baseline (notebook 05) |
# | LFU | two frames' worth of features, the least used evicted | AMM (notebook 05) |
# | SWEM | 128 bases per class and object, updated by weighted EM | SWEM (notebook 03) |
# | RDE | ground truth, latest, and a learned recurrent embedding | RDE-VOS (notebook 04) |
# | global | one C×C matrix per object, a running mean | the global attention model (notebook 06) |
# | XMem-style | a working memory of 5–10 recent frames, and prototypes of the most used elements | XMem (beyond the papers) |
#
# **XMem-style memory.** Cheng & Schwing (XMem, ECCV 2022, §3.3) keep a bounded *working memory* of recent
# frames (written every 5 frames, the ground-truth frame kept); when it reaches 10 frames, all but the first and
# the newest 4 are consolidated: the elements that past reads used most (their summed top-k weights per read
# lived) become *prototypes* whose values are attention-weighted means of the consolidated values, and join a
# bounded *long-term memory*; a read matches both at once (`vosnb.memory.xmem`). Its sizes are XMem's on DAVIS,
# taken relative to a frame (128 prototypes and at most 10,000 long-term elements of a 1,620-element frame), so on
# our 8×14 grid a consolidation keeps 9 prototypes.
#
# **Memory or training?** RDE-VOS and the global attention model train their network for their memory. Each runs
# twice: plugged into the shared STCN (RDE with the SAM module trained with the RDE model, on the shared encoders
# and decoder; the global memory on weights never trained for it) and with its own trained model (hollow markers
# below), so a reader sees how much of each result is the memory and how much the training.
#
# | ID | claim | here |
# |---|---|---|
# | ZOO-1 | accuracy vs memory vs time vs length, in one figure; a bounded memory is more accurate than every-5 while holding less | J&F on 30 val sequences, bytes at ×20 |
# | ZOO-2 | the constant-cost strategies keep per-frame time and memory flat from ×1 to ×20; every-k does not | forward-backward long videos |

# %% tags=["parameters"]
profile: str = "ci"  # ci: minutes on a 2-core CPU; full: paper scale
dataset: str = "synthetic"  # synthetic: the embedded set; davis2017: real DAVIS 2017, needs data_root
data_root: "Optional[str]" = None  # data set folder (DAVIS: the one holding JPEGImages and Annotations)
device: str = "auto"  # auto (CUDA when available), cpu or cuda
seed: int = 0  # seed of every random generator

# %%
import pandas as pd

import vosnb.context
from vosnb import engine
from vosnb.analysis import data_tour, zoo_views
from vosnb.claims import TIMED
from vosnb.data import clip
from vosnb.timing import TIMING_ROUNDS

ctx = vosnb.context.setup(notebook="07_memory_zoo", profile=profile, dataset=dataset, data_root=data_root,
                          device=device, seed=seed)
models = zoo_views.load_models(device=ctx.device)
ctx.ledger.model = zoo_views.SHARED
variants = zoo_views.variants()
pd.DataFrame([{"variant": v.name, "memory": v.memory, "settings": dict(v.params), "top-k": v.top_k, "model": v.model}
              for v in variants]).set_index("variant")

# %% [markdown]
# ## Budget
# `ci`: the ten variants over all 30 val sequences (40 frames each); the long videos play the first 8 frames of
# 3 sequences forward then backward ×20 (160 frames; every-5 reaches 32 frames); the paper-shape costs at T = 10
# and 200 memory frames, 15 interleaved rounds. `full`: the long videos on whole sequences of 8 sequences, and 25
# rounds.

# %%
full = profile == "full"
val = [ctx.val[name] for name in ctx.val.sequences]
long_base = val[::4][:8] if full else [clip(v, 8) for v in val[::10][:3]]
multipliers = (1, 5, 10, 20)
paper_frames, paper_rounds = (10, 200), TIMING_ROUNDS[profile]

# %% [markdown]
# ## The rules, fixed before any measurement
# From the catalogue (`vosnb/claims.yaml`):
# - ZOO-1: for each bounded strategy (all but every-5 and every-5 + last, whose memories grow; trained models
#   included), J&F − J&F of every-5 > 0 (95% paired bootstrap over the 30 sequences; an interval containing 0 is
#   inconclusive); and, a check of our configuration, the bytes it holds at the end of the ×20 video below
#   every-5's. Every-5 + last's difference is in the table, not judged: the claim is about bounded memories.
# - ZOO-2: for each constant-cost strategy, the bytes held stay within ±10% over the whole interval (the
#   collection's one "flat" bound) as the video grows, and so does the time per frame, within the timing bound
#   below; for every-5 and every-5 + last, both grow by more than 10%. Time is judged where the effect lives: the memory work per frame at the paper's shapes, at
#   T = 200 against T = 10 memory frames (the interval over interleaved rounds); the end-to-end time on our small
#   model, pass 20 against pass 1 of the long videos (frames paired by their position in the pass, pass 1 run
#   afresh in alternation with pass 20), is recorded
#   beside it (~ machine-dependent). Bytes: held at the end of pass 20 against pass 1 (a check of our sizes).
#   For a timing, a band of ±10% around a timed rule's bound cannot be told (`vosnb.claims.TIMING_RESOLUTION`, twice
#   the drift measured between runs by `benchmarks/bench_noise_floor.py`), and a flat timing is judged against ±25%
#   (`TIMING_FLAT_BOUND`), not the paper's 10%, which this machine cannot resolve: reproduced within ±15%, not
#   reproduced beyond ±35%; every-k's growth must clear 20%.

# %% [markdown]
# ## ZOO-1: accuracy, memory and time at ×1
# One engine run: every variant runs on a sequence before the next sequence starts, so load drift on this shared
# machine falls on all of them alike.

# %%
exp = engine.run(models, val, variants, device=ctx.device)
accuracy = zoo_views.accuracy_table(exp, seed=seed)

# %%
# NBVAL_CHECK_OUTPUT
accuracy[["J&F", "low", "high", "− every-5", "diff low", "diff high", "bytes per frame"]].round(1)

# %%
print(TIMED, accuracy[["ms per frame", "read share (%)"]].round(1).to_string())

# %%
for v in variants:
    if zoo_views.strategy_of(v.name) in zoo_views.CONSTANT_COST:
        row = accuracy.loc[v.name]
        ctx.ledger.record("ZOO-1", "jf_vs_every5", measured=row["− every-5"],
                          interval=(row["diff low"], row["diff high"]), unit="J&F points", model=v.model,
                          claim=f"J&F of {v.name} − J&F of every-5 on the 30 val sequences (points)")

# %% [markdown]
# ## Long videos
# Each clip played forward then backward, ×20 (one run gives every shorter length: inference is causal), all ten
# variants.

# %%
long = engine.long_video(models, long_base, variants, multipliers, device=ctx.device)
lengths = zoo_views.length_table(long, multipliers)

# %%
# NBVAL_CHECK_OUTPUT
lengths[["J&F", "J&F min", "J&F max", "bytes"]].unstack("×n").round(1)

# %%
print(TIMED, lengths[["ms per frame", "ms IQR"]].unstack("×n").round(2).to_string())

# %% [markdown]
# ## The zoo in one figure (ZOO-1)
# Accuracy against the memory held, the marker's area proportional to the time per frame, one panel per video
# length. At ×1 the bars are 95% bootstrap intervals over the 30 sequences and the bytes are the mean held per
# frame; at ×5 … ×20 the points are the long-video sequences (bars: their min to max) and the bytes are those
# held at the video's end.

# %%
panels = {"×1 (30 sequences)": accuracy.rename(columns={"bytes per frame": "bytes"})}
for n in multipliers[1:]:
    at_n = lengths.xs(n, level="×n")
    panels[f"×{n} ({len(long_base)} sequences)"] = at_n.rename(columns={"J&F min": "low", "J&F max": "high"})
ctx.savefig(zoo_views.plot_zoo(panels), "zoo")

# %%
changes = zoo_views.pass_changes(long, max(multipliers))
last_bytes = lengths.xs(max(multipliers), level="×n")["bytes"]
for name in zoo_views.STRATEGIES:
    if name in zoo_views.CONSTANT_COST:
        ctx.ledger.record("ZOO-1", "bytes_vs_every5", measured=last_bytes[name] / last_bytes["every-5"] - 1,
                          unit="relative (bytes, max over sequences)",
                          claim=f"bytes held at the end of the ×20 video: {name} / every-5 − 1")
    growing = name in zoo_views.GROWING
    time, held = zoo_views.interval_of(changes, name, "time"), zoo_views.interval_of(changes, name, "bytes")
    ctx.ledger.record("ZOO-2", "everyk_time_grows" if growing else "time_flat", measured=time.estimate,
                      interval=(time.low, time.high), timing=True,
                      unit=f"relative change (median over frame pairs, {time.confidence:.0%} interval)",
                      claim=f"{name}, end to end on the small model (8×14 grid): per-frame time, pass 20 / pass 1 − 1")
    ctx.ledger.record("ZOO-2", "everyk_memory_grows" if growing else "memory_flat", measured=held.estimate,
                      interval=(held.low, held.high), unit="relative change (median over sequences)",
                      claim=f"{name}: bytes held, end of pass 20 / end of pass 1 − 1")

# %%
# NBVAL_CHECK_OUTPUT
changes[["bytes change", "bytes low", "bytes high"]].round(3)

# %%
print(TIMED, changes[["time change", "time low", "time high"]].round(3).to_string())

# %% [markdown]
# ## ZOO-2 at the paper's shapes
# On our 8×14 grid the encoders take most of a frame's time (the read shares above), which hides what a memory
# costs at DAVIS scale. Here each strategy's read and writes run at the paper's shapes (30×54 grid, Ck 64, Cv 512,
# 2 objects; random features, and a random SAM for RDE) at the video position where every-5 holds T frames
# (T = 10: frame 45, about a DAVIS video's length; T = 200: frame 995, ×20 that): one read, and the writes of one
# period of the strategy's write pattern, per frame (~ machine-dependent).

# %%
paper_timing, paper = zoo_views.paper_shape_costs(paper_frames, repeats=paper_rounds, seed=seed, device=ctx.device)
low_t, high_t = paper_frames
for name in zoo_views.STRATEGIES:
    change = zoo_views.paper_shape_change(paper_timing, name, low_t, high_t)
    ctx.ledger.record("ZOO-2", "everyk_time_grows" if name in zoo_views.GROWING else "time_flat",
                      measured=change.estimate, interval=(change.low, change.high), timing=True,
                      unit=f"relative change ({paper_timing.describe()}, {change.confidence:.0%} interval)",
                      model="none (random features)",
                      claim=f"{name}, memory work per frame at the paper's shapes: T = {high_t} / T = {low_t} − 1")
print(TIMED, paper_timing.describe())
print(TIMED, paper.round(1).to_string())

# %% [markdown]
# ## Two strategies side by side (widget)
# Pick two strategies and a sequence (three sequences chosen from the data's events: an object hidden for a
# while, two objects crossing, an object whose appearance drifts), then move through the frames: each strategy's mask,
# and what its memory held after its last write (frames' worth per source frame; XMem's prototypes as
# "long-term"; SWEM's bases and the global matrix as one slot each).

# %%
examples = {name: ctx.val[name] for name in dict.fromkeys(
    data_tour.example_sequence(ctx.data_root, knob)[0] for knob in ("full_occlusion", "crossing", "drift"))}
probes = {v.name: zoo_views.ContentProbe(v.factory(models[v.model])) for v in variants}
pictured = engine.run(models, list(examples.values()),
                      [engine.Variant(v.name, probes[v.name], model=v.model, top_k=v.top_k) for v in variants],
                      keep=True, warmup=False, score=False, device=ctx.device, progress=False)
masks = {key: run.masks for key, run in pictured.runs.items()}
contents = {(name, seq): probes[name].contents[i] for name in probes for i, seq in enumerate(examples)}
first_example = next(iter(examples))
ctx.savefig(zoo_views.plot_pair(examples[first_example], {n: masks[n, first_example] for n in ("every-5", "LFU")},
                                {n: contents[n, first_example] for n in ("every-5", "LFU")},
                                len(examples[first_example]) - 1), "pair")
zoo_views.pair_widget(examples, masks, contents, [v.name for v in variants], "every-5", "LFU")

# %% [markdown]
# ## What we found (the verdicts are in the claims table below; the measurements in the tables above)
# The figure *zoo* is the summary; each point below points at the table that holds its numbers.
# - **Accuracy at ×1 (ZOO-1, first table).** On the shared STCN, no bounded memory is more accurate than every-5:
#   SWEM and every-5 + last are level with it (intervals across zero), first & latest and LFU are below it. The
#   XMem-style memory gives every-5's masks exactly: written every 5 frames, its working memory reaches 8 of its
#   10 frames in a 40-frame video, so it never consolidates and is every-5 here.
# - **The memory or the training?** RDE's memory on the shared STCN (with the SAM trained with the RDE model) and
#   the global memory on the shared STCN fall far below every-5, while their own trained models come back to
#   every-5's level (RDE) or most of the way (global). RDE's training also fine-tunes the encoders and decoder
#   (most of the STCN tensors of `rde_small_full` differ from the shared model's), and SAM only works with the
#   features it was trained on; an STCN decoder never saw a global-matrix readout. On this backbone, much of what
#   these two papers report belongs to the training, not to the memory alone.
# - **Long videos (second table).** On these clips played forward and backward, every-5, every-5 + last, first &
#   latest, SWEM, the XMem-style memory and the trained RDE hold their accuracy up to ×20; LFU, the trained global
#   model and the transplanted RDE lose much of theirs. LFU's eviction never removes the ground-truth frame whole,
#   but thins it: in a check we ran on these three clips, at ×20 its two frames' worth were fragments of some thirty
#   frames, with about a twelfth of the ground-truth frame's features left. The RDE and the global matrix fold every
#   frame into one state, so an error folded in stays. Three sequences are few: the min–max columns show how far
#   apart they are.
# - **Memory (ZOO-1, ZOO-2).** Every bounded strategy holds less than every-5 at ×20, and all but one hold the
#   same bytes from pass 1 to pass 20 (checks of our sizes). The XMem-style memory is bounded but not constant: its
#   working memory fills to 10 frames and its long-term memory keeps growing towards its bound, so it holds more at
#   ×20 than at ×1.
# - **Time (ZOO-2).** At the paper's shapes every-5's read grows with the frames it holds (the every-k rows of the
#   paper-shape table), and the XMem-style memory's cost grows while its long-term memory fills. The other bounded
#   memories move by a few per cent at most from T = 10 to T = 200, in either direction, and by different amounts
#   from one run to the next: the spread of an A/A comparison of two identical memories
#   (`benchmarks/bench_noise_floor.py`). Timed in a fixed order, first & latest and the global memory used to come
#   out 4–14% cheaper at T = 200: each call inherited the caches of the call before it, always the same one; the
#   rounds are now shuffled. End to end on the
#   small model each frame of pass 20 is timed beside the same position of a fresh pass 1, segmented in alternation
#   with it, so the machine's drift cancels; the end-to-end table gives each strategy's change, and RDE's frames
#   spread widely (a SAM update every third frame). RDE's cost is its SAM update and SWEM's its
#   EM write, whatever the video's length; the global memory is the cheapest at every T.

# %% [markdown]
# ## Exercises
#
# 1. **A smaller working memory.** XMem's working memory holds 5 to 10 frames, which our 40-frame videos never
#    fill. Predict how J&F and the bytes held change with `min_frames=2, max_frames=4`, then run it on the first
#    ten val sequences.
#
#    ```python
#    small = engine.run(models, val[:10], [engine.Variant("XMem 2–4", "xmem", {"min_frames": 2, "max_frames": 4},
#                                                         model=zoo_views.SHARED),
#                                          engine.Variant("every-5", "every5", model=zoo_views.SHARED)],
#                       device=ctx.device)
#    small.summary()[["J&F", "max memory (bytes)"]], small.jf_difference("XMem 2–4", "every-5", seed=seed)
#    ```
#
#    <details><summary>What you should see</summary>
#
#    In our run (about 15 s) the small working memory held at most 0.37 MB against every-5's 0.92 MB, and scored
#    55.0 against 55.9 J&F: a difference of −0.6 with a 95% interval of [−2.7, 1.0], which contains zero. Keeping
#    the ground-truth frame, the latest frames and a few prototypes of the rest loses nothing we can detect on
#    these videos at well under half the memory.
#    </details>
#
# 2. **Where does every-5 start to cost more than RDE?** From the paper-shape table, estimate at which T (frames
#    held by every-5) its read costs as much per frame as RDE's read plus a third of its SAM update.
#
#    <details><summary>What you should see</summary>
#
#    In our run every-5's read took about 0.1 s at T = 10 and 1.2 s at T = 200, roughly proportional to T (about
#    6 ms per frame held), while RDE's memory work was about 0.25 s per frame at either T; the two cross near
#    T ≈ 40, a video of about 200 frames. The timings are machine-dependent: on a GPU the SAM's convolutions
#    are cheap and the crossing comes much earlier, which is the setting of the paper's speed claim.
#    </details>

# %% [markdown]
# ## Claims

# %%
# NBVAL_CHECK_OUTPUT
ctx.finish()
