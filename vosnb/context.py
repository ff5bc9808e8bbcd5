"""The first call of every notebook: check the parameters, find (or build) the data, seed, style, and bind the
notebook's claims ledger and figure folder.

```python
ctx = vosnb.context.setup(notebook="02_stcn_affinity_gini", profile=profile, dataset=dataset,
                          data_root=data_root, device=device, seed=seed)
```
"""
from __future__ import annotations

import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

import vosnb
import vosnb.data
from vosnb import plotting
from vosnb.claims import ClaimsTable, Ledger
from vosnb.errors import DataError
from vosnb.options import DATASETS, PROFILES
from vosnb.runtime import output_root, pin_ci_numerics, repo_root, resolve_device, seed_everything

_NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def synthetic_root(data_root: str | Path | None = None) -> Path:
    """Where the embedded synthetic data lives: `data_root`, or <repo>/data/synthetic."""
    return Path(data_root).expanduser().resolve() if data_root is not None else repo_root() / "data" / "synthetic"


def ensure_synthetic(data_root: str | Path | None = None) -> Path:
    """Build the embedded synthetic data set if missing; return its root.

    The default root is kept up to date by `vosnb.data.build_synthetic` (idempotent: it leaves a complete set of
    the default config as it is). A `data_root` that already holds a synthetic set (perhaps built with other
    knobs by `vosnb data synth`) is used as it is.
    """
    root = synthetic_root(data_root)
    if data_root is None or not (root / "synthetic.json").is_file():
        vosnb.data.build_synthetic(root)
    return root


def validate(profile: str, dataset: str, data_root: str | Path | None, seed: int) -> None:
    """Refuse parameters the notebooks do not know, naming the parameter and the accepted values."""
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset={dataset!r} is not a data set; use one of {', '.join(DATASETS)}")
    if dataset == "davis2017" and data_root is None:
        raise DataError("dataset='davis2017' needs data_root: pass data_root='/path/to/DAVIS' (the folder holding "
                        "JPEGImages/ and Annotations/; `vosnb data download` fetches it)")
    if dataset == "davis2017" and not Path(data_root).expanduser().is_dir():
        raise DataError(f"data_root={str(data_root)!r} is not a folder; pass the DAVIS 2017 root "
                        f"(`vosnb data download` fetches it)")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")


@dataclass(frozen=True)
class NotebookContext:
    """Everything a notebook needs after `setup`: resolved parameters, the val split, its ledger and folders."""

    notebook: str
    profile: str
    dataset: str
    data_root: Path
    device: torch.device
    seed: int
    generator: torch.Generator = field(repr=False)
    val: vosnb.data.DavisDataset = field(repr=False)
    ledger: Ledger = field(repr=False)
    root: Path
    figures_dir: Path
    results_dir: Path

    def finish(self) -> ClaimsTable:
        """The notebook's last call: write its claims records to results/<notebook>.jsonl (only now, when every
        measurement has completed, so an interrupted run keeps the previous records) and return its claims table."""
        self.ledger.save()
        return self.ledger.table()

    def savefig(self, fig: Figure, name: str) -> None:
        """Write ``fig`` to figures/<notebook>/<name>.{png,svg} (`vosnb.plotting.savefig`) and show it here, once.

        In a notebook kernel the figure is displayed where this is called, whether it was built with pyplot or as a
        bare `Figure`, and a pyplot figure is then closed so the inline backend does not show it a second time.
        """
        plotting.savefig(fig, name, self.notebook, root=self.figures_dir.parent.parent)
        if _in_kernel():
            from IPython.display import display
            display(fig)
            plt.close(fig)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where figures and widgets are displayed), False in a script or terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _inline_figures() -> None:
    """In a notebook, show figures inline even when they are built without pyplot (Figure objects returned by
    vosnb functions); outside a kernel this does nothing."""
    if _in_kernel():
        from IPython import get_ipython
        get_ipython().run_line_magic("matplotlib", "inline")


def setup(notebook: str, profile: str = "ci", dataset: str = "synthetic", data_root: str | Path | None = None,
          device: str = "auto", seed: int = 0) -> NotebookContext:
    """Validate the notebook's parameters, prepare data, device, seeds and style; print one environment line."""
    if not _NOTEBOOK_NAME.match(notebook):
        raise ValueError(f"notebook={notebook!r} must be the notebook's file stem, e.g. '02_stcn_affinity_gini'")
    validate(profile, dataset, data_root, seed)
    seed = int(seed)
    # nbval compares the committed ci outputs with a fresh run on another machine: pin what decides the last bits
    # (threads, the math libraries' instruction-set paths; vosnb.runtime.pin_ci_numerics).
    pin_warning = pin_ci_numerics() if profile == "ci" else None
    root = repo_root()
    if dataset == "synthetic":
        resolved_root = ensure_synthetic(data_root)
    else:
        resolved_root = Path(data_root).expanduser().resolve()
    torch_device = resolve_device(device)
    generator = seed_everything(seed)
    plotting.use_style()
    _inline_figures()
    results_dir = output_root() / "results"
    ledger = Ledger(notebook, dataset=dataset, profile=profile, device=str(torch_device), seed=seed,
                    results_dir=results_dir, data_root=resolved_root)
    ctx = NotebookContext(
        notebook=notebook, profile=profile, dataset=dataset, data_root=resolved_root, device=torch_device, seed=seed,
        generator=generator, val=vosnb.data.DavisDataset(resolved_root, split="val"), ledger=ledger,
        root=root, figures_dir=output_root() / "figures" / notebook, results_dir=results_dir,
    )
    print(f"vosnb {vosnb.__version__} | torch {torch.__version__} | device {torch_device} | "
          f"threads {torch.get_num_threads()} | {dataset} data at {resolved_root}")
    if results_dir.parent.name == "scratch":
        print(f"results and figures go to {results_dir.parent} (the committed ones change only through "
              f"`vosnb reproduce`)")
    if pin_warning:
        print(f"warning: {pin_warning}")
    return ctx
