"""The one widget of the notebooks: controls over a figure function, redrawn in place.

A saved notebook opened in JupyterLab does not draw a widget before a kernel has run its cell; it shows the output's
`text/plain` instead, which for a plain ipywidgets box is its Python repr (``VBox(children=(IntSlider(…``). A
:class:`FigureExplorer` puts a sentence there instead: what the widget does and that running the cell brings it to
life. Static renderings (the book, nbviewer) draw it from the widget state saved in the notebook.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
from IPython.display import Image
from matplotlib.figure import Figure


class FigureExplorer(ipywidgets.VBox):
    """``controls`` (a row of sliders) above the figure ``draw()`` returns for their current values.

    Draws once on construction (so it runs headless and its saved state holds the opening view) and again whenever
    a control's value changes. ``purpose`` says in one sentence what a reader learns by moving the controls.
    """

    def __init__(self, controls: Sequence[ipywidgets.ValueWidget], draw: Callable[[], Figure], purpose: str):
        if not controls:
            raise ValueError("FigureExplorer needs at least one control")
        self.out = ipywidgets.Output()
        self.purpose = purpose
        self._draw = draw
        row = controls[0] if len(controls) == 1 else ipywidgets.HBox(list(controls))
        super().__init__([row, self.out])
        for control in controls:
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, _change: object = None) -> None:
        """Replace the shown figure with ``draw()`` for the controls' current values, as a PNG (whatever the
        kernel's matplotlib formatters are: without `%matplotlib inline` a Figure would show as its repr)."""
        fig = self._draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)  # the PNG lives on in the Output; leave no pyplot state behind
        self.out.outputs = ()
        self.out.append_display_data(Image(data=buffer.getvalue(), format="png"))

    def fallback_text(self) -> str:
        """What a reader sees where the widget cannot be drawn (a saved notebook before its cell has run)."""
        return f"[interactive figure] {self.purpose} Run this cell to use its controls."

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            return ({**bundle[0], "text/plain": self.fallback_text()}, bundle[1])
        return {**bundle, "text/plain": self.fallback_text()}
