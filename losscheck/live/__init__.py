"""Diagnosis while a run trains: :class:`Monitor` (points in, verdicts out) and the log
follower behind ``losscheck watch`` (:mod:`losscheck.live.follow`)."""

from losscheck.live.monitor import Monitor, Verdict

__all__ = ["Monitor", "Verdict"]
