"""The claims dashboard: one self-contained HTML page of every catalogue claim and what the committed results say.

`vosnb dashboard --out PATH` reads the catalogue and results/*.jsonl with `vosnb.claims.load_results` (which adds a
`not run` row for every ID without a record, with the catalogue's `planned` reason) and shows each record as the
notebooks' claims tables do (`ClaimRecord.display_row`: values to the precision their interval supports, `~` on what
depends on the machine), grouped by paper under a count of verdicts per paper, each linked to the notebook page that
measured it. The page has no external CSS or JavaScript and is written atomically (`vosnb.runtime.atomic_path`).
"""
from __future__ import annotations

import argparse
import html
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from vosnb.claims import TIMED, CatalogueEntry, ClaimRecord, committed_results_dir, load_catalogue, load_results
from vosnb.options import VERDICTS
from vosnb.plotting import VERDICT_COLORS
from vosnb.runtime import atomic_path

NOTEBOOK_BASE = "notebooks/"  # where the book (docs/book) puts the notebook pages, relative to the dashboard
COLUMNS = ("ID", "sub-claim", "claim", "setting", "evidence", "paper", "measured", "rule", "verdict", "notebook")
_WIDTHS = {"ID": 5, "sub-claim": 9, "setting": 11, "evidence": 6, "paper": 6, "measured": 9, "rule": 13,
           "verdict": 13, "notebook": 12}  # em; the claim takes the rest of the line

def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict cell, e.g. "verdict-not-run"."""
    return "verdict-" + verdict.replace(" ", "-")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #111; line-height: 1.35; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; }
tbody.claim { border-top: 2px solid #666; }
table.claims { table-layout: fixed; width: 100%; min-width: 75em; }
table.claims td { overflow-wrap: anywhere; }
td.verdict { font-weight: 600; }
td.rule { font-size: 0.85em; }
caption { caption-side: top; text-align: left; padding-bottom: 0.3rem; color: #333; }
""" + "".join(f"td.{verdict_class(v)} {{ background: {VERDICT_COLORS[v]}; }}\n" for v in VERDICTS)


def notebook_href(notebook: str, base: str = NOTEBOOK_BASE) -> str:
    """The link to a notebook page's claims section: `<base><notebook>.html#claims`."""
    return f"{base}{notebook}.html#claims"


def _cell(text: str, cls: str = "") -> str:
    attribute = f' class="{cls}"' if cls else ""
    return f"<td{attribute}>{html.escape(text)}</td>"


def _row(record: ClaimRecord, notebook_base: str) -> str:
    shown = {**record.display_row(), "claim": record.claim,  # the dashboard has room for the whole claim
             "setting": " · ".join(x for x in (record.model, record.dataset) if x)}  # tells apart repeated rows
    cells = [_cell(shown[c], "rule" if c == "rule" else "") for c in COLUMNS[:-2]]
    cells.append(_cell(shown["verdict"], f"verdict {verdict_class(record.verdict)}"))
    link = (f'<a href="{html.escape(notebook_href(record.notebook, notebook_base))}">{html.escape(record.notebook)}</a>'
            if record.notebook else "—")
    cells.append(f"<td>{link}</td>")
    return f'<tr data-claim="{html.escape(record.id)}">{"".join(cells)}</tr>'


def _summary(by_paper: Mapping[str, list[ClaimRecord]], catalogue: Mapping[str, CatalogueEntry]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("paper", "claims", *VERDICTS))
    rows = []
    for paper, records in by_paper.items():
        counts = Counter(r.verdict for r in records)
        cells = [f'<td><a href="#paper-{paper}">{html.escape(paper)}</a></td>',
                 f'<td class="num">{len({r.id for r in records})}</td>',
                 *(f'<td class="num {verdict_class(v)}">{counts[v]}</td>' if counts[v] else '<td class="num">0</td>'
                   for v in VERDICTS)]
        rows.append(f'<tr id="summary-{paper}">{"".join(cells)}</tr>')
    return (f'<table class="summary"><caption>Records per verdict and paper (a claim may have several sub-claims; '
            f'{len(catalogue)} claims in the catalogue)</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def render(records: Sequence[ClaimRecord], catalogue: Mapping[str, CatalogueEntry],
           notebook_base: str = NOTEBOOK_BASE, source: str = "results/") -> str:
    """The dashboard page for `records` (every catalogue ID should have at least one: see `load_results`)."""
    by_paper: dict[str, list[ClaimRecord]] = {}
    for r in records:
        by_paper.setdefault(catalogue[r.id].paper, []).append(r)
    head = ("<colgroup>" + "".join(f'<col style="width: {_WIDTHS[c]}em">' if c in _WIDTHS else "<col>" for c in COLUMNS)
            + "</colgroup><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr></thead>")
    sections = []
    for paper, paper_records in by_paper.items():
        by_id: dict[str, list[ClaimRecord]] = {}
        for r in paper_records:
            by_id.setdefault(r.id, []).append(r)
        bodies = "".join(f'<tbody class="claim" id="claim-{html.escape(claim_id)}">'
                         f'{"".join(_row(r, notebook_base) for r in rows)}</tbody>' for claim_id, rows in by_id.items())
        title = f"{paper} — {catalogue[paper_records[0].id].paper_title}"
        sections.append(f'<section id="paper-{paper}"><h2>{html.escape(title)}</h2>'
                        f'<table class="claims">{head}{bodies}</table></section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>vosnb claims dashboard</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            "<h1>Claims dashboard</h1>\n"
            f"<p>Every claim of the catalogue (<code>vosnb/claims.yaml</code>) with the records in "
            f"<code>{html.escape(source)}</code>, as <code>vosnb claims</code> lists them. An ID without a record is "
            f"<em>not run</em>, with the reason. {TIMED} marks the numbers that depend on the machine: those of a "
            f"timing or a round-off residual. The verdict is written in each cell; the colour "
            f"only repeats it.</p>\n"
            f"{_summary(by_paper, catalogue)}\n{''.join(sections)}\n</body>\n</html>\n")


def write_dashboard(out: Path, results_dir: Path, notebook_base: str = NOTEBOOK_BASE,
                    catalogue: Mapping[str, CatalogueEntry] | None = None) -> Path:
    """Render the dashboard of `results_dir` and write it to `out` atomically (nothing is written when a results
    file is bad: the ClaimError names it); return `out`."""
    catalogue = load_catalogue() if catalogue is None else catalogue
    try:  # relative to the working folder where it can be: the page names no path of the machine that built it
        results_dir = Path(results_dir).resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    page = render(load_results(results_dir, catalogue), catalogue, notebook_base, source=f"{results_dir}/")
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(out)


def run(args: argparse.Namespace) -> int:
    results_dir = args.results if args.results is not None else committed_results_dir()
    out = write_dashboard(args.out, results_dir, args.notebook_base)
    print(f"wrote {out}")
    return 0
