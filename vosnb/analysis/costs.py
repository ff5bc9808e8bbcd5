"""What a memory read costs: FLOPs and bytes counted from the shapes (STCN Table 2), and the memory operations of
STCN-5, -7 and -8 timed at the paper's shapes (STCN §6.2; :mod:`vosnb.timing`, shared with benchmarks/).

Shapes follow STCN §3.2: ``T`` memory frames of ``H × W`` stride-16 positions give ``M = T·H·W`` memory elements and
``Q = H·W`` query elements; keys have ``Ck`` channels, values ``Cv``.

Counting convention (STCN-3). Table 2's figures are reproduced by these counts in binary units:
- dot product (Eq. 3): the matrix product ``(k^M)ᵀ k^Q``, ``2·Ck·M·Q`` FLOPs (a multiply and an add per term);
- cosine: the same product plus normalising both key sets (square, sum, divide: ``3·Ck`` per vector);
- L2 (Eq. 5, App. A Alg. 1): the product, ``‖k^M‖²`` (``2·Ck·M``), and three element-wise passes over the
  ``M × Q`` affinity, as in the authors' ``(2*ab - a_sq) / math.sqrt(CK)``;
- "G" FLOPs are ``2³⁰`` FLOPs and "MB" of keys are ``2²⁰`` bytes of fp32 memory *and* query keys.
:func:`unit_alternatives` gives the same cells under the other conventions, for comparison.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes

from vosnb.memory import KeyValueMemory
from vosnb.plotting import color
from vosnb.timing import Timing, time_interleaved

PAPER_GRID = (30, 54)
"""The stride-16 grid of a 480×864 frame (DAVIS 480p padded), STCN §3.2 / Table 2."""
PAPER_KEY_DIM, PAPER_VALUE_DIM, PAPER_TOP_K = 64, 512, 20
PAPER_FRAMES = 10
"""Memory frames T of STCN Table 2 and §6.2."""
PAPER_OBJECTS = 2
"""Objects per video: DAVIS 2017 val has 61 objects in 30 videos."""
GIB = 2**30
MIB = 2**20
PAPER_TABLE2 = pd.DataFrame(
    [("dot", 128, 6.26, 8.70), ("cosine", 128, 6.26, 8.70), ("l2", 128, 6.33, 8.70),
     ("dot", 64, 3.13, 4.35), ("cosine", 64, 3.13, 4.35), ("l2", 64, 3.20, 4.35)],
    columns=["similarity", "key_dim", "gflops", "key_mb"],
)
"""STCN Table 2's cost columns: "# FLOPs (G)" of Eq. 3/4 with T = 10 and "Size of keys (MB)"."""
MATCHING_PARTS = ("matching", "matching+readout")
STCN_DESIGN = "STCN (shared affinity)"
STM_DESIGN = "STM (affinity per object)"


def memory_sizes(frames: int = 10, height: int = 480, width: int = 864, stride: int = 16) -> tuple[int, int]:
    """``(M, Q) = (T·H·W, H·W)`` at stride ``stride`` for ``frames`` memory frames of ``height × width`` pixels."""
    for name, value in (("frames", frames), ("height", height), ("width", width), ("stride", stride)):
        if value < 1:
            raise ValueError(f"{name}={value} must be a positive integer")
    if height % stride or width % stride:
        raise ValueError(f"height={height} and width={width} must be multiples of stride={stride} (pad the frame)")
    hw = (height // stride) * (width // stride)
    return frames * hw, hw


def affinity_flops(key_dim: int, memory_size: int, query_size: int, kind: str = "l2") -> int:
    """FLOPs of the affinity ``S`` (Eq. 3 for dot, Eq. 4/5 for cosine and L2), counted as in the module docstring."""
    ck, m, q = key_dim, memory_size, query_size
    product = 2 * ck * m * q
    if kind == "dot":
        return product
    if kind == "cosine":
        return product + 3 * ck * (m + q)
    if kind == "l2":
        return product + 2 * ck * m + 3 * m * q
    raise ValueError(f"kind={kind!r}; expected 'dot', 'cosine' or 'l2'")


def readout_flops(value_dim: int, memory_size: int, query_size: int, num_objects: int = 1) -> int:
    """FLOPs of the readout ``v^Q = v^M W`` (Eq. 2), repeated for each object: ``2·N·Cv·M·Q``."""
    return 2 * num_objects * value_dim * memory_size * query_size


def key_bytes(key_dim: int, memory_size: int, query_size: int, bytes_per_element: int = 4) -> int:
    """Bytes of the memory and query keys, ``Ck·(M + Q)`` elements (fp32 by default)."""
    return key_dim * (memory_size + query_size) * bytes_per_element


def table2_costs(frames: int = 10, height: int = 480, width: int = 864, stride: int = 16) -> pd.DataFrame:
    """Table 2's cost columns recounted from the shapes: rows in the paper's order, FLOPs in 2³⁰ and keys in 2²⁰
    bytes (fp32), unrounded, beside the paper's values."""
    m, q = memory_sizes(frames, height, width, stride)
    rows = PAPER_TABLE2.rename(columns={"gflops": "paper_gflops", "key_mb": "paper_key_mb"}).copy()
    rows["gflops"] = [affinity_flops(ck, m, q, kind) / GIB for kind, ck in zip(rows.similarity, rows.key_dim)]
    rows["key_mb"] = [key_bytes(ck, m, q) / MIB for ck in rows.key_dim]
    return rows[["similarity", "key_dim", "gflops", "paper_gflops", "key_mb", "paper_key_mb"]]


def unit_alternatives(frames: int = 10, height: int = 480, width: int = 864, stride: int = 16) -> pd.DataFrame:
    """STCN-3's six cells (dot / L2 GFLOPs at Ck 128 and 64, key size at Ck 128 and 64) under the fixed convention
    (the first row: 2³⁰ FLOPs, 2²⁰ bytes, memory and query keys) and under each alternative (10⁹ or 2³⁰ FLOPs, 10⁶ or
    2²⁰ bytes, keys of the memory alone or of memory and query), unrounded, for comparison beside the record."""
    m, q = memory_sizes(frames, height, width, stride)
    rows = []
    for (flop_name, flop_unit), (byte_name, byte_unit), (keys_name, query) in itertools.product(
            (("2^30", GIB), ("10^9", 1e9)), (("2^20", MIB), ("10^6", 1e6)), (("memory+query", q), ("memory", 0))):
        row = {"FLOPs": flop_name, "bytes": byte_name, "keys": keys_name}
        for kind, ck in (("dot", 128), ("l2", 128), ("dot", 64), ("l2", 64)):
            row[f"GFLOPs {kind} Ck{ck}"] = affinity_flops(ck, m, q, kind) / flop_unit
        for ck in (128, 64):
            row[f"key MB Ck{ck}"] = key_bytes(ck, m, query) / byte_unit
        rows.append(row)
    return pd.DataFrame(rows)


def matmul_rate(size: int = 2048, repeats: int = 5, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> float:
    """The machine's measured matrix-product rate in FLOP/s: ``2·n³`` over the median time of an ``n × n`` product."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, generator=g, device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g, device=device, dtype=dtype)
    timing = time_interleaved({"matmul": lambda: a @ b}, repeats=repeats, warmup=1, device=device)
    return 2 * size**3 / timing.median("matmul")


def _bank(keys: torch.Tensor, values: torch.Tensor, similarity: str, top_k: int | None) -> KeyValueMemory:
    """A :class:`KeyValueMemory` holding ``keys [Ck, T, h, w]`` and ``values [N, Cv, T, h, w]`` (T frames)."""
    bank = KeyValueMemory(similarity=similarity, top_k=top_k)
    for t in range(keys.shape[1]):
        bank.append(t, keys[:, t], values[:, :, t])
    return bank


def matching_banks(num_objects: int, *, frames: int = PAPER_FRAMES, height: int = PAPER_GRID[0],
                   width: int = PAPER_GRID[1], key_dim: int = PAPER_KEY_DIM, value_dim: int = PAPER_VALUE_DIM,
                   similarity: str = "l2", top_k: int | None = PAPER_TOP_K, seed: int = 0,
                   device: torch.device | str = "cpu") -> tuple[KeyValueMemory, list[KeyValueMemory], torch.Tensor]:
    """Random memories for ``num_objects`` objects at stride-16 size ``height × width`` (STCN-7, §3.2 / §6.2):

    - STCN: one bank whose keys serve all objects (keys come from the image alone);
    - STM: one bank per object with keys of its own (STM's memory encoder sees the object's mask), so each object
      needs its own affinity;
    and a query key ``[Ck, h, w]``. Returns ``(stcn_bank, stm_banks, query_key)``.
    """
    if num_objects < 1:
        raise ValueError(f"num_objects={num_objects} must be ≥ 1")
    g = torch.Generator(device=device).manual_seed(seed)
    shape = (frames, height, width)
    values = torch.randn(num_objects, value_dim, *shape, generator=g, device=device)
    shared = _bank(torch.randn(key_dim, *shape, generator=g, device=device), values, similarity, top_k)
    per_object = [_bank(torch.randn(key_dim, *shape, generator=g, device=device), values[i: i + 1], similarity, top_k)
                  for i in range(num_objects)]
    query = torch.randn(key_dim, height, width, generator=g, device=device)
    return shared, per_object, query


def matching_time_vs_objects(num_objects: Sequence[int] = (1, 2, 4, 8), *, frames: int = PAPER_FRAMES,
                             height: int = PAPER_GRID[0], width: int = PAPER_GRID[1], key_dim: int = PAPER_KEY_DIM,
                             value_dim: int = PAPER_VALUE_DIM, similarity: str = "l2", top_k: int | None = PAPER_TOP_K,
                             parts: Sequence[str] = MATCHING_PARTS, repeats: int = 5, seed: int = 0,
                             device: torch.device | str = "cpu") -> Timing:
    """One query frame's memory matching vs the number of objects m, STCN vs STM (STCN-7), timed interleaved.

    Two ``parts`` per design: ``matching`` is the affinity and its (top-k) softmax, the ``W`` of Eq. 1 in the form the
    read uses (:meth:`KeyValueMemory.match`) — computed once by STCN, once per object by STM; ``matching+readout``
    adds Eq. 2, which both designs repeat per object (in one product or gather for STCN's objects). The
    defaults are the paper's shapes (T = 10 memory frames, 480×864 at stride 16, Ck = 64, Cv = 512, k = 20).
    Every (m, design, part) runs once per round, in a seeded shuffled order, after one untimed round
    (:func:`vosnb.timing.time_interleaved`); the variants are keyed ``(m, design, part)``.
    """
    cells: dict[tuple[int, str, str], Callable[[], object]] = {}
    for m in num_objects:
        shared, per_object, query = matching_banks(m, frames=frames, height=height, width=width, key_dim=key_dim,
                                                   value_dim=value_dim, similarity=similarity, top_k=top_k,
                                                   seed=seed, device=device)
        for part in parts:
            step = {"matching": KeyValueMemory.match, "matching+readout": KeyValueMemory.read}[part]
            cells[m, STCN_DESIGN, part] = lambda b=shared, q=query, f=step: f(b, q)
            cells[m, STM_DESIGN, part] = lambda bs=per_object, q=query, f=step: [f(b, q) for b in bs]
    with torch.inference_mode():
        return time_interleaved(cells, repeats=repeats, warmup=1, device=device, seed=seed)


def matching_table(timing: Timing) -> pd.DataFrame:
    """One row per (m, design, part) of :func:`matching_time_vs_objects`: median ``seconds`` and its ``iqr``."""
    return pd.DataFrame([{"objects": m, "design": design, "part": part, "seconds": timing.median(key),
                          "iqr": timing.iqr(key)} for key in timing.times for m, design, part in [key]])


def random_frame(objects: int = PAPER_OBJECTS, *, grid: tuple[int, int] = PAPER_GRID, key_dim: int = PAPER_KEY_DIM,
                 value_dim: int = PAPER_VALUE_DIM, generator: torch.Generator,
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One frame's memory inputs at stride-16 ``grid``: key ``[Ck, h, w]``, values ``[N, Cv, h, w]`` and blob-like
    object probabilities ``[N, 16h, 16w]`` (:func:`random_masks`, × 0.9)."""
    h, w = grid
    key = torch.randn(key_dim, h, w, generator=generator).to(device)
    values = torch.randn(objects, value_dim, h, w, generator=generator).to(device)
    probs = 0.9 * random_masks(objects, 16 * h, 16 * w, generator=generator).to(device)
    return key, values, probs


def random_masks(*shape: int, generator: torch.Generator) -> torch.Tensor:
    """Blob-like binary masks ``[..., H, W]``: thresholded noise at 1/8 resolution, upsampled bilinearly."""
    *lead, h, w = shape
    noise = torch.randn(*lead, h // 8, w // 8, generator=generator)
    return (F.interpolate(noise.flatten(0, -3).unsqueeze(1), size=(h, w), mode="bilinear").view(*shape) > 0.8).float()


def read_variants(bank: KeyValueMemory, query: torch.Tensor, *, seed: int = 0) -> dict[str, Callable[[], object]]:
    """One query frame's memory work over ``bank`` (T permanent frames), three ways (STCN-5, STCN-8):

    - ``top-k``: STCN's read (Eq. 1–2 with the top-k softmax, :meth:`KeyValueMemory.read`);
    - ``full softmax``: the same read with a softmax over all M elements (STCN-8's ablation);
    - ``top-k + last frame``: the previous frame written as a temporary slot (:meth:`~KeyValueMemory.set_temporary`)
      and the top-k read over T + 1 frames: what "every 5th + last" adds to every frame (STCN-5, Table 1).

    The three banks share ``bank``'s tensors; nothing is copied per call but the temporary frame.
    """
    def sharing(top_k: int | None) -> KeyValueMemory:
        twin = KeyValueMemory(similarity=bank.similarity, top_k=top_k)
        twin.keys, twin.value_rows, twin.frame_of = bank.keys, bank.value_rows, bank.frame_of
        twin.elements_per_frame = bank.elements_per_frame
        return twin

    full, last = sharing(None), sharing(bank.top_k)
    objects, value_dim = bank.value_rows.shape[1:]
    g = torch.Generator().manual_seed(seed)
    key, values, _ = random_frame(objects, grid=tuple(query.shape[1:]), key_dim=query.shape[0], value_dim=value_dim,
                                  generator=g, device=query.device)

    def with_last() -> object:
        last.set_temporary(key, values)
        return last.read(query)

    return {"top-k": lambda: bank.read(query), "full softmax": lambda: full.read(query),
            "top-k + last frame": with_last}


def plot_matching_times(axes: Sequence[Axes], table: pd.DataFrame) -> None:
    """§6.2 / Fig. 5 as curves: median milliseconds (bars: the IQR over rounds) vs the number of objects, one panel
    per part of :func:`matching_table` (``axes`` holds one axis per part), one line per design."""
    parts = list(dict.fromkeys(table["part"]))
    if len(axes) != len(parts):
        raise ValueError(f"{len(parts)} parts {parts} but {len(axes)} axes")
    for ax, part in zip(axes, parts):
        for design, key in ((STCN_DESIGN, "stcn"), (STM_DESIGN, "stm")):
            rows = table[(table["part"] == part) & (table["design"] == design)].sort_values("objects")
            ax.errorbar(rows["objects"], 1000 * rows["seconds"], yerr=500 * rows["iqr"], marker="o", capsize=3,
                        color=color(key), label=design)
        ax.set(xlabel="objects m", ylabel="median ms per query frame", title=part, ylim=(0, None))
        ax.set_xticks(sorted(table["objects"].unique()))
    axes[0].legend()
