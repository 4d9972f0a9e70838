"""GAN balance: does one player win the adversarial game?

A GAN's losses are not expected to converge to zero: at the equilibrium of Goodfellow et
al. (2014) the discriminator outputs 1/2 everywhere, so its binary cross-entropy sits near
2 ln 2 ~ 1.386 (real + fake terms; ln 2 ~ 0.693 when averaged) and the non-saturating
generator loss near ln 2. Two departures are failures (Arjovsky & Bottou 2017, "Towards
principled methods for training GANs"; Salimans et al. 2016, "Improved techniques for
training GANs"):

- **the discriminator wins**: its loss collapses towards 0 (it separates real from fake
  perfectly) while the generator's loss rises; the generator's gradients vanish or become
  unstable and it stops improving (often with mode collapse);
- **the generator wins**: its loss collapses towards 0 while the discriminator's rises:
  the discriminator has stopped learning (often a dead or over-regularised D), so the
  generator's signal is meaningless.

Detection (:func:`detect_imbalance`) compares each curve's starting level (the median of
its first 5%, at least 3 points: the game before either player has learned much; a
discriminator often wins within the first fifth of a run) with its late level (the median
of its last fifth): the losing side's level falls below :data:`COLLAPSE_RATIO` of where it started
and below :data:`COLLAPSE_LEVEL` in absolute terms (BCE near 0), and the other side's level
rises by at least :data:`RISE_RATIO`. The thresholds are judgements from the equilibrium
levels above (a D BCE of 0.1 means D assigns ~0.95 to the right label on average), not
fitted values. (The ratio was first 0.1; the sample run ``gan-discriminator-wins``, whose
D loss falls from 0.61 to 0.062, showed that a ratio that strict restates the absolute
level and misses a discriminator that won from its first epochs, so it was relaxed to 0.25.) Critic losses that go negative (WGAN) are not cross-entropies: not judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from losscheck.model import Series

#: The collapsing side's late level is below this share of its early level... (the absolute
#: level below says the player is near-perfect; this ratio only guards against a loss that
#: was small from the start, e.g. a down-weighted term)
COLLAPSE_RATIO = 0.25
#: ...and below this absolute value (a BCE of 0.1: right label with probability ~0.9).
COLLAPSE_LEVEL = 0.1
#: The other side's late level is at least this multiple of its early level.
RISE_RATIO = 1.5
#: Fewer finite points than this per curve: not judged.
MIN_POINTS = 8


@dataclass
class Imbalance:
    """One player wins the adversarial game.

    Attributes:
        winner: ``"discriminator"`` or ``"generator"``.
        onset_step: the first step (in the curves' unit) where the collapsing loss's running
            median (centred, ~n/20 points) falls below half its early level.
        g_early, g_late, d_early, d_late: medians of the first 5% and the last fifth of
            the generator and discriminator losses.
    """

    winner: str
    onset_step: int
    g_early: float
    g_late: float
    d_early: float
    d_late: float


def _levels(s: Series) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    ok = np.isfinite(s.values)
    st, v = s.steps[ok], s.values[ok]
    if v.size < MIN_POINTS:
        return None
    k0, k = max(3, v.size // 20), max(2, v.size // 5)
    return st, v, float(np.median(v[:k0])), float(np.median(v[-k:]))


#: The collapse starts where the losing side's running median first falls below this share
#: of its early level (halved: a departure well outside BCE noise, long before the floor).
ONSET_SHARE = 0.5


def _onset(st: np.ndarray, v: np.ndarray, early: float) -> int:
    """First step where the centred running median (window ~ n/20, at least 3) of ``v`` is
    below :data:`ONSET_SHARE` of ``early`` (``st``, ``v``: finite points, (n,))."""
    from losscheck.analysis._util import rolling_median

    w = max(3, v.size // 20)
    level = ONSET_SHARE * early
    # the centred median of the w points around i: a running level, not single noisy points
    below = np.flatnonzero(rolling_median(v, w, trailing=False) < level)
    return int(st[below[0]]) if below.size else int(st[-1])


def detect_imbalance(generator: Series | None, discriminator: Series | None) -> Imbalance | None:
    """Whether one player of a GAN wins (see the module docstring).

    Args:
        generator, discriminator: the two loss series (steps int64 ``(n,)``, values float64
            ``(n,)``, NaN/Inf allowed and ignored); ``None`` when absent.
    Returns:
        An :class:`Imbalance`, or ``None`` (balanced, too short, or a critic loss below 0).
    Cost: O(n) for the levels, O(n log w) for the onset's running median.
    """
    if generator is None or discriminator is None:
        return None
    g, d = _levels(generator), _levels(discriminator)
    if g is None or d is None or (d[1] < 0).any() or (g[1] < 0).any():
        return None
    _, _, g0, g1 = g
    _, _, d0, d1 = d
    if d1 < COLLAPSE_RATIO * d0 and d1 < COLLAPSE_LEVEL and g1 >= RISE_RATIO * g0:
        return Imbalance("discriminator", _onset(d[0], d[1], d0), g0, g1, d0, d1)
    if g1 < COLLAPSE_RATIO * g0 and g1 < COLLAPSE_LEVEL and d1 >= RISE_RATIO * d0:
        return Imbalance("generator", _onset(g[0], g[1], g0), g0, g1, d0, d1)
    return None


#: The detector has no configurable options (its thresholds are the module constants above).
Options = None


def detect(curve, opts=None, *, discriminator=None):
    """The GAN game of a prepared generator-loss curve against the prepared discriminator
    curve (:class:`~losscheck.analysis.prepared.PreparedCurve`): a
    :class:`~losscheck.analysis.prepared.Detection` with the :class:`Imbalance` (or ``None``)."""
    from losscheck.analysis.prepared import Detection

    return Detection(detect_imbalance(curve.series if curve is not None else None,
                                      discriminator.series if discriminator is not None else None))
