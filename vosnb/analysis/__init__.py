"""Analyses behind the notebooks: one module per question (affinity geometry, contributions, costs, redundancy, ...).

Import the module you need, e.g. ``from vosnb.analysis import costs``; this package imports nothing on its own.
"""
