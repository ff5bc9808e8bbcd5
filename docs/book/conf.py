"""Sphinx configuration of the book: the committed notebooks rendered as they are (never re-executed).

`make book` lays out the source folder build/book-src (this folder's index.md and a link to notebooks/) and builds
it with `sphinx-build -c docs/book`; the claims dashboard (`vosnb dashboard`) is written beside the pages.
"""
project = "vosnb: memory-based video object segmentation, reproduced in notebooks"
author = "vosnb"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the committed outputs are the content: no kernel runs during the build
exclude_patterns = ["**/.ipynb_checkpoints"]
html_theme = "alabaster"
html_title = "vosnb"
html_show_sourcelink = False
html_copy_source = False

# Widgets: MyST-NB embeds each notebook's saved widget state and, on pages that have some, loads RequireJS and the
# widget manager (@jupyter-widgets/html-manager) to draw them. By default both come from public CDNs; here they are
# served with the site (`make book` fetches them once, sha512-checked, with docs/book/widget_js.py), so a widget's
# saved view draws without network.
from pathlib import Path  # noqa: E402

html_static_path = [str(Path(__file__).resolve().parents[2] / "build" / "book-js")]
nb_ipywidgets_js = {"require.js": {}, "embed-amd.js": {}}  # paths under _static/
