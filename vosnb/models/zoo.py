"""The small trained models shipped in data/checkpoints/, with their model cards, and loading any checkpoint.

A vosnb checkpoint is ``{"vosnb_model": {type, key_dim, value_dim, similarity, config}, "state_dict": {fp16
tensors}}`` written by ``vosnb train`` (``type`` is a key of :data:`MODEL_TYPES`; ``config`` is the full
:class:`StcnConfig`, so the file loads whatever the defaults); its model card ``<name>.json`` sits beside it. The
authors' ``stcn.pth`` and RDE-VOS checkpoints are plain state dicts (RDE-VOS's recognised by its ``mem_compress.``
tensors). All load with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from vosnb.errors import CheckpointError
from vosnb.provenance import note_checkpoint
from vosnb.models.gam import GAM
from vosnb.models.rde import PREFIX, RDE, load_rde_checkpoint
from vosnb.models.stcn import STCN, StcnConfig, load_stcn_checkpoint, unwrap_state_dict

CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "data" / "checkpoints"


def available() -> list[str]:
    """Names of the shipped small models (``stcn_small_<similarity>_ck<Ck>``)."""
    return sorted(p.stem for p in CHECKPOINT_DIR.glob("*.pth"))


def model_card(name: str) -> dict:
    """The model card of a shipped model: config, seed, steps, wall time, losses, J&F on the val split, sha256."""
    path = CHECKPOINT_DIR / f"{name}.json"
    if not path.is_file():
        raise CheckpointError(f"no model card {path}; shipped models: {available()} (retrain with `make train`)")
    return json.loads(path.read_text())


def load_pretrained(name: str = "stcn_small_l2_ck64", device: str | torch.device = "cpu") -> STCN:
    """Load a shipped small model by name, in float32 and eval mode."""
    path = CHECKPOINT_DIR / f"{name}.pth"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint {path}; shipped models: {available()} (retrain with `make train`)")
    return load_any_checkpoint(path, device=device)


def _builder(cls: type[STCN]) -> Callable[[dict], STCN]:
    """A builder of ``cls`` from a vosnb checkpoint's stored architecture."""
    return lambda meta: cls(meta["key_dim"], meta["value_dim"], meta["similarity"],
                            config=StcnConfig(**meta["config"]))


# The model kinds a vosnb checkpoint can hold: its "type" field -> a builder from the stored architecture.
MODEL_TYPES: dict[str, Callable[[dict], torch.nn.Module]] = {**{cls.model_type: _builder(cls) for cls in (STCN, RDE)},
                                                           "gam": GAM.from_architecture}


def load_any_checkpoint(path: str | Path, device: str | torch.device = "cpu",
                        similarity: str = "l2") -> torch.nn.Module:
    """Load a vosnb checkpoint (any kind in :data:`MODEL_TYPES`, by its ``type`` field; checkpoints written before
    the field existed are STCN), the authors' RDE-VOS network (a state dict with ``mem_compress.`` tensors) or their
    ``stcn.pth`` (``similarity`` applies to the authors' files only)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of stcn.pth or data/checkpoints/*.pth")
    note_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise CheckpointError(f"{path} is not a loadable PyTorch checkpoint ({exc.__class__.__name__}: {exc})") from exc
    if not (isinstance(payload, dict) and "vosnb_model" in payload):
        authors = load_rde_checkpoint if any(k.startswith(PREFIX) for k in unwrap_state_dict(payload, path)) \
            else load_stcn_checkpoint
        return authors(path, similarity=similarity).to(device).eval()
    meta = payload["vosnb_model"]
    kind = meta.get("type", "stcn")
    if kind not in MODEL_TYPES:
        raise CheckpointError(f"{path} holds a model of type {kind!r}, which this vosnb does not know; "
                              f"known types: {', '.join(MODEL_TYPES)} (a newer vosnb may have written it)")
    model = MODEL_TYPES[kind](meta)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not match the {kind} architecture it declares: {exc}") from exc
    return model.to(device).eval()
