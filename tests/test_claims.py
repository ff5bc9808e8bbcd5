"""The claims ledger: the catalogue (claims.yaml), verdict rules, records on disk, the closing table and
`vosnb claims`."""
from __future__ import annotations

import copy
import dataclasses
import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from nbval.plugin import get_sanitize_patterns
from pandas.io.formats.style import Styler

from vosnb import claims, cli
from vosnb.claims import (CHECK, DIRECTION_ONLY, FINDING, INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, Exact,
                          Flat, Greater, Ledger, Less, NotRun, Ratio)
from vosnb.errors import ClaimError
from vosnb.timing import Interval, median_interval, paired_ratio, shifted

REPO = Path(__file__).resolve().parents[1]
DESIGN_CATALOGUE = Path("/work/shared/design/CLAIMS.md")
ROW_ID = re.compile(r"^\|\s*([A-Z]+-\d+)\s*\|", re.MULTILINE)
RAW = yaml.safe_load(claims.CATALOGUE_PATH.read_text(encoding="utf-8"))


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
def test_shipped_catalogue_parses_with_every_field():
    catalogue = claims.load_catalogue()
    assert len(catalogue) == len(RAW["claims"]) >= 38
    stcn4 = catalogue["STCN-4"]
    assert (stcn4.paper, stcn4.source, stcn4.kind, stcn4.evidence) == ("STCN", "§4.2, Fig. 4", "relative", FINDING)
    assert list(stcn4.rules) == ["gini", "never_above_1pct", "below_10pct_at_best"]
    assert stcn4.notebook == "02_stcn_affinity_gini" and not stcn4.planned
    assert catalogue["AMM-2"].rules["memory"].evidence == CHECK  # a sub-claim's own evidence
    assert catalogue["AMM-2"].rules["fps_vs_every5"].evidence == FINDING
    zoo2 = catalogue["ZOO-2"]  # the collection's own claims, measured by notebook 07
    assert (zoo2.paper, zoo2.notebook) == ("ZOO", "07_memory_zoo") and not zoo2.planned


def test_catalogue_is_ordered_by_paper_then_id_number():
    ids = list(claims.load_catalogue())
    papers = list(RAW["papers"])
    assert ids == sorted(ids, key=lambda i: (papers.index(i.split("-")[0]), int(i.split("-")[1])))
    assert ids[0] == "SWEM-1" and ids.index("STCN-9") < ids.index("RDE-1")


def test_evidence_classification():
    catalogue = claims.load_catalogue()
    checks = {(e.id, r.name) for e in catalogue.values() for r in e.rules.values() if r.evidence == CHECK}
    assert {("SWEM-5", "sequential_vs_batch"), ("SWEM-6", "features"), ("STCN-2", "softmax_gap"),
            ("STCN-3", "recount"), ("AMM-2", "memory"), ("STCN-1", "l2_share")} <= checks
    assert ("STCN-4", "gini") not in checks
    for entry in catalogue.values():  # a check that is not obvious says why
        for rule in entry.rules.values():
            if rule.evidence == CHECK and entry.evidence != CHECK:
                assert rule.why, f"{entry.id}.{rule.name}"


def test_every_design_claim_id_is_known():
    source = DESIGN_CATALOGUE if DESIGN_CATALOGUE.is_file() else claims.CATALOGUE_MD_PATH
    ids = ROW_ID.findall(source.read_text(encoding="utf-8"))
    assert ids, f"no claim IDs found in {source}"
    unknown = set(ids) - set(claims.load_catalogue())
    assert not unknown, f"IDs of {source} missing from vosnb/claims.yaml: {sorted(unknown)}"


def test_shipped_claims_md_is_the_rendering_of_the_yaml(capsys):
    rendered = claims.render_catalogue_md()
    assert claims.CATALOGUE_MD_PATH.read_text(encoding="utf-8") == rendered, \
        "vosnb/CLAIMS.md is stale: run `vosnb claims --catalogue-md > vosnb/CLAIMS.md`"
    assert ROW_ID.findall(rendered) == list(claims.load_catalogue())
    assert cli.main(["claims", "--catalogue-md"]) == 0
    assert capsys.readouterr().out == rendered


def test_no_rule_sets_its_own_tolerance():
    """Tolerances come from the unit tables; the catalogue gives only the claim's values and thresholds."""
    for entry in claims.load_catalogue().values():
        for rule in entry.rules.values():
            assert rule.atol <= claims.MAX_EXACT_ATOL
            assert rule.unit is None or rule.unit in claims.MAGNITUDE_TOLERANCE


def bad(claim_id: str, **changes) -> dict:
    data = copy.deepcopy(RAW)
    entry = data["claims"][claim_id]
    for key, value in changes.items():
        target, field = (entry, key) if "." not in key else (entry["rules"][key.split(".")[0]], key.split(".")[1])
        if value is None:
            target.pop(field)
        else:
            target[field] = value
    return data


@pytest.mark.parametrize("data, message", [
    (bad("STCN-4", kind="approximate"), r"STCN-4\.kind: 'approximate' is not one of exact, relative, absolute"),
    (bad("STCN-4", evidence=None), r"STCN-4\.evidence: missing"),
    (bad("STCN-4", claim=""), r"STCN-4\.claim: missing"),
    (bad("STCN-4", planned="later"), r"STCN-4: give either 'notebook'"),
    (bad("STCN-4", notebook=None), r"STCN-4: give either 'notebook'"),
    (bad("STCN-4", rules={}), r"STCN-4\.rules: a measured claim needs"),
    (bad("STCN-4", colour="red"), r"STCN-4: unknown field\(s\) colour"),
    (bad("STCN-4", notebook="notebook two"), r"STCN-4\.notebook: 'notebook two'"),
    (bad("STCN-4", **{"gini.type": "bigger"}), r"STCN-4: rules\.gini\.type: 'bigger' is not one of"),
    (bad("STCN-4", **{"gini.text": None}), r"STCN-4: rules\.gini\.text: say what is measured"),
    (bad("STCN-4", **{"gini.unit": "furlongs"}), r"STCN-4: rules\.gini\.unit: 'furlongs' has no tolerance"),
    (bad("STCN-4", **{"gini.tolerance": 3}), r"STCN-4: rules\.gini: unknown field\(s\) tolerance"),
    (bad("STCN-4", **{"gini.atol": 0.1}), r"STCN-4: rules\.gini\.atol: a greater rule takes no atol"),
    (bad("STCN-3", **{"recount.atol": 0.01}), r"STCN-3: rules\.recount\.atol: 0\.01: exact claims allow float"),
    (bad("STCN-5", **{"fps.expected": None}), r"STCN-5: rules\.fps\.expected: a ratio rule needs"),
    (bad("STCN-5", **{"fps.expected": 1}), r"STCN-5: rules\.fps: Ratio: expected must be"),
    (bad("STCN-4", **{"gini.expected": -3}), r"STCN-4: rules\.gini: Greater: expected=-3 contradicts"),
    (bad("STCN-4", **{"gini.evidence": "hunch"}), r"STCN-4: rules\.gini\.evidence: 'hunch' is not one of"),
    ({"papers": {"STCN": "x"}, "claims": {"stcn one": {}}}, r"'stcn one': not a claim ID"),
    ({"papers": {"STCN": "x"}, "claims": {"NOPE-1": {}}}, r"NOPE-1: prefix NOPE is not in 'papers'"),
    ({"claims": {}}, r"needs a 'papers' mapping"),
])
def test_bad_catalogue_entries_name_the_id_and_field(data, message):
    with pytest.raises(ClaimError, match=message):
        claims.parse_catalogue(data, origin="X.yaml")


def test_unreadable_catalogue_is_a_claim_error(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("claims: [unclosed\n", encoding="utf-8")
    with pytest.raises(ClaimError, match="not valid YAML"):
        claims.load_catalogue(path)


def test_unknown_claim_id_or_sub_claim_is_a_claim_error(tmp_path):
    with pytest.raises(ClaimError, match="'STCN-99' is not in the catalogue"):
        ledger(tmp_path).record("STCN-99", "gini", 1.0)
    with pytest.raises(ClaimError, match="STCN-4 has no rule 'gin'.*gini, never_above_1pct"):
        ledger(tmp_path).record("STCN-4", "gin", 1.0)
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ rules per kind
def rule_of(claim_id: str, sub_claim: str, judge_magnitude: bool):
    return claims.load_catalogue()[claim_id].rules[sub_claim].build(judge_magnitude)


def test_relative_rules_judge_magnitude_only_on_the_papers_data():
    assert rule_of("STCN-4", "gini", False) == Greater()
    assert rule_of("STCN-4", "gini", True) == Greater(expected=12.2, tolerance=claims.MAGNITUDE_TOLERANCE["points"])
    assert rule_of("STCN-5", "fps", False) == Ratio(1.31)
    assert rule_of("STCN-5", "fps", True) == Ratio(1.31, claims.MAGNITUDE_TOLERANCE["ratio"])
    assert rule_of("STCN-8", "jf", True) == Greater()  # no magnitude stated: nothing to judge


def test_a_stated_threshold_is_judged_with_the_interval():
    swem2 = rule_of("SWEM-2", "intra_pixels", False)
    assert swem2 == Greater(margin=70)
    assert swem2.verdict(72.0, (66.0, 78.0)) == INCONCLUSIVE  # the interval contains the paper's 70%
    assert swem2.verdict(75.0, (71.0, 79.0)) == REPRODUCED
    assert rule_of("SWEM-1", "inter_pixels", False) == Greater(margin=50)


def test_exact_flat_and_absolute_rules_are_the_same_on_any_data():
    for judged in (False, True):
        assert rule_of("STCN-2", "softmax_gap", judged) == Exact(0.0, atol=1e-9)
        assert rule_of("SWEM-6", "features", judged) == Exact([512, 1620], atol=0)
        assert rule_of("STCN-7", "stcn_flat", judged) == rule_of("SWEM-7", "time_flat", judged) == Flat(0.10)
        assert rule_of("STCN-9", "davis_jf", judged) == Exact(85.4, atol=claims.MAGNITUDE_TOLERANCE["points"])


def test_ledger_picks_the_rule_by_dataset_and_weights(tmp_path):
    args = dict(measured=5.0, interval=(3.0, 7.0))
    assert ledger(tmp_path).record("STCN-4", "gini", **args).verdict == REPRODUCED
    davis = ledger(tmp_path, dataset="davis2017")
    assert davis.record("STCN-4", "gini", **args).verdict == REPRODUCED  # not the authors' weights
    assert davis.record("STCN-4", "gini", authors_weights=True, **args).verdict == DIRECTION_ONLY  # 5 vs 12.2
    assert davis.record("STCN-4", "gini", authors_weights=True, measured=12.0,
                        interval=(11.0, 13.0)).verdict == REPRODUCED


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
    assert Ratio(1.34, 0.15).describe() == ("interval > 1, inconclusive if it contains 1 (no interval: ratio > 1); "
                                            "direction only unless within ±15% of 1.34")
    assert "direction only" not in Ratio(1.34).describe()
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
    (Ratio(1.34), 3.0, (2.5, 3.5), REPRODUCED),  # magnitude not judged: direction and significance only
    (Ratio(1.34), 1.1, (0.9, 1.3), INCONCLUSIVE),
    (Ratio(1.34), 0.8, (0.7, 0.9), NOT_REPRODUCED),
    (Ratio(1.34), 1.05, None, REPRODUCED),
    (Ratio(1.34), 0.95, None, NOT_REPRODUCED),
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
    rec = book.record("STCN-4", "gini", np.float32(8.5), interval=np.array([2.0, 15.0]), unit="Gini points")
    assert rec.verdict == REPRODUCED
    assert not book.path.exists()  # written when the notebook completes
    book.save()
    (stored,) = read_jsonl(tmp_path / "02_demo.jsonl")
    assert stored == {**rec.to_dict(), "provenance": stored["provenance"]}
    spec = claims.load_catalogue()["STCN-4"].rules["gini"]
    assert (stored["id"], stored["sub_claim"], stored["claim"]) == ("STCN-4", "gini", spec.text)
    assert (stored["paper_value"], stored["evidence"], stored["kind"]) == (12.2, FINDING, "relative")
    assert stored["measured"] == 8.5 and stored["interval"] == [2.0, 15.0] and stored["unit"] == "Gini points"
    assert stored["rule"] == Greater().describe()
    assert (stored["dataset"], stored["model"], stored["profile"], stored["device"], stored["seed"]) == \
        ("synthetic", "stcn_tiny_l2", "ci", "cuda:0", 3)
    assert stored["notebook"] == "02_demo" and stored["reason"] == "" and stored["machine_dependent"] is False
    assert stored["timing"] is False
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", stored["time"])


def test_saved_records_carry_the_provenance_of_the_run(tmp_path):
    book = ledger(tmp_path, data_root=tmp_path)
    book.record("STCN-2", "softmax_gap", 0.0)
    (stored,) = read_jsonl(book.save())
    prov = stored["provenance"]
    assert {"git", "python", "torch", "numpy", "cpu_capability", "threads", "cpu", "load_average", "data",
            "checkpoints", "time"} <= set(prov)
    if (REPO / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", prov["git"]["describe"])
        assert ("diff_sha256" in prov["git"]) == prov["git"]["describe"].endswith("-dirty")


def test_model_given_per_record_overrides_the_ledger_default(tmp_path):
    book = ledger(tmp_path, model="default_model")
    assert book.record("STCN-2", "softmax_gap", 0.0).model == "default_model"
    assert book.record("STCN-6", "l2_vs_dot", 1.0, model="l2_ck64").model == "l2_ck64"


def test_not_run_record_keeps_the_reason_and_the_command(tmp_path):
    rec = ledger(tmp_path).not_run("STCN-9", "davis_jf", "needs DAVIS 2017", "vosnb reproduce --only 02")
    assert (rec.verdict, rec.measured, rec.paper_value) == (NOT_RUN, None, 85.4)
    assert rec.reason == "needs DAVIS 2017; run: vosnb reproduce --only 02"
    with pytest.raises(ClaimError, match="give the command"):
        ledger(tmp_path).not_run("STCN-9", "davis_jf", "needs DAVIS 2017", " ")


def test_rerecording_replaces_and_subclaims_coexist(tmp_path):
    book = ledger(tmp_path)
    book.record("STCN-4", "gini", -1.0, model="m")
    book.record("STCN-4", "gini", 2.0, model="m")  # a re-executed cell
    book.record("STCN-4", "never_above_1pct", 0.5, model="m")
    book.record("STCN-4", "gini", 0.7, model="m", claim="Gini on another setting")
    rows = read_jsonl(book.save())
    assert [(r["sub_claim"], r["measured"]) for r in rows] == [("gini", 0.7), ("gini", 2.0), ("never_above_1pct", 0.5)]


def test_rerunning_a_notebook_replaces_only_its_own_records_and_only_when_it_completes(tmp_path):
    first = ledger(tmp_path, "02_a")
    first.record("STCN-2", "softmax_gap", 0.0)
    first.record("STCN-3", "recount", [6.26, 6.33, 3.13, 3.20, 8.70, 4.35])
    first.save()
    other = ledger(tmp_path, "03_b")
    other.record("SWEM-5", "sequential_vs_batch", 0.0)
    other_bytes = other.save().read_bytes()
    rerun = ledger(tmp_path, "02_a")
    rerun.record("STCN-2", "softmax_gap", 1.5)
    assert len(read_jsonl(rerun.path)) == 2  # interrupted here: the previous run's records stay whole
    rerun.save()
    assert [(r["id"], r["verdict"]) for r in read_jsonl(rerun.path)] == [("STCN-2", NOT_REPRODUCED)]
    assert other.path.read_bytes() == other_bytes


def test_a_failing_record_is_refused_and_leaves_no_file(tmp_path):
    book = ledger(tmp_path)
    book.record("STCN-2", "softmax_gap", 0.0)
    with pytest.raises(ClaimError):
        book.record("STCN-4", "gini", "six")
    assert [r.id for r in book.records] == ["STCN-2"]
    book.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_demo.jsonl"]  # no temporary files left


def test_records_are_kept_in_catalogue_order(tmp_path):
    book = ledger(tmp_path)
    book.record("STCN-4", "below_10pct_at_best", 1.0)
    book.not_run("STCN-9", "davis_jf", "later", "vosnb reproduce --only 02")
    book.record("STCN-4", "gini", 1.0)
    book.record("STCN-1", "l2_share", 1.0)
    assert [(r["id"], r["sub_claim"]) for r in read_jsonl(book.save())] == [
        ("STCN-1", "l2_share"), ("STCN-4", "gini"), ("STCN-4", "below_10pct_at_best"), ("STCN-9", "davis_jf")]


def test_values_that_cannot_be_stored_are_refused(tmp_path):
    with pytest.raises(ClaimError, match="cannot store"):
        ledger(tmp_path).record("STCN-3", "recount", [object()])


# ------------------------------------------------------------------------------------------------ the closing table
def sample_ledger(tmp_path: Path, timing: float, interval: tuple[float, float]) -> Ledger:
    book = ledger(tmp_path)
    book.record("STCN-2", "softmax_gap", 0.0)
    book.not_run("STCN-9", "davis_jf", "needs DAVIS 2017", "vosnb reproduce --only 02")
    book.record("STCN-5", "fps", timing, interval=interval, unit="×", timing=True)
    book.record("STCN-4", "gini", -3.0)
    book.record("SWEM-5", "sequential_vs_batch", timing * 1e-15, machine_dependent=True)
    return book


def test_table_is_a_styler_with_the_display_columns_and_tinted_verdicts(tmp_path):
    table = sample_ledger(tmp_path, 1.30, (1.2, 1.4)).table()
    assert isinstance(table, Styler)
    assert list(table.data.columns) == ["ID", "sub-claim", "claim", "evidence", "paper", "measured", "rule",
                                        "verdict"]
    assert list(table.data["ID"]) == ["SWEM-5", "STCN-2", "STCN-4", "STCN-5", "STCN-9"]
    assert list(table.data["evidence"]) == [CHECK, CHECK, FINDING, FINDING, FINDING]
    verdicts = list(table.data["verdict"])
    assert verdicts == [REPRODUCED, REPRODUCED, NOT_REPRODUCED, REPRODUCED,  # a timing's verdict: no ~
                        "not run: needs DAVIS 2017; run: vosnb reproduce --only 02"]
    assert table.data["measured"].iloc[3] == "~ 1.30 × [~ 1.20, ~ 1.40]"
    assert table.data["measured"].iloc[0] == "~ 1.3e-15"  # a round-off residual: value hidden, verdict shown
    assert INCONCLUSIVE in claims.VERDICT_COLORS
    html = table.to_html()
    for verdict in (REPRODUCED, NOT_REPRODUCED, NOT_RUN):
        assert claims.VERDICT_COLORS[verdict] in html
    assert html == sample_ledger(tmp_path / "again", 1.30, (1.2, 1.4)).table().to_html()  # deterministic
    assert "STCN-4" in repr(table) and "0x" not in repr(table)  # plain text is the table, not an address


def test_sanitiser_hides_timings_and_their_verdicts_but_catches_every_other_change(tmp_path):
    fast = sample_ledger(tmp_path / "a", 1.30, (1.2, 1.4)).table()
    slow = sample_ledger(tmp_path / "b", 0.80, (0.7, 0.9)).table()  # a slower run flips the timing's verdict
    assert fast.to_html() != slow.to_html() and repr(fast) != repr(slow)
    assert sanitise(fast.to_html()) == sanitise(slow.to_html())
    assert sanitise(repr(fast)) == sanitise(repr(slow))
    assert "TIMED-VERDICT" in sanitise(repr(fast)) and "TIMED-VERDICT" in sanitise(fast.to_html())
    changed = ledger(tmp_path / "c")  # a deterministic value that changes is caught
    changed.record("STCN-2", "softmax_gap", 0.5)
    assert sanitise(changed.table().to_html()) != sanitise(ledger(tmp_path / "d").table().to_html())
    flipped = ledger(tmp_path / "e")  # so is a verdict that is not a timing's, in both renderings
    flipped.record("STCN-4", "gini", 3.0)
    kept = ledger(tmp_path / "f")
    kept.record("STCN-4", "gini", -3.0)
    assert sanitise(flipped.table().to_html()) != sanitise(kept.table().to_html())
    assert sanitise(repr(flipped.table())) != sanitise(repr(kept.table()))


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


def test_sanitiser_reads_an_interval_the_same_whatever_its_digits():
    """A timing interval shown with integer ends keeps its comma (CI once saw "[~ T ~ T]" against "[~ T, ~ T]")."""
    shown = {sanitise(t) for t in ("~ 0 ms [~ -7, ~ 9]", "~ 2.4 ms [~ -8.5, ~ 13]", "~ 1,669 ms [~ 1,533, ~ 1,873]")}
    assert shown == {"~ T ms [~ T, ~ T]"}


# ------------------------------------------------------------------------------------------------ vosnb claims
@pytest.fixture
def results(tmp_path: Path) -> Path:
    lfu = ledger(tmp_path, "05_lfu")
    lfu.record("AMM-1", "lfu_vs_first_last", 1.9, interval=(-0.5, 3.0), model="tiny")
    lfu.save()
    book = ledger(tmp_path, "02_stcn")
    book.not_run("STCN-9", "davis_jf", "needs DAVIS 2017", "vosnb reproduce --only 02")
    book.record("STCN-2", "softmax_gap", 0.0)
    book.record("STCN-1", "l2_share", 1.0, claim="a very long description of the point set " * 6)
    book.save()
    return tmp_path


def cli_json(capsys: pytest.CaptureFixture, *args: str) -> list[dict]:
    assert cli.main(["claims", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_lists_records_and_every_unrecorded_id_in_catalogue_order(results, capsys):
    records = cli_json(capsys, "--results", str(results))
    ids = [r["id"] for r in records]
    assert ids == list(claims.load_catalogue())  # one row per ID here: recorded, or not run from the catalogue
    for key in ("id", "sub_claim", "evidence", "kind", "paper_value", "measured", "verdict", "dataset", "model"):
        assert all(key in r for r in records)
    by_id = {r["id"]: r for r in records}
    assert by_id["AMM-1"]["model"] == "tiny" and by_id["AMM-1"]["verdict"] == INCONCLUSIVE
    assert by_id["STCN-9"]["reason"].startswith("needs DAVIS 2017; run:")
    assert by_id["ZOO-1"]["verdict"] == NOT_RUN and "run: vosnb reproduce --only 07" in by_id["ZOO-1"]["reason"]
    assert by_id["STCN-4"]["verdict"] == NOT_RUN and "run: vosnb reproduce --only 02" in by_id["STCN-4"]["reason"]


def test_every_catalogue_id_appears_given_the_committed_results(capsys):
    ids = {r["id"] for r in cli_json(capsys, "--results", str(REPO / "results"))}
    assert ids == set(claims.load_catalogue())


def test_planned_ids_get_not_run_rows_from_the_catalogue():
    catalogue = claims.parse_catalogue(bad("ZOO-1", notebook=None, rules=None, planned="notebook 07 is not built"))
    planned = [e for e in catalogue.values() if e.planned]
    assert [e.id for e in planned] == ["ZOO-1"]
    rows = claims.unrecorded([], {e.id: e for e in planned}, Path("results"))
    assert [(r.id, r.verdict, r.reason) for r in rows] == [("ZOO-1", NOT_RUN, "planned: notebook 07 is not built")]
    assert rows[0].evidence == catalogue["ZOO-1"].evidence


@pytest.mark.parametrize("args, ids", [
    (["--notebook", "05"], ["AMM-1", "AMM-2", "AMM-3", "AMM-4", "AMM-5"]),
    (["--notebook", "05_lfu"], ["AMM-1"]),
    (["--paper", "stcn", "--verdict", "reproduced"], ["STCN-1", "STCN-2"]),
    (["--verdict", "inconclusive"], ["AMM-1"]),
])
def test_cli_filters(results, args, ids, capsys):
    assert [r["id"] for r in cli_json(capsys, "--results", str(results), *args)] == ids


def test_cli_unknown_paper_is_an_error(results, capsys):
    assert cli.main(["claims", "--results", str(results), "--paper", "XYZ"]) == 2
    assert "no such paper" in capsys.readouterr().err


def test_cli_csv_keeps_every_field(results, capsys):
    assert cli.main(["claims", "--format", "csv", "--results", str(results), "--notebook", "02"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert set(rows[0]) == {f.name for f in claims.dataclasses.fields(claims.ClaimRecord)}
    assert [r["id"] for r in rows][:2] == ["STCN-1", "STCN-2"] and rows[1]["verdict"] == REPRODUCED


def test_terminal_table_fits_120_columns_and_ends_with_the_summary(results, capsys):
    assert cli.main(["claims", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert out.index("== SWEM") < out.index("== STCN") < out.index("STCN-2") < out.index("AMM-1")
    reason = next(line for line in lines if "needs DAVIS 2017" in line)
    assert reason.strip().startswith("not run: needs DAVIS 2017")  # the reason on its own line
    summary = lines[lines.index("Summary:") + 1:]
    assert summary == claims.summary_lines(claims.load_results(results))
    assert any(line.startswith("check    reproduced") and "2 records,  2 claims" in line for line in summary)
    assert any(line.startswith("finding  inconclusive") for line in summary)


def test_summary_lines_count_records_and_claims_per_evidence_and_verdict(results):
    records = claims.load_results(results, with_unrecorded=False)
    assert claims.summary_lines(records) == [
        "finding  inconclusive      1 records,  1 claims",
        "finding  not run           1 records,  1 claims",
        "check    reproduced        2 records,  2 claims"]


def test_old_records_take_evidence_and_kind_from_the_catalogue(tmp_path):
    rec = ledger(tmp_path).record("SWEM-6", "features", [512, 1620]).to_dict()
    for field in ("sub_claim", "evidence", "kind", "provenance"):
        rec.pop(field)
    (tmp_path / "03_old.jsonl").write_text(json.dumps(rec) + "\n", encoding="utf-8")
    (old,) = claims.load_results(tmp_path, with_unrecorded=False)
    assert (old.evidence, old.kind, old.sub_claim) == (CHECK, "exact", "")


def test_cli_reports_bad_results_without_a_traceback(tmp_path, capsys):
    assert cli.main(["claims", "--results", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "07_x.jsonl").write_text('{"id": "STCN-2"}\nnot json\n', encoding="utf-8")
    assert cli.main(["claims", "--results", str(tmp_path)]) == 2
    assert "07_x.jsonl:1: record lacks" in capsys.readouterr().err
    (tmp_path / "07_x.jsonl").write_text('{"id": "NOPE-1"}\n', encoding="utf-8")
    assert cli.main(["claims", "--results", str(tmp_path)]) == 2
    assert "'NOPE-1' is not in the catalogue" in capsys.readouterr().err


def test_cli_with_no_records_lists_the_catalogue_as_not_run(tmp_path, capsys):
    assert {r["verdict"] for r in cli_json(capsys, "--results", str(tmp_path))} == {NOT_RUN}
    assert cli.main(["claims", "--results", str(tmp_path), "--verdict", "reproduced"]) == 0
    assert "no claims in" in capsys.readouterr().out


@pytest.mark.parametrize("rule, interval, plain, timed", [
    # the mechanics, with a band of ±5%: a flat claim's ±10% bound becomes a band 5%..15% that cannot be told
    (Flat(0.10), (0.02, 0.08), REPRODUCED, INCONCLUSIVE),
    (Flat(0.10), (-0.04, 0.04), REPRODUCED, REPRODUCED),
    (Flat(0.10), (0.11, 0.14), NOT_REPRODUCED, INCONCLUSIVE),
    (Flat(0.10), (0.16, 0.30), NOT_REPRODUCED, NOT_REPRODUCED),
    # a ratio claimed > 1: 0.95..1.05 cannot be told
    (Ratio(1.3), (1.02, 1.04), REPRODUCED, INCONCLUSIVE),
    (Ratio(1.3), (1.06, 1.20), REPRODUCED, REPRODUCED),
    (Ratio(1.3), (0.96, 0.98), NOT_REPRODUCED, INCONCLUSIVE),
    (Ratio(0.5), (1.06, 1.10), NOT_REPRODUCED, NOT_REPRODUCED),
    # a relative change claimed above a margin of 0.1: 0.05..0.15 cannot be told
    (Greater(margin=0.1), (0.12, 0.14), REPRODUCED, INCONCLUSIVE),
    (Greater(margin=0.1), (0.16, 0.40), REPRODUCED, REPRODUCED),
    (Greater(margin=0.1), (0.06, 0.08), NOT_REPRODUCED, INCONCLUSIVE),
    (Less(), (-0.03, -0.01), REPRODUCED, INCONCLUSIVE),
])
def test_a_timing_cannot_tell_a_band_around_the_bound(rule, interval, plain, timed):
    banded = dataclasses.replace(rule, resolution=0.05)
    middle = sum(interval) / 2
    assert rule.verdict(middle, interval) == plain
    assert banded.verdict(middle, interval) == timed
    assert banded.verdict(middle) in (plain, INCONCLUSIVE)  # without an interval: the value against the band
    assert "cannot be told" in banded.describe() and "cannot be told" not in rule.describe()


def test_ledger_judges_timings_with_the_band_and_refuses_exact_timings(tmp_path):
    book = ledger(tmp_path)
    timed = book.record("STCN-5", "fps", 1.08, interval=(1.06, 1.09), unit="×", timing=True)
    plain = book.record("STCN-5", "fps", 1.08, interval=(1.06, 1.09), unit="×", claim="not a timing")
    assert (timed.verdict, plain.verdict) == (INCONCLUSIVE, REPRODUCED)
    assert "±10%" in timed.rule
    # a flat timing is judged against TIMING_FLAT_BOUND (25%) with the ±10% band: within ±15%, beyond ±35%
    flat = {interval: book.record("SWEM-7", "time_flat", sum(interval) / 2, interval=interval, timing=True,
                                  claim=f"timed {interval}").verdict
            for interval in ((0.11, 0.14), (-0.14, 0.02), (0.12, 0.2), (0.3, 0.4), (0.36, 0.5), (-0.6, -0.4))}
    assert list(flat.values()) == [REPRODUCED, REPRODUCED, INCONCLUSIVE, INCONCLUSIVE, NOT_REPRODUCED,
                                   NOT_REPRODUCED]
    assert book.record("SWEM-7", "time_flat", 0.12, interval=(0.11, 0.14), claim="bytes").verdict == NOT_REPRODUCED
    with pytest.raises(ClaimError, match="never by an exact one"):
        book.record("STCN-2", "softmax_gap", 0.0, timing=True)
    with pytest.raises(ValueError, match="leaves nothing"):
        Flat(0.05, resolution=0.05)
