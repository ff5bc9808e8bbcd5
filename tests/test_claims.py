"""The claims ledger: catalogue parsing, verdict rules, records on disk, the closing table and `vosnb claims`."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from nbval.plugin import get_sanitize_patterns
from pandas.io.formats.style import Styler

from vosnb import claims, cli
from vosnb.claims import (DIRECTION_ONLY, INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, Exact, Flat, Greater,
                          Ledger, Less, NotRun, Ratio)
from vosnb.errors import ClaimError
from vosnb.timing import Interval, median_interval, paired_ratio, shifted

REPO = Path(__file__).resolve().parents[1]
DESIGN_CATALOGUE = Path("/work/shared/design/CLAIMS.md")
ROW_ID = re.compile(r"^\|\s*([A-Z]+-\d+)\s*\|", re.MULTILINE)


def ledger(tmp_path: Path, notebook: str = "02_demo", **kwargs) -> Ledger:
    options = dict(dataset="synthetic", profile="ci", device="cpu", seed=0, results_dir=tmp_path)
    return Ledger(notebook, **{**options, **kwargs})


def sanitise(text: str) -> str:
    """What nbval compares: `text` after the replacements of tests/nbval_sanitize.cfg."""
    cfg = (REPO / "tests" / "nbval_sanitize.cfg").read_text(encoding="ascii")
    for regex, replace in get_sanitize_patterns(cfg):
        text = re.sub(regex, replace, text)
    return text


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------------------ catalogue
def test_shipped_catalogue_parses_every_table_row():
    text = claims.CATALOGUE_PATH.read_text(encoding="utf-8")
    catalogue = claims.load_catalogue()
    assert list(catalogue) == ROW_ID.findall(text)  # same IDs, same order as an independent scan
    assert len(catalogue) >= 38
    stcn4 = catalogue["STCN-4"]
    assert stcn4.paper_value == "Gini 44.0 vs 31.8"
    assert stcn4.source == "§4.2, Fig. 4"
    assert stcn4.kind.startswith("relative")
    assert stcn4.section.startswith("STCN")
    zoo2 = catalogue["ZOO-2"]  # the collection's own table has no source / paper value columns
    assert (zoo2.source, zoo2.paper_value, zoo2.kind) == ("", "", "relative")


def test_every_design_claim_id_is_known():
    source = DESIGN_CATALOGUE if DESIGN_CATALOGUE.is_file() else claims.CATALOGUE_PATH
    ids = ROW_ID.findall(source.read_text(encoding="utf-8"))
    assert ids, f"no claim IDs found in {source}"
    unknown = set(ids) - set(claims.load_catalogue())
    assert not unknown, f"IDs of {source} missing from vosnb/CLAIMS.md: {sorted(unknown)}"


@pytest.mark.parametrize("text, message", [
    ("| ID | claim |\n|---|---|\n| STCN-1 | a |\n| STCN-1 | b |\n", "appears twice"),
    ("| ID | claim |\n|---|---|\n| stcn one | a |\n", "not a claim ID"),
    ("| name | text |\n|---|---|\n| STCN-1 | a |\n", "needs 'ID' and 'claim'"),
    ("| ID | claim |\n|---|---|\n| STCN-1 | a | extra |\n", "3 cells"),
    ("# nothing here\n", "no claims tables"),
])
def test_malformed_catalogue_is_an_error_naming_the_line(text, message):
    with pytest.raises(ClaimError, match=message):
        claims.parse_catalogue(text, origin="X.md")


def test_unknown_claim_id_is_a_claim_error(tmp_path):
    with pytest.raises(ClaimError, match="'STCN-99' is not in the catalogue"):
        ledger(tmp_path).record("STCN-99", 1.0, 1.0, Exact(1.0))
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ rules
@pytest.mark.parametrize("rule, measured, verdict", [
    (Exact(2.0), 2.0 + 1e-9, REPRODUCED),
    (Exact(2.0), 2.001, NOT_REPRODUCED),
    (Exact(2.0, atol=0.0, rtol=1e-3), 2.001, REPRODUCED),
    (Exact([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), REPRODUCED),
    (Exact([1.0, 2.0, 3.0]), [1.0, 2.5, 3.0], NOT_REPRODUCED),
    (Exact([1.0, 2.0, 3.0]), [1.0, 2.0], NOT_REPRODUCED),
    (Exact(1.0), float("nan"), NOT_REPRODUCED),
    (Exact(100), 100, REPRODUCED),
    (Exact("every5"), "every5", REPRODUCED),
    (Exact("every5"), "lfu", NOT_REPRODUCED),
])
def test_exact(rule, measured, verdict):
    assert rule.verdict(measured) == verdict


def test_exact_rejects_non_numbers():
    with pytest.raises(ClaimError, match="NotRun"):
        Exact(1.0).verdict(None)
    with pytest.raises(ClaimError, match="numbers"):
        Exact([1.0]).verdict([{"a": 1}])


@pytest.mark.parametrize("rule, d, interval, verdict", [
    (Greater(), 0.5, None, REPRODUCED),
    (Greater(), 0.5, (0.1, 0.9), REPRODUCED),
    (Greater(), 0.5, (-0.1, 0.9), INCONCLUSIVE),  # interval includes no effect
    (Greater(), -0.5, (-0.9, -0.1), NOT_REPRODUCED),  # interval excludes no effect on the wrong side
    (Greater(), 0.0, None, NOT_REPRODUCED),
    (Greater(), -0.5, None, NOT_REPRODUCED),
    (Greater(margin=1.0), 0.5, None, NOT_REPRODUCED),  # below the threshold the claim states
    (Greater(margin=1.0), 1.5, (1.1, 1.9), REPRODUCED),
    (Greater(margin=1.0), 1.5, (0.9, 1.9), INCONCLUSIVE),  # the interval is judged against the threshold
    (Greater(margin=1.0), 0.5, (0.2, 0.8), NOT_REPRODUCED),
    (Greater(expected=1.4, tolerance=0.5), 3.0, (2.5, 3.5), DIRECTION_ONLY),
    (Greater(expected=1.4, tolerance=0.5), 1.2, None, REPRODUCED),
    (Greater(expected=1.4, tolerance=0.5), 3.0, None, DIRECTION_ONLY),  # right sign, magnitude off
    (Greater(expected=1.4, tolerance=0.5), -1.4, None, NOT_REPRODUCED),
    (Greater(), float("nan"), None, NOT_REPRODUCED),
    (Less(), -0.5, (-0.9, -0.1), REPRODUCED),
    (Less(), -0.5, (-0.9, 0.1), INCONCLUSIVE),
    (Less(), 0.5, None, NOT_REPRODUCED),
    (Less(expected=-2.0, tolerance=0.3), -1.8, None, REPRODUCED),
    (Less(expected=-2.0, tolerance=0.3), -1.0, None, DIRECTION_ONLY),
    (Greater(sign=-1), -0.5, None, REPRODUCED),
])
def test_greater_and_less(rule, d, interval, verdict):
    assert rule.verdict(d, interval) == verdict


@pytest.mark.parametrize("kwargs", [dict(margin=-1.0), dict(expected=1.0), dict(tolerance=1.0),
                                    dict(expected=-1.0, tolerance=0.5), dict(sign=0)])
def test_greater_refuses_contradictory_settings(kwargs):
    with pytest.raises(ValueError):
        Greater(**kwargs)


def test_less_refuses_a_positive_expected_value():
    with pytest.raises(ValueError, match="contradicts"):
        Less(expected=1.4, tolerance=0.5)


def test_rule_descriptions_state_the_thresholds():
    assert Greater(margin=0.5, expected=1.4, tolerance=0.3).describe() == \
        "interval > 0.5; inconclusive if it contains 0.5 (no interval: d > 0.5); direction only unless |d − 1.4| ≤ 0.3"
    assert Less().describe() == "interval < 0; inconclusive if it contains 0 (no interval: d < 0)"
    assert Ratio(1.34, 0.15).describe() == ("interval > 1, inconclusive if it contains 1; ratio within ±15% of 1.34, "
                                            "else direction only")
    assert "10%" in Flat(0.1).describe()
    assert "1e-06" in Exact(3.0).describe()


@pytest.mark.parametrize("rule, ratio, interval, verdict", [
    (Ratio(1.34, 0.15), 1.30, None, REPRODUCED),
    (Ratio(1.34, 0.15), 1.30, (1.1, 1.5), REPRODUCED),
    (Ratio(1.34, 0.15), 1.30, (0.9, 1.5), INCONCLUSIVE),  # interval includes 1
    (Ratio(1.34, 0.15), 0.80, (0.7, 0.9), NOT_REPRODUCED),
    (Ratio(1.34, 0.15), 2.00, (1.8, 2.2), DIRECTION_ONLY),
    (Ratio(1.34, 0.15), 1.05, None, DIRECTION_ONLY),
    (Ratio(1.34, 0.15), 2.00, None, DIRECTION_ONLY),
    (Ratio(1.34, 0.15), 0.90, None, NOT_REPRODUCED),
    (Ratio(1.34, 0.15), 1.00, None, NOT_REPRODUCED),
    (Ratio(0.5, 0.2), 0.55, None, REPRODUCED),
    (Ratio(0.5, 0.2), 0.80, None, DIRECTION_ONLY),
    (Ratio(0.5, 0.2), 1.20, None, NOT_REPRODUCED),
])
def test_ratio(rule, ratio, interval, verdict):
    assert rule.verdict(ratio, interval) == verdict


@pytest.mark.parametrize("kwargs", [dict(expected=1.0, rel_tol=0.1), dict(expected=-2.0, rel_tol=0.1),
                                    dict(expected=2.0, rel_tol=-0.1)])
def test_ratio_refuses_meaningless_settings(kwargs):
    with pytest.raises(ValueError):
        Ratio(**kwargs)


@pytest.mark.parametrize("change, interval, verdict", [
    (0.05, None, REPRODUCED), (-0.1, None, REPRODUCED), (0.11, None, NOT_REPRODUCED), (-0.5, None, NOT_REPRODUCED),
    (0.05, (-0.02, 0.08), REPRODUCED), (0.05, (-0.02, 0.2), INCONCLUSIVE), (0.3, (0.2, 0.4), NOT_REPRODUCED),
    (-0.3, (-0.4, -0.2), NOT_REPRODUCED),
])
def test_flat(change, interval, verdict):
    assert Flat(0.1).verdict(change, interval) == verdict


def test_relative_change():
    assert claims.relative_change([20.0, 21.0, 22.0]) == pytest.approx(0.1)
    assert claims.relative_change(np.array([4.0, 2.0])) == pytest.approx(-0.5)
    with pytest.raises(ClaimError, match="first value is 0"):
        claims.relative_change([0.0, 1.0])


def test_not_run_needs_a_reason():
    assert NotRun("no DAVIS data").verdict(None) == NOT_RUN
    with pytest.raises(ValueError):
        NotRun("  ")


@pytest.mark.parametrize("measured, interval", [
    ("fast", None), ([1.0, 2.0], None), (None, None), (1.0, (2.0, 1.0)), (1.0, (0.0, float("nan"))),
    (1.0, (1.0, 2.0, 3.0)), (1.0, "low-high"),
])
def test_numeric_rules_refuse_bad_values(measured, interval):
    with pytest.raises(ClaimError):
        Greater().verdict(measured, interval)


# ------------------------------------------------------------------------------------------------ ledger on disk
def test_record_stores_every_field_and_the_computed_verdict(tmp_path):
    book = ledger(tmp_path, model="stcn_tiny_l2", seed=3, device="cuda:0")
    rec = book.record("STCN-4", "Gini 44.0 vs 31.8", np.float32(8.5), Greater(expected=12.2, tolerance=5.0),
                      interval=np.array([2.0, 15.0]), unit="Gini points")
    assert rec.verdict == REPRODUCED
    assert not book.path.exists()  # written when the notebook completes
    book.save()
    (stored,) = read_jsonl(tmp_path / "02_demo.jsonl")
    assert stored == {**rec.to_dict(), "provenance": stored["provenance"]}
    assert stored["id"] == "STCN-4"
    assert stored["claim"] == claims.load_catalogue()["STCN-4"].claim
    assert stored["measured"] == 8.5 and stored["interval"] == [2.0, 15.0]
    assert stored["rule"] == Greater(expected=12.2, tolerance=5.0).describe()
    assert (stored["dataset"], stored["model"], stored["profile"], stored["device"], stored["seed"]) == \
        ("synthetic", "stcn_tiny_l2", "ci", "cuda:0", 3)
    assert stored["notebook"] == "02_demo" and stored["reason"] == "" and stored["machine_dependent"] is False
    assert stored["timing"] is False
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", stored["time"])


def test_saved_records_carry_the_provenance_of_the_run(tmp_path):
    book = ledger(tmp_path, data_root=tmp_path)
    book.record("STCN-2", "equality", 0.0, Exact(0.0))
    (stored,) = read_jsonl(book.save())
    prov = stored["provenance"]
    assert {"git", "python", "torch", "numpy", "cpu_capability", "threads", "cpu", "load_average", "data",
            "checkpoints", "time"} <= set(prov)
    if (REPO / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", prov["git"]["describe"])
        assert ("diff_sha256" in prov["git"]) == prov["git"]["describe"].endswith("-dirty")


def test_model_given_per_record_overrides_the_ledger_default(tmp_path):
    book = ledger(tmp_path, model="default_model")
    assert book.record("STCN-2", "equality", 0.0, Exact(0.0)).model == "default_model"
    assert book.record("STCN-6", "85.4 vs 83.2", 1.0, Greater(), model="l2_ck64").model == "l2_ck64"


def test_not_run_record_keeps_the_reason(tmp_path):
    rec = ledger(tmp_path).record("STCN-9", 85.4, None, NotRun("needs DAVIS 2017: pass data_root"))
    assert (rec.verdict, rec.reason, rec.measured) == (NOT_RUN, "needs DAVIS 2017: pass data_root", None)


def test_rerecording_replaces_and_subclaims_coexist(tmp_path):
    book = ledger(tmp_path)
    book.record("STCN-4", "44.0 vs 31.8", -1.0, Greater(), model="m")
    book.record("STCN-4", "44.0 vs 31.8", 2.0, Greater(), model="m")  # a re-executed cell
    book.record("STCN-4", "3% vs 0.06%", 0.5, Greater(), model="m", claim="never above 1%: dot > L2")
    rows = read_jsonl(book.save())
    assert [(r["measured"], r["verdict"]) for r in rows] == [(2.0, REPRODUCED), (0.5, REPRODUCED)]


def test_rerunning_a_notebook_replaces_only_its_own_records_and_only_when_it_completes(tmp_path):
    first = ledger(tmp_path, "02_a")
    first.record("STCN-2", "equality", 1.0, Exact(1.0))
    first.record("STCN-3", "6.26", 6.26, Exact(6.26))
    first.save()
    other = ledger(tmp_path, "03_b")
    other.record("SWEM-5", "equality", 0.0, Exact(0.0))
    other_bytes = other.save().read_bytes()
    rerun = ledger(tmp_path, "02_a")
    rerun.record("STCN-2", "equality", 1.5, Exact(1.0))
    assert len(read_jsonl(rerun.path)) == 2  # interrupted here: the previous run's records stay whole
    rerun.save()
    assert [(r["id"], r["verdict"]) for r in read_jsonl(rerun.path)] == [("STCN-2", NOT_REPRODUCED)]
    assert other.path.read_bytes() == other_bytes


def test_a_failing_record_is_refused_and_leaves_no_file(tmp_path):
    book = ledger(tmp_path)
    book.record("STCN-2", "equality", 1.0, Exact(1.0))
    with pytest.raises(ClaimError):
        book.record("STCN-3", "6.26", "six", Greater())
    with pytest.raises(ClaimError, match="rule must be"):
        book.record("STCN-3", "6.26", 6.0, "d > 0")
    assert [r.id for r in book.records] == ["STCN-2"]
    book.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_demo.jsonl"]  # no temporary files left


def test_records_are_kept_in_catalogue_order(tmp_path):
    book = ledger(tmp_path)
    for claim_id in ("STCN-9", "STCN-1", "STCN-4"):
        book.record(claim_id, "x", None, NotRun("later"))
    assert [r["id"] for r in read_jsonl(book.save())] == ["STCN-1", "STCN-4", "STCN-9"]


def test_values_that_cannot_be_stored_are_refused(tmp_path):
    with pytest.raises(ClaimError, match="cannot store"):
        ledger(tmp_path).record("STCN-1", object(), 1.0, Exact(1.0))


# ------------------------------------------------------------------------------------------------ the closing table
def sample_ledger(tmp_path: Path, timing: float, interval: tuple[float, float]) -> Ledger:
    book = ledger(tmp_path)
    book.record("STCN-2", "equality", 0.0, Exact(0.0))
    book.record("STCN-9", 85.4, None, NotRun("needs DAVIS 2017"))
    book.record("RDE-6", "1.34×", timing, Ratio(1.34, 0.15), interval=interval, unit="×", timing=True)
    book.record("STCN-4", "44.0 vs 31.8", -3.0, Greater())
    book.record("SWEM-5", "equality", timing * 1e-15, Exact(0.0, atol=1e-9), machine_dependent=True)
    return book


def test_table_is_a_styler_with_the_display_columns_and_tinted_verdicts(tmp_path):
    table = sample_ledger(tmp_path, 1.30, (1.2, 1.4)).table()
    assert isinstance(table, Styler)
    assert list(table.data.columns) == ["ID", "claim", "paper", "measured", "rule", "verdict"]
    assert list(table.data["ID"]) == ["STCN-2", "STCN-4", "STCN-9", "SWEM-5", "RDE-6"]
    verdicts = list(table.data["verdict"])
    assert verdicts == [REPRODUCED, NOT_REPRODUCED, "not run: needs DAVIS 2017", REPRODUCED, REPRODUCED]
    assert table.data["measured"].iloc[4] == "⏱ 1.3 × [⏱ 1.2, ⏱ 1.4]"
    assert table.data["measured"].iloc[3] == "⏱ 1.3e-15"  # a round-off residual: value hidden, verdict shown
    assert INCONCLUSIVE in claims.VERDICT_COLORS
    html = table.to_html()
    for verdict in (REPRODUCED, NOT_REPRODUCED, NOT_RUN):
        assert claims.VERDICT_COLORS[verdict] in html
    assert "STCN-4" in repr(table) and "0x" not in repr(table)  # plain text is the table, not an address


def test_sanitiser_hides_timed_numbers_but_compares_timed_verdicts(tmp_path):
    fast = sample_ledger(tmp_path / "a", 1.30, (1.2, 1.4)).table()
    noisy = sample_ledger(tmp_path / "b", 1.25, (1.1, 1.45)).table()  # other numbers, the same verdict
    assert fast.to_html() != noisy.to_html()
    assert sanitise(fast.to_html()) == sanitise(noisy.to_html())
    assert sanitise(repr(fast)) == sanitise(repr(noisy))
    for timing, interval in ((1.05, (0.9, 1.2)), (0.80, (0.7, 0.9))):  # inconclusive, not reproduced: visible
        other = sample_ledger(tmp_path / f"c{timing}", timing, interval).table()
        assert sanitise(repr(other)) != sanitise(repr(fast))
        assert sanitise(other.to_html()) != sanitise(fast.to_html())
    changed = ledger(tmp_path / "d")  # a deterministic value that changes is still caught
    changed.record("STCN-2", "equality", 0.5, Exact(0.0))
    assert sanitise(changed.table().to_html()) != sanitise(ledger(tmp_path / "e").table().to_html())


def test_sanitiser_keeps_every_verdict_word_after_a_timed_number():
    for verdict in (REPRODUCED, INCONCLUSIVE, DIRECTION_ONLY, NOT_REPRODUCED):
        line = f"AMM-2 | speed | 1.81 | ⏱ 3.2 × [⏱ 2.9, ⏱ 3.6] | rule | {verdict}"
        assert sanitise(line) == f"AMM-2 | speed | 1.81 | ⏱ T × [⏱ T, ⏱ T] | rule | {verdict}"
        assert sanitise(f"⏱ {verdict}").endswith(verdict)


def test_flat_and_ratio_rules_judge_intervals_from_repeats():
    flat = Flat(0.10)
    steady = shifted(paired_ratio([1.02, 0.99, 1.05, 1.01, 0.97, 1.03], [1.0] * 6), -1.0)
    assert flat.verdict(steady.estimate, steady) == REPRODUCED
    noisy = shifted(median_interval([0.7, 1.0, 1.3, 0.95, 1.05, 1.2]), -1.0)  # spread wider than the 10% bound
    assert flat.verdict(noisy.estimate, noisy) == INCONCLUSIVE
    growing = shifted(median_interval([1.8, 2.0, 2.1, 1.9, 2.2, 2.0]), -1.0)
    assert flat.verdict(growing.estimate, growing) == NOT_REPRODUCED
    ratio = Ratio(1.31, rel_tol=0.25)
    assert ratio.verdict(1.3, median_interval([1.2, 1.3, 1.35, 1.25, 1.4, 1.3])) == REPRODUCED
    assert ratio.verdict(1.05, median_interval([0.8, 1.05, 1.3, 1.1, 0.9, 1.2])) == INCONCLUSIVE
    assert ratio.verdict(3.0, Interval(3.0, 2.8, 3.2, 0.97)) == DIRECTION_ONLY
    assert ratio.verdict(0.9, Interval(0.9, 0.85, 0.95, 0.97)) == NOT_REPRODUCED


def test_sanitiser_hides_addresses_and_progress_bars():
    assert sanitise("<Styler at 0x7f3a2c1b9d50>") == sanitise("<Styler at 0x55d0c0ffee00>")
    bar_a = "frames:  40%|████      | 2/5 [00:01<00:02,  1.23it/s]"
    bar_b = "frames:  40%|████      | 2/5 [00:03<00:05,  0.61it/s]"
    assert sanitise(bar_a) == sanitise(bar_b)
    assert sanitise("J&F 85.4 [84.1, 86.0]") == "J&F 85.4 [84.1, 86.0]"


# ------------------------------------------------------------------------------------------------ vosnb claims
@pytest.fixture
def results(tmp_path: Path) -> Path:
    lfu = ledger(tmp_path, "05_lfu")
    lfu.record("AMM-1", "82.5 < 84.4", 1.9, Greater(), model="tiny")
    lfu.save()
    book = ledger(tmp_path, "02_stcn")
    book.record("STCN-9", 85.4, None, NotRun("needs DAVIS 2017"))
    book.record("STCN-2", "equality", 0.0, Exact(0.0))
    book.save()
    return tmp_path


def test_cli_json_lists_records_in_catalogue_order(results, capsys):
    assert cli.main(["claims", "--format", "json", "--results", str(results)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in records] == ["STCN-2", "STCN-9", "AMM-1"]
    for key in ("id", "paper_value", "measured", "verdict", "dataset", "model", "profile"):
        assert all(key in r for r in records)
    assert records[2]["model"] == "tiny" and records[1]["verdict"] == NOT_RUN


def test_cli_csv_and_table(results, capsys):
    assert cli.main(["claims", "--format", "csv", "--results", str(results)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["id"] for r in rows] == ["STCN-2", "STCN-9", "AMM-1"] and rows[0]["verdict"] == REPRODUCED
    assert cli.main(["claims", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.index("STCN-2") < out.index("AMM-1") and "05_lfu" in out and "not run: needs DAVIS 2017" in out


def test_cli_reports_bad_results_without_a_traceback(tmp_path, capsys):
    assert cli.main(["claims", "--results", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "07_x.jsonl").write_text('{"id": "STCN-2"}\nnot json\n', encoding="utf-8")
    assert cli.main(["claims", "--results", str(tmp_path)]) == 2
    assert "07_x.jsonl:1: record lacks" in capsys.readouterr().err
    (tmp_path / "07_x.jsonl").write_text('{"id": "NOPE-1"}\n', encoding="utf-8")
    assert cli.main(["claims", "--results", str(tmp_path)]) == 2
    assert "'NOPE-1' is not in the catalogue" in capsys.readouterr().err


def test_cli_with_no_records(tmp_path, capsys):
    assert cli.main(["claims", "--results", str(tmp_path)]) == 0
    assert "no claims recorded" in capsys.readouterr().out
    assert cli.main(["claims", "--format", "json", "--results", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out) == []
