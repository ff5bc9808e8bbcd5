"""The claims dashboard (`vosnb dashboard`): every catalogue ID, each record as the claims table shows it, `not run`
rows, links to the notebook pages, a self-contained page written atomically."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from vosnb import claims, cli, dashboard
from vosnb.claims import INCONCLUSIVE, NOT_RUN, REPRODUCED, Ledger
from vosnb.errors import ClaimError

REPO = Path(__file__).resolve().parents[1]
VERDICT, NOTEBOOK = dashboard.COLUMNS.index("verdict"), dashboard.COLUMNS.index("notebook")


class Page(HTMLParser):
    """The parts of a dashboard a reader sees: per claim ID (its `<tbody id="claim-ID">`) the rows, each a list of
    (cell text, cell class, link); the summary rows by paper; every element id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.claims: dict[str, list[list[tuple[str, str, str | None]]]] = {}
        self.summary: dict[str, list[str]] = {}
        self.tags: list[str] = []
        self._claim: str | None = None
        self._summary: str | None = None
        self._cell: list | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "tbody" and (a.get("id") or "").startswith("claim-"):
            self._claim = a["id"].removeprefix("claim-")
            self.claims[self._claim] = []
        elif tag == "tr" and (a.get("id") or "").startswith("summary-"):
            self._summary = a["id"].removeprefix("summary-")
            self.summary[self._summary] = []
        elif tag == "tr" and self._claim:
            self.claims[self._claim].append([])
        elif tag == "td":
            self._cell = ["", a.get("class") or "", None]
        elif tag == "a" and self._cell is not None:
            self._cell[2] = a.get("href")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            if self._claim:
                self.claims[self._claim][-1].append(tuple(self._cell))
            elif self._summary:
                self.summary[self._summary].append(self._cell[0])
            self._cell = None
        elif tag == "tbody":
            self._claim = None
        elif tag == "tr":
            self._summary = None


def row(page: Page, claim_id: str, sub_claim: str) -> dict[str, tuple[str, str, str | None]]:
    """The dashboard row of one sub-claim, by column name."""
    (cells,) = [r for r in page.claims[claim_id] if r[1][0] == sub_claim]
    return dict(zip(dashboard.COLUMNS, cells))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    options = dict(dataset="synthetic", profile="ci", device="cpu", seed=0, results_dir=folder)
    lfu = Ledger("05_lfu", **options)
    lfu.record("AMM-1", "lfu_vs_first_last", 1.9, interval=(-0.5, 3.0), model="tiny")
    lfu.save()
    gam = Ledger("06_gam", **options)
    gam.record("GAM-2", "time_ratio", 0.42, interval=(0.40, 0.45), timing=True)
    gam.not_run("GAM-3", "davis_time", "needs a GPU", "vosnb reproduce --only 06 --device cuda")
    gam.save()
    return folder


def build(results: Path, tmp_path: Path, *args: str) -> Page:
    out = tmp_path / "site" / "dashboard.html"
    assert cli.main(["dashboard", "--out", str(out), "--results", str(results), *args]) == 0
    return Page(out.read_text(encoding="utf-8"))


def test_every_catalogue_id_has_one_element_id(results, tmp_path):
    page = build(results, tmp_path)
    assert list(page.claims) == list(claims.load_catalogue())  # catalogue order, grouped by paper
    assert len(page.ids) == len(set(page.ids))


def test_records_show_as_the_claims_table_shows_them(results, tmp_path):
    page = build(results, tmp_path)
    amm = row(page, "AMM-1", "lfu_vs_first_last")
    assert amm["measured"][0] == "1.9 points [-0.5, 3.0]"  # to the precision of the interval, with the unit
    assert amm["verdict"][:2] == (INCONCLUSIVE, f"verdict verdict-{INCONCLUSIVE}")
    paper = claims.load_catalogue()["AMM-1"].rules["lfu_vs_first_last"].paper_value
    assert (amm["setting"][0], amm["evidence"][0], amm["paper"][0]) == ("tiny · synthetic", "finding",
                                                                        claims.format_value(paper))
    gam = row(page, "GAM-2", "time_ratio")
    assert gam["measured"][0] == "~ 0.420 [~ 0.400, ~ 0.450]"  # a timing keeps the ~ of the claims table
    assert gam["verdict"][:2] == (REPRODUCED, f"verdict verdict-{REPRODUCED}")  # a verdict never carries ~
    (record,) = [r for r in claims.load_results(results, with_unrecorded=False) if r.id == "GAM-2"]
    shown = record.display_row()
    assert [gam[c][0] for c in ("ID", "sub-claim", "evidence", "paper", "measured", "rule", "verdict")] == \
        [shown[c] for c in ("ID", "sub-claim", "evidence", "paper", "measured", "rule", "verdict")]
    assert gam["claim"][0] == record.claim


def test_ids_without_a_record_are_not_run_with_the_reason(results, tmp_path):
    page = build(results, tmp_path)
    stcn4 = row(page, "STCN-4", "")["verdict"]
    assert stcn4[0].startswith(f"{NOT_RUN}: no record in ") and "vosnb reproduce --only 02" in stcn4[0]
    assert stcn4[1] == "verdict verdict-not-run"
    (zoo1,) = page.claims["ZOO-1"]
    assert zoo1[VERDICT][0].startswith(f"{NOT_RUN}: no record in ") and "vosnb reproduce --only 07" in zoo1[VERDICT][0]
    gam3 = row(page, "GAM-3", "davis_time")
    assert gam3["verdict"][0].startswith(f"{NOT_RUN}: needs a GPU; run: vosnb reproduce --only 06")


def test_summary_counts_records_per_verdict_and_paper(results, tmp_path):
    page = build(results, tmp_path)
    header = ["claims", *claims.VERDICTS]
    amm = dict(zip(header, map(int, page.summary["AMM"][1:])))
    assert amm == {"claims": 5, REPRODUCED: 0, INCONCLUSIVE: 1, "direction only": 0, "not reproduced": 0,
                   NOT_RUN: 4}
    gam = dict(zip(header, map(int, page.summary["GAM"][1:])))
    assert (gam[REPRODUCED], gam[NOT_RUN]) == (1, 6)  # GAM-3 recorded as not run, GAM-1, 4…7 without a record


def test_links_point_at_the_notebook_that_measured(results, tmp_path):
    page = build(results, tmp_path)
    assert row(page, "AMM-1", "lfu_vs_first_last")["notebook"] == ("05_lfu", "", "notebooks/05_lfu.html#claims")
    assert row(page, "STCN-4", "")["notebook"][2] == "notebooks/02_stcn_affinity_gini.html#claims"
    assert page.claims["ZOO-1"][0][NOTEBOOK][2] == "notebooks/07_memory_zoo.html#claims"  # unrecorded, but built
    other = build(results, tmp_path, "--notebook-base", "../book/nb/")
    assert row(other, "GAM-2", "time_ratio")["notebook"][2] == "../book/nb/06_gam.html#claims"


def test_page_is_self_contained(results, tmp_path):
    page = build(results, tmp_path)
    text = (tmp_path / "site" / "dashboard.html").read_text(encoding="utf-8")
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "http" not in text and "url(" not in text
    assert "background: #B3E0D3" in text  # the verdict colours are inline CSS


def test_a_bad_results_file_is_named_and_nothing_is_written(results, tmp_path, capsys):
    out = tmp_path / "site" / "dashboard.html"
    dashboard.write_dashboard(out, results)
    before = out.read_bytes()
    (results / "07_bad.jsonl").write_text(json.dumps({"id": "STCN-2"}) + "\nnot json\n", encoding="utf-8")
    with pytest.raises(ClaimError, match="07_bad.jsonl:1: record lacks"):
        dashboard.write_dashboard(out, results)
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == ["dashboard.html"]
    fresh = tmp_path / "fresh" / "dashboard.html"
    assert cli.main(["dashboard", "--out", str(fresh), "--results", str(results)]) == 2
    assert "07_bad.jsonl:1" in capsys.readouterr().err
    assert not fresh.parent.exists()  # nothing written, not even the folder


def test_an_error_while_writing_leaves_the_previous_page(results, tmp_path, monkeypatch):
    out = tmp_path / "dashboard.html"
    out.write_text("previous", encoding="utf-8")

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(OSError, match="disk full"):
        dashboard.write_dashboard(out, results)
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == "previous" and [p.name for p in tmp_path.iterdir()
                                                              if p.name != "results"] == ["dashboard.html"]


def test_committed_results_list_every_id_and_link_existing_notebooks(tmp_path):
    out = dashboard.write_dashboard(tmp_path / "dashboard.html", REPO / "results")
    page = Page(out.read_text(encoding="utf-8"))
    records = claims.load_results(REPO / "results")
    assert set(page.claims) == set(claims.load_catalogue())
    assert sum(len(rows) for rows in page.claims.values()) == len(records)
    links = {cells[NOTEBOOK][2] for rows in page.claims.values() for cells in rows} - {None}
    assert links and all((REPO / "notebooks" / Path(link.split("#")[0]).with_suffix(".ipynb").name).is_file()
                         for link in links)
    verdicts = [cells[VERDICT][0] for rows in page.claims.values() for cells in rows]
    assert verdicts == [r.display_row()["verdict"] for r in records]
