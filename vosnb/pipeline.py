"""`vosnb reproduce`: execute notebooks/NN_*.ipynb in order with papermill.

Executed copies go to build/notebooks/; with `--in-place` each committed notebook is replaced (atomically) by its
executed copy, cleaned of papermill's bookkeeping, and its py:percent twin is rewritten with jupytext. The
embedded synthetic data is built first when it is missing. A failing cell stops the run with an error naming the
notebook and the cell. At the ci profile the kernels start with the pinned numerics of `vosnb.runtime`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from vosnb import context
from vosnb.errors import DataError, VosnbError
from vosnb.runtime import OUTPUT_ROOT_ENV, atomic_path, ci_numerics_env, output_root, resolve_device

NOTEBOOK = re.compile(r"^(?P<number>\d{2})_[A-Za-z0-9_.-]+$")  # file stem of an ordered notebook
PARAMETERS = ("profile", "dataset", "data_root", "device", "seed")  # what `reproduce` passes, if declared
TWIN_FORMAT = "py:percent"
CELL_TIMEOUT_S = 1200  # the longest ci cell takes about 2 minutes alone; 10× leaves room for a loaded machine


class NotebookExecutionError(VosnbError):
    """A notebook cell raised; the message names the notebook, the cell and the executed copy."""


def list_notebooks(notebooks_dir: Path) -> list[Path]:
    """notebooks_dir/NN_*.ipynb in order."""
    return sorted(p for p in Path(notebooks_dir).glob("*.ipynb") if NOTEBOOK.match(p.stem))


def select(notebooks: list[Path], only: str | None) -> list[Path]:
    """The notebooks whose two-digit numbers are listed in `only` ("00,02"); all of them when `only` is None."""
    if only is None:
        return notebooks
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    numbers = {NOTEBOOK.match(p.stem)["number"]: p for p in notebooks}
    unknown = [n for n in wanted if n not in numbers]
    if unknown or not wanted:
        raise VosnbError(f"--only {only!r}: no notebook numbered {', '.join(unknown) or '(none given)'}; "
                         f"available: {', '.join(numbers) or 'none'}")
    return [numbers[n] for n in sorted(set(wanted))]


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged `parameters`."""
    return set(papermill.inspect_notebook(str(notebook)))


class CellProgress:
    """Says what a running notebook is doing: a line when each cell starts (cell i of n, the section heading above
    it and its first line, elapsed time), and a "still running" line every `heartbeat` seconds of a long cell."""

    def __init__(self, notebook: str, cells: list[nbformat.NotebookNode], heartbeat: float = 30.0,
                 write: Callable[[str], None] = tqdm.write) -> None:
        self.notebook, self.write, self.heartbeat = notebook, write, heartbeat
        self.labels = self._labels(cells)
        self.start = time.perf_counter()
        self._current, self._started, self._stop = "", 0, False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    @staticmethod
    def _labels(cells: list[nbformat.NotebookNode]) -> list[str]:
        """Per code cell: "§ <latest heading> | <first code line>"."""
        heading, labels = "", []
        for cell in cells:
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            if cell.cell_type == "markdown":
                heading = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), heading)
            elif cell.cell_type == "code":
                first = next((line for line in lines if not line.startswith("#")), lines[0] if lines else "")
                labels.append(f"{heading[:50]} | {first[:60]}" if heading else first[:60])
        return labels

    @property
    def current(self) -> str:
        """The cell running now, as reported ("cell 3/12 <heading> | <first line>")."""
        return self._current or "the first cell"

    def elapsed(self) -> str:
        seconds = int(time.perf_counter() - self.start)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def on_cell_start(self, cell: nbformat.NotebookNode, cell_index: int) -> None:
        if cell.cell_type != "code" or "injected-parameters" in cell.metadata.get("tags", ()):
            return
        label = self.labels[self._started] if self._started < len(self.labels) else ""
        self._started += 1
        self._current = f"cell {self._started}/{len(self.labels)} {label}"
        self.write(f"  {self.notebook} [{self.elapsed()}] {self._current}")
        self._wake.set()

    def _beat(self) -> None:
        while not self._stop:
            self._wake.clear()
            if not self._wake.wait(self.heartbeat) and not self._stop:
                self.write(f"  {self.notebook} [{self.elapsed()}] still running {self._current}")

    def __enter__(self) -> CellProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join()


def execute(notebook: Path, output: Path, parameters: dict[str, Any], progress: bool = True) -> float:
    """Run `notebook` with papermill into `output` (working directory: the notebook's folder); return seconds.

    Only the parameters the notebook declares are injected. With `progress`, each cell and every 30 s of a long
    cell are reported (`CellProgress`). The kernel logs only errors (not, e.g., its notice that it talks to this
    process over local TCP without encryption). A cell that runs longer than `CELL_TIMEOUT_S` stops the run with
    an error: once, under heavy load, a kernel finished a cell and its reply never arrived, and the run waited
    with both sides idle.
    """
    declared = declared_parameters(notebook)
    injected = {k: v for k, v in parameters.items() if k in declared}
    output.parent.mkdir(parents=True, exist_ok=True)
    cells = nbformat.read(notebook, as_version=4).cells
    reporter = CellProgress(notebook.stem, cells, write=tqdm.write if progress else lambda line: None)
    start = time.perf_counter()
    try:
        with reporter:
            papermill.execute_notebook(str(notebook), str(output), parameters=injected, cwd=str(notebook.parent),
                                       progress_bar=False, log_output=False, on_cell_start=reporter.on_cell_start,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                       execution_timeout=CELL_TIMEOUT_S)
    except PapermillExecutionError as exc:
        raise NotebookExecutionError(_describe_failure(notebook, output, exc)) from None
    except TimeoutError:
        raise NotebookExecutionError(f"notebook {notebook.name}: {reporter.current} did not finish within "
                                     f"{CELL_TIMEOUT_S} s; the executed copy so far is {output}") from None
    return time.perf_counter() - start


def _describe_failure(notebook: Path, output: Path, exc: PapermillExecutionError) -> str:
    sources = [c.source for c in nbformat.read(notebook, as_version=4).cells]
    cell = sources.index(exc.source) if exc.source in sources else exc.cell_index
    first_line = next((line for line in exc.source.splitlines() if line.strip()), "")
    return (f"notebook {notebook.name} failed in cell {cell} (In [{exc.exec_count}]: {first_line!r}): "
            f"{exc.ename}: {exc.evalue}; the executed copy with the traceback is {output}")


def twin_of(notebook: Path) -> Path:
    return notebook.with_suffix(".py")


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.rstrip(), tuple(sorted(c.metadata.get("tags", ())))) for c in nb.cells]


def pair_problems(notebooks_dir: Path, stems: set[str] | None = None) -> list[str]:
    """What is wrong with the ipynb / py:percent pairs of notebooks_dir (or only those in `stems`): a missing
    side, or cell sources (type, text, tags) that differ. Empty when every pair is in sync."""
    notebooks_dir = Path(notebooks_dir)
    found = {p.stem for p in notebooks_dir.glob("*.ipynb")} | {p.stem for p in notebooks_dir.glob("*.py")}
    problems = []
    for stem in sorted(s for s in found if NOTEBOOK.match(s) and (stems is None or s in stems)):
        notebook, twin = notebooks_dir / f"{stem}.ipynb", notebooks_dir / f"{stem}.py"
        if not twin.is_file():
            problems.append(f"{notebook} has no py:percent twin; "
                            f"run `jupytext --set-formats ipynb,py:percent {notebook}`")
            continue
        if not notebook.is_file():
            problems.append(f"{twin} has no notebook; run `jupytext --to ipynb {twin}`")
            continue
        ours = _cells(nbformat.read(notebook, as_version=4))
        theirs = _cells(jupytext.read(twin, fmt=TWIN_FORMAT))
        if ours != theirs:
            first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            problems.append(f"{notebook.name} and {twin.name} differ from cell {first} on ({len(ours)} vs "
                            f"{len(theirs)} cells); run `jupytext --sync {notebook}`")
    return problems


def publish(executed: Path, notebook: Path) -> None:
    """Replace `notebook` by its executed copy, without papermill's injected cell and run metadata (timestamps,
    absolute paths), and rewrite its py:percent twin; both atomically."""
    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", ())]
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    with atomic_path(notebook) as tmp:
        nbformat.write(nb, tmp)
    with atomic_path(twin_of(notebook)) as tmp:
        jupytext.write(nb, tmp, fmt=TWIN_FORMAT)


def reproduce(profile: str = "ci", dataset: str = "synthetic", data_root: Path | None = None, device: str = "auto",
              seed: int = 0, only: str | None = None, in_place: bool = False,
              root: Path | None = None) -> dict[str, float]:
    """Execute the selected notebooks of <root>/notebooks in order; return {notebook: seconds}."""
    if dataset == "davis2017" and data_root is None:
        raise DataError("--dataset davis2017 needs --data-root DIR (the DAVIS 2017 folder with JPEGImages/ and "
                        "Annotations/; `vosnb data download` fetches it)")
    context.validate(profile, dataset, data_root, seed)
    try:
        resolve_device(device)
    except ValueError as exc:
        raise VosnbError(f"--device {device}: {exc}") from None
    root = context.repo_root() if root is None else Path(root)
    notebooks = select(list_notebooks(root / "notebooks"), only)
    if not notebooks:
        raise VosnbError(f"no notebooks/NN_*.ipynb under {root}; nothing to reproduce")
    if in_place:
        problems = pair_problems(root / "notebooks", {p.stem for p in notebooks})
        if problems:
            raise VosnbError("--in-place would overwrite a py:percent twin that is out of sync:\n"
                             + "\n".join(problems))
    if dataset == "synthetic":
        context.ensure_synthetic(data_root if data_root is not None else root / "data" / "synthetic")
    if profile == "ci":
        os.environ.update(ci_numerics_env())  # inherited by the kernels: pinned before their first computation
    # The one command that writes the committed results/ and figures/ (unless told otherwise, as the tests do).
    os.environ.setdefault(OUTPUT_ROOT_ENV, str(root))
    parameters = {"profile": profile, "dataset": dataset, "device": device, "seed": seed,
                  "data_root": str(Path(data_root).expanduser().resolve()) if data_root is not None else None}
    timings: dict[str, float] = {}
    for notebook in tqdm(notebooks, desc="reproduce", unit="notebook"):
        executed = root / "build" / "notebooks" / notebook.name
        timings[notebook.stem] = execute(notebook, executed, parameters)
        if in_place:
            publish(executed, notebook)
        tqdm.write(f"{notebook.stem}: done in {timings[notebook.stem]:.0f} s{verdict_counts(notebook.stem)}")
    return timings


def verdict_counts(notebook: str) -> str:
    """", claims: 3 reproduced, 2 inconclusive, ..." for the records the notebook just wrote (empty if none)."""
    path = output_root() / "results" / f"{notebook}.jsonl"
    if not path.is_file():
        return ""
    verdicts = Counter(json.loads(line)["verdict"] for line in path.read_text(encoding="utf-8").splitlines()
                       if line.strip())
    return "; claims: " + ", ".join(f"{n} {v}" for v, n in verdicts.most_common())


def run(args: argparse.Namespace) -> int:
    timings = reproduce(profile=args.profile, dataset=args.dataset, data_root=args.data_root, device=args.device,
                        seed=args.seed, only=args.only, in_place=args.in_place)
    print(f"executed {len(timings)} notebook(s) in {sum(timings.values()) / 60:.1f} min; results and figures in "
          f"{output_root()}")
    return 0
