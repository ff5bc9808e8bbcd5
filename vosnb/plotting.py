"""One figure style for every notebook, and byte-stable figure files under figures/<notebook>/.

`use_style()` sets a clean matplotlib style whose colour cycle is the Okabe-Ito palette (safe for the common
colour-vision deficiencies); `COLORS` fixes one colour per memory strategy / variant so that, say, LFU is the same
green in every notebook (from Okabe-Ito, grey, and `TOL_WINE` for the ninth). `savefig` writes PNG and SVG whose bytes depend only on the figure: no dates, no software
versions, a fixed SVG hash salt (so a re-run that draws the same thing leaves `git status` clean).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from vosnb.runtime import atomic_path, output_root

# Okabe & Ito (2008), "Color universal design": distinguishable under protanopia, deuteranopia and tritanopia.
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
_GREY = "#7F7F7F"
TOL_WINE = "#882255"  # a ninth strategy colour once Okabe-Ito's eight are taken: Paul Tol's muted wine, also CVD-safe

# One colour per memory strategy, model family and affinity, used by every notebook.
COLORS: Mapping[str, str] = MappingProxyType({
    # memory strategies (STCN Table 1, LFU Table I, SWEM, RDE-VOS, the global attention module)
    "every5": OKABE_ITO[0],
    "first_last": OKABE_ITO[1],
    "lfu": OKABE_ITO[2],
    "swem": OKABE_ITO[3],
    "rde": OKABE_ITO[4],
    "gam": OKABE_ITO[5],
    "every5+last": _GREY,  # STM's memory (every-5 plus the previous frame)
    "xmem": TOL_WINE,  # the XMem-style memory, beyond the papers
    "first": OKABE_ITO[6],
    "latest": OKABE_ITO[7],
    # models
    "stcn": OKABE_ITO[0],
    "stm": _GREY,
    # affinities (STCN §4)
    "dot": OKABE_ITO[1],
    "l2": OKABE_ITO[0],
    "cosine": OKABE_ITO[2],
})

# Background tints for the verdict cells of the claims table (same hues as above, lightened).
VERDICT_COLORS: Mapping[str, str] = MappingProxyType({
    "reproduced": "#B3E0D3",
    "inconclusive": "#D6E4F0",
    "direction only": "#F5DDA6",
    "not reproduced": "#F2C0A1",
    "not run": "#E3E3E3",
})

# Settings that make the bytes of a saved figure a function of the figure alone.
_STABLE_RC = {"svg.hashsalt": "vosnb", "svg.id": None, "svg.fonttype": "path"}
_PNG_METADATA = {"Software": None}
_SVG_METADATA = {"Creator": None, "Date": None}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LAYOUT_MAX_DRAWS = 40  # each draw shrinks the layout's remaining movement about 16-fold; ~12 reach float precision

STYLE: Mapping[str, object] = MappingProxyType({
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs on every machine
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "savefig.dpi": 150,
    "image.cmap": "viridis",
    "lines.linewidth": 1.8,
    **_STABLE_RC,
})


def use_style() -> None:
    """Apply the collection's matplotlib style (called by `vosnb.context.setup`)."""
    mpl.rcParams.update(STYLE)


def color(name: str) -> str:
    """The fixed colour of a memory strategy, model or affinity (see `COLORS`)."""
    try:
        return COLORS[name]
    except KeyError:
        raise KeyError(f"no colour for {name!r}; known names: {', '.join(COLORS)}") from None


def freeze_layout(fig: Figure) -> None:
    """Run the figure's layout engine to its fixed point, round the axes positions and switch the engine off.

    Constrained and tight layout start from the current axes positions, so every draw moves them a little less
    than the one before: the bytes of a saved figure (the SVG clip-path ids hash the exact positions) would depend
    on how often it had been drawn, e.g. displayed, before. At the fixed point, rounded to 1e-6 of the figure,
    they do not. Later saves and inline displays reuse the frozen layout.
    """
    if fig.get_layout_engine() is None or isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        return
    previous = None
    for _ in range(_LAYOUT_MAX_DRAWS):
        fig.draw_without_rendering()
        positions = np.array([ax.get_position(original=True).bounds for ax in fig.axes])
        if previous is not None and previous.shape == positions.shape and np.abs(positions - previous).max() < 1e-12:
            break
        previous = positions
    fig.set_layout_engine("none")
    for ax in fig.axes:
        ax.set_position(np.round(ax.get_position(original=True).bounds, 6).tolist())


def savefig(fig: Figure, name: str, notebook: str, root: Path | None = None) -> tuple[Path, Path]:
    """Write `fig` to figures/<notebook>/<name>.png and .svg, byte-stable and atomically; return both paths.

    `root` is the folder above figures/ (default: `vosnb.runtime.output_root()`). The figure's layout is frozen first
    (`freeze_layout`), so saving it again, or after displaying it, gives the same bytes.
    """
    for label, value in (("name", name), ("notebook", notebook)):
        if not _NAME.match(value):
            raise ValueError(f"savefig: {label}={value!r} must be a plain file name (letters, digits, '_', '-', '.')")
    if root is None:
        root = output_root()
    folder = Path(root) / "figures" / notebook
    paths = (folder / f"{name}.png", folder / f"{name}.svg")
    freeze_layout(fig)
    with mpl.rc_context(_STABLE_RC):
        for path, fmt, metadata in zip(paths, ("png", "svg"), (_PNG_METADATA, _SVG_METADATA)):
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, metadata=metadata, bbox_inches="tight")
    return paths
