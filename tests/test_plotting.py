"""The one figure style and byte-stable figure files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest

import vosnb.context
from vosnb import plotting

# Run in a fresh interpreter: draws with this module's `draw` and saves under the root given as argv[1].
FIGURE_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
from test_plotting import draw
from vosnb import plotting
plotting.savefig(draw(), "curves", "99_test", root=sys.argv[1])
"""


def draw(title: str = "J&F vs length") -> plt.Figure:
    """A figure with lines in the strategy colours, a legend, an image and text."""
    plotting.use_style()
    fig, (left, right) = plt.subplots(1, 2, figsize=(4, 2))
    for name in ("every5", "first_last", "lfu", "swem", "rde"):
        left.plot(np.arange(10), np.sin(np.arange(10) + len(name)), label=name, color=plotting.color(name))
    left.legend()
    left.set_title("J&F vs length")
    right.imshow(np.random.default_rng(0).random((8, 8)))
    right.set_title(title)
    return fig


@pytest.fixture(autouse=True)
def _restore_rcparams():
    with mpl.rc_context():
        yield
    plt.close("all")


def test_use_style_sets_the_palette_and_the_stable_svg_salt():
    mpl.rcdefaults()
    plotting.use_style()
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(plotting.OKABE_ITO)
    assert mpl.rcParams["svg.hashsalt"] == "vosnb"
    assert mpl.rcParams["axes.spines.top"] is False


def test_colours_are_fixed_and_distinct_per_memory_strategy():
    strategies = ["every5", "every5+last", "first_last", "lfu", "swem", "rde", "gam", "xmem"]  # the zoo's eight
    assert len({plotting.color(s) for s in strategies}) == len(strategies)
    assert plotting.color("dot") != plotting.color("l2")
    assert set(plotting.COLORS.values()) <= set(plotting.OKABE_ITO) | {"#7F7F7F", plotting.TOL_WINE}
    with pytest.raises(KeyError, match="known names: every5"):
        plotting.color("every7")
    with pytest.raises(TypeError):
        plotting.COLORS["lfu"] = "#FF0000"  # read-only: one colour per name everywhere


def test_savefig_writes_png_and_svg_under_figures_notebook(tmp_path):
    png, svg = plotting.savefig(draw(), "curves", "02_demo", root=tmp_path)
    assert (png, svg) == (tmp_path / "figures/02_demo/curves.png", tmp_path / "figures/02_demo/curves.svg")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()
    assert sorted(p.name for p in png.parent.iterdir()) == ["curves.png", "curves.svg"]  # no temporary files


def test_saving_the_same_figure_twice_gives_the_same_bytes(tmp_path):
    fig = draw()
    first = [p.read_bytes() for p in plotting.savefig(fig, "curves", "02_demo", root=tmp_path)]
    second = [p.read_bytes() for p in plotting.savefig(fig, "curves", "02_demo", root=tmp_path)]
    redrawn = [p.read_bytes() for p in plotting.savefig(draw(), "curves", "02_demo", root=tmp_path)]
    displayed = draw()
    for _ in range(3):  # drawn (e.g. shown inline) before saving: the layout engine has moved the axes
        displayed.canvas.draw()
    shown_first = [p.read_bytes() for p in plotting.savefig(displayed, "curves", "02_demo", root=tmp_path)]
    assert first == second == redrawn == shown_first
    changed = [p.read_bytes() for p in plotting.savefig(draw("other title"), "curves", "02_demo", root=tmp_path)]
    assert changed[0] != first[0] and changed[1] != first[1]


def test_figure_bytes_are_the_same_in_a_fresh_process(tmp_path):
    fig_paths = plotting.savefig(draw(), "curves", "99_test", root=tmp_path / "here")
    subprocess.run([sys.executable, "-c", FIGURE_SCRIPT, str(tmp_path / "there"), str(Path(__file__).parent)],
                   check=True)
    for path in fig_paths:
        assert path.read_bytes() == (tmp_path / "there" / path.relative_to(tmp_path / "here")).read_bytes()


def test_files_carry_no_date_or_software_version(tmp_path):
    png, svg = plotting.savefig(draw(), "curves", "02_demo", root=tmp_path)
    svg_text = svg.read_text(encoding="utf-8")
    assert "<dc:date>" not in svg_text
    assert mpl.__version__ not in svg_text and "Matplotlib v" not in svg_text
    png_bytes = png.read_bytes()
    assert b"Software" not in png_bytes and mpl.__version__.encode() not in png_bytes
    assert b"tIME" not in png_bytes


def test_freeze_layout_keeps_colorbars_and_switches_the_engine_off(tmp_path):
    fig = draw()
    fig.colorbar(fig.axes[1].images[0], ax=fig.axes[1])
    assert fig.get_constrained_layout()
    first = [p.read_bytes() for p in plotting.savefig(fig, "cbar", "02_demo", root=tmp_path)]
    assert not fig.get_constrained_layout() and len(fig.axes) == 3
    assert all(np.allclose(ax.get_position(original=True).bounds,
                           np.round(ax.get_position(original=True).bounds, 6), atol=1e-12) for ax in fig.axes)
    assert [p.read_bytes() for p in plotting.savefig(fig, "cbar", "02_demo", root=tmp_path)] == first


def test_default_root_is_the_output_root(tmp_path, monkeypatch):
    monkeypatch.setenv("VOSNB_OUTPUT_ROOT", str(tmp_path))
    png, _ = plotting.savefig(draw(), "curves", "02_demo")
    assert png == tmp_path / "figures" / "02_demo" / "curves.png"


@pytest.mark.parametrize("name, notebook", [("../escape", "02_demo"), ("curves", "02/demo"), ("", "02_demo")])
def test_names_must_be_plain_file_names(tmp_path, name, notebook):
    with pytest.raises(ValueError, match="plain file name"):
        plotting.savefig(draw(), name, notebook, root=tmp_path)
    assert not (tmp_path / "figures").exists()


def test_a_failing_save_leaves_no_half_written_file(tmp_path, monkeypatch):
    fig = draw()
    png, svg = plotting.savefig(fig, "curves", "02_demo", root=tmp_path)
    before = png.read_bytes(), svg.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.savefig(fig, "curves", "02_demo", root=tmp_path)
    assert (png.read_bytes(), svg.read_bytes()) == before
    assert sorted(p.name for p in Path(png.parent).iterdir()) == ["curves.png", "curves.svg"]
