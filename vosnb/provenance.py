"""Where a result came from: the code (git state), the software, the machine, the data and the checkpoints.

Every claims record carries :func:`collect`'s dictionary, so a reader can tell which commit (and which uncommitted
change) produced a number, with which libraries, threads and instruction-set path, on which CPU under what load,
from which data set and which checkpoint files.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from vosnb.runtime import numerics_summary

_CHECKPOINTS: dict[str, str] = {}  # resolved path -> sha256 of every checkpoint loaded in this process


def utc_now() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def note_checkpoint(path: str | os.PathLike) -> str:
    """Remember that this process loaded the checkpoint at ``path``; return its sha256."""
    resolved = str(Path(path).resolve())
    if resolved not in _CHECKPOINTS:
        _CHECKPOINTS[resolved] = sha256_file(resolved)
    return _CHECKPOINTS[resolved]


def checkpoints_loaded() -> dict[str, str]:
    """{file name: sha256} of every checkpoint loaded by this process so far."""
    return {Path(p).name: h for p, h in sorted(_CHECKPOINTS.items())}


def _git(args: Iterable[str], where: Path) -> str | None:
    folder = next((p for p in (where, *where.parents) if p.is_dir()), Path.cwd())
    try:
        out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


# What `vosnb reproduce` itself writes: a re-recording rewrites these, so they do not make the code "dirty".
RECORDED_OUTPUTS = (":(top,exclude)results", ":(top,exclude)figures", ":(top,exclude,glob)notebooks/*.ipynb")


def git_state(where: Path) -> dict[str, str]:
    """The commit (12 hex digits) of the checkout holding ``where``, with "-dirty" and a sha256 of the diff when
    tracked code differs from it; recorded outputs (:data:`RECORDED_OUTPUTS`) are left out, so a re-recording cites
    the commit of the code that made it. "unknown" outside a checkout."""
    commit = _git(["rev-parse", "--short=12", "HEAD"], where)
    if not commit:
        return {"describe": "unknown"}
    diff = _git(["diff", "HEAD", "--binary", "--", ":(top)", *RECORDED_OUTPUTS], where) or ""
    if not diff:
        return {"describe": commit.strip()}
    return {"describe": f"{commit.strip()}-dirty", "diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16]}


def dataset_hash(root: str | os.PathLike | None) -> str:
    """A short hash naming the data set: for the synthetic set its manifest (generator config and source hash);
    for any other folder the sorted list of its image and annotation files with their sizes."""
    if root is None:
        return "none"
    root = Path(root)
    manifest = root / "synthetic.json"
    if manifest.is_file():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        payload = json.dumps({k: meta.get(k) for k in ("version", "source", "config")}, sort_keys=True)
    else:
        files = sorted(p for folder in ("JPEGImages", "Annotations") for p in (root / folder).rglob("*") if p.is_file())
        payload = "\n".join(f"{p.relative_to(root)} {p.stat().st_size}" for p in files)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect(where: Path, data_root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Everything above, at this moment: git state of ``where``, versions, numerics, CPU, load, data, checkpoints."""
    import torch
    return {
        "git": git_state(where),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        **numerics_summary(),
        "cpu": cpu_model(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "platform": f"{sys.platform}-{platform.machine()}",
        "data": dataset_hash(data_root),
        "checkpoints": checkpoints_loaded(),
        "time": utc_now(),
    }
