"""The closing prose of each notebook states no verdict for a claim ID that the ledger (the committed results/)
does not give it (issue: prose contradicting the ledger, e.g. "AMM-5 reproduces" beside a `direction only`)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from vosnb import claims

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").glob("0*_*.py") if "ledger.record(" in p.read_text("utf-8"))
CLAIM_ID = re.compile(r"\b[A-Z]+-\d+\b")
# Verdict words and the verb forms prose uses for them; longer phrases first so "not reproduced" wins.
VERDICT_WORDS = [(re.compile(r"\b(?:not reproduced|does not reproduce|do not reproduce|fails? to reproduce)\b", re.I),
                  claims.NOT_REPRODUCED),
                 (re.compile(r"\bdirection only\b", re.I), claims.DIRECTION_ONLY),
                 (re.compile(r"\binconclusive\b", re.I), claims.INCONCLUSIVE),
                 (re.compile(r"\bnot run\b", re.I), claims.NOT_RUN),
                 (re.compile(r"\b(?:reproduced|reproduces|reproduce)\b", re.I), claims.REPRODUCED)]


def closing_prose(source: str) -> list[str]:
    """The markdown cells of a py:percent notebook after its last cell that records a claim."""
    cells = re.split(r"^# %%", source, flags=re.MULTILINE)[1:]
    last = max(i for i, cell in enumerate(cells) if "ledger.record(" in cell or "ledger.not_run(" in cell)
    return ["\n".join(line[2:] for line in cell.splitlines()[1:]) for cell in cells[last + 1:]
            if cell.startswith(" [markdown]")]


def stated_verdicts(text: str) -> list[tuple[str, str]]:
    """(claim ID, verdict) for every paragraph or bullet that names claim IDs and verdict words."""
    found = []
    for part in re.split(r"\n\s*\n|\n(?=- )", text):
        ids, verdicts = CLAIM_ID.findall(part), []
        for pattern, verdict in VERDICT_WORDS:
            if pattern.search(part):
                verdicts.append(verdict)
                part = pattern.sub(" ", part)
        found += [(claim_id, verdict) for claim_id in ids for verdict in verdicts]
    return found


def contradictions(text: str, ledger: dict[str, set[str]]) -> list[str]:
    """Every verdict the prose states for an ID whose records do not all have that verdict."""
    return [f"{claim_id}: prose says {verdict!r}, the ledger {sorted(ledger.get(claim_id, set())) or 'nothing'}"
            for claim_id, verdict in stated_verdicts(text) if ledger.get(claim_id) != {verdict}]


def test_the_checker_flags_a_verdict_the_ledger_does_not_give():
    ledger = {"AMM-5": {claims.DIRECTION_ONLY, claims.REPRODUCED}, "AMM-1": {claims.NOT_REPRODUCED}}
    assert contradictions("- **AMM-5 reproduces**, and shows why\n- AMM-1 is inconclusive here.", ledger) == [
        "AMM-5: prose says 'reproduced', the ledger ['direction only', 'reproduced']",
        "AMM-1: prose says 'inconclusive', the ledger ['not reproduced']"]
    assert contradictions("AMM-1 does not reproduce here.", ledger) == []
    assert contradictions("Quality (AMM-3): see the table.", ledger) == []


def test_closing_prose_is_found_after_the_last_record():
    source = ("# %% [markdown]\n# AMM-1 reproduced\n\n# %%\nctx.ledger.record('AMM-1', 'x', 1)\n\n"
              "# %% [markdown]\n# ## What we found\n# AMM-1 is inconclusive\n\n# %%\nctx.finish()\n")
    assert closing_prose(source) == ["## What we found\nAMM-1 is inconclusive\n"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_closing_prose_agrees_with_the_ledger(notebook):
    ledger: dict[str, set[str]] = {}
    for record in claims.load_results(REPO / "results", with_unrecorded=False):
        ledger.setdefault(record.id, set()).add(record.verdict)
    prose = "\n\n".join(closing_prose(notebook.read_text(encoding="utf-8")))
    assert prose.strip(), f"{notebook.name}: no closing prose after the last record"
    assert contradictions(prose, ledger) == []
