"""Committed claims must survive another CPU: every ci-profile record, re-measured with the math libraries on another
instruction-set path, must show the same value (at the claims table's precision) and the same verdict.

nbval compares the committed notebooks with a fresh run on the CI machine, which pins the same path as the recording
(`vosnb.runtime.ci_numerics_env`); where the pin does not reach (another CPU model, another library build), last
bits can still differ. This test re-executes the notebooks that record claims with the *other* path
(`VOSNB_CI_ISA`) into a temporary folder, so a record that is not stable to its displayed precision fails here,
on the developer's machine, before it fails CI elsewhere. It re-executes every claim notebook, as long as nbval
does, so it runs as `make check-isa` (before committing re-recorded outputs), not in `make test`. Of a record marked machine-dependent (a round-off
residual) only the verdict is compared, and of a single timing nothing: nbval sanitises the same parts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vosnb.claims import format_measurement
from vosnb.runtime import ISA_ENV, ci_isa

REPO = Path(__file__).resolve().parents[1]


def committed_records() -> dict[str, dict[tuple, dict]]:
    """{notebook: {(id, claim, model): record}} of results/*.jsonl."""
    found = {}
    for path in sorted((REPO / "results").glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        found[path.stem] = {(r["id"], r["claim"], r["model"]): r for r in rows}
    return found


def shown(record: dict) -> tuple[str, str, str]:
    """What the claims table shows of a record: value, interval, verdict."""
    value, interval = format_measurement(record["measured"], record["interval"])
    return value, str(interval), record["verdict"]


@pytest.mark.isa
def test_committed_claims_survive_the_other_instruction_set(tmp_path):
    committed = committed_records()
    assert committed, "no results/*.jsonl committed"
    other = next(level for level in ISA_ENV if level != ci_isa())
    env = {**os.environ, "VOSNB_CI_ISA": other, "VOSNB_OUTPUT_ROOT": str(tmp_path)}
    numbers = ",".join(sorted(stem[:2] for stem in committed))
    run = subprocess.run([sys.executable, "-m", "vosnb", "reproduce", "--profile", "ci", "--device", "cpu",
                          "--only", numbers], cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr[-3000:]
    problems = []
    for notebook, records in committed.items():
        fresh = {(r["id"], r["claim"], r["model"]): r
                 for r in map(json.loads, (tmp_path / "results" / f"{notebook}.jsonl").read_text().splitlines())}
        assert fresh.keys() == records.keys(), f"{notebook}: other records than committed"
        for key, record in records.items():
            assert fresh[key]["provenance"]["cpu_capability"] != record["provenance"]["cpu_capability"]
            if record.get("timing"):
                continue
            compared = slice(2, 3) if record["machine_dependent"] else slice(0, 3)
            if shown(fresh[key])[compared] != shown(record)[compared]:
                problems.append(f"{notebook} {key[0]} {key[1][:60]!r}: committed {shown(record)}, "
                                f"{other} path {shown(fresh[key])} (full: {record['measured']} vs "
                                f"{fresh[key]['measured']})")
    if problems:
        pytest.fail("records not stable to their displayed precision across instruction sets:\n" + "\n".join(problems))
