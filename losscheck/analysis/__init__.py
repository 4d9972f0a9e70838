"""Analysis: trend models and detectors per curve, combined into a :class:`RunAnalysis`.

Entry point: :func:`analyse` (:mod:`.run`), options :class:`AnalysisOptions` (:mod:`.options`).
This package's ``__init__`` only re-exports. One module per detector/estimator:

* :mod:`.trend` -- constant / linear / exp_decay / power_decay / exp_growth, AICc choice;
* :mod:`.changepoint` -- binary segmentation (linear pieces, BIC penalty): onsets;
* :mod:`.divergence` -- loss growing from its best level, exponential rate, doubling time;
* :mod:`.spikes` -- rolling-median / MAD robust z-scores; recovered or worse-level spikes;
* :mod:`.oscillation` -- ACF period / variance ratio of the detrended curve;
* :mod:`.plateau` -- Theil-Sen flatness, chance level ln C;
* :mod:`.nonfinite` -- NaN/Inf, which metric went first, benign fp16 overflow, HF NaN filter;
* :mod:`.overfit` -- Prechelt's generalisation loss with persistence;
* :mod:`.lr` -- LR schedule context (peak, warmup, restarts);
* :mod:`.adversarial` -- a GAN's game won by one player;
* :mod:`.classify` -- all labelling: per-curve labels, the run-level judgement, classes and
  onsets decided once, priority order;
* :mod:`.facts` -- the measurements rules word, computed once per run (:mod:`.evidence` at
  an onset, :mod:`.gradnorm`, :mod:`.lr`, :mod:`.loss_levels`, :mod:`.timing`).
* :mod:`.confidence` -- the calibrated probability that the primary class is right, from the
  margins and agreement of the evidence above (coefficients in :mod:`.confidence_fit`, fitted
  by ``benchmarks/fit_confidence.py`` on the tune split).

Scale-free: positive losses are analysed as log(loss); every threshold is a ratio or a
multiple of a robust noise estimate. Long curves are median-binned (<= 2000 bins) before
any fit; the non-finite and spike scans are exact O(n) passes. Rolling medians come from
bottleneck (imported lazily); scipy is not used.
"""

from losscheck.analysis.options import AnalysisOptions
from losscheck.analysis.run import analyse

__all__ = ["AnalysisOptions", "analyse"]
