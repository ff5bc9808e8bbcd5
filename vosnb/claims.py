"""The claims ledger: every paper claim a notebook measures, with the verdict a rule computes.

The catalogue of claims is `vosnb/CLAIMS.md` (shipped with the package); an ID not in it is an error. A notebook
records a claim with a *rule* fixed before the measurement; the rule, not a person, turns the measured value (and,
when there is one, its bootstrap interval over sequences) into one of four verdicts:

- `reproduced`: direction and magnitude within the rule's tolerance;
- `direction only`: same sign / same side as the paper, magnitude outside the tolerance or not significant;
- `not reproduced`: opposite or no effect;
- `not run`: the inputs are missing (the reason is stored).

Records are JSON lines in results/<notebook>.jsonl, rewritten atomically each time the notebook's ledger changes,
so re-running a notebook replaces its own records and never another notebook's. `vosnb claims` prints them all.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import re
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from vosnb.errors import ClaimError
from vosnb.plotting import VERDICT_COLORS
from vosnb.runtime import atomic_path

REPRODUCED = "reproduced"
DIRECTION_ONLY = "direction only"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, DIRECTION_ONLY, NOT_REPRODUCED, NOT_RUN)

TIMED = "⏱"  # prefix of machine-dependent values; tests/nbval_sanitize.cfg hides what follows it
CATALOGUE_PATH = Path(__file__).with_name("CLAIMS.md")
_ID = re.compile(r"^[A-Z]+-\d+$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


# --------------------------------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class CatalogueEntry:
    """One row of a CLAIMS.md table (`source` and `paper_value` are empty for the collection's own claims)."""

    id: str
    section: str
    source: str
    claim: str
    paper_value: str
    kind: str


def parse_catalogue(text: str, origin: str = "CLAIMS.md") -> dict[str, CatalogueEntry]:
    """Parse the markdown tables of a claims catalogue into {ID: entry}, in catalogue order."""
    entries: dict[str, CatalogueEntry] = {}
    section, header = "", None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            section, header = line.lstrip("#").strip(), None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip("|"))]
        if header is None:
            header = [c.lower() for c in cells]
            if "id" not in header or "claim" not in header:
                raise ClaimError(f"{origin}:{lineno}: a claims table needs 'ID' and 'claim' columns, got {cells}")
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue  # the |---|---| separator
        if len(cells) != len(header):
            raise ClaimError(f"{origin}:{lineno}: {len(cells)} cells for the {len(header)} columns {header}")
        row = dict(zip(header, cells))
        claim_id = row["id"]
        if not _ID.match(claim_id):
            raise ClaimError(f"{origin}:{lineno}: {claim_id!r} is not a claim ID like 'STCN-4'")
        if claim_id in entries:
            raise ClaimError(f"{origin}:{lineno}: claim ID {claim_id} appears twice")
        entries[claim_id] = CatalogueEntry(id=claim_id, section=section, source=row.get("source", ""),
                                           claim=row["claim"], paper_value=row.get("paper value", ""),
                                           kind=row.get("kind", ""))
    if not entries:
        raise ClaimError(f"{origin}: no claims tables found")
    return entries


@functools.cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Mapping[str, CatalogueEntry]:
    """The catalogue at `path` (default: the copy shipped in the package), parsed once."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ClaimError(f"cannot read the claims catalogue {path}: {exc.strerror}; reinstall vosnb") from exc
    return parse_catalogue(text, origin=str(path))


def catalogue_entry(claim_id: str, catalogue: Mapping[str, CatalogueEntry] | None = None) -> CatalogueEntry:
    """The catalogue row of `claim_id`; a ClaimError naming the catalogue if there is none."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    try:
        return catalogue[claim_id]
    except KeyError:
        raise ClaimError(f"claim ID {claim_id!r} is not in the catalogue {CATALOGUE_PATH.name}; "
                         f"known IDs: {', '.join(catalogue)}") from None


# --------------------------------------------------------------------------------------------------- values
def _as_float(value: Any, what: str = "measured") -> float:
    """A single real number, or a ClaimError saying what was given instead."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ClaimError(f"{what} must be a single number, got {value!r}; record a missing value with NotRun(reason)")
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise ClaimError(f"{what} must be a single number, got {value!r}")
    return float(arr.reshape(()))


def _as_interval(interval: Any) -> tuple[float, float] | None:
    """(low, high) from a pair or an object with .low/.high; None stays None."""
    if interval is None:
        return None
    if hasattr(interval, "low") and hasattr(interval, "high"):
        interval = (interval.low, interval.high)
    if isinstance(interval, (str, bytes)) or np.asarray(interval, dtype=object).shape != (2,):
        raise ClaimError("interval must be [low, high] (from `estimate, low, high = vosnb.metrics.bootstrap_ci(...)`), "
                         f"got {interval!r}")
    low, high = (_as_float(v, "interval bound") for v in interval)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ClaimError(f"interval must be finite with low <= high, got [{low}, {high}]")
    return low, high


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy/torch values to Python, tuples to lists, non-finite floats to 'nan'/'inf'."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    raise ClaimError(f"cannot store {value!r} ({type(value).__name__}) in the ledger; use numbers, lists or strings")


def format_value(value: Any, timed: bool = False) -> str:
    """Display form: 4 significant digits, lists bracketed; each number prefixed with ⏱ when `timed`."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v, timed) for v in value) + "]"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v, timed)}" for k, v in value.items())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    text = str(value) if isinstance(value, int) else f"{value:.4g}"
    return f"{TIMED} {text}" if timed else text


def relative_change(values: Sequence[float]) -> float:
    """(last − first) / first: the measured value of a "stays flat as the setting grows" claim (see `Flat`)."""
    first, last = _as_float(values[0], "first value"), _as_float(values[-1], "last value")
    if first == 0:
        raise ClaimError("relative_change: the first value is 0, so a relative change is undefined")
    return (last - first) / first


# --------------------------------------------------------------------------------------------------- rules
class Rule(ABC):
    """A verdict rule, fixed before the measurement. `describe()` is stored in the record."""

    @abstractmethod
    def describe(self) -> str:
        """One line saying when the claim counts as reproduced."""

    @abstractmethod
    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        """One of VERDICTS, computed from the measured value (and its interval, if any)."""


@dataclass(frozen=True)
class Exact(Rule):
    """Mathematics or counting: reproduced iff close to `expected` (elementwise; strings must be equal)."""

    expected: Any
    atol: float = 1e-6
    rtol: float = 0.0

    def describe(self) -> str:
        if isinstance(self.expected, str):
            return f"equals {self.expected!r}"
        return f"equals {format_value(self.expected)} (atol {self.atol:g}, rtol {self.rtol:g})"

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        if isinstance(self.expected, str) or isinstance(measured, str):
            return REPRODUCED if measured == self.expected else NOT_REPRODUCED
        if measured is None:
            raise ClaimError("measured is None; record a missing value with NotRun(reason)")
        got, want = np.asarray(measured), np.asarray(self.expected)
        if got.dtype.kind not in "biuf":
            raise ClaimError(f"measured must be numbers for Exact, got {measured!r}")
        if got.shape != want.shape:
            return NOT_REPRODUCED
        close = np.allclose(got.astype(float), want.astype(float), atol=self.atol, rtol=self.rtol, equal_nan=False)
        return REPRODUCED if close else NOT_REPRODUCED


@dataclass(frozen=True)
class Greater(Rule):
    """A difference d = A − B that the paper says is positive (negative with `sign=-1`, see `Less`).

    reproduced: sign·d > margin, the interval (if given) excludes 0 on the claimed side, and, when the paper's
    magnitude `expected` is given, |d − expected| ≤ tolerance. direction only: sign·d > 0 but one of those fails.
    not reproduced: otherwise.
    """

    margin: float = 0.0
    expected: float | None = None
    tolerance: float | None = None
    sign: Literal[1, -1] = 1

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.sign not in (1, -1):
            raise ValueError(f"{name}: sign must be 1 or -1, got {self.sign!r}")
        if self.margin < 0:
            raise ValueError(f"{name}: margin must be >= 0 (a magnitude), got {self.margin}")
        if (self.expected is None) != (self.tolerance is None):
            raise ValueError(f"{name}: give both expected and tolerance, or neither")
        if self.expected is not None and (self.sign * self.expected <= 0 or self.tolerance < 0):
            raise ValueError(f"{name}: expected={self.expected} contradicts the claimed sign, or tolerance < 0")

    def describe(self) -> str:
        op = ">" if self.sign > 0 else "<"
        text = f"d {op} {self.sign * self.margin + 0.0:g} (interval {op} 0 if given)"  # + 0.0: no "-0"
        if self.expected is not None:
            text += f", |d − {self.expected:g}| ≤ {self.tolerance:g}"
        return f"{text}; direction only if d {op} 0"

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        d = _as_float(measured)
        signed = self.sign * d
        bounds = _as_interval(interval)
        significant = bounds is None or min(self.sign * b for b in bounds) > 0
        magnitude_ok = self.expected is None or abs(d - self.expected) <= self.tolerance
        if signed > self.margin and significant and magnitude_ok:
            return REPRODUCED
        return DIRECTION_ONLY if signed > 0 else NOT_REPRODUCED


@dataclass(frozen=True)
class Less(Greater):
    """`Greater` for a difference the paper says is negative (`expected`, if given, is negative)."""

    sign: Literal[1, -1] = -1


@dataclass(frozen=True)
class Ratio(Rule):
    """A ratio (speed-up, memory saving): reproduced iff within `rel_tol` of `expected` (and the interval, if
    given, lies on expected's side of 1); direction only iff on the same side of 1 as `expected`."""

    expected: float
    rel_tol: float

    def __post_init__(self) -> None:
        if not self.expected > 0 or self.expected == 1:
            raise ValueError(f"Ratio: expected must be > 0 and != 1 (use Flat for 'no change'), got {self.expected}")
        if self.rel_tol < 0:
            raise ValueError(f"Ratio: rel_tol must be >= 0, got {self.rel_tol}")

    def describe(self) -> str:
        side = ">" if self.expected > 1 else "<"
        return (f"ratio within ±{self.rel_tol * 100:g}% of {self.expected:g} (interval {side} 1 if given); "
                f"direction only if ratio {side} 1")

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        ratio = _as_float(measured)
        side = 1.0 if self.expected > 1 else -1.0
        bounds = _as_interval(interval)
        significant = bounds is None or min(side * (b - 1.0) for b in bounds) > 0
        if abs(ratio / self.expected - 1.0) <= self.rel_tol and significant:
            return REPRODUCED
        return DIRECTION_ONLY if side * (ratio - 1.0) > 0 else NOT_REPRODUCED


@dataclass(frozen=True)
class Flat(Rule):
    """"Stays flat as the setting grows": measured = relative change from the first to the last setting (see
    `relative_change`); reproduced iff |change| ≤ max_rel_change (both interval ends too, if given)."""

    max_rel_change: float

    def __post_init__(self) -> None:
        if self.max_rel_change < 0:
            raise ValueError(f"Flat: max_rel_change must be >= 0, got {self.max_rel_change}")

    def describe(self) -> str:
        return f"|relative change| ≤ {self.max_rel_change * 100:g}% (both interval ends too, if given)"

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        change = _as_float(measured)
        bounds = _as_interval(interval)
        worst = max([abs(change)] + [abs(b) for b in bounds or ()])
        return REPRODUCED if worst <= self.max_rel_change else NOT_REPRODUCED


@dataclass(frozen=True)
class NotRun(Rule):
    """The claim could not be measured here (no data, no weights, no GPU); `reason` says why and how to run it."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("NotRun: give the reason the claim was not run (and what would run it)")

    def describe(self) -> str:
        return "not measured (see verdict)"

    def verdict(self, measured: Any = None, interval: tuple[float, float] | None = None) -> str:
        return NOT_RUN


# --------------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ClaimRecord:
    """One line of results/<notebook>.jsonl."""

    id: str
    claim: str
    paper_value: Any
    measured: Any
    interval: list[float] | None
    unit: str
    rule: str
    verdict: str
    reason: str
    dataset: str
    model: str | None
    profile: str
    device: str
    seed: int
    notebook: str
    commit: str
    time: str
    machine_dependent: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str) -> ClaimRecord:
        """Validate a stored record (`origin` names file and line in errors)."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n != "machine_dependent"]
        if missing:
            raise ClaimError(f"{origin}: record lacks {', '.join(missing)}; re-run its notebook")
        if data["verdict"] not in VERDICTS:
            raise ClaimError(f"{origin}: verdict {data['verdict']!r} is not one of {', '.join(VERDICTS)}")
        return cls(**{n: data[n] for n in names if n in data})

    def display_row(self) -> dict[str, str]:
        """The claims table's columns: ID, claim, paper, measured (with interval), rule, verdict."""
        timed = self.machine_dependent
        measured = format_value(self.measured, timed)
        if self.unit and self.measured is not None:
            measured += f" {self.unit}"
        if self.interval is not None:
            measured += f" [{format_value(self.interval[0], timed)}, {format_value(self.interval[1], timed)}]"
        verdict = f"{NOT_RUN}: {self.reason}" if self.verdict == NOT_RUN else self.verdict
        if timed and self.verdict != NOT_RUN:
            verdict = f"{TIMED} {verdict}"
        return {"ID": self.id, "claim": _shorten(self.claim), "paper": format_value(self.paper_value),
                "measured": measured, "rule": self.rule, "verdict": verdict}


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: text.rfind(" ", 0, width - 1)].rstrip(",;:") + " …"


def sort_records(records: Iterable[ClaimRecord],
                 catalogue: Mapping[str, CatalogueEntry] | None = None) -> list[ClaimRecord]:
    """Catalogue order, then notebook, model and claim text."""
    order = {claim_id: i for i, claim_id in enumerate(load_catalogue() if catalogue is None else catalogue)}
    return sorted(records, key=lambda r: (order.get(r.id, len(order)), r.notebook, r.model or "", r.claim))


def git_commit(where: Path) -> str:
    """`git rev-parse HEAD` run in the nearest existing folder of `where`; "unknown" on any failure."""
    folder = next((p for p in (where, *where.parents) if p.is_dir()), Path.cwd())
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _default_results_dir() -> Path:
    from vosnb.context import repo_root  # context builds on this module; resolve the root lazily

    return repo_root() / "results"


class ClaimsTable(Styler):
    """The closing claims table: a Styler whose plain-text form is the table itself, one " | "-separated line per
    claim without padding (so that a sanitised timing cannot shift the other columns)."""

    def __repr__(self) -> str:
        lines = [self.data.columns, *(row for row in self.data.itertuples(index=False))]
        return "\n".join(" | ".join(map(str, line)) for line in lines)


def render_table(records: Sequence[ClaimRecord], table_id: str, caption: str = "") -> ClaimsTable:
    """A Styler over the display columns, verdict cells tinted by verdict (`vosnb.plotting.VERDICT_COLORS`).

    Verdicts of machine-dependent claims (⏱) stay untinted: a tint would differ between machines in the HTML
    that nbval compares, where the sanitiser can only hide the text.
    """
    columns = ["ID", "claim", "paper", "measured", "rule", "verdict"]
    frame = pd.DataFrame([r.display_row() for r in records], columns=columns)

    def tint(verdict: str) -> str:
        key = verdict.split(":")[0]
        return f"background-color: {VERDICT_COLORS[key]}; color: #000000" if key in VERDICT_COLORS else ""

    styler = ClaimsTable(frame, uuid=re.sub(r"[^A-Za-z0-9_]", "_", table_id), caption=caption or None)
    return (styler.hide(axis="index")
            .map(tint, subset=["verdict"])
            .set_properties(**{"text-align": "left", "vertical-align": "top"})
            .set_table_styles([{"selector": "th", "props": "text-align: left;"}]))


# --------------------------------------------------------------------------------------------------- ledger
class Ledger:
    """The claims one notebook measured, bound to its data set, profile, device and seed.

    Every `record` rewrites results/<notebook>.jsonl atomically, so the file always mirrors this ledger: a re-run
    replaces the notebook's old records, and other notebooks' files are never touched.
    """

    def __init__(self, notebook: str, dataset: str = "synthetic", model: str | None = None, profile: str = "ci",
                 device: str = "cpu", seed: int = 0, *, results_dir: Path | None = None,
                 catalogue: Mapping[str, CatalogueEntry] | None = None) -> None:
        self.notebook, self.dataset, self.model = notebook, dataset, model
        self.profile, self.device, self.seed = profile, str(device), int(seed)
        self.results_dir = Path(results_dir) if results_dir is not None else _default_results_dir()
        self.catalogue = load_catalogue() if catalogue is None else catalogue
        self._records: dict[tuple[str, str, str | None], ClaimRecord] = {}
        self._commit: str | None = None

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.notebook}.jsonl"

    @property
    def records(self) -> list[ClaimRecord]:
        return sort_records(self._records.values(), self.catalogue)

    def record(self, claim_id: str, paper_value: Any, measured: Any, rule: Rule, *, interval: Any = None,
               unit: str = "", model: str | None = None, claim: str | None = None,
               machine_dependent: bool = False) -> ClaimRecord:
        """Judge `measured` with `rule`, store the record and save the ledger; return the record.

        `claim` defaults to the catalogue's text; pass a short sub-claim text to record several parts of one ID
        (recording the same ID, claim and model again replaces the earlier record). `machine_dependent` marks
        timings: they are shown with a ⏱ prefix that the nbval sanitiser hides.
        """
        entry = catalogue_entry(claim_id, self.catalogue)
        if not isinstance(rule, Rule):
            raise ClaimError(f"{claim_id}: rule must be a vosnb.claims rule (Exact, Greater, ...), got {rule!r}")
        bounds = _as_interval(interval)
        verdict = rule.verdict(measured, bounds)
        model = model if model is not None else self.model
        if self._commit is None:
            self._commit = git_commit(self.results_dir)
        rec = ClaimRecord(
            id=claim_id, claim=claim or entry.claim, paper_value=_jsonable(paper_value), measured=_jsonable(measured),
            interval=list(bounds) if bounds else None, unit=unit, rule=rule.describe(), verdict=verdict,
            reason=rule.reason if isinstance(rule, NotRun) else "", dataset=self.dataset, model=model,
            profile=self.profile, device=self.device, seed=self.seed, notebook=self.notebook, commit=self._commit,
            time=_utc_now(), machine_dependent=bool(machine_dependent),
        )
        self._records[(rec.id, rec.claim, rec.model)] = rec
        self.save()
        return rec

    def save(self) -> Path:
        """Rewrite results/<notebook>.jsonl with this ledger's records (atomically); return its path."""
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in self.records),
                           encoding="utf-8")
        return self.path

    def table(self) -> ClaimsTable:
        """The notebook's closing claims table."""
        caption = f"Claims measured by {self.notebook} ({self.dataset}, profile {self.profile})"
        return render_table(self.records, f"claims_{self.notebook}", caption)


def load_results(results_dir: Path, catalogue: Mapping[str, CatalogueEntry] | None = None) -> list[ClaimRecord]:
    """All records of results_dir/*.jsonl in catalogue order; a ClaimError names any bad file and line."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ClaimError(f"results folder {results_dir} does not exist; run `vosnb reproduce` or pass --results DIR")
    records = []
    for path in sorted(results_dir.glob("*.jsonl")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            origin = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClaimError(f"{origin}: not JSON ({exc.msg}); re-run notebook {path.stem}") from None
            if not isinstance(data, dict):
                raise ClaimError(f"{origin}: a record must be a JSON object; re-run notebook {path.stem}")
            if data.get("id") not in catalogue:
                raise ClaimError(f"{origin}: claim ID {data.get('id')!r} is not in the catalogue; "
                                 f"re-run notebook {path.stem} or delete {path.name}")
            records.append(ClaimRecord.from_dict(data, origin))
    return sort_records(records, catalogue)


# --------------------------------------------------------------------------------------------------- command line
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="plain-text table (default), CSV with every field, or a JSON list of records")
    parser.add_argument("--results", type=Path, default=None, help="folder of <notebook>.jsonl (default: results/)")


def run(args: argparse.Namespace) -> int:
    results_dir = args.results if args.results is not None else _default_results_dir()
    records = load_results(results_dir)
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=[f.name for f in dataclasses.fields(ClaimRecord)])
        writer.writeheader()
        for r in records:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in r.to_dict().items()})
    elif not records:
        print(f"no claims recorded in {results_dir}; run `vosnb reproduce` first")
    else:
        rows = [{**r.display_row(), "dataset": r.dataset, "model": r.model or "", "profile": r.profile,
                 "notebook": r.notebook} for r in records]
        frame = pd.DataFrame(rows)[["ID", "verdict", "measured", "paper", "dataset", "model", "profile", "notebook",
                                    "claim"]]
        with pd.option_context("display.max_colwidth", 60, "display.width", 200):
            print(frame.to_string(index=False))
    return 0
