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

# Widgets: MyST-NB embeds each notebook's saved widget state and, on pages that have some, loads require.js and
# @jupyter-widgets/html-manager from a CDN to draw them (its default `nb_ipywidgets_js`). Offline a widget's place
# stays empty; the prose, tables and saved figures do not need it.
