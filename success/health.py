"""Account health score: a pure, explainable computation (no Django, no database).

Implements /work/shared/METRICS.md, "Health score (default model; every number here is
admin-configurable)". The query that gathers an account's raw inputs lives elsewhere; this
module only turns inputs plus a model into a score and can explain how two scores differ.

The model
=========
Five components, each with a ``key``, a ``label``, a ``weight`` and its own thresholds:

============================  ======  ==================================================
component                     weight  score 0-100
============================  ======  ==================================================
``product_usage``             30      licence utilisation (30 days): 100 at >= 80 %,
                                      0 at <= 20 %, linear between
``support_experience``        20      100 - 20 x SLA breaches - 10 x urgent tickets
                                      - 10 x (tickets per 10 seats above 1)
                                      - 25 x open support->success escalations; floor 0
``sentiment``                 25      mean of (NPS + 100) / 2 (NPS over 180 days) and
                                      CSAT % (90 days), each only if present
``engagement``                15      days since the last touchpoint in multiples of the
                                      tier's cadence: 100 within 1 x, 0 at >= 3 x, linear
``plan_progress``             10      100 x due milestones done on time / due milestones
============================  ======  ==================================================

Bands: green >= 70, yellow >= 40, red below (70 is green, 40 is yellow).

"No data" is ``None`` throughout: a component without data has score ``None``, effective
weight 0 and contribution ``None``; it is never scored 0. The total is
``sum(weight_i * score_i) / sum(weight_i)`` over the components with data (the weights are
renormalised over them), rounded to one decimal; it is ``None`` when no component with a
positive weight has data, and then there is no band.

Component scores and contributions are kept unrounded (so a snapshot stores exactly what
the total was computed from); only the total is rounded, and the band is taken from the
rounded total so that a displayed "70" is never yellow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar

# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _non_negative(name: str, value: float) -> None:
    _finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _optional_count(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0 or None, got {value!r}")


def _optional_in_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    _finite(name, value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")


def _clamp(value: float, low: float = 0.0, high: float = 100.0) -> float:
    return max(low, min(high, value))


def linear_score(value: float, full_at: float, zero_at: float) -> float:
    """100 at ``full_at`` (and beyond it), 0 at ``zero_at`` (and beyond it), linear between.

    Works in both directions: ``full_at > zero_at`` means "higher is better" (utilisation),
    ``full_at < zero_at`` means "lower is better" (days since the last touchpoint).
    """
    if full_at == zero_at:
        raise ValueError("full_at and zero_at must differ")
    return _clamp(100.0 * (value - zero_at) / (full_at - zero_at))


def _plural(count: float, singular: str, plural: str | None = None) -> str:
    word = singular if count == 1 else (plural or singular + "s")
    return f"{_fmt(count)} {word}"


def _fmt(value: float) -> str:
    """One decimal, without a trailing ".0": 74.0 -> "74", 82.22 -> "82.2", -0.04 -> "0"."""
    rounded = round(value, 1)
    if rounded == 0:
        rounded = 0.0  # no "-0"
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.1f}"


# --------------------------------------------------------------------------------------
# Bands
# --------------------------------------------------------------------------------------


class Band(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


# --------------------------------------------------------------------------------------
# The model (admin-configurable; the defaults are METRICS.md's)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Component:
    """Common part of every component: a fixed ``key``, an editable label and weight."""

    key: ClassVar[str]
    label: str
    weight: float

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(f"{self.key}: label must be a non-empty string")
        _non_negative(f"{self.key}: weight", self.weight)


@dataclass(frozen=True)
class ProductUsageComponent(_Component):
    """Licence utilisation (active users over 30 days / seats, in %): linear."""

    key: ClassVar[str] = "product_usage"
    label: str = "Product usage"
    weight: float = 30.0
    full_at_pct: float = 80.0  # score 100 at or above
    zero_at_pct: float = 20.0  # score 0 at or below

    def __post_init__(self) -> None:
        super().__post_init__()
        _finite(f"{self.key}: full_at_pct", self.full_at_pct)
        _finite(f"{self.key}: zero_at_pct", self.zero_at_pct)
        if not 0 <= self.zero_at_pct < self.full_at_pct <= 100:
            raise ValueError(
                f"{self.key}: need 0 <= zero_at_pct < full_at_pct <= 100, got "
                f"zero_at_pct={self.zero_at_pct!r}, full_at_pct={self.full_at_pct!r}"
            )


@dataclass(frozen=True)
class SupportExperienceComponent(_Component):
    """Start at 100, deduct per problem in the last 30 days, floor 0."""

    key: ClassVar[str] = "support_experience"
    label: str = "Support experience"
    weight: float = 20.0
    per_sla_breach: float = 20.0
    per_urgent_ticket: float = 10.0
    tickets_per_10_seats_allowed: float = 1.0
    per_ticket_per_10_seats_above: float = 10.0
    per_open_escalation: float = 25.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "per_sla_breach",
            "per_urgent_ticket",
            "tickets_per_10_seats_allowed",
            "per_ticket_per_10_seats_above",
            "per_open_escalation",
        ):
            _non_negative(f"{self.key}: {name}", getattr(self, name))


@dataclass(frozen=True)
class SentimentComponent(_Component):
    """Mean of (NPS + 100) / 2 and CSAT %, each only if present. No thresholds to tune."""

    key: ClassVar[str] = "sentiment"
    label: str = "Sentiment"
    weight: float = 25.0
    nps_days: int = 180  # window of the NPS responses (documentation for the query side)
    csat_days: int = 90  # window of the CSAT ratings

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("nps_days", "csat_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{self.key}: {name} must be a whole number > 0, got {value!r}")


@dataclass(frozen=True)
class EngagementComponent(_Component):
    """Days since the last touchpoint, in multiples of the tier's cadence: linear."""

    key: ClassVar[str] = "engagement"
    label: str = "Engagement"
    weight: float = 15.0
    full_within_cadences: float = 1.0  # score 100 up to 1 x cadence ("within cadence")
    zero_at_cadences: float = 3.0  # score 0 at or beyond 3 x cadence

    def __post_init__(self) -> None:
        super().__post_init__()
        _finite(f"{self.key}: full_within_cadences", self.full_within_cadences)
        _finite(f"{self.key}: zero_at_cadences", self.zero_at_cadences)
        if not 0 <= self.full_within_cadences < self.zero_at_cadences:
            raise ValueError(
                f"{self.key}: need 0 <= full_within_cadences < zero_at_cadences, got "
                f"full_within_cadences={self.full_within_cadences!r}, "
                f"zero_at_cadences={self.zero_at_cadences!r}"
            )


@dataclass(frozen=True)
class PlanProgressComponent(_Component):
    """Share of the active success plan's due milestones that were done on time."""

    key: ClassVar[str] = "plan_progress"
    label: str = "Plan progress"
    weight: float = 10.0


@dataclass(frozen=True)
class HealthModel:
    product_usage: ProductUsageComponent = field(default_factory=ProductUsageComponent)
    support_experience: SupportExperienceComponent = field(
        default_factory=SupportExperienceComponent
    )
    sentiment: SentimentComponent = field(default_factory=SentimentComponent)
    engagement: EngagementComponent = field(default_factory=EngagementComponent)
    plan_progress: PlanProgressComponent = field(default_factory=PlanProgressComponent)
    green_at: float = 70.0  # score >= green_at is green
    yellow_at: float = 40.0  # yellow_at <= score < green_at is yellow; below is red

    def __post_init__(self) -> None:
        expected = {
            "product_usage": ProductUsageComponent,
            "support_experience": SupportExperienceComponent,
            "sentiment": SentimentComponent,
            "engagement": EngagementComponent,
            "plan_progress": PlanProgressComponent,
        }
        for name, kind in expected.items():
            if not isinstance(getattr(self, name), kind):
                raise ValueError(f"{name} must be a {kind.__name__}")
        if all(component.weight == 0 for component in self.components):
            raise ValueError("at least one component must have a weight above 0")
        _finite("green_at", self.green_at)
        _finite("yellow_at", self.yellow_at)
        if not 0 <= self.yellow_at < self.green_at <= 100:
            raise ValueError(
                "band cut-offs must satisfy 0 <= yellow_at < green_at <= 100, got "
                f"yellow_at={self.yellow_at!r}, green_at={self.green_at!r}"
            )

    @property
    def components(self) -> tuple[_Component, ...]:
        """In display (and tie-break) order."""
        return (
            self.product_usage,
            self.support_experience,
            self.sentiment,
            self.engagement,
            self.plan_progress,
        )


DEFAULT_MODEL = HealthModel()


# --------------------------------------------------------------------------------------
# Raw inputs (None = no data)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    # Free-text facts the query side wants shown next to this component when a score moves,
    # e.g. ("CSAT 2/5 on #1042",). They never change the score.
    evidence: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.evidence, tuple) or not all(
            isinstance(item, str) for item in self.evidence
        ):
            raise ValueError("evidence must be a tuple of strings")

    def facts(self) -> tuple[str, ...]:
        """Short human-readable facts about the input, for explanations."""
        return self.evidence


@dataclass(frozen=True)
class ProductUsageInputs(_Inputs):
    utilisation_pct: float | None = None  # 100 x active users (30 days) / seats; may exceed 100

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.utilisation_pct is not None:
            _non_negative("utilisation_pct", self.utilisation_pct)

    def facts(self) -> tuple[str, ...]:
        if self.utilisation_pct is None:
            return self.evidence
        return (f"licence utilisation {_fmt(self.utilisation_pct)} %", *self.evidence)


@dataclass(frozen=True)
class SupportExperienceInputs(_Inputs):
    sla_breaches: int | None = None  # last 30 days
    urgent_tickets: int | None = None  # last 30 days
    tickets_per_10_seats: float | None = None  # last 30 days; None when seats are unknown
    open_escalations: int | None = None  # open support -> success flags

    def __post_init__(self) -> None:
        super().__post_init__()
        _optional_count("sla_breaches", self.sla_breaches)
        _optional_count("urgent_tickets", self.urgent_tickets)
        _optional_count("open_escalations", self.open_escalations)
        if self.tickets_per_10_seats is not None:
            _non_negative("tickets_per_10_seats", self.tickets_per_10_seats)

    @property
    def has_data(self) -> bool:
        return any(
            value is not None
            for value in (
                self.sla_breaches,
                self.urgent_tickets,
                self.tickets_per_10_seats,
                self.open_escalations,
            )
        )

    def facts(self) -> tuple[str, ...]:
        own = []
        if self.sla_breaches:
            own.append(_plural(self.sla_breaches, "SLA breach", "SLA breaches"))
        if self.urgent_tickets:
            own.append(_plural(self.urgent_tickets, "urgent ticket"))
        if self.tickets_per_10_seats is not None:
            own.append(f"{_fmt(self.tickets_per_10_seats)} tickets per 10 seats")
        if self.open_escalations:
            own.append(_plural(self.open_escalations, "open escalation"))
        if not own and self.has_data:
            own.append("no SLA breach, urgent ticket or open escalation")
        return (*own, *self.evidence)


@dataclass(frozen=True)
class SentimentInputs(_Inputs):
    nps: float | None = None  # NPS of the account's contacts over 180 days, -100..100
    csat: float | None = None  # CSAT % over 90 days, 0..100

    def __post_init__(self) -> None:
        super().__post_init__()
        _optional_in_range("nps", self.nps, -100, 100)
        _optional_in_range("csat", self.csat, 0, 100)

    def facts(self) -> tuple[str, ...]:
        own = []
        if self.nps is not None:
            own.append(f"NPS {'+' if self.nps > 0 else ''}{_fmt(self.nps)}")
        if self.csat is not None:
            own.append(f"CSAT {_fmt(self.csat)} %")
        return (*own, *self.evidence)


@dataclass(frozen=True)
class EngagementInputs(_Inputs):
    days_since_last_touchpoint: float | None = None  # None: never touched / unknown
    cadence_days: float | None = None  # the account tier's touchpoint cadence

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.days_since_last_touchpoint is not None:
            _non_negative("days_since_last_touchpoint", self.days_since_last_touchpoint)
        if self.cadence_days is not None:
            _finite("cadence_days", self.cadence_days)
            if self.cadence_days <= 0:
                raise ValueError(f"cadence_days must be > 0, got {self.cadence_days!r}")

    def facts(self) -> tuple[str, ...]:
        own = []
        if self.days_since_last_touchpoint is not None:
            days = self.days_since_last_touchpoint
            own.append(f"last touchpoint {_plural(days, 'day')} ago")
        if self.cadence_days is not None:
            own.append(f"cadence {_plural(self.cadence_days, 'day')}")
        return (*own, *self.evidence)


@dataclass(frozen=True)
class PlanProgressInputs(_Inputs):
    due_milestones: int | None = None  # of the active plan, due by now; None: no active plan
    done_on_time: int | None = None  # of those, completed by their due date

    def __post_init__(self) -> None:
        super().__post_init__()
        _optional_count("due_milestones", self.due_milestones)
        _optional_count("done_on_time", self.done_on_time)
        if self.done_on_time is not None and self.due_milestones is None:
            raise ValueError("done_on_time given without due_milestones")
        if (
            self.done_on_time is not None
            and self.due_milestones is not None
            and self.done_on_time > self.due_milestones
        ):
            raise ValueError(
                f"done_on_time ({self.done_on_time}) cannot exceed "
                f"due_milestones ({self.due_milestones})"
            )

    def facts(self) -> tuple[str, ...]:
        own = ()
        if self.due_milestones:
            done = self.done_on_time or 0
            own = (f"{done} of {self.due_milestones} due milestones done on time",)
        return own + self.evidence


@dataclass(frozen=True)
class HealthInputs:
    """One account's raw inputs. A component left as None has no data."""

    product_usage: ProductUsageInputs | None = None
    support_experience: SupportExperienceInputs | None = None
    sentiment: SentimentInputs | None = None
    engagement: EngagementInputs | None = None
    plan_progress: PlanProgressInputs | None = None


# --------------------------------------------------------------------------------------
# One scoring function per component: a score 0-100, or None for "no data"
# --------------------------------------------------------------------------------------


def score_product_usage(
    inputs: ProductUsageInputs | None,
    params: ProductUsageComponent = DEFAULT_MODEL.product_usage,
) -> float | None:
    """100 at utilisation >= full_at_pct (80), 0 at <= zero_at_pct (20), linear between."""
    if inputs is None or inputs.utilisation_pct is None:
        return None
    return linear_score(inputs.utilisation_pct, params.full_at_pct, params.zero_at_pct)


def score_support_experience(
    inputs: SupportExperienceInputs | None,
    params: SupportExperienceComponent = DEFAULT_MODEL.support_experience,
) -> float | None:
    """100 - 20/breach - 10/urgent - 10 x (tickets per 10 seats above 1) - 25/escalation, >= 0.

    No data only when every input is None; a single None input deducts nothing (e.g. the
    ticket-rate deduction is skipped when seats are unknown). The ticket-rate deduction is
    proportional: 2.5 tickets per 10 seats deducts 15.
    """
    if inputs is None or not inputs.has_data:
        return None
    deduction = (
        params.per_sla_breach * (inputs.sla_breaches or 0)
        + params.per_urgent_ticket * (inputs.urgent_tickets or 0)
        + params.per_open_escalation * (inputs.open_escalations or 0)
    )
    if inputs.tickets_per_10_seats is not None:
        above = max(0.0, inputs.tickets_per_10_seats - params.tickets_per_10_seats_allowed)
        deduction += params.per_ticket_per_10_seats_above * above
    return _clamp(100.0 - deduction)


def score_sentiment(
    inputs: SentimentInputs | None,
    params: SentimentComponent = DEFAULT_MODEL.sentiment,
) -> float | None:
    """Mean of (NPS + 100) / 2 and CSAT, each only if present; None when neither is."""
    if inputs is None:
        return None
    parts = []
    if inputs.nps is not None:
        parts.append((inputs.nps + 100.0) / 2.0)
    if inputs.csat is not None:
        parts.append(float(inputs.csat))
    if not parts:
        return None
    return _clamp(sum(parts) / len(parts))


def score_engagement(
    inputs: EngagementInputs | None,
    params: EngagementComponent = DEFAULT_MODEL.engagement,
) -> float | None:
    """100 within 1 x cadence, 0 at >= 3 x cadence, linear between (2 x cadence -> 50)."""
    if inputs is None or inputs.days_since_last_touchpoint is None or inputs.cadence_days is None:
        return None
    cadences = inputs.days_since_last_touchpoint / inputs.cadence_days
    return linear_score(cadences, params.full_within_cadences, params.zero_at_cadences)


def score_plan_progress(
    inputs: PlanProgressInputs | None,
    params: PlanProgressComponent = DEFAULT_MODEL.plan_progress,
) -> float | None:
    """100 x due milestones done on time / due milestones; None without a due milestone."""
    if inputs is None or not inputs.due_milestones:
        return None
    return _clamp(100.0 * (inputs.done_on_time or 0) / inputs.due_milestones)


SCORERS: dict[str, Callable[[Any, Any], float | None]] = {
    "product_usage": score_product_usage,
    "support_experience": score_support_experience,
    "sentiment": score_sentiment,
    "engagement": score_engagement,
    "plan_progress": score_plan_progress,
}


# --------------------------------------------------------------------------------------
# The total
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentResult:
    key: str
    label: str
    raw: _Inputs | None  # the raw input as given (None: nothing was gathered)
    score: float | None  # 0-100, unrounded; None = no data
    weight: float  # as configured
    effective_weight: float  # renormalised over the components with data; 0 without data
    contribution: float | None  # effective_weight x score; None = no data

    @property
    def has_data(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class HealthResult:
    score: float | None  # rounded to one decimal; None = not enough data
    band: Band | None
    components: tuple[ComponentResult, ...]

    def component(self, key: str) -> ComponentResult:
        for row in self.components:
            if row.key == key:
                return row
        raise KeyError(key)


def band_for(score: float | None, model: HealthModel = DEFAULT_MODEL) -> Band | None:
    """green at >= green_at (70 is green), yellow at >= yellow_at (40 is yellow), else red."""
    if score is None:
        return None
    if score >= model.green_at:
        return Band.GREEN
    if score >= model.yellow_at:
        return Band.YELLOW
    return Band.RED


def health_score(inputs: HealthInputs, model: HealthModel = DEFAULT_MODEL) -> HealthResult:
    scored = []
    for component in model.components:
        raw = getattr(inputs, component.key)
        scored.append((component, raw, SCORERS[component.key](raw, component)))
    total_weight = sum(c.weight for c, _, score in scored if score is not None)

    rows = []
    for component, raw, score in scored:
        if score is None or total_weight == 0:
            effective = 0.0
            contribution = None if score is None else 0.0
        else:
            effective = component.weight / total_weight
            contribution = effective * score
        rows.append(
            ComponentResult(
                key=component.key,
                label=component.label,
                raw=raw,
                score=score,
                weight=component.weight,
                effective_weight=effective,
                contribution=contribution,
            )
        )

    if total_weight == 0:  # no component with data (or only weight-0 ones)
        return HealthResult(score=None, band=None, components=tuple(rows))
    exact = sum(row.contribution for row in rows if row.contribution is not None)
    total = round(_clamp(exact), 1)
    return HealthResult(score=total, band=band_for(total, model), components=tuple(rows))


# --------------------------------------------------------------------------------------
# Explaining a change
# --------------------------------------------------------------------------------------

_MAX_NAMED = 3
_EPSILON = 1e-9


def _lower_label(label: str) -> str:
    """ "Support experience" -> "support experience", but "NPS trend" stays as it is."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def _score_text(score: float | None) -> str:
    return "no data" if score is None else _fmt(score)


def explain_change(
    previous: HealthResult, current: HealthResult, *, since: str = "last week"
) -> str:
    """One sentence saying how health moved and which components moved it most.

    "Health fell 74 → 58 since last week: support experience 80 → 35 (3 SLA breaches)".

    Components are matched by key. A component is named when its shown score changed
    (including to or from "no data"); they are ranked by how far their contribution to
    the total moved (no data counts as 0), ties in model order; those whose move is at
    least half the largest are named, at most three. The parenthesis lists the facts of
    the current raw input (the previous one if it has none now).
    """
    if previous.score is None and current.score is None:
        head = f"Health: not enough data, as {since}"
    elif previous.score is None:
        head = f"Health is {_fmt(current.score)} (not enough data {since})"
    elif current.score is None:
        head = f"Health: not enough data now (was {_fmt(previous.score)} {since})"
    elif current.score > previous.score:
        head = f"Health rose {_fmt(previous.score)} → {_fmt(current.score)} since {since}"
    elif current.score < previous.score:
        head = f"Health fell {_fmt(previous.score)} → {_fmt(current.score)} since {since}"
    else:
        head = f"Health held at {_fmt(current.score)} since {since}"

    before = {row.key: row for row in previous.components}
    moves = []
    for position, row in enumerate(current.components):
        old = before.get(row.key)
        old_score = None if old is None else old.score
        if _score_text(old_score) == _score_text(row.score):
            continue
        old_contribution = (old.contribution or 0.0) if old is not None else 0.0
        # rounded so that float noise cannot reorder equal moves
        delta = round(abs((row.contribution or 0.0) - old_contribution), 6)
        moves.append((delta, position, row, old))
    if not moves:
        return head + "."
    moves.sort(key=lambda move: (-move[0], move[1]))
    largest = moves[0][0]
    named = [move for move in moves if move[0] >= largest / 2 - _EPSILON][:_MAX_NAMED]

    parts = []
    for _, _, row, old in named:
        text = (
            f"{_lower_label(row.label)} {_score_text(None if old is None else old.score)}"
            f" → {_score_text(row.score)}"
        )
        facts = row.raw.facts() if row.raw is not None else ()
        if not facts and old is not None and old.raw is not None:
            facts = old.raw.facts()
        if facts:
            text += f" ({', '.join(facts)})"
        parts.append(text)
    return f"{head}: {'; '.join(parts)}"


# --------------------------------------------------------------------------------------
# Stored results (HealthSnapshot.components) back into results, to explain them later
# --------------------------------------------------------------------------------------

INPUT_TYPES: dict[str, type[_Inputs]] = {
    "product_usage": ProductUsageInputs,
    "support_experience": SupportExperienceInputs,
    "sentiment": SentimentInputs,
    "engagement": EngagementInputs,
    "plan_progress": PlanProgressInputs,
}


def inputs_from_json(key: str, raw: object) -> _Inputs | None:
    """A component's raw input rebuilt from its stored JSON dict (None when there is none,
    or it no longer fits the current input type: its facts are then simply not shown).
    Keys the input type does not know are ignored, so old snapshots stay readable."""
    kind = INPUT_TYPES.get(key)
    if kind is None or not isinstance(raw, dict):
        return None
    names = {item.name for item in fields(kind)}
    values = {name: value for name, value in raw.items() if name in names}
    if isinstance(values.get("evidence"), list):
        values["evidence"] = tuple(values["evidence"])
    try:
        return kind(**values)
    except (TypeError, ValueError):
        return None


def _optional_float(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def result_from_json(
    score: float | str | None, band: str | None, components: object
) -> HealthResult:
    """A HealthResult rebuilt from a stored snapshot: its score, band ("" = none) and the
    component rows as stored by success.services.health_components_json. Rows that are
    not dicts with a key are skipped; a missing number reads as "no data"."""
    rows = []
    for item in components if isinstance(components, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        key = item["key"]
        rows.append(
            ComponentResult(
                key=key,
                label=str(item.get("label") or key),
                raw=inputs_from_json(key, item.get("raw")),
                score=_optional_float(item.get("score")),
                weight=_optional_float(item.get("weight")) or 0.0,
                effective_weight=_optional_float(item.get("effective_weight")) or 0.0,
                contribution=_optional_float(item.get("contribution")),
            )
        )
    total = _optional_float(score)
    return HealthResult(
        score=total,
        band=Band(band) if band in Band._value2member_map_ else None,
        components=tuple(rows),
    )


def nps_from_counts(*, responses: int, promoters: int, detractors: int) -> float | None:
    """NPS = 100 x (promoters - detractors) / responses, -100..100, unrounded; None without
    responses. The same formula as metrics.formulas.nps, which success may not import."""
    if responses <= 0:
        return None
    return 100.0 * (promoters - detractors) / responses


__all__ = [
    "DEFAULT_MODEL",
    "INPUT_TYPES",
    "SCORERS",
    "Band",
    "ComponentResult",
    "EngagementComponent",
    "EngagementInputs",
    "HealthInputs",
    "HealthModel",
    "HealthResult",
    "PlanProgressComponent",
    "PlanProgressInputs",
    "ProductUsageComponent",
    "ProductUsageInputs",
    "SentimentComponent",
    "SentimentInputs",
    "SupportExperienceComponent",
    "SupportExperienceInputs",
    "band_for",
    "explain_change",
    "health_score",
    "inputs_from_json",
    "linear_score",
    "nps_from_counts",
    "result_from_json",
    "score_engagement",
    "score_plan_progress",
    "score_product_usage",
    "score_sentiment",
    "score_support_experience",
]
