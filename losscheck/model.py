"""Plain dataclasses passed between the pipeline stages.

read -> :class:`ReadResult` (per file) -> :class:`RunData` (per run) -> :class:`ResolvedRun`
(roles) -> :class:`RunAnalysis` (detectors) -> :class:`Finding` + :class:`Remedy` (rules)
-> :class:`RunReport` / :class:`Report` (rendered by :mod:`losscheck.formats`).

No stage prints. Arrays are numpy; every step array is ``int64`` of shape ``(n,)`` and
strictly increasing after :func:`losscheck.series.normalize`; every value array is
``float64`` of shape ``(n,)`` and may hold NaN / +-Inf (non-finite values are never dropped
by readers: the analysis counts them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from losscheck.errors import FAIL_ON, parse_fail_on  # noqa: F401 - the gate levels, with the other vocabularies

#: The roles a series can fill. ``loss`` is the training loss.
ROLES = ("loss", "eval_loss", "grad_norm", "lr", "accuracy", "eval_accuracy")

#: A class of a run or a curve: the seven classes of a diagnosis, plus ``insufficient`` (too
#: little data to judge). The one definition of the allowed values; :data:`CLASSES` lists them.
RunClass = Literal["converging", "oscillating", "diverging", "nan", "plateau", "spiking",
                   "overfitting", "insufficient"]
CLASSES: tuple[RunClass, ...] = get_args(RunClass)

#: Points in a curve digest (``RunReport.digest``): a fixed-size summary of each main curve
#: that formats may draw (the text format's sparklines), whatever the curve's length.
DIGEST_BINS = 40

#: Bins in a plot digest (:class:`CurveDigest`): one per pixel column of a drawn curve, so a
#: report that draws curves stays the same size whatever a curve's length.
PLOT_BINS = 400

#: A finding's severity; :data:`SEVERITIES` lists them, most severe first.
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

#: A run's status; :data:`STATUSES` lists them, most severe first.
Status = Literal["failing", "warning", "healthy"]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass
class Series:
    """One scalar metric over training.

    Attributes:
        tag: the metric name as the log spells it (``train/loss``, ``eval_loss``...).
        steps: ``int64`` array, shape ``(n,)``: global step (or epoch when
            ``step_unit == "epoch"``).
        values: ``float64`` array, shape ``(n,)``; NaN / Inf kept.
        source: the file it was read from.
        wall_time: optional ``float64`` array, shape ``(n,)``, seconds since the Unix epoch.
        step_unit: ``"step"`` or ``"epoch"``.
    """

    tag: str
    steps: np.ndarray
    values: np.ndarray
    source: str
    wall_time: np.ndarray | None = None
    step_unit: str = "step"

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.wall_time is not None:
            self.wall_time = np.asarray(self.wall_time, dtype=np.float64)
        if self.steps.shape != self.values.shape:
            raise ValueError(f"steps {self.steps.shape} and values {self.values.shape} differ")

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class ReadNote:
    """Something a reader or the merger did that the user should know (never silent).

    ``severity`` is ``"info"`` or ``"warning"``; ``path`` names the file. ``message`` is for
    people only: a condition later stages act on is stated as data, in ``kind`` (one of
    :data:`NOTE_KINDS`, or ``None``) and ``tags`` (the metric names it concerns).
    """

    path: str
    message: str
    severity: str = "info"
    kind: str | None = None
    tags: tuple[str, ...] = ()


#: ``ReadNote.kind`` values: ``"no-values"``, metric keys or columns that were present but
#: never held a number (always null, every cell empty), named in ``ReadNote.tags``.
NOTE_NO_VALUES = "no-values"
NOTE_KINDS = (NOTE_NO_VALUES,)


@dataclass
class ReadResult:
    """What a reader returns for one file.

    Attributes:
        series: every scalar series found (component losses included).
        notes: de-duplication, restarts, truncated records, skipped lines...
        meta: hyperparameters found beside the metrics, with standard keys when known:
            ``learning_rate`` (float, configured peak LR), ``max_steps`` (int),
            ``warmup_steps`` (int), ``max_grad_norm`` (float, clip threshold),
            ``num_classes`` (int), ``fp16``/``bf16`` (bool), ``optimizer`` (str),
            ``batch_size`` (int), ``steps_per_epoch`` (int), ``epochs`` (int); on a
            :class:`RunData`, ``hparams``: every hyperparameter the run's configuration files
            give, as they name them (``{name: bool | int | float | str}``, nested names joined
            by ``.``; :mod:`losscheck.readers._hparams`), for the sweep triage.
    """

    series: list[Series] = field(default_factory=list)
    notes: list[ReadNote] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunData:
    """All series of one run, merged across its files (same tag merged by step)."""

    path: str
    files: list[str]
    series: dict[str, Series]
    notes: list[ReadNote] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class RoleAssignment:
    """Which series fills a role, and why (``reason`` is ``"name"`` or ``"flag"``)."""

    role: str
    series: Series
    reason: str = "name"


@dataclass
class ResolvedRun:
    """A run whose metric roles are decided. ``roles`` maps role -> assignment."""

    data: RunData
    roles: dict[str, RoleAssignment]
    components: list[Series] = field(default_factory=list)

    def get(self, role: str) -> Series | None:
        """The series filling ``role``, or ``None``."""
        a = self.roles.get(role)
        return a.series if a else None


# --------------------------------------------------------------------------- analysis facts


@dataclass
class TrendFit:
    """The trend model chosen for a curve (see :mod:`losscheck.analysis.trend`).

    Attributes:
        model: ``constant``, ``linear``, ``exp_decay``, ``power_decay`` or ``exp_growth``.
        params: fitted parameters, by name.
        aic: Akaike information criterion of the chosen model on the binned log-loss.
        delta_aic: AIC of the runner-up minus that of the chosen model (>= 0).
        rate_per_step: for ``exp_growth``, the fitted growth rate r in
            ``loss ~ exp(r * step)``, per step; else ``None``.
        doubling_steps: ``ln 2 / r`` in steps, for ``exp_growth``; else ``None``.
        start_step, end_step: the span fitted.
        t0: the step the models' ``t`` counts from (the first fitted bin's mean step);
            ``None``: ``start_step``. :func:`losscheck.analysis.trend.trend_values` evaluates
            the fit.
    """

    model: str
    params: dict[str, float]
    aic: float
    delta_aic: float
    start_step: int
    end_step: int
    rate_per_step: float | None = None
    doubling_steps: float | None = None
    t0: float | None = None


@dataclass
class NonFinite:
    """Non-finite values in a curve.

    ``first_step`` is the first NaN/Inf step; ``nan`` and ``inf`` count them; ``total`` is
    the number of points; ``recovered`` is True when finite values follow the last
    non-finite one (skipped steps, e.g. fp16 loss-scale overflow).
    """

    first_step: int
    nan: int
    inf: int
    total: int
    recovered: bool
    last_finite_before: float | None = None


@dataclass
class Spike:
    """One loss spike.

    Attributes:
        step: the step of the peak.
        ratio: peak / baseline (baseline = rolling median before the spike).
        z: robust z-score of the log value (median/MAD).
        recover_steps: steps until the curve is back within the noise band, ``None`` if never.
        level_ratio: level after the spike / level before (>1 means a worse level).
        worse: the analysis judged it a jump to a worse level (not recovered, and it gave back
            a real share of the progress made), see :mod:`losscheck.analysis.spikes`.
    """

    step: int
    ratio: float
    z: float
    recover_steps: int | None
    level_ratio: float
    worse: bool = False


@dataclass
class Oscillation:
    """A periodic or non-trending oscillation: ``period_steps`` may be ``None``.

    ``strength`` is the autocorrelation at the period (or the CV of the detrended series
    when aperiodic).
    """

    period_steps: float | None
    strength: float
    cv: float


@dataclass
class Plateau:
    """A flat stretch: ``start_step`` to the end, the level, and the relative slope.

    ``rel_slope`` is the Theil-Sen slope per 1,000 steps divided by the level;
    ``chance_classes`` is C when the level matches ln(C) within tolerance.
    """

    start_step: int
    level: float
    rel_slope: float
    from_start: bool
    chance_classes: int | None = None


@dataclass
class CurveAnalysis:
    """The analysis of one curve (one role).

    Attributes:
        role, tag: the role and the tag analysed.
        points: number of points (non-finite included); ``finite`` the finite ones.
        klass: one of :data:`CLASSES`.
        onset_step: where the problem starts (change point), or ``None``.
        trend: the chosen trend model over the whole curve (or the post-onset part).
        nonfinite, spikes, oscillation, plateau: detector outputs, ``None``/empty if absent.
        evidence: JSON-friendly numbers that justify ``klass`` (fit parameters,
            AIC difference, z-scores, period, gap...).
        notes: short human sentences (e.g. "only 5 points: cautious verdict").
    """

    role: str
    tag: str
    points: int
    finite: int
    klass: RunClass
    onset_step: int | None = None
    trend: TrendFit | None = None
    nonfinite: NonFinite | None = None
    spikes: list[Spike] = field(default_factory=list)
    oscillation: Oscillation | None = None
    plateau: Plateau | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Overfit:
    """Eval loss turning up while the train loss falls.

    ``best_step`` is the eval-loss minimum; ``best`` its value; ``last`` the final eval
    loss; ``rise`` = last / best - 1; ``persistence`` the number of consecutive evals after
    the minimum that stay above it; ``train_change`` the relative train-loss change over
    the same span (negative = falling).
    """

    best_step: int
    best: float
    last: float
    rise: float
    persistence: int
    train_change: float


@dataclass
class BatchNormShift:
    """An eval loss that jumps while the training loss stays fine, in a net with BatchNorm
    (issue 14, pattern 5; :mod:`losscheck.analysis.batchnorm`).

    ``onset_step`` is the first eval of the jump and ``before_step`` the eval before it;
    ``eval_before`` the median eval loss before the jump, ``eval_jump`` the value at the jump,
    ``eval_last`` the last eval; ``jump_ratio`` = ``eval_jump / eval_before``; ``train_change``
    the relative change of the training loss's median across the jump (after / before - 1);
    ``persists``: the last eval is still at least twice ``eval_before`` (a jump to a worse
    level); ``evidence``: what says the net has BatchNorm (``"tag bn1/running_var"``,
    ``"path resnet18"``...).
    """

    onset_step: int
    before_step: int
    eval_before: float
    eval_jump: float
    eval_last: float
    jump_ratio: float
    train_change: float
    persists: bool
    evidence: list[str] = field(default_factory=list)


@dataclass
class LRContext:
    """Facts about the learning-rate schedule (units: steps, LR units).

    ``peak``/``peak_step``: the largest LR and where; ``warmup_steps``: steps from the first
    point to 90% of the peak (0 = no warmup); ``final``: the last LR; ``decays``: whether the
    LR falls below 50% of its peak after the peak; ``zero``: the last LR is ~0;
    ``restart_steps``: the steps of SGDR warm restarts (see
    :func:`losscheck.analysis.lr.restart_steps`). ``at_step(s)`` is not stored: use
    :func:`numpy.interp` on the series.
    """

    peak: float
    peak_step: int
    warmup_steps: int
    first: float
    final: float
    decays: bool
    zero: bool = False
    restart_steps: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- run facts
# Measurements the rules word and the remedies quote, computed once by
# :mod:`losscheck.analysis.facts` (rules hold no series maths). Units: steps as logged (epochs
# for a ``step_unit == "epoch"`` curve), values in the metric's own units, ratios unitless.


@dataclass
class OnsetFacts:
    """What the LR and the grad norm were doing at one event step (a loss onset, a spike).

    Attributes:
        onset: the event step (``None``: the curve has no onset).
        lr_at_onset: the last finite LR at or before ``onset``.
        lr_peak, lr_peak_step, warmup_steps: from :class:`LRContext` (``warmup_steps == 0``:
            no warmup).
        at_peak: ``lr_at_onset >= 0.9 * lr_peak`` (the blow-up came as the LR reached its peak).
        grad_lead: steps by which the grad norm's own onset (a diverging, spiking or NaN
            grad-norm curve) preceded ``onset``; ``None`` when it did not.
        clip: a clip threshold from the healthy grad norms before the earliest of the two
            onsets (:func:`losscheck.analysis.evidence.clip_threshold`).
        rollback: the last logged training-loss step (else eval-loss) strictly before ``onset``.
        lr_jump: LR at ``onset`` over the LR a window earlier, when that is a jump (>= 1.5) and
            not a warmup ramp (:func:`losscheck.analysis.evidence.lr_jump`).
        grad_jump: the grad norm near ``onset`` over the 90th percentile of the earlier ones
            (:func:`losscheck.analysis.evidence.grad_jump`).
    """

    onset: int | None
    lr_at_onset: float | None = None
    lr_peak: float | None = None
    lr_peak_step: int | None = None
    at_peak: bool = False
    warmup_steps: int | None = None
    grad_lead: int | None = None
    clip: float | None = None
    rollback: int | None = None
    lr_jump: float | None = None
    grad_jump: float | None = None


@dataclass
class PreNonFinite:
    """Growth of a curve before it went non-finite (see
    :func:`losscheck.analysis.evidence.pre_nonfinite_growth`): ``loss_ratio`` (the last 3
    finite values over the lowest earlier 5-point mean) and ``grad_ratio`` (the largest of the
    last 3 grad norms over the 90th percentile of the earlier ones); ``None`` when unknown."""

    loss_ratio: float | None = None
    grad_ratio: float | None = None


@dataclass
class ZeroLoss:
    """Logged losses of exactly 0.0, split by the grad norm at the same step (the HF Trainer's
    NaN-filter signature, :func:`losscheck.analysis.nonfinite.zero_loss`).

    Attributes:
        hidden: steps where the loss is 0.0 and the grad norm NaN/Inf (a hidden NaN loss).
        hidden_first: the first such step; ``hidden_kind``: ``"NaN"`` when a grad norm at those
            steps is NaN, else ``"Inf"``; ``steps_from_first``: logged loss points from
            ``hidden_first`` on.
        visible: steps where the loss is 0.0 and the grad norm finite (or not logged);
            ``visible_first`` the first of them.
    """

    hidden: int = 0
    hidden_first: int | None = None
    hidden_kind: str = "NaN"
    steps_from_first: int = 0
    visible: int = 0
    visible_first: int | None = None


@dataclass
class GradSurge:
    """A sustained grad-norm surge before a loss blow-up (rule LC201; method in
    :func:`losscheck.analysis.gradnorm.detect_surge`): the surge ``step``, the loss ``event``
    step, ``lead = event - step``, the ``healthy`` level, the peak ``ratio`` over it by the
    event, ``clip`` (a threshold from the grad norms before the surge) and the loss curve's
    class ``loss_class``."""

    step: int
    event: int
    lead: int
    healthy: float
    ratio: float
    clip: float | None
    loss_class: str
    role: str


@dataclass
class ClipStats:
    """Grad norms against the clipping threshold (rule LC203; :func:`losscheck.analysis.gradnorm.clip_stats`).

    ``threshold`` and its ``source`` (``"max_grad_norm"`` from the log's metadata, or
    ``"inferred"`` from a pile-up at the maximum); ``share`` of the ``points`` finite grad
    norms at or above it; their ``median`` and 90th percentile ``p90``."""

    threshold: float
    source: str
    share: float
    points: int
    median: float
    p90: float


@dataclass
class LRFinite:
    """The finite LR points: ``points``, ``first``/``last`` values, ``first_step``/``last_step``,
    ``peak`` (the maximum, which may be <= 0) and ``at_peak_share`` (share at >= 90% of a
    positive peak)."""

    points: int
    first: float
    last: float
    first_step: int
    last_step: int
    peak: float
    at_peak_share: float


@dataclass
class EarlyTrouble:
    """The loss in the first max(100 steps, ``early-fraction`` of the run) (rule LC301): the
    first analysed spike there (``spike_step``), or the largest rise of its running median
    over its first window (``rise_ratio`` at ``rise_step``)."""

    spike_step: int | None = None
    rise_ratio: float | None = None
    rise_step: int | None = None


@dataclass
class LRZeroStretch:
    """The LR at zero while training goes on (rule LC303, :func:`losscheck.analysis.lr.zero_stretch`).

    ``whole``: every LR <= 0 (``peak`` is then the maximum); else the zero suffix starts at
    ``start`` with ``points`` LR points, and ``first``/``end`` span the LR and loss logs.
    ``flat``: the loss is flat over it (``level`` its median there)."""

    whole: bool
    start: int
    points: int
    first: int
    end: int
    peak: float
    flat: bool
    level: float | None
    lr_points: int


@dataclass
class ChanceHit:
    """A curve sitting at ln(C) to the end (rule LC401): from ``start`` (``from_start``: the
    first logged point), its ``median`` there and the ``points`` in the stretch."""

    start: int
    from_start: bool
    median: float
    points: int


@dataclass
class ChanceFacts:
    """ln(C) facts (rule LC401): ``classes`` C, ``hits`` per role, and the median of the last
    quarter of the first logged accuracy (``accuracy_role``, ``accuracy``)."""

    classes: int
    hits: dict[str, ChanceHit] = field(default_factory=dict)
    accuracy_role: str | None = None
    accuracy: float | None = None


@dataclass
class EvalCollapse:
    """An eval loss falling from ``first`` (>= 1) to ``low`` within ``evals`` evaluations, at
    ``low_step``; ``end`` is its last value (rule LC402)."""

    first: float
    low: float
    evals: int
    low_step: int
    end: float


@dataclass
class EvalGap:
    """The eval loss against the training loss in the second half of the evals (rule LC403):
    ``compared`` evals, ``below`` of them more than ``min-gap`` under the train level (``share``),
    the ``median`` gap, the first compared step and the last (step, train, eval)."""

    compared: int
    below: int
    share: float
    median: float
    first_step: int
    last_step: int
    last_train: float
    last_eval: float


@dataclass
class Stalls:
    """Long wall-clock gaps between logged points (rule LC501, :mod:`losscheck.analysis.timing`).

    ``steps``: the step before each stall; ``longest`` (seconds) after ``longest_step``;
    ``median`` gap (s); ``lost`` (s, in total); ``after``: logged points after the last one."""

    steps: list[int]
    longest: float
    longest_step: int
    median: float
    lost: float
    after: int


@dataclass
class Throughput:
    """Seconds per step over the first and the last quarter of the timed intervals (rule LC502)."""

    first: float
    last: float
    intervals: int


@dataclass
class RunFacts:
    """Every measurement the rules word and the remedies quote, computed once
    (:func:`losscheck.analysis.facts.run_facts`). ``None`` / empty where the data do not
    allow an answer or the question does not arise.

    Attributes:
        onsets: event step -> :class:`OnsetFacts` (the main curve's onset, NaN onsets, the
            largest recovered and the worst spike, a GAN collapse, LC201's loss event).
        first_value: role -> the first finite value of its curve.
        last_step: the last logged step of the training loss (else the eval loss).
        pre_nonfinite: role -> growth before the curve went NaN/Inf.
        zero_loss: role -> exact-zero losses (HF NaN-filter signature).
        grad_nonfinite_share: share of the grad norms that are NaN/Inf.
        grad_norm_trend: median grad norm of the last quarter over the first quarter.
        frozen: role -> the last half of the curve repeats to 1e-6 (relative).
        knocked_up: role -> (a flat curve's level over the lowest level it reached before, that
            rise in noise SDs) (:func:`losscheck.analysis.evidence.knocked_up`).
        adam_peak_lr: the peak LR when the optimizer is of the Adam family (under a plateau).
        grad_surge, clip: grad-norm facts (LC201, LC203).
        lr_finite, early_trouble, loss_quarters, lr_zero, restart_bumps: LR facts
            (LC301-LC304); ``loss_quarters`` = medians of the last two quarters of the loss;
            ``restart_bumps`` = (restart step, loss ratio after/before) for the bumps.
        chance, end_levels, eval_collapse, eval_gap: loss-level facts (LC401-LC403);
            ``end_levels`` = role -> (median of the last 5 finite values, last finite step).
        language_model: a logged tag names a perplexity or a token count.
        stalls, throughput: wall-clock facts (LC501, LC502).
    """

    onsets: dict[int | None, OnsetFacts] = field(default_factory=dict)
    first_value: dict[str, float] = field(default_factory=dict)
    last_step: int | None = None
    pre_nonfinite: dict[str, PreNonFinite] = field(default_factory=dict)
    zero_loss: dict[str, ZeroLoss] = field(default_factory=dict)
    grad_nonfinite_share: float = 0.0
    grad_norm_trend: float | None = None
    frozen: dict[str, bool] = field(default_factory=dict)
    knocked_up: dict[str, tuple[float, float]] = field(default_factory=dict)
    adam_peak_lr: float | None = None
    grad_surge: GradSurge | None = None
    clip: ClipStats | None = None
    lr_finite: LRFinite | None = None
    early_trouble: EarlyTrouble | None = None
    loss_quarters: tuple[float, float] | None = None
    lr_zero: LRZeroStretch | None = None
    restart_bumps: list[tuple[int, float]] = field(default_factory=list)
    chance: ChanceFacts | None = None
    end_levels: dict[str, tuple[float, int]] = field(default_factory=dict)
    eval_collapse: EvalCollapse | None = None
    eval_gap: EvalGap | None = None
    language_model: bool = False
    stalls: Stalls | None = None
    throughput: Throughput | None = None

    def at(self, step: int | None) -> OnsetFacts:
        """The facts at ``step`` (empty ones, ``OnsetFacts(step)``, when none were gathered)."""
        return self.onsets.get(step) or OnsetFacts(step)


@dataclass
class RunAnalysis:
    """The analysis of a run: per-curve results plus run-level facts and classes.

    ``facts`` holds the measurements rules and remedies read (:class:`RunFacts`);
    ``confidence`` the calibrated probability in [0, 1] that ``primary`` is right
    (:mod:`losscheck.analysis.confidence`), ``None`` before it is computed."""

    curves: dict[str, CurveAnalysis]
    primary: RunClass
    secondary: list[RunClass]
    onset_step: int | None
    overfit: Overfit | None = None
    lr: LRContext | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    facts: RunFacts = field(default_factory=RunFacts)
    batchnorm: BatchNormShift | None = None
    confidence: float | None = None


# --------------------------------------------------------------------------- rules and report


@dataclass
class RemedyVote:
    """A rule's vote for a remedy: ``weight`` in (0, 1], ``settings`` concrete values."""

    id: str
    weight: float
    evidence: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finding:
    """One coded finding (a rule that fired).

    ``code``/``name`` come from the rule catalogue (e.g. ``LC101``/``loss-diverging``);
    ``severity`` is one of :data:`SEVERITIES`; ``step`` the onset, if any.
    """

    code: str
    name: str
    severity: Severity
    role: str | None
    step: int | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[RemedyVote] = field(default_factory=list)


@dataclass
class Remedy:
    """A ranked remedy: stable ``id``, ``title``, why it is ranked (``evidence``), settings."""

    rank: int
    id: str
    title: str
    evidence: str
    settings: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    sources: list[str] = field(default_factory=list)


@dataclass
class MetricInfo:
    """Which tag filled a role: ``points``, ``first_step``, ``last_step``, ``nonfinite``."""

    role: str
    tag: str
    source: str
    points: int
    first_step: int
    last_step: int
    nonfinite: int = 0
    step_unit: str = "step"


@dataclass
class NonFiniteMark:
    """Non-finite points of one plot bin: the first one's ``step``, its ``kind`` (``"NaN"``,
    ``"+Inf"`` or ``"-Inf"``) and how many of that kind the bin holds (``count``)."""

    step: int
    kind: str
    count: int


@dataclass
class CurveDigest:
    """One curve reduced for drawing (:func:`losscheck.digest.plot_digest`): at most
    :data:`PLOT_BINS` equal step bins, whatever the curve's length.

    Attributes:
        role, tag, step_unit: as in :class:`MetricInfo`; ``points``: logged points (all).
        steps: per non-empty bin, the step of its first point (``int``, increasing).
        low, high: per bin, the lowest and highest finite value (``None``: none finite).
        smooth: per bin, the debiased EMA at the bin's last finite point (``None``: none).
        smoothing: the EMA weight used (:func:`losscheck.digest.ema_weight`).
        nonfinite: the NaN/Inf points, one :class:`NonFiniteMark` per bin and kind.
        trend: ``(step, value)`` samples of the fitted trend over its span (empty: no fit);
            ``trend_model``: its model name.
        spikes: steps of the largest spikes (at most :data:`losscheck.digest.MAX_SPIKES`);
            ``spike_count``: how many the analysis found.
    """

    role: str
    tag: str
    step_unit: str = "step"
    points: int = 0
    steps: list[int] = field(default_factory=list)
    low: list[float | None] = field(default_factory=list)
    high: list[float | None] = field(default_factory=list)
    smooth: list[float | None] = field(default_factory=list)
    smoothing: float = 0.6
    nonfinite: list[NonFiniteMark] = field(default_factory=list)
    trend: list[tuple[int, float]] = field(default_factory=list)
    trend_model: str | None = None
    spikes: list[int] = field(default_factory=list)
    spike_count: int = 0


@dataclass
class RunPlot:
    """What a format needs to draw a run (:func:`losscheck.digest.run_plot`): ``curves``
    (role -> :class:`CurveDigest`, in panel order) and the marks beyond each curve's own
    (its onset, spikes and plateau are in :attr:`RunReport.curves`): ``overfit_step`` (the
    eval-loss minimum of an overfitting run), ``rollback_step`` (the last healthy step before
    the run's onset), ``chance_level`` = ln(``chance_classes``) (the loss of a uniform guess
    over C classes), and ``baseline`` (role -> ``final``/``best`` loss of the ``--baseline``
    run)."""

    curves: dict[str, CurveDigest] = field(default_factory=dict)
    overfit_step: int | None = None
    rollback_step: int | None = None
    chance_level: float | None = None
    chance_classes: int | None = None
    baseline: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RunReport:
    """Everything reported for one run; every output format renders this.

    ``digest`` holds, per main role (loss, eval loss, grad norm, LR, discriminator loss), the
    curve in at most :data:`DIGEST_BINS` bin medians (``None``: no point in that bin, NaN:
    only non-finite ones), for formats that draw curves; ``summary`` holds per-role
    ``final``/``best``/``best_step`` values (the loss figures a baseline comparison needs);
    ``baselined`` the findings already present in the
    ``--baseline`` run, which no longer count towards ``status``; ``confidence`` the
    calibrated probability in [0, 1] that ``primary`` is right
    (:mod:`losscheck.analysis.confidence`); ``plot`` the plot digests and marks for formats
    that draw the curves (:class:`RunPlot`, ``None`` when not made).
    """

    run: str
    status: Status
    primary: RunClass
    secondary: list[RunClass]
    onset_step: int | None
    metrics: dict[str, MetricInfo]
    curves: list[CurveAnalysis]
    findings: list[Finding]
    remedies: list[Remedy]
    notes: list[ReadNote] = field(default_factory=list)
    digest: dict[str, list[float | None]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    baselined: list[Finding] = field(default_factory=list)
    confidence: float | None = None
    plot: RunPlot | None = None
    #: the hyperparameters the sweep triage compares (:func:`losscheck.analysis.triage.run_params`):
    #: the run's configuration files' (``RunData.meta["hparams"]``), then standard meta keys they
    #: do not already name; ``{}`` when none were found
    hparams: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunError:
    """A path that could not be diagnosed: ``kind`` from :mod:`losscheck.errors`."""

    path: str
    message: str
    kind: str = "error"


# --------------------------------------------------------------------------- sweep triage
# (:mod:`losscheck.analysis.triage`): hyperparameters against outcomes across the runs of a sweep.


@dataclass
class TriageRow:
    """The compact record of one run the sweep triage keeps (a streamed sweep keeps one per
    run, not the run's report).

    Attributes:
        run: the run's path (as :attr:`RunReport.run`).
        status, klass: the run's status and primary class.
        onset: the onset as a fraction of the run's logged training-loss span, in [0, 1]
            (``(onset_step - first_step) / (last_step - first_step)``); ``None``: no onset.
        codes: the codes of the run's error findings (what makes it fail), sorted.
        params: its hyperparameters (:attr:`RunReport.hparams`); in :attr:`Triage.rows`, only
            those that vary across the sweep.
    """

    run: str
    status: Status
    klass: RunClass
    onset: float | None
    codes: list[str]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Separation:
    """A hyperparameter that separates the failing runs from the others (a decision stump:
    :func:`losscheck.analysis.triage.find_separations`).

    Attributes:
        param: its name. ``kind``: ``"threshold"`` (numeric) or ``"value"`` (a text/bool value
            whose runs all fail).
        fail_side: ``"above"`` (runs with ``param >= fail_bound`` fail, those with
            ``param <= pass_bound`` do not), ``"below"`` (the reverse) or ``"equal"``
            (``param == fail_bound``).
        fail_bound, pass_bound: the boundary values, as logged (``pass_bound`` is ``None`` for
            a value).
        fail_runs, fail_failing: runs on the failing side and how many of them fail.
        pass_runs, pass_passing: runs on the other side and how many of them do not fail.
        exceptions: runs on the wrong side (names, at most
            :data:`losscheck.analysis.triage.MAX_EXCEPTIONS`), for a near separation (empty:
            perfect); ``wrong_side``: how many there are.
        outcome: what the failing side does: ``"fail"`` (the failing runs against all the
            others), or a failure family's verb (``"diverge or turn NaN"``: those runs against
            every other run, :func:`losscheck.analysis.triage.cause_separations`).
        fail_classes, pass_classes: primary class -> runs, on each side.
        p_value: the chance of a split at least this clean with the outcomes shuffled over the
            runs (exact, or a permutation estimate: see the module); ``strong``: ``p_value <=``
            :data:`losscheck.analysis.triage.ALPHA`.
        missing: runs of the sweep without this param (left out of the test).
        text: the finding in one sentence, with its figures.
    """

    param: str
    kind: str
    fail_side: str
    fail_bound: Any
    pass_bound: Any
    fail_runs: int
    fail_failing: int
    pass_runs: int
    pass_passing: int
    exceptions: list[str]
    fail_classes: dict[str, int]
    pass_classes: dict[str, int]
    p_value: float
    strong: bool
    missing: int
    text: str
    wrong_side: int = 0
    outcome: str = "fail"


@dataclass
class FailureGroup:
    """Failing runs sharing a failure signature: ``klass`` (primary class), ``onset``
    (``"early"``, ``"mid"``, ``"late"``: the onset in the first, middle or last third of the
    run; ``"none"``: no onset) and ``codes`` (error findings); ``count`` runs, ``examples``
    (at most 3 run paths)."""

    klass: str
    onset: str
    codes: list[str]
    count: int
    examples: list[str]


@dataclass
class Triage:
    """The sweep triage (:func:`losscheck.analysis.triage.sweep_triage`).

    Attributes:
        runs: runs compared (those with hyperparameters); ``failing``: how many fail;
            ``without_params``: runs without any, left out of the table and the separations.
        params: the hyperparameters that vary across the runs (separating ones first).
        rows: one :class:`TriageRow` per compared run, with only the varying ``params``.
        separations: the hyperparameters that separate failing runs from the others.
        groups: every failing run of the sweep (with or without params) grouped by signature,
            largest group first.
        notes: what was left out and why (sentences).
    """

    runs: int
    failing: int
    without_params: int
    params: list[str]
    rows: list[TriageRow]
    separations: list[Separation]
    groups: list[FailureGroup]
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    """The whole result of one ``losscheck diagnose`` call.

    ``runs`` is a list, or, for a sweep of :data:`losscheck.packed.PACK_MIN_RUNS` runs or more
    whose results are kept (not streamed), a read-only :class:`losscheck.packed.PackedRuns`
    that unpacks each run as it is read."""

    runs: list[RunReport]
    errors: list[RunError]
    tool_version: str
    fail_on: str = "error"
    root: str = ""
    #: the paths diagnosed, after glob expansion (``root`` is how they were given, joined by
    #: spaces, for messages); run names in reports are relative to the one holding the run
    roots: list[str] = field(default_factory=list)
    #: folders with files but no log and no run inside them (``src/``, ``data/``): neither
    #: runs nor errors, counted in one summary line
    without_logs: list[str] = field(default_factory=list)
    #: symlinks below the diagnosed path that lead out of it and were not followed (no
    #: ``--follow-symlinks``); the CLI names them in a note
    links_not_followed: list[str] = field(default_factory=list)
    #: a streamed diagnosis (``diagnose(..., sink=...)``) hands each run's result to the sink
    #: and keeps none: ``runs`` and ``errors`` stay empty, and these count them instead
    #: (``"healthy"``, ``"warning"``, ``"failing"``, ``"errors"``)
    counts: dict[str, int] = field(default_factory=dict)
    #: whether a streamed run failed the gate (``fail_on``)
    streamed_failing: bool = False
    #: the sweep triage (:func:`losscheck.analysis.triage.sweep_triage`): ``None`` unless
    #: several runs carry hyperparameters that vary
    triage: Triage | None = None

    @property
    def failing(self) -> bool:
        """True when a run is failing at the ``fail_on`` level (see :func:`run_fails`)."""
        return self.streamed_failing or any(run_fails(r.status, self.fail_on, r.confidence)
                                            for r in self._summaries())

    @property
    def status_counts(self) -> dict[str, int]:
        """Runs per status (``"failing"``, ``"warning"``, ``"healthy"``): the kept ``runs`` and
        the streamed :attr:`counts` together; a status no run has is absent."""
        out = {k: v for k, v in self.counts.items() if k != "errors"}
        for r in self._summaries():
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def _summaries(self):
        """The runs as records with ``run``, ``status`` and ``confidence``: the packed records
        of a large sweep (:class:`losscheck.packed.PackedRuns`: no run is unpacked), else the
        reports themselves."""
        summaries = getattr(self.runs, "summaries", None)
        return summaries() if summaries is not None else self.runs

    @property
    def run_count(self) -> int:
        """Runs diagnosed: kept (``runs``) or streamed (``counts``)."""
        return len(self.runs) + sum(v for k, v in self.counts.items() if k != "errors")

    @property
    def error_count(self) -> int:
        """Paths that could not be diagnosed: kept (``errors``) or streamed (``counts``)."""
        return len(self.errors) + self.counts.get("errors", 0)


def run_fails(status: Status, fail_on: str, confidence: float | None = None) -> bool:
    """Whether a run status fails the gate.

    ``fail_on`` is ``error``, ``warning`` or ``never``, optionally with a confidence floor
    (``error:0.8``, :func:`losscheck.errors.parse_fail_on`): a run whose ``confidence`` is below
    the floor does not fail the gate (a run without a confidence is judged on its status alone).
    Raises ValueError for a malformed ``fail_on`` (the CLI and the configuration check it first).
    """
    level, floor = parse_fail_on(fail_on)
    if level == "never":
        return False
    if floor is not None and confidence is not None and confidence < floor:
        return False
    if level == "warning":
        return status in ("failing", "warning")
    return status == "failing"
