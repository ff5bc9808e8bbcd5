"""The claims ledger: every paper claim a notebook measures, with the verdict a rule computes.

The catalogue of claims is `vosnb/claims.yaml` (shipped with the package; `vosnb/CLAIMS.md` is rendered from it by
`render_catalogue_md`): per ID the claim, its source, the paper's value, its kind, its evidence and its rules, one
named rule per recorded sub-claim. A notebook supplies only measurements: `ledger.record(claim_id, sub_claim,
measured, interval=...)`; the rule comes from the catalogue, and it, not a person, turns the measured value (and,
when there is one, its 95% interval: a bootstrap over sequences or over timing repeats) into one of five verdicts:

- `reproduced`: the claimed direction, and the interval excludes no effect (for a claim that states a threshold,
  the threshold); where magnitude is judged, also within its tolerance;
- `inconclusive`: the interval contains no effect (or the stated threshold): the data cannot tell either way;
- `not reproduced`: the interval excludes no effect on the wrong side (or, without an interval, the value is on
  the wrong side); an exact value that differs;
- `direction only`: only where magnitude is judged: significant in the claimed direction, magnitude outside
  tolerance;
- `not run`: the inputs are missing (the reason and the command that would run it are stored).

One convention per kind, the same for every claim (docs/DESIGN.md, "Claims"):

- *exact* claims (mathematics, counting): the tolerance is float precision only (`atol` in the catalogue, at
  most `MAX_EXACT_ATOL`);
- *relative* claims on data other than the paper's: direction and significance only; the paper's magnitude is
  shown beside ours, not judged. On the paper's own data (`PAPER_DATASET` with the authors' weights) magnitude is
  judged too, with one tolerance per unit (`MAGNITUDE_TOLERANCE`);
- *absolute* claims (a number on the paper's data): within the unit's tolerance of the paper's number;
- "stays flat" claims: |relative change| within `FLAT_BOUND` (10%, ZOO-2's bound), judged on the whole interval;
- timings: a band of ±`TIMING_RESOLUTION` (10%) around the rule's bound cannot be told, and a flat timing's bound is
  `TIMING_FLAT_BOUND` (25%), both measured from A/A comparisons on this machine.

Each record also says what kind of evidence it is: a `finding` (an empirical result) or a `check` (of our own
arithmetic or configuration: it cannot come out otherwise when the code is right).

A notebook's records are written to results/<notebook>.jsonl (atomically) when the notebook completes
(`Ledger.save`, called by `NotebookContext.finish`), so an interrupted run leaves the previous records whole and
never touches another notebook's file. Each record carries its provenance (`vosnb.provenance`). A value with an
interval is shown to the precision the interval supports (`format_measurement`), one without to `DISPLAY_DIGITS`
significant digits: the precision that survives another CPU's rounding; the files keep full precision. `vosnb claims` prints them all, with a `not run` row for every catalogue ID without a record.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import os
import re
import sys
import textwrap
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pandas.io.formats.style import Styler

import vosnb
from vosnb import provenance
from vosnb.errors import ClaimError
from vosnb.options import DIRECTION_ONLY, INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, VERDICTS
from vosnb.plotting import VERDICT_COLORS
from vosnb.runtime import OUTPUT_ROOT_ENV, atomic_path, output_root, repo_root

FINDING, CHECK = "finding", "check"
EVIDENCE = (FINDING, CHECK)
KINDS = ("exact", "relative", "absolute")
DISPLAY_DIGITS = 3  # significant digits in claims tables (nbval compares them across machines)

PAPER_DATASET = "davis2017"  # with the authors' weights, the papers' own setting: magnitude is judged there
MAGNITUDE_TOLERANCE: Mapping[str, float] = {
    "points": 1.0,  # J&F, J and any other 0–100 score: the papers print one decimal; DAVIS reruns differ by ~0.5
    "ratio": 0.20,  # relative to the paper's ratio: FPS ratios move this much between GPUs and implementations
    "relative change": 0.10,  # absolute, on (last − first) / first
}
"""The one tolerance per unit for magnitudes judged on the paper's own data (and for absolute claims)."""
FLAT_BOUND = 0.10  # "stays flat": |relative change| ≤ 10% (ZOO-2's bound), for every such claim
TIMING_RESOLUTION = 0.10
"""What a timing can resolve between runs on a shared 2-core machine, as a relative change: around a timed rule's
bound (no effect, or the flat bound) a band of ± this much counts as "cannot tell". Measured, not chosen: in an A/A
comparison at the paper's shapes (`benchmarks/bench_noise_floor.py`: each memory strategy built twice, identically,
and timed against itself in 15 shuffled rounds on one thread, in 6 fresh processes; results in
`benchmarks/results/noise_floor_cpu.txt`) the estimate of a change that is truly zero lies anywhere within ±4.5%
from one process to the next, so an effect near the bound can land on either side of it in a re-run; the band is
twice that drift, rounded up. A timed interval must clear the band to be decisive. A timed measurement is therefore
a relative change or a ratio, never an absolute difference."""
TIMING_FLAT_BOUND = 0.25
"""The "stays flat" bound of a timing (`FLAT_BOUND` is the paper's 10%, which this harness cannot resolve here): in
the same A/A comparisons the ends of a 95% interval reached up to 14% from zero (median 5%), so a flat timing can
only be recognised within ±15% = 25% − `TIMING_RESOLUTION`; growth is told beyond ±35%. A weaker test than the
papers' "constant", and stated as such in the notebooks: the growing memories they contrast grow 16–32-fold at the
paper's shapes."""
MAX_EXACT_ATOL = 1e-6  # exact claims: float round-off only

TIMED = "~"  # prefix of machine-dependent numbers (plain ASCII: every font has it); tests/nbval_sanitize.cfg hides
#               the number that follows it, never a verdict
CATALOGUE_PATH = Path(__file__).with_name("claims.yaml")
CATALOGUE_MD_PATH = Path(__file__).with_name("CLAIMS.md")
TERMINAL_WIDTH = 120
_ID = re.compile(r"^([A-Z]+)-(\d+)$")
_NOTEBOOK = re.compile(r"^\d\d_[a-z0-9_]+$")


# --------------------------------------------------------------------------------------------------- catalogue
RULE_TYPES = ("exact", "near", "greater", "less", "ratio", "flat")
_RULE_FIELDS = {"type", "text", "expected", "margin", "unit", "atol", "paper", "evidence", "why"}
_CLAIM_FIELDS = {"source", "claim", "paper_value", "kind", "evidence", "why", "notebook", "planned", "rules"}


@dataclass(frozen=True)
class RuleSpec:
    """One named rule of a catalogue entry: what a sub-claim is judged by (tolerances come from the unit tables)."""

    name: str
    type: str
    text: str
    evidence: str
    expected: Any = None
    margin: float = 0.0
    unit: str | None = None
    atol: float = 0.0
    paper: Any = None
    why: str = ""

    @property
    def paper_value(self) -> Any:
        """The paper's value shown beside ours: `paper` if given, else the expected value (or the threshold)."""
        if self.paper is not None:
            return self.paper
        return self.expected if self.expected is not None or not self.margin else f"> {self.margin:g}"

    def build(self, judge_magnitude: bool, resolution: float = 0.0) -> Rule:
        """The rule object; `judge_magnitude` (the paper's own data) adds the unit's tolerance to relative rules;
        `resolution` (a timing: `TIMING_RESOLUTION`) widens the rule's bound into a band that cannot be told, and a
        flat timing is judged against `TIMING_FLAT_BOUND`."""
        if self.type in ("exact", "near"):
            if resolution:
                raise ClaimError(f"rule {self.name!r} is {self.type}: a timing is judged by a ratio, flat or "
                                 f"greater/less rule, never by an exact one")
            return Exact(self.expected, atol=self.atol if self.type == "exact" else MAGNITUDE_TOLERANCE[self.unit])
        if self.type == "flat":
            return Flat(TIMING_FLAT_BOUND if resolution else FLAT_BOUND, resolution=resolution)
        if self.type == "ratio":
            return Ratio(self.expected, MAGNITUDE_TOLERANCE["ratio"] if judge_magnitude else None,
                         resolution=resolution)
        judged = judge_magnitude and self.expected is not None
        cls = Greater if self.type == "greater" else Less
        return cls(margin=self.margin, expected=self.expected if judged else None,
                   tolerance=MAGNITUDE_TOLERANCE[self.unit] if judged else None, resolution=resolution)

    def summary(self) -> str:
        """One line for the rendered catalogue, e.g. "`gini` greater (paper 12.2 points)"."""
        parts = [f"`{self.name}` {self.type}"]
        if self.margin:
            parts.append(f"than {self.margin:g}")
        if self.paper_value is not None and self.type != "flat":
            parts.append(f"(paper {format_value(self.paper_value)}{' ' + self.unit if self.unit else ''})")
        if self.evidence != FINDING:
            parts.append(f"[{self.evidence}]")
        return " ".join(parts)


@dataclass(frozen=True)
class CatalogueEntry:
    """One claim of the catalogue (`source` and `paper_value` are empty for the collection's own claims)."""

    id: str
    paper: str
    paper_title: str
    source: str
    claim: str
    paper_value: Any
    kind: str
    evidence: str
    why: str
    notebook: str
    planned: str
    rules: Mapping[str, RuleSpec]

    def rule(self, name: str) -> RuleSpec:
        """The named rule; a ClaimError listing the entry's rules if there is none."""
        try:
            return self.rules[name]
        except KeyError:
            raise ClaimError(f"{self.id} has no rule {name!r} in the catalogue {CATALOGUE_PATH.name}; its rules: "
                             f"{', '.join(self.rules) or 'none'}") from None


def _field_error(origin: str, where: str, message: str) -> ClaimError:
    return ClaimError(f"{origin}: {where}: {message}")


def _parse_rule(origin: str, claim_id: str, name: str, data: Any, evidence: str) -> RuleSpec:
    where = f"{claim_id}: rules.{name}"
    if not isinstance(data, Mapping):
        raise _field_error(origin, where, f"a rule must be a mapping with a 'type', got {data!r}")
    unknown = set(data) - _RULE_FIELDS
    if unknown:
        raise _field_error(origin, where, f"unknown field(s) {', '.join(sorted(unknown))}; "
                                          f"allowed: {', '.join(sorted(_RULE_FIELDS))}")
    kind = data.get("type")
    if kind not in RULE_TYPES:
        raise _field_error(origin, f"{where}.type", f"{kind!r} is not one of {', '.join(RULE_TYPES)}")
    if not str(data.get("text", "")).strip():
        raise _field_error(origin, f"{where}.text", "say what is measured")
    allowed = {"exact": {"expected", "atol"}, "near": {"expected", "unit"}, "ratio": {"expected"}, "flat": set(),
               "greater": {"expected", "margin", "unit"}, "less": {"expected", "margin", "unit"}}[kind]
    for field in ("expected", "margin", "unit", "atol"):
        if field in data and field not in allowed:
            raise _field_error(origin, f"{where}.{field}", f"a {kind} rule takes no {field}")
    if kind in ("exact", "near", "ratio") and data.get("expected") is None:
        raise _field_error(origin, f"{where}.expected", f"a {kind} rule needs the paper's value")
    if kind == "near" or (kind in ("greater", "less") and data.get("expected") is not None):
        if data.get("unit") not in MAGNITUDE_TOLERANCE:
            raise _field_error(origin, f"{where}.unit", f"{data.get('unit')!r} has no tolerance; a judged magnitude "
                                                        f"needs one of {', '.join(MAGNITUDE_TOLERANCE)}")
    if not 0 <= data.get("atol", 0) <= MAX_EXACT_ATOL:
        raise _field_error(origin, f"{where}.atol", f"{data['atol']!r}: exact claims allow float round-off only "
                                                    f"(0 … {MAX_EXACT_ATOL:g})")
    rule_evidence = data.get("evidence", evidence)
    if rule_evidence not in EVIDENCE:
        raise _field_error(origin, f"{where}.evidence", f"{rule_evidence!r} is not one of {', '.join(EVIDENCE)}")
    spec = RuleSpec(name=name, type=kind, text=str(data["text"]).strip(), evidence=rule_evidence,
                    expected=data.get("expected"), margin=data.get("margin", 0.0), unit=data.get("unit"),
                    atol=data.get("atol", 0.0), paper=data.get("paper"), why=str(data.get("why", "")).strip())
    try:
        spec.build(judge_magnitude=True)
    except (ValueError, TypeError) as exc:
        raise _field_error(origin, where, str(exc)) from None
    return spec


def _parse_entry(origin: str, claim_id: str, data: Any, papers: Mapping[str, str]) -> CatalogueEntry:
    match = _ID.match(str(claim_id))
    if not match:
        raise _field_error(origin, repr(claim_id), "not a claim ID like 'STCN-4'")
    if match.group(1) not in papers:
        raise _field_error(origin, f"{claim_id}", f"prefix {match.group(1)} is not in 'papers' ({', '.join(papers)})")
    if not isinstance(data, Mapping):
        raise _field_error(origin, claim_id, f"an entry must be a mapping, got {data!r}")
    unknown = set(data) - _CLAIM_FIELDS
    if unknown:
        raise _field_error(origin, claim_id, f"unknown field(s) {', '.join(sorted(unknown))}")
    for field in ("claim", "kind", "evidence"):
        if not str(data.get(field, "")).strip():
            raise _field_error(origin, f"{claim_id}.{field}", "missing")
    if data["kind"] not in KINDS:
        raise _field_error(origin, f"{claim_id}.kind", f"{data['kind']!r} is not one of {', '.join(KINDS)}")
    if data["evidence"] not in EVIDENCE:
        raise _field_error(origin, f"{claim_id}.evidence",
                           f"{data['evidence']!r} is not one of {', '.join(EVIDENCE)}")
    notebook, planned = str(data.get("notebook", "")), str(data.get("planned", "")).strip()
    if bool(notebook) == bool(planned):
        raise _field_error(origin, claim_id, "give either 'notebook' (where it is measured) or 'planned' (what is "
                                             "missing to measure it)")
    if notebook and not _NOTEBOOK.match(notebook):
        raise _field_error(origin, f"{claim_id}.notebook", f"{notebook!r} is not a notebook stem like '02_stcn'")
    rules = data.get("rules") or {}
    if not isinstance(rules, Mapping) or (notebook and not rules):
        raise _field_error(origin, f"{claim_id}.rules", "a measured claim needs a mapping of named rules")
    return CatalogueEntry(
        id=claim_id, paper=match.group(1), paper_title=papers[match.group(1)], source=str(data.get("source", "")),
        claim=" ".join(str(data["claim"]).split()), paper_value=data.get("paper_value", ""), kind=data["kind"],
        evidence=data["evidence"], why=" ".join(str(data.get("why", "")).split()), notebook=notebook,
        planned=planned, rules={name: _parse_rule(origin, claim_id, str(name), spec, data["evidence"])
                                for name, spec in rules.items()})


def parse_catalogue(data: Any, origin: str = "claims.yaml") -> dict[str, CatalogueEntry]:
    """Validate a loaded catalogue into {ID: entry}, ordered by paper (the order of `papers`) and ID number; a
    ClaimError names the ID and field of any bad entry."""
    if not isinstance(data, Mapping) or not isinstance(data.get("papers"), Mapping) or \
            not isinstance(data.get("claims"), Mapping) or not data["claims"]:
        raise ClaimError(f"{origin}: a catalogue needs a 'papers' mapping and a non-empty 'claims' mapping")
    papers = {str(k): str(v) for k, v in data["papers"].items()}
    entries = [_parse_entry(origin, claim_id, entry, papers) for claim_id, entry in data["claims"].items()]
    order = list(papers)
    entries.sort(key=lambda e: (order.index(e.paper), int(e.id.split("-")[1])))
    return {e.id: e for e in entries}


@functools.cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Mapping[str, CatalogueEntry]:
    """The catalogue at `path` (default: the copy shipped in the package), parsed once."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClaimError(f"cannot read the claims catalogue {path}: {exc.strerror}; reinstall vosnb") from exc
    except yaml.YAMLError as exc:
        raise ClaimError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalogue(data, origin=str(path))


def catalogue_entry(claim_id: str, catalogue: Mapping[str, CatalogueEntry] | None = None) -> CatalogueEntry:
    """The catalogue entry of `claim_id`; a ClaimError naming the catalogue if there is none."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    try:
        return catalogue[claim_id]
    except KeyError:
        raise ClaimError(f"claim ID {claim_id!r} is not in the catalogue {CATALOGUE_PATH.name}; "
                         f"known IDs: {', '.join(catalogue)}") from None


def _md_cell(value: Any) -> str:
    return ("" if value is None else format_value(value)).replace("|", "\\|")


def render_catalogue_md(catalogue: Mapping[str, CatalogueEntry] | None = None) -> str:
    """vosnb/CLAIMS.md: the catalogue as markdown tables, one per paper (generated; edit claims.yaml instead)."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    lines = ["# Claims catalogue", "",
             "<!-- Generated from vosnb/claims.yaml by `vosnb claims --catalogue-md`; do not edit by hand. -->", "",
             "Every quantitative or checkable claim of the five papers that this collection reproduces, with a stable",
             "ID. A notebook records each named rule (sub-claim) of a claim in the claims ledger; the verdict is",
             "computed by the catalogue's rule (see `vosnb/claims.py` and docs/DESIGN.md for the conventions per",
             "kind: exact, relative, absolute). Evidence: a *finding* is an empirical result; a *check* tests our own",
             "arithmetic or configuration and cannot come out otherwise when the code is right.", ""]
    by_paper: dict[str, list[CatalogueEntry]] = {}
    for entry in catalogue.values():
        by_paper.setdefault(entry.paper, []).append(entry)
    for entries in by_paper.values():
        lines += [f"## {entries[0].paper} — {entries[0].paper_title}", "",
                  "| ID | source | claim | paper value | kind | evidence | measured in | rules |",
                  "|---|---|---|---|---|---|---|---|"]
        for e in entries:
            evidence = e.evidence + (f" ({e.why})" if e.why else "")
            where = f"notebook {e.notebook}" if e.notebook else f"planned: {e.planned}"
            rules = "; ".join(r.summary() + (f" ({r.why})" if r.why else "") for r in e.rules.values())
            lines.append("| " + " | ".join(_md_cell(v) for v in (e.id, e.source, e.claim, e.paper_value, e.kind,
                                                                     evidence, where, rules)) + " |")
        lines.append("")
    return "\n".join(lines)


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
    """Display form: `DISPLAY_DIGITS` significant digits, lists bracketed; each number prefixed with ~ when
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


def interval_decimals(value: Any, interval: Sequence[Any] | None) -> int | None:
    """Decimals that show a value and its interval to the precision the interval supports: two significant digits
    of the interval's width, never finer than `DISPLAY_DIGITS` significant digits of the largest number shown.
    None where that rule does not apply (no interval, a non-number, a zero width, or a step below 1e-6)."""
    numbers = [value, *(interval or ())]
    if (interval is None or len(numbers) != 3
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers)):
        return None
    width, largest = numbers[2] - numbers[1], max(abs(x) for x in numbers)
    if width <= 0 or largest == 0:
        return None
    decimals = min(1 - math.floor(math.log10(width)), DISPLAY_DIGITS - 1 - math.floor(math.log10(largest)))
    return max(0, decimals) if decimals <= 6 else None


def format_measurement(value: Any, interval: Sequence[Any] | None, timed: bool = False) -> tuple[str, str | None]:
    """Display form of a measured value and its interval ("[lo, hi]", None without one): to `interval_decimals`
    where it applies, else `format_value`'s significant digits. A value shown to the interval's precision does not
    move when another CPU rounds the last bits differently, as long as the change is far below the interval."""
    decimals = interval_decimals(value, interval)
    if decimals is None:
        shown = format_value(value, timed)
        return shown, None if interval is None else f"[{format_value(interval[0], timed)}, " \
                                                     f"{format_value(interval[1], timed)}]"

    def fixed(x: float) -> str:
        text = f"{x:.{decimals}f}"
        text = text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.0"
        return f"{TIMED} {text}" if timed else text
    return fixed(value), f"[{fixed(interval[0])}, {fixed(interval[1])}]"


def relative_change(values: Sequence[float]) -> float:
    """(last − first) / first: the measured value of a "stays flat as the setting grows" claim (see `Flat`)."""
    first, last = _as_float(values[0], "first value"), _as_float(values[-1], "last value")
    if first == 0:
        raise ClaimError("relative_change: the first value is 0, so a relative change is undefined")
    return (last - first) / first


# --------------------------------------------------------------------------------------------------- rules
def _check_resolution(name: str, resolution: float) -> None:
    if not 0 <= resolution < 1:
        raise ValueError(f"{name}: resolution must lie in [0, 1), got {resolution}")


def _resolution_text(resolution: float) -> str:
    """The describe() suffix of a timed rule (`TIMING_RESOLUTION`)."""
    if not resolution:
        return ""
    return f"; timing: within ±{resolution * 100:g}% of the bound cannot be told (inconclusive)"


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
    resolution: float = 0.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        _check_resolution(name, self.resolution)
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
        return text + _resolution_text(self.resolution)

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        d = _as_float(measured)
        bounds = _as_interval(interval)
        magnitude_ok = self.expected is None or abs(d - self.expected) <= self.tolerance
        r = self.resolution
        if bounds is None:
            x = self.sign * d
            if x > self.margin + r:
                return REPRODUCED if magnitude_ok else DIRECTION_ONLY
            if r and x >= self.margin - r:
                return INCONCLUSIVE
            return DIRECTION_ONLY if x > 0 and self.expected is not None else NOT_REPRODUCED
        low, high = sorted(self.sign * b for b in bounds)
        if high < self.margin - r:
            return NOT_REPRODUCED
        if low <= self.margin + r:
            return INCONCLUSIVE
        return REPRODUCED if magnitude_ok else DIRECTION_ONLY


@dataclass(frozen=True)
class Less(Greater):
    """`Greater` for a difference the paper says is negative (`expected`, if given, is negative)."""

    sign: Literal[1, -1] = -1


@dataclass(frozen=True)
class Ratio(Rule):
    """A ratio (speed-up, memory saving) the paper gives as `expected`; 1 is "no effect".

    With an interval: inconclusive iff it contains 1, not reproduced iff it lies on the other side of 1 than
    `expected`. Otherwise (and without an interval: on `expected`'s side of 1, else not reproduced) reproduced;
    when `rel_tol` is given (magnitude judged), reproduced only within `rel_tol` of `expected`, else direction only.
    """

    expected: float
    rel_tol: float | None = None
    resolution: float = 0.0

    def __post_init__(self) -> None:
        _check_resolution("Ratio", self.resolution)
        if not self.expected > 0 or self.expected == 1:
            raise ValueError(f"Ratio: expected must be > 0 and != 1 (use Flat for 'no change'), got {self.expected}")
        if self.rel_tol is not None and self.rel_tol < 0:
            raise ValueError(f"Ratio: rel_tol must be >= 0, got {self.rel_tol}")

    def describe(self) -> str:
        side = ">" if self.expected > 1 else "<"
        text = f"interval {side} 1, inconclusive if it contains 1 (no interval: ratio {side} 1)"
        if self.rel_tol is not None:
            text += f"; direction only unless within ±{self.rel_tol * 100:g}% of {self.expected:g}"
        return text + _resolution_text(self.resolution)

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        ratio = _as_float(measured)
        side = 1.0 if self.expected > 1 else -1.0
        bounds = _as_interval(interval)
        r = self.resolution
        if bounds is None:
            x = side * (ratio - 1.0)
            if x < -r or (x <= 0 and not r):
                return NOT_REPRODUCED
            if x <= r and r:
                return INCONCLUSIVE
        else:
            low, high = sorted(side * (b - 1.0) for b in bounds)
            if high < -r:
                return NOT_REPRODUCED
            if low <= r:
                return INCONCLUSIVE
        if self.rel_tol is None or abs(ratio / self.expected - 1.0) <= self.rel_tol:
            return REPRODUCED
        return DIRECTION_ONLY


@dataclass(frozen=True)
class Flat(Rule):
    """"Stays flat as the setting grows": measured = relative change from the first to the last setting (see
    `relative_change`). Without an interval: reproduced iff |change| ≤ max_rel_change. With one: reproduced iff
    both ends are within the bound, not reproduced iff both lie beyond it on one side, else inconclusive."""

    max_rel_change: float
    resolution: float = 0.0

    def __post_init__(self) -> None:
        if self.max_rel_change < 0:
            raise ValueError(f"Flat: max_rel_change must be >= 0, got {self.max_rel_change}")
        _check_resolution("Flat", self.resolution)
        if self.resolution >= self.max_rel_change > 0:
            raise ValueError(f"Flat: resolution {self.resolution} leaves nothing of the bound {self.max_rel_change}")

    def describe(self) -> str:
        return (f"|relative change| ≤ {self.max_rel_change * 100:g}% (the whole interval, if given; inconclusive "
                f"if the interval crosses the bound){_resolution_text(self.resolution)}")

    def verdict(self, measured: Any, interval: tuple[float, float] | None = None) -> str:
        change = _as_float(measured)
        bounds = _as_interval(interval)
        low, high = bounds if bounds is not None else (change, change)
        inner, outer = self.max_rel_change - self.resolution, self.max_rel_change + self.resolution
        if -inner <= low and high <= inner:
            return REPRODUCED
        if low > outer or high < -outer or (bounds is None and not self.resolution):
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
_OPTIONAL_FIELDS = ("sub_claim", "evidence", "kind", "machine_dependent", "timing", "provenance")


@dataclass(frozen=True)
class ClaimRecord:
    """One line of results/<notebook>.jsonl (or a `not run` row for a catalogue ID without one)."""

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
    sub_claim: str = ""
    evidence: str = FINDING
    kind: str = ""
    machine_dependent: bool = False
    timing: bool = False
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str, entry: CatalogueEntry) -> ClaimRecord:
        """Validate a stored record (`origin` names file and line in errors); a record written before sub-claims
        and evidence were stored takes its claim's evidence and kind from the catalogue `entry`."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data and n not in _OPTIONAL_FIELDS]
        if missing:
            raise ClaimError(f"{origin}: record lacks {', '.join(missing)}; re-run its notebook")
        if data["verdict"] not in VERDICTS:
            raise ClaimError(f"{origin}: verdict {data['verdict']!r} is not one of {', '.join(VERDICTS)}")
        defaults = {"evidence": entry.evidence, "kind": entry.kind}
        return cls(**{**defaults, **{n: data[n] for n in names if n in data}})

    def measured_text(self) -> str:
        """The measured value with its unit and interval (timed numbers prefixed with ~)."""
        value, interval = format_measurement(self.measured, self.interval, self.machine_dependent)
        if self.unit and self.measured is not None:
            value += f" {self.unit}"
        return value if interval is None else f"{value} {interval}"

    def display_row(self) -> dict[str, str]:
        """The closing table's columns: ID, sub-claim, claim, evidence, paper, measured (with interval), rule,
        verdict (with the reason of a `not run`)."""
        verdict = f"{NOT_RUN}: {self.reason}" if self.verdict == NOT_RUN else self.verdict
        return {"ID": self.id, "sub-claim": self.sub_claim, "claim": _shorten(self.claim), "evidence": self.evidence,
                "paper": format_value(self.paper_value), "measured": self.measured_text(), "rule": self.rule,
                "verdict": verdict}


def _shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: text.rfind(" ", 0, width - 1)].rstrip(",;:") + " …"


def sort_records(records: Iterable[ClaimRecord],
                 catalogue: Mapping[str, CatalogueEntry] | None = None) -> list[ClaimRecord]:
    """Catalogue order (paper, then ID), then the order of the entry's rules, notebook, model and claim text."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    order = {claim_id: i for i, claim_id in enumerate(catalogue)}

    def key(r: ClaimRecord) -> tuple:
        rules = list(catalogue[r.id].rules) if r.id in catalogue else []
        rule_index = rules.index(r.sub_claim) if r.sub_claim in rules else len(rules)
        return order.get(r.id, len(order)), rule_index, r.notebook, r.model or "", r.claim

    return sorted(records, key=key)


def _default_results_dir() -> Path:
    """Where a ledger writes: results/ under `vosnb.runtime.output_root` (scratch unless `vosnb reproduce` runs)."""
    return output_root() / "results"


def committed_results_dir() -> Path:
    """What `vosnb claims` reads by default: `$VOSNB_OUTPUT_ROOT/results` when set, else the repository's results/
    (the committed ledger)."""
    override = os.environ.get(OUTPUT_ROOT_ENV)
    return (Path(override) if override else repo_root()) / "results"


class ClaimsTable(Styler):
    """The closing claims table: a Styler whose plain-text form is the table itself, one " | "-separated line per
    claim without padding (so that a sanitised timing cannot shift the other columns)."""

    def __repr__(self) -> str:
        lines = [self.data.columns, *(row for row in self.data.itertuples(index=False))]
        return "\n".join(" | ".join(map(str, line)) for line in lines)


def render_table(records: Sequence[ClaimRecord], table_id: str, caption: str = "") -> ClaimsTable:
    """A Styler over the display columns, verdict cells tinted by verdict (`vosnb.plotting.VERDICT_COLORS`), those
    of machine-dependent claims (~) included: nbval compares every verdict, and so its tint."""
    columns = ["ID", "sub-claim", "claim", "evidence", "paper", "measured", "rule", "verdict"]
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

    `record` judges a measurement with its catalogue rule and keeps the record in memory; `save` (called once, when
    the notebook completes) rewrites results/<notebook>.jsonl atomically with every record and the run's
    provenance, so an interrupted run leaves the previous file whole, a completed re-run replaces the notebook's old
    records, and other notebooks' files are never touched.
    """

    def __init__(self, notebook: str, dataset: str = "synthetic", model: str | None = None, profile: str = "ci",
                 device: str = "cpu", seed: int = 0, *, results_dir: Path | None = None,
                 data_root: Path | None = None, catalogue: Mapping[str, CatalogueEntry] | None = None) -> None:
        self.notebook, self.dataset, self.model = notebook, dataset, model
        self.profile, self.device, self.seed = profile, str(device), int(seed)
        self.results_dir = Path(results_dir) if results_dir is not None else _default_results_dir()
        self.data_root = data_root
        self.catalogue = load_catalogue() if catalogue is None else catalogue
        self._records: dict[tuple[str, str, str | None, str], ClaimRecord] = {}

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.notebook}.jsonl"

    @property
    def records(self) -> list[ClaimRecord]:
        return sort_records(self._records.values(), self.catalogue)

    def _keep(self, entry: CatalogueEntry, spec: RuleSpec, rule: Rule, measured: Any, bounds: tuple | None,
              unit: str, model: str | None, claim: str | None, machine_dependent: bool, timing: bool) -> ClaimRecord:
        rec = ClaimRecord(
            id=entry.id, claim=claim or spec.text, paper_value=_jsonable(spec.paper_value),
            measured=_jsonable(measured), interval=list(bounds) if bounds else None, unit=unit or (spec.unit or ""),
            rule=rule.describe(), verdict=rule.verdict(measured, bounds),
            reason=rule.reason if isinstance(rule, NotRun) else "", dataset=self.dataset,
            model=model if model is not None else self.model, profile=self.profile, device=self.device,
            seed=self.seed, notebook=self.notebook, time=provenance.utc_now(), sub_claim=spec.name,
            evidence=spec.evidence, kind=entry.kind, machine_dependent=bool(machine_dependent or timing),
            timing=bool(timing))
        self._records[(rec.id, rec.sub_claim, rec.model, rec.claim)] = rec
        return rec

    def record(self, claim_id: str, sub_claim: str, measured: Any, *, interval: Any = None, unit: str = "",
               model: str | None = None, claim: str | None = None, authors_weights: bool = False,
               machine_dependent: bool = False, timing: bool = False) -> ClaimRecord:
        """Judge `measured` (and its 95% `interval`) with the catalogue rule `sub_claim` of `claim_id`; keep the
        record (written by `save`) and return it.

        The paper's value and the rule come from the catalogue; magnitude is judged only on the paper's own data:
        this ledger's data set is `PAPER_DATASET` and the model has the `authors_weights`. `claim` defaults to the
        rule's text; pass a more specific text to record one sub-claim in several settings (recording the same ID,
        sub-claim, model and claim again replaces the earlier record). `machine_dependent` marks a value whose last
        digits depend on the machine (a round-off residual): its numbers are shown with a ~ prefix that the nbval
        sanitiser hides, its verdict is compared. `timing` marks a timing, a relative change or ratio: its numbers
        are prefixed, its rule's bound becomes a band of ±`TIMING_RESOLUTION` that cannot be told, and a flat rule's
        bound is `TIMING_FLAT_BOUND`.
        """
        entry = catalogue_entry(claim_id, self.catalogue)
        spec = entry.rule(sub_claim)
        rule = spec.build(judge_magnitude=self.dataset == PAPER_DATASET and authors_weights,
                          resolution=TIMING_RESOLUTION if timing else 0.0)
        return self._keep(entry, spec, rule, measured, _as_interval(interval), unit, model, claim,
                          machine_dependent, timing)

    def not_run(self, claim_id: str, sub_claim: str, reason: str, command: str, *,
                model: str | None = None) -> ClaimRecord:
        """Record that `sub_claim` of `claim_id` could not be measured here: why, and the exact command that would
        measure it."""
        entry = catalogue_entry(claim_id, self.catalogue)
        spec = entry.rule(sub_claim)
        if not command.strip():
            raise ClaimError(f"{claim_id}: give the command that would run {sub_claim!r}")
        rule = NotRun(f"{reason.strip()}; run: {command.strip()}")
        return self._keep(entry, spec, rule, None, None, "", model, None, False, False)

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
        if any(r.machine_dependent for r in self.records):
            caption += f". {TIMED} marks the numbers that depend on the machine (a timing, a round-off residual)"
        return render_table(self.records, f"claims_{self.notebook}", caption)


def unrecorded(records: Iterable[ClaimRecord], catalogue: Mapping[str, CatalogueEntry],
               results_dir: Path) -> list[ClaimRecord]:
    """A `not run` row, generated from the catalogue, for every ID without a record: the `planned` reason, or the
    command that runs the notebook that measures it."""
    recorded = {r.id for r in records}
    rows = []
    for entry in catalogue.values():
        if entry.id in recorded:
            continue
        reason = (f"planned: {entry.planned}" if entry.planned else
                  f"no record in {results_dir}; run: vosnb reproduce --only {entry.notebook[:2]}")
        rows.append(ClaimRecord(
            id=entry.id, claim=entry.claim, paper_value=_jsonable(entry.paper_value), measured=None, interval=None,
            unit="", rule=NotRun(reason).describe(), verdict=NOT_RUN, reason=reason, dataset="", model=None,
            profile="", device="", seed=0, notebook=entry.notebook, time="", evidence=entry.evidence,
            kind=entry.kind))
    return rows


def load_results(results_dir: Path, catalogue: Mapping[str, CatalogueEntry] | None = None, *,
                 with_unrecorded: bool = True) -> list[ClaimRecord]:
    """All records of results_dir/*.jsonl and (unless `with_unrecorded` is False) a `not run` row for every catalogue
    ID without one, in catalogue order; a ClaimError names any bad file and line."""
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
            records.append(ClaimRecord.from_dict(data, origin, catalogue[data["id"]]))
    if with_unrecorded:
        records += unrecorded(records, catalogue, results_dir)
    return sort_records(records, catalogue)


# --------------------------------------------------------------------------------------------------- terminal
def select(records: Iterable[ClaimRecord], catalogue: Mapping[str, CatalogueEntry], *, notebook: str | None = None,
           paper: str | None = None, verdict: str | None = None) -> list[ClaimRecord]:
    """The records of one notebook (its stem or number, e.g. "02"), one paper (e.g. "STCN", any case) and one
    verdict; None keeps all."""
    def keep(r: ClaimRecord) -> bool:
        return ((notebook is None or r.notebook == notebook or r.notebook.startswith(f"{notebook}_"))
                and (paper is None or catalogue[r.id].paper == paper.upper())
                and (verdict is None or r.verdict == verdict))
    return [r for r in records if keep(r)]


def summary_lines(records: Sequence[ClaimRecord]) -> list[str]:
    """One line per evidence kind and verdict: how many records, and how many claim IDs they cover."""
    counts = Counter((r.evidence, r.verdict) for r in records)
    ids: dict[tuple[str, str], set[str]] = {}
    for r in records:
        ids.setdefault((r.evidence, r.verdict), set()).add(r.id)
    return [f"{evidence:<8} {verdict:<15} {counts[evidence, verdict]:>3} records, {len(ids[evidence, verdict]):>2} "
            f"claims" for evidence in EVIDENCE for verdict in VERDICTS if counts[evidence, verdict]]


def terminal_table(records: Sequence[ClaimRecord], catalogue: Mapping[str, CatalogueEntry],
                   width: int = TERMINAL_WIDTH) -> str:
    """The claims as plain text no wider than `width`: per record one line of ID, sub-claim, evidence, verdict and
    measured value, then the claim with the paper's value, model, data set and notebook (wrapped), then a `not run`
    reason on its own line; a header per paper and the summary lines at the end."""
    indent = " " * 4
    wrap = functools.partial(textwrap.wrap, width=width, initial_indent=indent, subsequent_indent=indent + "  ")
    lines, paper = [], None
    for r in records:
        entry = catalogue[r.id]
        if entry.paper != paper:
            paper = entry.paper
            lines += ["" if lines else None, _clip(f"== {paper}: {entry.paper_title}", width)]
        lines.append(_clip(f"{r.id:<8} {r.sub_claim:<20} {r.evidence:<8} {r.verdict:<16} "
                           f"{r.measured_text()}", width))
        where = ", ".join(x for x in (r.model, r.dataset, r.notebook) if x)
        paper_value = f" (paper: {format_value(r.paper_value)})" if r.paper_value not in ("", None) else ""
        lines += wrap(r.claim + paper_value + (f" [{where}]" if where else ""))
        if r.verdict == NOT_RUN:
            lines += wrap(f"not run: {r.reason}")
    return "\n".join([line for line in lines if line is not None] + ["", "Summary:", *summary_lines(records)])


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------------------------------- command line
def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    if args.catalogue_md:
        print(render_catalogue_md(catalogue), end="")
        return 0
    if args.paper is not None and args.paper.upper() not in {e.paper for e in catalogue.values()}:
        raise ClaimError(f"--paper {args.paper}: no such paper; one of "
                         f"{', '.join(dict.fromkeys(e.paper for e in catalogue.values()))}")
    results_dir = args.results if args.results is not None else committed_results_dir()
    records = select(load_results(results_dir, catalogue), catalogue, notebook=args.notebook, paper=args.paper,
                     verdict=args.verdict)
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in records], indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=[f.name for f in dataclasses.fields(ClaimRecord)])
        writer.writeheader()
        for r in records:
            writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                             for k, v in r.to_dict().items()})
    elif not records:
        print(f"no claims in {results_dir} match the filters")
    else:
        print(terminal_table(records, catalogue))
    return 0
