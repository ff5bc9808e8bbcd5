"""The values the notebooks' parameters and the commands' options accept (standard library only: the command line
imports this before anything heavy)."""
from __future__ import annotations

PROFILES = ("ci", "full")  # ci: minutes on a 2-core CPU; full: paper scale
DATASETS = ("synthetic", "davis2017")
DEVICES = ("auto", "cpu", "cuda")

# The verdict vocabulary of the claims ledger (what each means: vosnb.claims).
REPRODUCED = "reproduced"
INCONCLUSIVE = "inconclusive"
DIRECTION_ONLY = "direction only"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, INCONCLUSIVE, DIRECTION_ONLY, NOT_REPRODUCED, NOT_RUN)
