"""losscheck: a command-line doctor for deep-learning training runs.

The flow is one direction: read -> resolve metrics -> analyse -> rule -> report.

- :mod:`losscheck.readers` turn log files into :class:`~losscheck.model.Series`.
- :mod:`losscheck.discovery` groups files into runs.
- :mod:`losscheck.roles` decides which series is the training loss, eval loss, grad norm, LR.
- :mod:`losscheck.analysis` fits trend models and detectors to each curve.
- :mod:`losscheck.rules` turns the analysis into coded findings with remedy votes.
- :mod:`losscheck.remedies` ranks remedies from those votes.
- :mod:`losscheck.formats` renders the plain-dataclass report (text, json, ...).
"""

__version__ = "0.1.0"
