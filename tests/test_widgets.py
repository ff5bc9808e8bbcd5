"""The notebooks' one widget: a saved notebook shows a sentence, not a Python repr, before its cell has run."""
from __future__ import annotations

from pathlib import Path

import ipywidgets
import nbformat
import pytest
from matplotlib.figure import Figure

from vosnb.widgets import FigureExplorer


def _explorer() -> tuple[FigureExplorer, ipywidgets.IntSlider, list[int]]:
    slider, drawn = ipywidgets.IntSlider(value=2, min=0, max=5), []

    def draw() -> Figure:
        drawn.append(slider.value)
        fig = Figure()
        fig.add_subplot().set_title(f"value {slider.value}")
        return fig

    return FigureExplorer([slider], draw, "Shows the slider's value."), slider, drawn


def test_the_fallback_text_says_what_the_widget_does_and_to_run_the_cell():
    explorer, _, _ = _explorer()
    bundle = explorer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == "[interactive figure] Shows the slider's value. Run this cell to use its controls."
    assert "VBox(" not in data["text/plain"]


def test_it_draws_once_then_on_every_move_replacing_the_figure():
    explorer, slider, drawn = _explorer()
    assert drawn == [2] and len(explorer.out.outputs) == 1
    first = explorer.out.outputs[0]["data"]["image/png"]
    slider.value = 4
    assert drawn == [2, 4] and len(explorer.out.outputs) == 1
    assert explorer.out.outputs[0]["data"]["image/png"] != first  # a PNG, redrawn for the new value
    assert explorer.children == (slider, explorer.out)


def test_two_controls_share_a_row_and_none_is_an_error():
    a, b = ipywidgets.IntSlider(), ipywidgets.IntSlider()
    explorer = FigureExplorer([a, b], Figure, "Two sliders.")
    assert explorer.children[0].children == (a, b)
    with pytest.raises(ValueError, match="at least one control"):
        FigureExplorer([], Figure, "None.")


def test_every_saved_figure_widget_has_a_static_figure_beside_it():
    """Where JupyterLab shows a saved widget's one-sentence fallback, the same cell or the code cell before it
    shows the figure as a PNG, so a reader who runs nothing still sees the content."""
    def pngs(cell) -> int:
        return sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))

    missing = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        code = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            widgets = [o for o in cell.outputs if o.get("data", {}).get("text/plain", "").startswith("[interactive")]
            if widgets and not (pngs(cell) or (i and pngs(code[i - 1]))):
                missing.append(f"{path.name}: {cell.source.splitlines()[-1]}")
    assert not missing, f"figure widgets without a static figure beside them: {missing}"
