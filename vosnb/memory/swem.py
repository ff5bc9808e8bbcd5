"""SWEM's memory (Lin et al., CVPR 2022): a fixed set of foreground and background bases per object, updated by
sequential weighted expectation-maximisation (§4, ALGORITHMS.md "SWEM").

State per object and class c ∈ (bg, fg), batched as tensors ``[N, 2, ...]``: bases κ ``[Ck, L]``, their values ν
``[Cv, L]`` and accumulated weights ζ ``[L]``. Two banks, as in the authors' code: ``first`` (built from frame 0 and
kept) and ``update`` (re-estimated at every frame from its previous state plus the new frame). A read uses both:
2 banks × 2 classes × L bases, 512 features per object at the default L = 128, whatever the video length (SWEM-6).

One write runs ``em_iters`` iterations of
- E (Eq. 3, 5): ``z = softmax_L(x·κ̂ / τ) · w`` (x the raw key, κ̂ the L2-normalised bases, w the pixel weights);
- M: ``ζ = ζ⁻ + Σ_pixels z``, ``κ = (ζ⁻κ⁻ + Σ z x) / ζ``: always from the previous frame's state plus this frame;
- W (Eq. 6–7, adaptive weights, all but the last iteration): the coarse call ``P_c = Σ_L K(x, κ_c) / Σ_{c', L}
  K(x, κ_c')`` with the cosine kernel ``K(a, b) = exp(cos(a, b) / τ)``, then ``w_c = m_c · (1 − P_c)``;
then ``ν = (ζ⁻ν⁻ + Σ z v) / ζ``. ζ only grows, so κ and ν are running weighted means over every frame written
(SWEM-5, :func:`batch_weighted_mean`). With ``adaptive=False`` the W step is skipped: the weights stay the masks.

Precision: on the CPU the bank keeps its state and runs E, W and M in float64 (``dtype=None``). With τ = 0.05 and
key norms of 5–6, the E step's ``softmax(x·κ̂/τ)`` spans hundreds of e-folds and an unused basis (ζ = 1e-6) moves
by whatever tiny responsibility it receives, so float32 round-off changes the bases by O(1) within a few writes —
in the authors' code too — and results would differ between CPUs whose math libraries round differently. The
write is small (``P × L`` per class), so float64 costs little; the readout is returned in the query's dtype.

The masks ``m_c`` live on the stride-16 grid (the authors' memorize): ``hard`` is the arg-max label of the frame
(background or one of this bank's objects) sampled with nearest-neighbour, ``soft`` the object probability resized
bilinearly; ``m_fg = hard · soft``, ``m_bg = (1 − hard)(1 − soft)``. On frame 0 the probabilities are the ground
truth, so the masks are the ground truth too.

Where we follow the code rather than the paper's text: Eq. 5 divides by Σ z, the code by Σ z·w (a weighted mean,
what "seeing the n-th feature w_n times" means); the E step uses the raw key against normalised bases (Eq. 3 has no
normalisation at all); bases start random (normal, std √(2/L), normalised) with ζ = 1e-6 and ν = 0.
Read (§4.3): cosine affinity of the query key to all bases of the object, ``softmax(a / τ)`` over all of them (no
top-k), readout ``ν·p``. The released network also fuses a fg/bg ratio feature of the top-64 affinities into the
decoder input; STCN's decoder has no input for it, so this bank returns the readout only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vosnb.memory.base import FrameContext, Readout, tensor_bytes

CLASSES = ("bg", "fg")  # order of the class axis, as in the authors' code
NORM_EPS = 1e-6  # added to norms before dividing (the authors' l2norm)
INITIAL_ZETA = 1e-6  # accumulated weight of a fresh basis


def l2_normalise(x: Tensor, dim: int) -> Tensor:
    """``x / (‖x‖ + 1e-6)`` along ``dim``."""
    return x / (torch.linalg.vector_norm(x, dim=dim, keepdim=True) + NORM_EPS)


@dataclass
class Bases:
    """One bank's state: κ ``[N, 2, Ck, L]``, ν ``[N, 2, Cv, L]``, ζ ``[N, 2, L]`` (class axis: bg, fg)."""

    kappa: Tensor
    nu: Tensor
    zeta: Tensor

    @property
    def nbytes(self) -> int:
        return tensor_bytes(self.kappa, self.nu, self.zeta)

    @property
    def num_bases(self) -> int:
        """L, bases per class."""
        return int(self.kappa.shape[-1])


def random_kappa(*shape: int, seed: int = 0, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """Random bases ``[..., C, L]``: N(0, 2/L), normalised over channels (drawn on the CPU from ``seed``, so every
    device starts from the same bases)."""
    g = torch.Generator().manual_seed(seed)
    kappa = torch.randn(*shape, generator=g) * math.sqrt(2.0 / shape[-1])
    return l2_normalise(kappa, dim=-2).to(device=device, dtype=dtype)


def random_bases(num_objects: int, key_dim: int, value_dim: int, num_bases: int, *, seed: int = 0,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Bases:
    """The initial state: κ random (:func:`random_kappa`), ν = 0, ζ = 1e-6."""
    kappa = random_kappa(num_objects, 2, key_dim, num_bases, seed=seed, device=device, dtype=dtype)
    nu = torch.zeros(num_objects, 2, value_dim, num_bases, device=device, dtype=dtype)
    zeta = torch.full((num_objects, 2, num_bases), INITIAL_ZETA, device=device, dtype=dtype)
    return Bases(kappa, nu, zeta)


def stride16_masks(probs: Tensor, grid: tuple[int, int], all_probs: Tensor | None = None,
                   members: tuple[int, ...] = ()) -> Tensor:
    """The fixed weights ``m [N, 2, h, w]`` (bg, fg) on the key grid from this bank's object probabilities
    ``[N, H, W]``.

    ``hard``: one-hot of the arg-max over (background = 1 − Σ probabilities, objects), nearest-neighbour resized
    (computed on the nearest-neighbour samples, which is the same and 256× cheaper). The arg-max runs over every
    object of the frame, as in the authors' code: pass ``all_probs [N_all, H, W]`` and the bank's ``members`` (its
    objects' indices in ``all_probs``) when other objects live in other banks (objects that join mid-video);
    without them it runs over this bank's objects. ``soft``: the probabilities, bilinear (no anti-aliasing, as the
    authors' ``F.interpolate``).
    """
    if probs.dim() != 3:
        raise ValueError(f"probs must be [N, H, W] object probabilities; got {tuple(probs.shape)}")
    if all_probs is None:
        all_probs, members = probs, tuple(range(probs.shape[0]))
    elif len(members) != probs.shape[0] or all_probs.shape[1:] != probs.shape[1:]:
        raise ValueError(f"members {members} must index the {probs.shape[0]} objects of probs in all_probs "
                         f"{tuple(all_probs.shape)}")
    sampled = F.interpolate(all_probs.unsqueeze(0), size=grid, mode="nearest")[0]
    label = torch.cat([(1 - sampled.sum(0, keepdim=True)).clamp_min(0), sampled]).argmax(0)
    ids = torch.tensor(members, device=probs.device).view(-1, 1, 1) + 1
    hard = (label == ids).to(probs.dtype)
    soft = F.interpolate(probs.unsqueeze(0), size=grid, mode="bilinear", align_corners=False)[0]
    return torch.stack([(1 - hard) * (1 - soft), hard * soft], dim=1)


def e_step(x: Tensor, kappa: Tensor, weights: Tensor, tau: float) -> Tensor:
    """Weighted responsibilities ``z [N, 2, P, L]`` (Eq. 3 times the pixel weights, Eq. 5): ``x [Ck, P]`` raw keys,
    ``kappa [N, 2, Ck, L]``, ``weights [N, 2, P]`` per pixel or ``[N, 2, P, L]`` per pixel and basis (any leading
    dims, the same for all three)."""
    logits = x.t() @ l2_normalise(kappa, dim=-2)  # [N, 2, P, L]
    per_basis = weights if weights.dim() == logits.dim() else weights.unsqueeze(-1)
    return torch.softmax(logits / tau, dim=-1) * per_basis


def m_step(x: Tensor, z: Tensor, kappa_prev: Tensor, zeta_prev: Tensor) -> tuple[Tensor, Tensor]:
    """Sequential M step: ``ζ = ζ⁻ + Σ_P z`` and ``κ = (ζ⁻κ⁻ + x z) / ζ`` (``x [C, P]``, ``z [N, 2, P, L]``,
    ``kappa_prev [N, 2, C, L]``, ``zeta_prev [N, 2, L]``); also ν's update with values in place of keys."""
    zeta = zeta_prev + z.sum(-2)
    kappa = (zeta_prev.unsqueeze(-2) * kappa_prev + x @ z) / zeta.unsqueeze(-2)
    return kappa, zeta


def coarse_probability(x: Tensor, kappa: Tensor, tau: float, top: int | None = None) -> Tensor:
    """Eq. 6: ``P_c [N, 2, P]``, how strongly the bases of class c explain each pixel, normalised over (bg, fg),
    with the kernel ``exp(cos / τ)`` summed over all L bases of the class, or over its ``top`` largest values (the
    authors' first release summed the top 5)."""
    cos = l2_normalise(x, dim=0).t() @ l2_normalise(kappa, dim=-2)  # [N, 2, P, L]
    best = cos.amax(dim=-1, keepdim=True).amax(dim=1, keepdim=True)  # per pixel, over both classes' bases
    kernel = torch.exp((cos - best) / tau)
    if top is not None:
        kernel = torch.topk(kernel, min(top, kernel.shape[-1]), dim=-1).values
    kernel_sums = kernel.sum(-1)  # [N, 2, P]
    return kernel_sums / kernel_sums.sum(1, keepdim=True)


def em_bases(x: Tensor, num_bases: int, *, tau: float = 0.05, em_iters: int = 4, seed: int = 0) -> Tensor:
    """Plain EM bases ``[C, L]`` of one frame's features ``x [C, P]`` (EMA, Eq. 3–4: every pixel weight 1, one
    class), as SWEM §3.3 uses them to show that a few bases represent a frame."""
    prior = random_kappa(x.shape[0], num_bases, seed=seed, device=x.device, dtype=x.dtype)
    zeta = torch.full((num_bases,), INITIAL_ZETA, device=x.device, dtype=x.dtype)
    weights = torch.ones(x.shape[1], device=x.device, dtype=x.dtype)
    kappa = prior
    for _ in range(em_iters):
        kappa, _ = m_step(x, e_step(x, kappa, weights, tau), prior, zeta)
    return kappa


@dataclass
class WriteTrace:
    """What one write did, for inspection (the notebooks' figures and SWEM-4/5).

    ``masks`` are the fixed weights m ``[N, 2, h, w]``; ``weights`` the weights of the last E step (``= masks``
    with fixed weights, Eq. 7 otherwise); ``coarse_fg`` P_fg ``[N, h, w]`` of the last W step (None with fixed
    weights or a single iteration); ``responsibilities`` z ``[N, 2, h·w, L]`` of the last E step (weights
    included: what entered ζ); ``key [Ck, h·w]`` and ``values [N, Cv, h·w]`` the frame's features; ``bank``
    which bank the write produced (``"first"`` or ``"update"``).
    """

    frame_index: int
    bank: str
    masks: Tensor
    weights: Tensor
    coarse_fg: Tensor | None
    responsibilities: Tensor
    key: Tensor
    values: Tensor

    def assignments(self) -> Tensor:
        """Index of each pixel's most responsible basis per class, ``[N, 2, h, w]`` (L where the weight is 0)."""
        z = self.responsibilities
        best = torch.where(z.amax(-1) > 0, z.argmax(-1), z.shape[-1])
        return best.view(self.masks.shape)


ADAPTIVE_VERSIONS = ("eq7", "first_release")
FIRST_RELEASE_TOP = 5  # kernel values per class summed into P_c by the authors' first release


def adaptive_weights(masks: Tensor, p: Tensor, num_bases: int, version: str = "eq7") -> Tensor:
    """The W step (Eq. 7): ``w_c = m_c · (1 − P_c)``. ``"eq7"`` gives these weights to every basis (``[N, 2, P]``,
    the paper and the authors' code since July 2022); ``"first_release"`` (the authors' first upload, June 2022)
    gives them to the first L/2 bases of each class and the fixed masks to the other L/2 (``[N, 2, P, L]``)."""
    weights = masks * (1 - p)
    if version == "eq7":
        return weights
    half = num_bases // 2
    return torch.cat([weights.unsqueeze(-1).expand(*weights.shape, half),
                      masks.unsqueeze(-1).expand(*masks.shape, num_bases - half)], dim=-1)


def weighted_em(x: Tensor, values: Tensor, masks: Tensor, prior: Bases, *, tau: float = 0.05, em_iters: int = 4,
                adaptive: bool = True, version: str = "eq7") -> tuple[Bases, Tensor, Tensor, Tensor | None]:
    """One SWEM write (§4.1–4.2): from ``prior`` and one frame's keys ``x [Ck, P]``, values ``[N, Cv, P]`` and
    masks ``[N, 2, P]``, return the new bases and the last E step's ``z``, its per-pixel weights (of the adaptive
    bases, for ``version="first_release"``) and the coarse P_fg (see module doc and :func:`adaptive_weights`)."""
    weights, kappa, coarse = masks, prior.kappa, None
    top = FIRST_RELEASE_TOP if version == "first_release" else None
    for i in range(em_iters):
        z = e_step(x, kappa, weights, tau)
        kappa, zeta = m_step(x, z, prior.kappa, prior.zeta)
        if adaptive and i < em_iters - 1:
            p = coarse_probability(x, kappa, tau, top=top)
            weights, coarse = adaptive_weights(masks, p, prior.num_bases, version), p[:, 1]
    nu, _ = m_step(values.unsqueeze(1), z, prior.nu, prior.zeta)
    return Bases(kappa, nu, zeta), z, weights if weights.dim() == masks.dim() else weights[..., 0], coarse


def batch_weighted_mean(initial: Bases, keys: Tensor, values: Tensor, responsibilities: Tensor) -> Bases:
    """SWEM-5, the batch form of T sequential writes: ``κ = (ζ₀κ₀ + Σ_t x_t z_t) / (ζ₀ + Σ_t Σ_P z_t)`` (ν alike),
    from the initial state and every frame's keys ``[T, Ck, P]``, values ``[T, N, Cv, P]`` and responsibilities
    ``[T, N, 2, P, L]``."""
    zeta = initial.zeta + responsibilities.sum(dim=(0, 3))
    kappa = (initial.zeta.unsqueeze(2) * initial.kappa
             + torch.einsum("tcp,tnkpl->nkcl", keys, responsibilities)) / zeta.unsqueeze(2)
    nu = (initial.zeta.unsqueeze(2) * initial.nu
          + torch.einsum("tncp,tnkpl->nkcl", values, responsibilities)) / zeta.unsqueeze(2)
    return Bases(kappa, nu, zeta)


class SWEMMemory:
    """SWEM's constant-size memory behind the :class:`~vosnb.memory.base.MemoryBank` protocol (module doc).

    Args:
        num_bases: L, bases per object and class (128 in the release).
        tau: τ of the E step, the adaptive weights and the read (0.05).
        em_iters: EM iterations per write (4).
        adaptive: adaptive weights (Eq. 6–7, the release) or the masks as fixed weights (the ablation).
        adaptive_version: which adaptive-weight step (:func:`adaptive_weights`): ``"eq7"``, the paper's Eq. 6–7
            (P_c over all L bases, adaptive weights for every basis), or ``"first_release"``, the authors' first
            upload (P_c over the top 5 kernel values, adaptive weights for half of the bases); the repository does
            not say which produced the published numbers.
        seed: seed of the random initial bases.
        keep_history: keep a :class:`WriteTrace` of every write in ``history`` (``last_write`` is always kept).
        dtype: dtype of the state and the EM arithmetic; None: float64 on the CPU, the key's dtype elsewhere
            (module doc, "Precision").
    """

    def __init__(self, num_bases: int = 128, tau: float = 0.05, em_iters: int = 4, adaptive: bool = True, *,
                 adaptive_version: str = "eq7", seed: int = 0, keep_history: bool = False,
                 dtype: torch.dtype | None = None) -> None:
        if num_bases < 1:
            raise ValueError(f"num_bases={num_bases}: SWEM needs at least one basis per class")
        if not tau > 0:
            raise ValueError(f"tau={tau}: the temperature must be > 0 (the release uses 0.05)")
        if em_iters < 1:
            raise ValueError(f"em_iters={em_iters}: at least one EM iteration is needed (the release uses 4)")
        if adaptive_version not in ADAPTIVE_VERSIONS:
            raise ValueError(f"adaptive_version={adaptive_version!r}; expected one of {ADAPTIVE_VERSIONS}")
        if adaptive_version == "first_release" and num_bases % 2:
            raise ValueError(f"num_bases={num_bases}: the first release splits the bases in halves; use an even L")
        self.adaptive_version = adaptive_version
        self.num_bases, self.tau, self.em_iters, self.adaptive = num_bases, tau, em_iters, adaptive
        self.seed = seed
        self.dtype = dtype
        self.initial: Bases | None = None
        self.first: Bases | None = None
        self.update: Bases | None = None
        self.last_write: WriteTrace | None = None
        self.history: list[WriteTrace] | None = [] if keep_history else None
        self._read_keys: Tensor | None = None
        self._read_values: Tensor | None = None

    def should_write(self, frame_index: int) -> bool:
        """Every frame (the engine skips the last one)."""
        return True

    def write(self, frame_index: int, key: Tensor, values: Tensor, probs: Tensor,
              context: FrameContext | None = None) -> None:
        """Fold one frame into the bases: ``key [Ck, h, w]``, ``values [N, Cv, h, w]``, ``probs [N, H, W]``; the
        context's probabilities of every object, when given, decide the hard mask (:func:`stride16_masks`)."""
        if key.dim() != 3 or values.dim() != 4 or key.shape[1:] != values.shape[2:]:
            raise ValueError(f"expected key [Ck, h, w] and values [N, Cv, h, w] on the same grid; got "
                             f"{tuple(key.shape)} and {tuple(values.shape)}")
        if probs.dim() != 3 or probs.shape[0] != values.shape[0]:
            raise ValueError(f"probs must be [N, H, W] for the N = {values.shape[0]} objects of values; got "
                             f"{tuple(probs.shape)}")
        n, cv = values.shape[:2]
        dtype = self.state_dtype(key)
        key, values = key.to(dtype), values.to(dtype)
        if self.initial is None:
            self.initial = random_bases(n, key.shape[0], cv, self.num_bases, seed=self.seed, device=key.device,
                                        dtype=dtype)
        elif self.initial.nu.shape[0] != n:
            raise ValueError(f"this bank holds {self.initial.nu.shape[0]} objects; got values for {n}. Objects that "
                             f"join later need a bank of their own (propagate does this).")
        prior = next(b for b in (self.update, self.first, self.initial) if b is not None)
        x, v = key.flatten(1), values.flatten(2)
        if context is not None and context.object_probs is not None:
            masks = stride16_masks(probs.to(dtype), tuple(key.shape[1:]), context.object_probs.to(dtype),
                                   context.members)
        else:
            masks = stride16_masks(probs.to(dtype), tuple(key.shape[1:]))
        bases, z, weights, coarse = weighted_em(x, v, masks.flatten(2), prior, tau=self.tau, em_iters=self.em_iters,
                                                adaptive=self.adaptive, version=self.adaptive_version)
        name = "first" if self.first is None else "update"
        setattr(self, name, bases)
        grid = masks.shape[2:]
        self.last_write = WriteTrace(frame_index, name, masks, weights.view_as(masks),
                                     None if coarse is None else coarse.view(n, *grid), z, x, v)
        if self.history is not None:
            self.history.append(self.last_write)
        banks = [b for b in (self.first, self.update) if b is not None]
        kappa = torch.cat([b.kappa for b in banks], dim=-1)  # [N, 2, Ck, L·banks]
        nu = torch.cat([b.nu for b in banks], dim=-1)
        self._read_keys = l2_normalise(kappa, dim=2).transpose(1, 2).flatten(2).transpose(1, 2)  # [N, M, Ck]
        self._read_values = nu.transpose(1, 2).flatten(2)  # [N, Cv, M]

    def state_dtype(self, key: Tensor) -> torch.dtype:
        """The dtype the bank computes in for keys like ``key`` (``dtype``, else float64 on the CPU)."""
        if self.dtype is not None:
            return self.dtype
        return torch.float64 if key.device.type == "cpu" else key.dtype

    def read_weights(self, query_key: Tensor) -> Tensor:
        """Readout weights ``[N, M, Q]`` (state dtype): softmax over the object's M bases of ``cos(κ, q) / τ``."""
        if self._read_keys is None:
            raise RuntimeError("read from an empty memory: write the first frame before reading")
        query = query_key.flatten(1).to(self._read_keys.dtype)
        affinity = self._read_keys @ l2_normalise(query, dim=0)
        return torch.softmax(affinity / self.tau, dim=1)

    def read(self, query_key: Tensor, context: FrameContext | None = None) -> Readout:
        out = (self._read_values @ self.read_weights(query_key)).to(query_key.dtype)
        return Readout(values=out.view(*out.shape[:2], *query_key.shape[1:]))

    @property
    def features_per_object(self) -> int:
        """Bases a read compares the query with, per object: 2 classes × L × (banks written)."""
        return 0 if self._read_keys is None else int(self._read_keys.shape[1])

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in (self.first, self.update) if b is not None)
