"""`vosnb.context.setup` and `vosnb reproduce` (papermill over tiny notebooks in a temporary repository).

The data module's builder is replaced by a fake that records its calls: these tests check when the pipeline and
the context build data, not how the data is made (tests/test_data*.py do that).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import jupytext
import matplotlib as mpl
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from PIL import Image

import vosnb
import vosnb.context
import vosnb.data
from vosnb import cli, pipeline
from vosnb.context import setup
from vosnb.errors import DataError, VosnbError

REPO = Path(__file__).resolve().parents[1]
ALL_PARAMETERS = 'profile = "ci"\ndataset = "synthetic"\ndata_root = None\ndevice = "auto"\nseed = 0'


def write_notebook(folder: Path, stem: str, parameters: str, *cells: str) -> Path:
    """notebooks/<stem>.ipynb with prose, a `parameters` cell and `cells`, plus its py:percent twin."""
    nb = new_notebook(
        cells=[new_markdown_cell(f"# {stem}\n\nA test notebook."),
               new_code_cell(parameters, metadata={"tags": ["parameters"]}),
               *(new_code_cell(c) for c in cells)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                  "language_info": {"name": "python"}},
    )
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, path)
    jupytext.write(nb, path.with_suffix(".py"), fmt="py:percent")
    return path


def stdout_of(nb_path: Path) -> list[str]:
    nb = nbformat.read(nb_path, as_version=4)
    return ["".join(o.text for o in c.outputs if o.output_type == "stream") for c in nb.cells if c.cell_type == "code"]


@pytest.fixture
def built(monkeypatch) -> list[Path]:
    """Replace the synthetic builder; the list collects the roots it was asked to build."""
    calls: list[Path] = []

    def fake_build(root, *args, **kwargs):
        calls.append(Path(root))
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / "synthetic.json").write_text("{}")
        return Path(root)

    monkeypatch.setattr(vosnb.data, "build_synthetic", fake_build)
    return calls


@pytest.fixture
def repo(tmp_path, monkeypatch, built) -> Path:
    """A temporary repository root with notebooks 00 (declares every parameter) and 01 (declares profile only)."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'scratch'\n")
    (tmp_path / "notebooks").mkdir()
    write_notebook(tmp_path / "notebooks", "00_params", ALL_PARAMETERS,
                   "print(profile, dataset, data_root, device, seed)")
    write_notebook(tmp_path / "notebooks", "01_partial", 'profile = "ci"',
                   "print(profile)", "print('dataset' in dir())")
    monkeypatch.setattr(vosnb.context, "repo_root", lambda: tmp_path)
    return tmp_path


def make_davis_tree(root: Path, frames: int = 2) -> Path:
    """The smallest DAVIS 2017 layout: one val sequence 'blob' with a square object."""
    for t in range(frames):
        for folder in ("JPEGImages", "Annotations"):
            (root / folder / "480p" / "blob").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), 40 * t, np.uint8)).save(root / f"JPEGImages/480p/blob/{t:05d}.jpg")
        mask = np.zeros((16, 16), np.uint8)
        mask[4:10, 4 + t:10 + t] = 1
        png = Image.fromarray(mask, mode="P")
        png.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
        png.save(root / f"Annotations/480p/blob/{t:05d}.png")
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("blob\n")
    return root


# ------------------------------------------------------------------------------------------------ context
def test_repo_root_is_found_from_the_package():
    assert vosnb.context.repo_root() == REPO


def test_repo_root_falls_back_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(vosnb, "__file__", str(tmp_path / "site-packages" / "vosnb" / "__init__.py"))
    (tmp_path / "checkout" / "notebooks").mkdir(parents=True)
    (tmp_path / "site-packages" / "vosnb").mkdir(parents=True)
    (tmp_path / "checkout" / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path / "checkout" / "notebooks")
    assert vosnb.context.repo_root() == tmp_path / "checkout"
    monkeypatch.chdir(tmp_path / "site-packages")
    with pytest.raises(DataError, match="no pyproject.toml"):
        vosnb.context.repo_root()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(profile="fast"), ValueError, "profile='fast'"),
    (dict(dataset="davis2016"), ValueError, "dataset='davis2016'"),
    (dict(dataset="davis2017"), DataError, "needs data_root"),
    (dict(dataset="davis2017", data_root="/no/such/folder"), DataError, "data_root='/no/such/folder'"),
    (dict(seed=-1), ValueError, "seed=-1"),
    (dict(seed=1.5), ValueError, "seed=1.5"),
    (dict(notebook="../escape"), ValueError, "notebook='../escape'"),
])
def test_setup_refuses_bad_parameters_by_name(kwargs, error, message, built):
    with pytest.raises(error, match=message):
        setup(**{"notebook": "02_demo", "device": "cpu", **kwargs})
    assert built == []


def test_setup_builds_the_default_synthetic_data_and_binds_everything(repo, built, capsys, monkeypatch):
    opened = []
    monkeypatch.setattr(vosnb.data, "DavisDataset", lambda root, split="val": opened.append((root, split)) or "val")
    monkeypatch.setenv("VOSNB_OUTPUT_ROOT", str(repo))
    mpl.rcdefaults()
    ctx = setup("02_demo", profile="ci", dataset="synthetic", data_root=None, device="cpu", seed=5)
    expected_data = repo / "data" / "synthetic"
    assert built == [expected_data] and opened == [(expected_data, "val")]
    assert (ctx.notebook, ctx.profile, ctx.dataset, ctx.seed, ctx.val) == ("02_demo", "ci", "synthetic", 5, "val")
    assert ctx.data_root == expected_data and ctx.device == torch.device("cpu")
    assert (ctx.figures_dir, ctx.results_dir) == (repo / "figures" / "02_demo", repo / "results")
    assert (ctx.ledger.notebook, ctx.ledger.dataset, ctx.ledger.profile, ctx.ledger.device, ctx.ledger.seed) == \
        ("02_demo", "synthetic", "ci", "cpu", 5)
    assert ctx.ledger.path == repo / "results" / "02_demo.jsonl"
    assert mpl.rcParams["svg.hashsalt"] == "vosnb"  # plotting.use_style() was applied
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and f"torch {torch.__version__}" in line and "device cpu" in line
    seeded = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(seeded, torch.rand(3))
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    assert ctx.savefig(fig, "line") is None  # outside a kernel: written, not displayed, left open
    plt.close(fig)
    assert (repo / "figures" / "02_demo" / "line.png").is_file() and (repo / "figures" / "02_demo" / "line.svg").is_file()
    setup("02_demo", device="cpu")  # the default root is handed to the (idempotent) builder again
    assert built == [expected_data, expected_data]


def test_setup_uses_an_existing_synthetic_root_as_it_is(tmp_path, built):
    custom = make_davis_tree(tmp_path / "my_synthetic")
    (custom / "synthetic.json").write_text("{}")
    ctx = setup("02_demo", data_root=custom, device="cpu")
    assert built == []
    assert ctx.data_root == custom and ctx.val.sequences == ["blob"]


def test_setup_on_davis_reads_the_given_root_without_building(tmp_path, built):
    davis = make_davis_tree(tmp_path / "DAVIS")
    ctx = setup("02_demo", dataset="davis2017", data_root=str(davis), device="cpu")
    assert built == []
    assert ctx.data_root == davis and ctx.dataset == "davis2017"
    video = ctx.val["blob"]
    assert len(video) == 2 and video.object_ids == [1]


# ------------------------------------------------------------------------------------------------ reproduce
def test_reproduce_runs_in_order_with_only_the_declared_parameters(repo, built, capsys):
    committed = {p.name: p.read_bytes() for p in (repo / "notebooks").iterdir()}
    assert cli.main(["reproduce", "--profile", "full", "--device", "cpu", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "00_params: done in" in out and "01_partial: done in" in out
    assert out.index("00_params: done") < out.index("01_partial: done")
    assert "00_params [0:00] cell 1/2" in out and "cell 2/2" in out  # progress inside each notebook
    assert built == [repo / "data" / "synthetic"]
    build = repo / "build" / "notebooks"
    assert stdout_of(build / "00_params.ipynb")[-1] == "full synthetic None cpu 3\n"
    assert stdout_of(build / "01_partial.ipynb")[-2:] == ["full\n", "False\n"]  # dataset was not injected
    assert {p.name: p.read_bytes() for p in (repo / "notebooks").iterdir()} == committed


def test_a_failing_cell_is_named_and_exits_non_zero(repo, capsys):
    write_notebook(repo / "notebooks", "02_fails", ALL_PARAMETERS, "x = 1", "\nraise RuntimeError('boom')", "x = 2")
    assert cli.main(["reproduce", "--only", "02", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "02_fails.ipynb failed in cell 3" in err and "raise RuntimeError('boom')" in err
    assert "RuntimeError: boom" in err and str(repo / "build" / "notebooks" / "02_fails.ipynb") in err
    assert not (repo / "build" / "notebooks" / "00_params.ipynb").exists()  # --only ran 02 alone


def test_in_place_replaces_the_notebook_and_resyncs_its_twin(repo):
    source = repo / "notebooks" / "00_params.ipynb"
    before = nbformat.read(source, as_version=4)
    assert cli.main(["reproduce", "--only", "00", "--in-place", "--device", "cpu"]) == 0
    after = nbformat.read(source, as_version=4)
    assert [c.source for c in after.cells] == [c.source for c in before.cells]  # no injected-parameters cell
    assert stdout_of(source)[-1] == "ci synthetic None cpu 0\n"
    assert "papermill" not in after.metadata
    assert not any("papermill" in c.metadata or "execution" in c.metadata for c in after.cells)
    assert pipeline.pair_problems(repo / "notebooks") == []
    twin = jupytext.read(source.with_suffix(".py"), fmt="py:percent")
    assert [c.source.rstrip() for c in twin.cells] == [c.source.rstrip() for c in before.cells]
    assert sorted(p.name for p in source.parent.iterdir()) == \
        ["00_params.ipynb", "00_params.py", "01_partial.ipynb", "01_partial.py"]  # no temporary files
    executed = nbformat.read(repo / "build" / "notebooks" / "00_params.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_in_place_refuses_to_overwrite_an_edited_twin(repo, capsys):
    twin = repo / "notebooks" / "01_partial.py"
    twin.write_text(twin.read_text().replace("print(profile)", "print(profile.upper())"))
    notebook_bytes = (repo / "notebooks" / "01_partial.ipynb").read_bytes()
    assert cli.main(["reproduce", "--only", "01", "--in-place", "--device", "cpu"]) == 2
    assert "out of sync" in capsys.readouterr().err
    assert (repo / "notebooks" / "01_partial.ipynb").read_bytes() == notebook_bytes
    assert not (repo / "build").exists()


@pytest.mark.parametrize("argv, message", [
    (["--only", "00,07"], "no notebook numbered 07; available: 00, 01"),
    (["--only", ","], "no notebook numbered (none given)"),
    (["--dataset", "davis2017"], "--dataset davis2017 needs --data-root"),
    (["--dataset", "davis2017", "--data-root", "/no/such/DAVIS"], "data_root='/no/such/DAVIS' is not a folder"),
])
def test_reproduce_refuses_bad_arguments_before_running(repo, built, capsys, argv, message):
    assert cli.main(["reproduce", "--device", "cpu", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (repo / "build").exists() and built == []


def test_reproduce_refuses_cuda_without_a_gpu(repo, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main(["reproduce", "--device", "cuda"]) == 2
    assert "--device cuda" in capsys.readouterr().err


def test_reproduce_with_no_notebooks_says_so(tmp_path, monkeypatch, built, capsys):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setattr(vosnb.context, "repo_root", lambda: tmp_path)
    assert cli.main(["reproduce", "--device", "cpu"]) == 2
    assert "no notebooks/NN_*.ipynb" in capsys.readouterr().err


def test_notebooks_are_listed_and_selected_by_number(repo):
    (repo / "notebooks" / "scratch.ipynb").write_text("{}")  # not an ordered notebook
    listed = pipeline.list_notebooks(repo / "notebooks")
    assert [p.name for p in listed] == ["00_params.ipynb", "01_partial.ipynb"]
    assert pipeline.select(listed, "01") == [listed[1]]
    assert pipeline.select(listed, " 01, 00 ") == listed
    assert pipeline.declared_parameters(listed[1]) == {"profile"}
    with pytest.raises(VosnbError, match="available: 00, 01"):
        pipeline.select(listed, "3")



def test_setup_reads_a_real_synthetic_set(tiny_davis_root, built):
    ctx = setup("02_demo", data_root=tiny_davis_root, device="cpu")
    assert built == []  # a root that holds synthetic.json is used as it is
    assert len(ctx.val.sequences) == 2
    video = ctx.val[ctx.val.sequences[0]]
    assert len(video) == 8 and video.frame(0).shape == (48, 80, 3)


def test_cell_progress_names_the_cell_and_beats_while_a_cell_runs():
    cells = [new_markdown_cell("## Section A\ntext"), new_code_cell("# comment\nx = 1"),
             new_code_cell("slow()")]
    lines: list[str] = []
    progress = pipeline.CellProgress("07_demo", cells, heartbeat=0.05, write=lines.append)
    with progress:
        progress.on_cell_start(cells[1], 1)
        progress.on_cell_start(cells[2], 2)
        time.sleep(0.3)
    assert lines[0].endswith("cell 1/2 Section A | x = 1") and lines[1].endswith("cell 2/2 Section A | slow()")
    assert any("still running cell 2/2" in line for line in lines[2:])
    assert not progress._thread.is_alive()


def test_verdict_counts_summarise_the_notebook_just_run(tmp_path, monkeypatch):
    monkeypatch.setenv("VOSNB_OUTPUT_ROOT", str(tmp_path))
    (tmp_path / "results").mkdir()
    rows = [{"verdict": v} for v in ("reproduced", "inconclusive", "reproduced")]
    (tmp_path / "results" / "02_x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert pipeline.verdict_counts("02_x") == "; claims: 2 reproduced, 1 inconclusive"
    assert pipeline.verdict_counts("03_none") == ""


def test_a_cell_that_never_finishes_stops_the_run_with_an_error_naming_it(tmp_path, monkeypatch):
    write_notebook(tmp_path, "07_slow", 'profile = "ci"', "import time\ntime.sleep(60)")
    monkeypatch.setattr(pipeline, "CELL_TIMEOUT_S", 3)
    expected = r"07_slow\.ipynb: cell 2/2 07_slow \| import time did not finish within 3 s"
    with pytest.raises(pipeline.NotebookExecutionError, match=expected):
        pipeline.execute(tmp_path / "07_slow.ipynb", tmp_path / "out.ipynb", {}, progress=False)


def test_savefig_in_a_kernel_shows_each_figure_once_and_closes_pyplot_ones(tmp_path, monkeypatch):
    import IPython.display
    from matplotlib.figure import Figure

    from vosnb import context
    shown = []
    monkeypatch.setattr(context, "_in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", shown.append)
    ctx = SimpleNamespace(notebook="02_demo", figures_dir=tmp_path / "figures" / "02_demo")
    managed, bare = plt.figure(), Figure()
    for name, fig in (("managed", managed), ("bare", bare)):
        fig.add_subplot().plot([0, 1])
        context.NotebookContext.savefig(ctx, fig, name)
        assert (tmp_path / "figures" / "02_demo" / f"{name}.png").is_file()
    assert shown == [managed, bare]
    assert not plt.fignum_exists(managed.number)  # the inline backend will not show it a second time
