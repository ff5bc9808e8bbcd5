"""Provenance: a record names the commit of the code that produced it, and says when the code was not committed."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vosnb.provenance import git_state


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    for name, text in {"vosnb/core.py": "x = 1\n", "results/01.jsonl": "{}\n", "figures/01/a.svg": "<svg/>\n",
                       "notebooks/01_a.ipynb": "{}\n", "notebooks/01_a.py": "# %%\n"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def test_clean_checkout_cites_its_commit(repo):
    state = git_state(repo / "vosnb")
    assert len(state["describe"]) == 12 and "diff_sha256" not in state


def test_rewritten_outputs_do_not_make_the_code_dirty(repo):
    clean = git_state(repo)
    for name in ("results/01.jsonl", "figures/01/a.svg", "notebooks/01_a.ipynb"):
        (repo / name).write_text("changed by a re-recording\n")
    assert git_state(repo) == clean


@pytest.mark.parametrize("name", ["vosnb/core.py", "notebooks/01_a.py"])
def test_changed_code_is_dirty_with_a_hash_of_the_change(repo, name):
    clean = git_state(repo)["describe"]
    (repo / name).write_text("x = 2\n")
    first = git_state(repo)
    assert first["describe"] == f"{clean}-dirty" and len(first["diff_sha256"]) == 16
    (repo / name).write_text("x = 3\n")
    assert git_state(repo)["diff_sha256"] != first["diff_sha256"]


def test_outside_a_checkout_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"describe": "unknown"}
