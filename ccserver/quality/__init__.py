"""Quality monitoring: recorded calls, the scorecard and the scores quality staff give."""

from .scorecard import ScoreError, weighted_score
from .store import QualityStore, Recording

__all__ = ["QualityStore", "Recording", "ScoreError", "weighted_score"]
