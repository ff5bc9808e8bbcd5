"""The ci profile's pinned numerics (`vosnb.runtime.pin_ci_numerics`) and the display precision of claims."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from vosnb.claims import format_measurement, format_value
from vosnb.memory.swem import SWEMMemory
from vosnb.runtime import CI_THREADS, ISA_ENV, ci_numerics_env

PIN_VARIABLES = {name for env in ISA_ENV.values() for name in env} | {"VOSNB_CI_ISA", "OMP_WAIT_POLICY"}


def run_python(code: str, **env: str) -> str:
    """Run `code` in a fresh interpreter whose environment has none of the pin variables, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if k not in PIN_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


PIN_AND_REPORT = ("import os, torch, vosnb.runtime as r; {before}warning = r.pin_ci_numerics(); "
                  "print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), os.environ['MKL_CBWR'], "
                  "warning is None)")


@pytest.mark.parametrize("level, capability, mkl", [("avx2", "AVX2", "AVX2"), ("sse", "DEFAULT", "COMPATIBLE")])
def test_pin_selects_the_instruction_set_path_before_the_first_computation(level, capability, mkl):
    out = run_python(PIN_AND_REPORT.format(before=""), VOSNB_CI_ISA=level)
    assert out.split() == [capability, str(CI_THREADS), mkl, "True"]


def test_pin_after_a_computation_says_it_did_not_hold():
    native = run_python("import torch; torch.ones(64).sum(); print(torch.backends.cpu.get_cpu_capability())")
    if native == "AVX2":
        pytest.skip("the native path is the pinned one: a late pin cannot be told apart")
    out = run_python(PIN_AND_REPORT.format(before="torch.ones(64).sum(); "))
    assert out.split() == [native, str(CI_THREADS), "AVX2", "False"]


def test_ci_environment_names_every_library_and_the_wait_policy(monkeypatch):
    env = ci_numerics_env("avx2")
    assert env == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                   "VOSNB_CI_ISA": "avx2", "OMP_WAIT_POLICY": "PASSIVE"}
    monkeypatch.setenv("VOSNB_CI_ISA", "avx9")
    with pytest.raises(ValueError, match="VOSNB_CI_ISA='avx9'"):
        ci_numerics_env()


def test_claims_show_three_significant_digits():
    assert format_value(-4.63350) == "-4.63" and format_value(-4.63349) == "-4.63"
    assert format_value([13.78, 0.0012345]) == "[13.8, 0.00123]"
    assert format_value(1620) == "1620"


def test_a_value_with_an_interval_is_shown_to_the_precision_the_interval_supports():
    # the two records that moved between instruction-set paths at 3 significant digits now read the same
    assert format_measurement(0.035446757, [-1.5, 1.16]) == format_measurement(0.035462410, [-1.5, 1.16]) \
        == ("0.0", "[-1.5, 1.2]")
    assert format_measurement(-0.0176304, [-0.0398, 0.000751]) == format_measurement(-0.0176310, [-0.0398, 0.000749]) \
        == ("-0.018", "[-0.040, 0.001]")
    assert format_measurement(-0.02, [-0.9, 0.5]) == ("0.0", "[-0.9, 0.5]")  # no "-0.0"
    # never finer than three significant digits, whatever the width; no interval, a zero width: significant digits
    assert format_measurement(55.712, [55.70, 55.72]) == ("55.7", "[55.7, 55.7]")
    assert format_measurement(95.04, [93.71, 96.12]) == ("95.0", "[93.7, 96.1]")
    assert format_measurement(1.84e-15, None) == ("1.84e-15", None)
    assert format_measurement(0.5, [0.5, 0.5]) == ("0.5", "[0.5, 0.5]")
    assert format_measurement(2.0, [1.0, 3.0], timed=True) == ("~ 2.0", "[~ 1.0, ~ 3.0]")


def test_swem_computes_in_float64_on_the_cpu_and_returns_the_query_dtype():
    key = torch.randn(8, 2, 3)
    bank = SWEMMemory(num_bases=4)
    bank.write(0, key, torch.randn(1, 5, 2, 3), torch.rand(1, 32, 48))
    assert bank.first.kappa.dtype == torch.float64
    assert bank.read(key).values.dtype == torch.float32
    assert SWEMMemory(num_bases=4, dtype=torch.float32).state_dtype(key) == torch.float32
