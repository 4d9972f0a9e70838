"""losscheck: a command-line doctor for deep-learning training runs.

The flow is one direction: read -> resolve metrics -> analyse -> rule -> report.

- :mod:`losscheck.readers` turn log files into :class:`~losscheck.model.Series`.
- :mod:`losscheck.discovery` groups files into runs.
- :mod:`losscheck.roles` decides which series is the training loss, eval loss, grad norm, LR.
- :mod:`losscheck.analysis` fits trend models and detectors to each curve.
- :mod:`losscheck.rules` turns the analysis into coded findings with remedy votes.
- :mod:`losscheck.remedies` ranks remedies from those votes.
- :mod:`losscheck.formats` renders the plain-dataclass report (text, json, ...).
- :class:`losscheck.Monitor` (:mod:`losscheck.live`) runs the same pipeline on points given one
  at a time, while a run trains.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """``losscheck.Monitor`` / ``losscheck.Verdict``, imported on first use (``import losscheck``
    stays light: the CLI's start-up does not pay for numpy)."""
    if name in ("Monitor", "Verdict"):
        from losscheck import live

        return getattr(live, name)
    raise AttributeError(f"module 'losscheck' has no attribute {name!r}")
