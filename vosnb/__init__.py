"""vosnb: the helper package behind the notebooks that reproduce memory-based video object segmentation papers."""

__version__ = "0.1.0"
