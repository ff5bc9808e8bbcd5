"""Run-time helpers shared by every layer: devices, seeding, atomic writes, where outputs go, pinned numerics.

torch is imported inside the functions that need it, so that the data layer and the command line (which use only
the file helpers) start without it.
"""
from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import vosnb
from vosnb.errors import DataError

if TYPE_CHECKING:
    import torch


def repo_root() -> Path:
    """The repository root: the folder above the package when it holds pyproject.toml (editable install),
    else the nearest of the current directory and its parents that holds one."""
    package_parent = Path(vosnb.__file__).resolve().parent.parent
    cwd = Path.cwd().resolve()
    for candidate in (package_parent, cwd, *cwd.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise DataError(f"cannot find the vosnb repository: no pyproject.toml above {Path.cwd()} or {package_parent}; "
                    f"run from inside the repository checkout")


OUTPUT_ROOT_ENV = "VOSNB_OUTPUT_ROOT"


def output_root() -> Path:
    """Where notebooks write results/ and figures/: ``$VOSNB_OUTPUT_ROOT`` when set, else the scratch folder
    <repo>/build/scratch. `vosnb reproduce` sets it to the repository (the one command that rewrites the committed
    evidence); the test suite sets it to a temporary folder; a notebook run by hand in Jupyter writes to scratch and
    leaves the committed results and figures alone."""
    override = os.environ.get(OUTPUT_ROOT_ENV)
    return Path(override).expanduser().resolve() if override else repo_root() / "build" / "scratch"


def resolve_device(device: str = "auto") -> torch.device:
    """Map "auto" to CUDA when available, else CPU; refuse a CUDA request on a machine without one."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but no CUDA device is available; use device='cpu' or 'auto'")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch Generator seeded the same way."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work so that wall-clock timings are honest."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    Nothing is left half-written: on error the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# ----------------------------------------------------------------------------------------- pinned ci numerics
CI_THREADS = 1
"""One torch thread at the ci profile. Measured on this 2-core machine (AMD EPYC, torch 2.13): the small model
propagates faster on one thread than on two (2.23 s against 2.45 s for 4 sequences, half the CPU time), and one
operation timed against itself (an A/A comparison, 9 interleaved rounds of a paper-shape read) gives ratio
intervals of ±1.5% on one thread and ±30–40% on two, idle. One thread also leaves the other core to whatever else
runs, and makes the outputs independent of the core count."""
ISA_ENV: dict[str, dict[str, str]] = {
    # ATen's vectorised kernels, oneDNN's convolutions and MKL's BLAS each pick a code path by instruction set;
    # paths round differently, so the same notebook gives other last bits on another CPU. A fixed path per level:
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "sse": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"},
}
CI_ISA = "avx2"  # the ci profile's level; VOSNB_CI_ISA=sse selects the other (tests/test_isa_stability.py)
_CAPABILITY = {"avx2": "AVX2", "sse": "DEFAULT"}


def ci_isa() -> str:
    """The instruction-set level of the ci profile: ``$VOSNB_CI_ISA`` if set, else :data:`CI_ISA`."""
    level = os.environ.get("VOSNB_CI_ISA", CI_ISA)
    if level not in ISA_ENV:
        raise ValueError(f"VOSNB_CI_ISA={level!r} is not a level; use one of {', '.join(ISA_ENV)}")
    return level


def ci_numerics_env(level: str | None = None) -> dict[str, str]:
    """Environment variables that pin the ci profile's numerics: the math libraries' instruction-set path
    (:data:`ISA_ENV`), and OpenMP threads that sleep instead of spinning while they wait (so a notebook next to
    another busy process is slowed, not starved)."""
    level = ci_isa() if level is None else level
    return {**ISA_ENV[level], "VOSNB_CI_ISA": level, "OMP_WAIT_POLICY": "PASSIVE"}


def pin_ci_numerics() -> str | None:
    """Pin the ci profile's numerics in this process: the variables of :func:`ci_numerics_env` and
    :data:`CI_THREADS` torch threads. The libraries read the variables when they first compute, so this works
    before the first tensor operation; a process that computed earlier (a kernel that ran other cells first) keeps
    its paths, and the returned message says so (None when the pin holds)."""
    import torch

    env = ci_numerics_env()
    os.environ.update(env)
    torch.set_num_threads(CI_THREADS)
    have, want = torch.backends.cpu.get_cpu_capability(), _CAPABILITY[env["VOSNB_CI_ISA"]]
    if have != want:
        return (f"ci numerics not pinned: torch already runs its {have} kernels (the ci profile uses {want}); "
                f"restart the kernel and run setup first, or expect other last digits than the committed outputs")
    return None


def numerics_summary() -> dict[str, str | int]:
    """What decides this process's floating-point results: torch's CPU kernels, threads and the pinning variables."""
    import torch

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            **{k: os.environ.get(k, "") for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR",
                                                   "OMP_WAIT_POLICY")}}
