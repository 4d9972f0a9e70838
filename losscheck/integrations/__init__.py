"""Training callbacks that run losscheck while a run trains and stop it when it fails.

Optional: ``pip install 'losscheck[integrations]'``. Each framework's module imports that
framework; the core never imports this package.

- :mod:`losscheck.integrations.transformers`: ``LosscheckCallback`` for the HF ``Trainer``.
- :mod:`losscheck.integrations.lightning`: ``LosscheckCallback`` for a Lightning ``Trainer``.
- :mod:`losscheck.integrations.keras`: ``LosscheckCallback`` for Keras 3 ``Model.fit``.

All three share :class:`losscheck.integrations._live.LiveCheck`: the same
:class:`losscheck.Monitor` (so the same detectors, rule codes and remedies as
``losscheck diagnose``), ``action="stop"`` or ``"warn"``, ``fail_on`` as the CLI, a report
(``losscheck-report.json`` and ``.txt``) written into the trainer's output directory, and the
last checkpoint saved before the onset with the settings to resume with.
"""
