"""Every notebooks/NN_*.ipynb has a py:percent twin with the same cells (type, source, tags), and vice versa."""
from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from vosnb.pipeline import pair_problems

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_committed_notebooks_and_twins_are_in_sync():
    problems = pair_problems(NOTEBOOKS)
    assert not problems, "\n".join(problems)


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    """A notebook 03_demo.ipynb and its twin 03_demo.py written by jupytext; returns the notebook's path."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Demo\n\nProse first."),
        new_code_cell('profile = "ci"\nseed = 0', metadata={"tags": ["parameters"]}),
        new_code_cell("x = 1\n\n\ny = 2\n"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nctx.ledger.table()"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = tmp_path / "03_demo.ipynb"
    nbformat.write(nb, path)
    jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    return path


def test_a_pair_written_by_jupytext_is_in_sync(pair):
    assert pair_problems(pair.parent) == []


def test_outputs_do_not_matter(pair):
    nb = nbformat.read(pair, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[2].execution_count = 1
    nbformat.write(nb, pair)
    assert pair_problems(pair.parent) == []


def test_an_edited_twin_is_out_of_sync(pair):
    twin = pair.with_suffix(".py")
    twin.write_text(twin.read_text().replace("y = 2", "y = 3"))
    (problem,) = pair_problems(pair.parent)
    assert "03_demo.ipynb and 03_demo.py differ from cell 2" in problem and "jupytext --sync" in problem


def test_an_edited_notebook_is_out_of_sync(pair):
    nb = nbformat.read(pair, as_version=4)
    nb.cells.append(new_markdown_cell("A new closing remark."))
    nbformat.write(nb, pair)
    (problem,) = pair_problems(pair.parent)
    assert "differ from cell 4 on (5 vs 4 cells)" in problem


def test_a_lost_parameters_tag_is_out_of_sync(pair):
    twin = pair.with_suffix(".py")
    twin.write_text(twin.read_text().replace('# %% tags=["parameters"]', "# %%"))
    assert pair_problems(pair.parent) != []


def test_a_cell_type_change_is_out_of_sync(pair):
    twin = pair.with_suffix(".py")
    twin.write_text(twin.read_text().replace("# %% [markdown]\n# # Demo", "# %%\n# # Demo"))
    assert pair_problems(pair.parent) != []


def test_a_missing_side_is_reported(pair):
    pair.with_suffix(".py").rename(pair.parent / "elsewhere.txt")
    (problem,) = pair_problems(pair.parent)
    assert "03_demo.ipynb has no py:percent twin" in problem
    (pair.parent / "elsewhere.txt").rename(pair.parent / "04_other.py")
    problems = pair_problems(pair.parent)
    assert any("04_other.py has no notebook" in p for p in problems) and len(problems) == 2


def test_files_that_are_not_numbered_notebooks_are_ignored(pair):
    (pair.parent / "helper.py").write_text("x = 1\n")
    (pair.parent / "scratch.ipynb").write_text("{}")
    assert pair_problems(pair.parent) == []


def test_every_parameter_cell_parses_with_types_and_help():
    """papermill reads each parameter's type and help from the cell (a quote in a comment makes it skip the line,
    and `vosnb reproduce` would then not inject it)."""
    import papermill

    for notebook in sorted(NOTEBOOKS.glob("0*.ipynb")):
        source = next(c.source for c in nbformat.read(notebook, as_version=4).cells
                      if "parameters" in c.metadata.get("tags", ()))
        assigned = {line.split(":")[0].split("=")[0].strip() for line in source.splitlines() if line.strip()}
        parsed = papermill.inspect_notebook(str(notebook))
        assert set(parsed) == assigned, notebook.name
        assert all(p["inferred_type_name"] != "None" and p["help"] for p in parsed.values()), notebook.name
