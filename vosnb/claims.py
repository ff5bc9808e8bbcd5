"""The claims ledger: every paper claim a notebook measures, with the verdict a rule computes.

The catalogue of claims is `vosnb/CLAIMS.md` (shipped with the package); an ID not in it is an error. A notebook
records a claim with a *rule* fixed before the measurement; the rule, not a person, turns the measured value (and,
when there is one, its 95% interval: a bootstrap over sequences or over timing repeats) into one of five verdicts:

- `reproduced`: the claimed direction, and the interval excludes no effect (for a claim that states a threshold,
  the threshold); where a rule judges magnitude, also within its tolerance;
- `inconclusive`: the interval contains no effect: the data cannot tell either way;
- `not reproduced`: the interval excludes no effect on the wrong side (or, without an interval, the value is on
  the wrong side; an exact value that differs);
- `direction only`: significant in the claimed direction, but the magnitude the rule judges is outside tolerance;
- `not run`: the inputs are missing (the reason is stored).

A notebook's records are written to results/<notebook>.jsonl (atomically) when the notebook completes
(`Ledger.save`, called by `NotebookContext.finish`), so an interrupted run leaves the previous records whole and
never touches another notebook's file. Each record carries its provenance (`vosnb.provenance`). Values are shown
with `DISPLAY_DIGITS` significant digits, the precision that survives another CPU's rounding; the files keep full
precision. `vosnb claims` prints them all.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

import vosnb
from vosnb import provenance
from vosnb.errors import ClaimError
from vosnb.plotting import VERDICT_COLORS
from vosnb.runtime import atomic_path, output_root

REPRODUCED = "reproduced"
INCONCLUSIVE = "inconclusive"
DIRECTION_ONLY = "direction only"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, INCONCLUSIVE, DIRECTION_ONLY, NOT_REPRODUCED, NOT_RUN)
DISPLAY_DIGITS = 3  # significant digits in claims tables (nbval compares them across machines)

TIMED = "⏱"  # prefix of machine-dependent numbers; tests/nbval_sanitize.cfg hides them, never a verdict
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
    """Display form: `DISPLAY_DIGITS` significant digits, lists bracketed; each number prefixed with ⏱ when
    `timed`."""
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
    text = str(value) if isinstance(value, int) else f"{value:.{DISPLAY_DIGITS}g}"
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
    """A difference d = A − B that the paper says is above `margin` (below −margin with `sign=-1`, see `Less`);
    `margin` is 0 ("no effect") unless the claim itself states a threshold.

    With an interval: reproduced iff it lies beyond the margin on the claimed side (and, when the paper's magnitude
    `expected` is judged, |d − expected| ≤ tolerance, else direction only); not reproduced iff it lies on the
    wrong side; inconclusive iff it contains the margin. Without an interval (a deterministic value): reproduced
    iff sign·d > margin (and the magnitude holds, else direction only if sign·d > 0); otherwise not reproduced.
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
        bound = f"{self.sign * self.margin + 0.0:g}"  # + 0.0: no "-0"
        text = f"interval {op} {bound}; inconclusive if it contains {bound} (no interval: d {op} {bound})"
        if self.expected is not None:
            text += f"; direction only unless |d − {self.expected:g}| ≤ {self.tolerance:g}"
        return text

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        d = _as_float(measured)
        bounds = _as_interval(interval)
        magnitude_ok = self.expected is None or abs(d - self.expected) <= self.tolerance
        if bounds is None:
            if self.sign * d > self.margin and magnitude_ok:
                return REPRODUCED
            return DIRECTION_ONLY if self.sign * d > 0 and self.expected is not None else NOT_REPRODUCED
        low, high = sorted(self.sign * b for b in bounds)
        if low <= self.margin <= high:
            return INCONCLUSIVE
        if high < self.margin:
            return NOT_REPRODUCED
        return REPRODUCED if magnitude_ok else DIRECTION_ONLY


@dataclass(frozen=True)
class Less(Greater):
    """`Greater` for a difference the paper says is negative (`expected`, if given, is negative)."""

    sign: Literal[1, -1] = -1


@dataclass(frozen=True)
class Ratio(Rule):
    """A ratio (speed-up, memory saving) the paper gives as `expected`; 1 is "no effect".

    With an interval: inconclusive iff it contains 1, not reproduced iff it lies on the other side of 1 than
    `expected`; otherwise reproduced iff the ratio is within `rel_tol` of `expected`, else direction only. Without
    an interval: reproduced iff within `rel_tol`, direction only iff on expected's side of 1, else not reproduced.
    """

    expected: float
    rel_tol: float

    def __post_init__(self) -> None:
        if not self.expected > 0 or self.expected == 1:
            raise ValueError(f"Ratio: expected must be > 0 and != 1 (use Flat for 'no change'), got {self.expected}")
        if self.rel_tol < 0:
            raise ValueError(f"Ratio: rel_tol must be >= 0, got {self.rel_tol}")

    def describe(self) -> str:
        side = ">" if self.expected > 1 else "<"
        return (f"interval {side} 1, inconclusive if it contains 1; ratio within ±{self.rel_tol * 100:g}% of "
                f"{self.expected:g}, else direction only")

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        ratio = _as_float(measured)
        side = 1.0 if self.expected > 1 else -1.0
        bounds = _as_interval(interval)
        if bounds is not None:
            low, high = sorted(side * (b - 1.0) for b in bounds)
            if low <= 0 <= high:
                return INCONCLUSIVE
            if high < 0:
                return NOT_REPRODUCED
        if abs(ratio / self.expected - 1.0) <= self.rel_tol:
            return REPRODUCED
        return DIRECTION_ONLY if side * (ratio - 1.0) > 0 else NOT_REPRODUCED


@dataclass(frozen=True)
class Flat(Rule):
    """"Stays flat as the setting grows": measured = relative change from the first to the last setting (see
    `relative_change`). Without an interval: reproduced iff |change| ≤ max_rel_change. With one: reproduced iff
    both ends are within the bound, not reproduced iff both lie beyond it on one side, else inconclusive."""

    max_rel_change: float

    def __post_init__(self) -> None:
        if self.max_rel_change < 0:
            raise ValueError(f"Flat: max_rel_change must be >= 0, got {self.max_rel_change}")

    def describe(self) -> str:
        return (f"|relative change| ≤ {self.max_rel_change * 100:g}% (the whole interval, if given; inconclusive "
                f"if the interval crosses the bound)")

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        change = _as_float(measured)
        bounds = _as_interval(interval)
        if bounds is None:
            return REPRODUCED if abs(change) <= self.max_rel_change else NOT_REPRODUCED
        low, high = bounds
        if -self.max_rel_change <= low and high <= self.max_rel_change:
            return REPRODUCED
        if low > self.max_rel_change or high < -self.max_rel_change:
            return NOT_REPRODUCED
        return INCONCLUSIVE


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
    time: str
    machine_dependent: bool = False
    timing: bool = False
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str) -> ClaimRecord:
        """Validate a stored record (`origin` names file and line in errors)."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n not in ("machine_dependent", "timing", "provenance")]
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
        return {"ID": self.id, "claim": _shorten(self.claim), "paper": format_value(self.paper_value),
                "measured": measured, "rule": self.rule, "verdict": verdict}


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: text.rfind(" ", 0, width - 1)].rstrip(",;:") + " …"


def sort_records(records: Iterable[ClaimRecord],
                 catalogue: Mapping[str, CatalogueEntry] | None = None) -> list[ClaimRecord]:
    """Catalogue order, then notebook, model and claim text."""
    order = {claim_id: i for i, claim_id in enumerate(load_catalogue() if catalogue is None else catalogue)}
    return sorted(records, key=lambda r: (order.get(r.id, len(order)), r.notebook, r.model or "", r.claim))


def _default_results_dir() -> Path:
    return output_root() / "results"


class ClaimsTable(Styler):
    """The closing claims table: a Styler whose plain-text form is the table itself, one " | "-separated line per
    claim without padding (so that a sanitised timing cannot shift the other columns)."""

    def __repr__(self) -> str:
        lines = [self.data.columns, *(row for row in self.data.itertuples(index=False))]
        return "\n".join(" | ".join(map(str, line)) for line in lines)


def render_table(records: Sequence[ClaimRecord], table_id: str, caption: str = "") -> ClaimsTable:
    """A Styler over the display columns, verdict cells tinted by verdict (`vosnb.plotting.VERDICT_COLORS`).

    Every verdict is tinted and compared by nbval, timings included: their rules judge the interval across
    repeats, so noise wider than the effect gives `inconclusive` rather than a verdict that flips.
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

    `record` judges and keeps a record in memory; `save` (called once, when the notebook completes) rewrites
    results/<notebook>.jsonl atomically with every record and the run's provenance, so an interrupted run leaves
    the previous file whole, a completed re-run replaces the notebook's old records, and other notebooks' files
    are never touched.
    """

    def __init__(self, notebook: str, dataset: str = "synthetic", model: str | None = None, profile: str = "ci",
                 device: str = "cpu", seed: int = 0, *, results_dir: Path | None = None,
                 data_root: Path | None = None, catalogue: Mapping[str, CatalogueEntry] | None = None) -> None:
        self.notebook, self.dataset, self.model = notebook, dataset, model
        self.profile, self.device, self.seed = profile, str(device), int(seed)
        self.results_dir = Path(results_dir) if results_dir is not None else _default_results_dir()
        self.data_root = data_root
        self.catalogue = load_catalogue() if catalogue is None else catalogue
        self._records: dict[tuple[str, str, str | None], ClaimRecord] = {}

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.notebook}.jsonl"

    @property
    def records(self) -> list[ClaimRecord]:
        return sort_records(self._records.values(), self.catalogue)

    def record(self, claim_id: str, paper_value: Any, measured: Any, rule: Rule, *, interval: Any = None,
               unit: str = "", model: str | None = None, claim: str | None = None,
               machine_dependent: bool = False, timing: bool = False) -> ClaimRecord:
        """Judge `measured` with `rule` and keep the record (written by `save`); return the record.

        `claim` defaults to the catalogue's text; pass a short sub-claim text to record several parts of one ID
        (recording the same ID, claim and model again replaces the earlier record). `machine_dependent` marks a
        value whose last digits depend on the machine (a round-off residual, a time): its numbers are shown with a
        ⏱ prefix that the nbval sanitiser hides, its verdict is compared. `timing` marks a timing (stored, so the
        ledger can tell them apart); it implies `machine_dependent` and, like it, never hides the verdict: a timing
        is judged on its interval across repeats (`vosnb.timing`).
        """
        entry = catalogue_entry(claim_id, self.catalogue)
        if not isinstance(rule, Rule):
            raise ClaimError(f"{claim_id}: rule must be a vosnb.claims rule (Exact, Greater, ...), got {rule!r}")
        bounds = _as_interval(interval)
        verdict = rule.verdict(measured, bounds)
        model = model if model is not None else self.model
        rec = ClaimRecord(
            id=claim_id, claim=claim or entry.claim, paper_value=_jsonable(paper_value), measured=_jsonable(measured),
            interval=list(bounds) if bounds else None, unit=unit, rule=rule.describe(), verdict=verdict,
            reason=rule.reason if isinstance(rule, NotRun) else "", dataset=self.dataset, model=model,
            profile=self.profile, device=self.device, seed=self.seed, notebook=self.notebook,
            time=provenance.utc_now(), machine_dependent=bool(machine_dependent or timing), timing=bool(timing),
        )
        self._records[(rec.id, rec.claim, rec.model)] = rec
        return rec

    def save(self) -> Path:
        """Rewrite results/<notebook>.jsonl with this ledger's records, each stamped with the provenance of this
        run (`vosnb.provenance.collect`: code, software, machine, data, checkpoints), atomically; return its path."""
        stamp = provenance.collect(Path(vosnb.__file__).parent, self.data_root)
        lines = [json.dumps({**r.to_dict(), "provenance": stamp}, ensure_ascii=False) + "\n" for r in self.records]
        with atomic_path(self.path) as tmp:
            tmp.write_text("".join(lines), encoding="utf-8")
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
