"""Account health score (success/health.py): METRICS.md's worked numbers plus properties.

Pure functions only: nothing here touches the database.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from success.health import (
    DEFAULT_MODEL,
    Band,
    ComponentResult,
    EngagementComponent,
    EngagementInputs,
    HealthInputs,
    HealthModel,
    HealthResult,
    PlanProgressInputs,
    ProductUsageComponent,
    ProductUsageInputs,
    SentimentInputs,
    SupportExperienceComponent,
    SupportExperienceInputs,
    band_for,
    explain_change,
    health_score,
    score_engagement,
    score_plan_progress,
    score_product_usage,
    score_sentiment,
    score_support_experience,
)

# --------------------------------------------------------------------------------------
# The default model is METRICS.md's
# --------------------------------------------------------------------------------------


def test_default_model_matches_metrics_md():
    model = DEFAULT_MODEL
    assert [(c.key, c.label, c.weight) for c in model.components] == [
        ("product_usage", "Product usage", 30),
        ("support_experience", "Support experience", 20),
        ("sentiment", "Sentiment", 25),
        ("engagement", "Engagement", 15),
        ("plan_progress", "Plan progress", 10),
    ]
    assert (model.product_usage.full_at_pct, model.product_usage.zero_at_pct) == (80, 20)
    support = model.support_experience
    assert (
        support.per_sla_breach,
        support.per_urgent_ticket,
        support.tickets_per_10_seats_allowed,
        support.per_ticket_per_10_seats_above,
        support.per_open_escalation,
    ) == (20, 10, 1, 10, 25)
    assert (model.sentiment.nps_days, model.sentiment.csat_days) == (180, 90)
    assert (model.engagement.full_within_cadences, model.engagement.zero_at_cadences) == (1, 3)
    assert (model.green_at, model.yellow_at) == (70, 40)


def test_model_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_MODEL.green_at = 80  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_MODEL.product_usage.weight = 1  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# Product usage: 100 at >= 80 %, 0 at <= 20 %, linear
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utilisation", "expected"),
    [
        (80, 100.0),  # the "100 at" point
        (20, 0.0),  # the "0 at" point
        (50, 50.0),  # halfway
        (75, 91.667),  # METRICS.md worked example: 91.7
        (100, 100.0),
        (130, 100.0),  # more active users than seats: clamped
        (10, 0.0),
        (0, 0.0),
    ],
)
def test_product_usage(utilisation, expected):
    score = score_product_usage(ProductUsageInputs(utilisation_pct=utilisation))
    assert score == pytest.approx(expected, abs=1e-3)


def test_product_usage_without_data():
    assert score_product_usage(None) is None
    assert score_product_usage(ProductUsageInputs()) is None


def test_product_usage_uses_the_configured_thresholds():
    params = ProductUsageComponent(full_at_pct=90, zero_at_pct=50)
    assert score_product_usage(ProductUsageInputs(utilisation_pct=70), params) == 50
    assert score_product_usage(ProductUsageInputs(utilisation_pct=50), params) == 0


# --------------------------------------------------------------------------------------
# Support experience: 100 - 20/breach - 10/urgent - 10 x (tickets/10 seats above 1)
#                     - 25/open escalation; floor 0
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # no breach, no urgent, <= 1 ticket / 10 seats -> 100
        (SupportExperienceInputs(0, 0, 1.0, 0), 100.0),
        (SupportExperienceInputs(0, 0, 0.0, 0), 100.0),
        # METRICS.md worked example: 1 breach + 1 urgent -> 70
        (SupportExperienceInputs(sla_breaches=1, urgent_tickets=1), 70.0),
        (SupportExperienceInputs(sla_breaches=1, urgent_tickets=1, tickets_per_10_seats=0.5), 70.0),
        (SupportExperienceInputs(sla_breaches=3), 40.0),
        (SupportExperienceInputs(urgent_tickets=2), 80.0),
        (SupportExperienceInputs(tickets_per_10_seats=3.0), 80.0),  # 2 above 1 -> -20
        (SupportExperienceInputs(tickets_per_10_seats=2.5), 85.0),  # proportional
        (SupportExperienceInputs(open_escalations=1), 75.0),
        (SupportExperienceInputs(1, 1, 2.0, 1), 35.0),  # -20 -10 -10 -25
        (SupportExperienceInputs(5, 0, 1.0, 0), 0.0),  # exactly 0
        (SupportExperienceInputs(4, 3, 4.0, 2), 0.0),  # floor 0
    ],
)
def test_support_experience_deductions(inputs, expected):
    assert score_support_experience(inputs) == pytest.approx(expected)


def test_support_experience_without_data():
    assert score_support_experience(None) is None
    assert score_support_experience(SupportExperienceInputs()) is None
    # evidence alone is not data
    assert score_support_experience(SupportExperienceInputs(evidence=("note",))) is None


def test_support_experience_uses_the_configured_deductions():
    params = SupportExperienceComponent(per_sla_breach=30, per_open_escalation=0)
    assert score_support_experience(SupportExperienceInputs(2, 0, 0.0, 3), params) == 40


# --------------------------------------------------------------------------------------
# Sentiment: mean of (NPS + 100) / 2 and CSAT, each only if present
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nps", "csat", "expected"),
    [
        (20, 80, 70.0),  # METRICS.md worked example: NPS +20 -> 60, CSAT 80 -> mean 70
        (20, None, 60.0),
        (None, 80, 80.0),
        (100, 100, 100.0),  # the "100 at" point
        (-100, 0, 0.0),  # the "0 at" point
        (0, None, 50.0),  # halfway
        (None, 50, 50.0),
        (-100, 100, 50.0),
        (14.3, 69.2, (57.15 + 69.2) / 2),  # fractional NPS and CSAT
    ],
)
def test_sentiment(nps, csat, expected):
    assert score_sentiment(SentimentInputs(nps=nps, csat=csat)) == pytest.approx(expected)


def test_sentiment_without_data():
    assert score_sentiment(None) is None
    assert score_sentiment(SentimentInputs()) is None


# --------------------------------------------------------------------------------------
# Engagement: 100 within cadence, 0 at >= 3 x cadence, linear
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "cadence", "expected"),
    [
        (0, 30, 100.0),
        (12, 30, 100.0),  # within cadence
        (30, 30, 100.0),  # exactly the cadence: still within
        (60, 30, 50.0),  # halfway between 1 x and 3 x
        (45, 30, 75.0),
        (90, 30, 0.0),  # 3 x cadence
        (400, 30, 0.0),  # beyond: clamped
        (14, 7, 50.0),
        (10.5, 7, 75.0),  # 1.5 x cadence
        (8.75, 7, 87.5),
    ],
)
def test_engagement(days, cadence, expected):
    inputs = EngagementInputs(days_since_last_touchpoint=days, cadence_days=cadence)
    assert score_engagement(inputs) == pytest.approx(expected)


def test_engagement_without_data():
    assert score_engagement(None) is None
    assert score_engagement(EngagementInputs(cadence_days=30)) is None  # never touched
    assert score_engagement(EngagementInputs(days_since_last_touchpoint=3)) is None


def test_engagement_uses_the_configured_multiples():
    params = EngagementComponent(full_within_cadences=0.5, zero_at_cadences=2.5)
    inputs = EngagementInputs(days_since_last_touchpoint=45, cadence_days=30)
    assert score_engagement(inputs, params) == pytest.approx(50.0)


# --------------------------------------------------------------------------------------
# Plan progress: share of due milestones done on time
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "done", "expected"),
    [
        (4, 4, 100.0),  # all due milestones done
        (4, 0, 0.0),  # all overdue
        (4, 2, 50.0),
        (3, 2, 200 / 3),
        (4, None, 0.0),
    ],
)
def test_plan_progress(due, done, expected):
    inputs = PlanProgressInputs(due_milestones=due, done_on_time=done)
    assert score_plan_progress(inputs) == pytest.approx(expected)


def test_plan_progress_without_data():
    assert score_plan_progress(None) is None  # no active plan
    assert score_plan_progress(PlanProgressInputs()) is None
    assert score_plan_progress(PlanProgressInputs(due_milestones=0, done_on_time=0)) is None


# --------------------------------------------------------------------------------------
# The total
# --------------------------------------------------------------------------------------

WORKED_EXAMPLE = HealthInputs(
    product_usage=ProductUsageInputs(utilisation_pct=75),
    support_experience=SupportExperienceInputs(sla_breaches=1, urgent_tickets=1),
    sentiment=SentimentInputs(nps=20, csat=80),
    engagement=EngagementInputs(days_since_last_touchpoint=10, cadence_days=30),
    plan_progress=None,  # no active plan
)


def test_worked_example_from_metrics_md():
    result = health_score(WORKED_EXAMPLE)
    assert result.score == 82.2
    assert result.band is Band.GREEN
    rows = {row.key: row for row in result.components}
    assert [row.key for row in result.components] == [c.key for c in DEFAULT_MODEL.components]
    assert rows["product_usage"].score == pytest.approx(91.667, abs=1e-3)
    assert rows["support_experience"].score == 70
    assert rows["sentiment"].score == 70
    assert rows["engagement"].score == 100
    for key, weight in [
        ("product_usage", 30),
        ("support_experience", 20),
        ("sentiment", 25),
        ("engagement", 15),
    ]:
        assert rows[key].weight == weight
        assert rows[key].effective_weight == pytest.approx(weight / 90)
        assert rows[key].contribution == pytest.approx(weight / 90 * rows[key].score)
    # (2750 + 1400 + 1750 + 1500) / 90
    assert rows["product_usage"].contribution * 90 == pytest.approx(2750)
    plan = rows["plan_progress"]
    assert (plan.score, plan.contribution, plan.effective_weight) == (None, None, 0.0)
    assert plan.weight == 10
    assert plan.has_data is False
    assert rows["sentiment"].raw == SentimentInputs(nps=20, csat=80)


def test_renormalises_over_the_two_components_with_data():
    result = health_score(
        HealthInputs(
            product_usage=ProductUsageInputs(utilisation_pct=80),  # 100, weight 30
            support_experience=SupportExperienceInputs(sla_breaches=1),  # 80, weight 20
        )
    )
    assert result.score == 92.0  # (30 x 100 + 20 x 80) / 50; not / 100 (= 46)
    assert result.band is Band.GREEN
    weights = {row.key: row.effective_weight for row in result.components}
    assert weights == pytest.approx(
        {
            "product_usage": 0.6,
            "support_experience": 0.4,
            "sentiment": 0.0,
            "engagement": 0.0,
            "plan_progress": 0.0,
        }
    )


def test_a_component_without_data_is_not_a_zero():
    only_sentiment = health_score(HealthInputs(sentiment=SentimentInputs(csat=55)))
    assert only_sentiment.score == 55.0
    assert only_sentiment.band is Band.YELLOW


@pytest.mark.parametrize(
    "inputs",
    [
        HealthInputs(),
        HealthInputs(
            product_usage=ProductUsageInputs(),
            support_experience=SupportExperienceInputs(),
            sentiment=SentimentInputs(),
            engagement=EngagementInputs(cadence_days=30),
            plan_progress=PlanProgressInputs(due_milestones=0),
        ),
    ],
)
def test_no_data_at_all_is_none_and_no_band(inputs):
    result = health_score(inputs)
    assert result.score is None
    assert result.band is None
    assert all(row.score is None and row.contribution is None for row in result.components)
    assert all(row.effective_weight == 0 for row in result.components)


def test_only_weight_zero_components_with_data_is_not_enough_data():
    model = dataclasses.replace(
        DEFAULT_MODEL, sentiment=dataclasses.replace(DEFAULT_MODEL.sentiment, weight=0)
    )
    result = health_score(HealthInputs(sentiment=SentimentInputs(csat=90)), model)
    assert result.score is None
    assert result.band is None
    row = result.component("sentiment")
    assert (row.score, row.effective_weight, row.contribution) == (90, 0.0, 0.0)


def test_configured_weights_are_used():
    model = dataclasses.replace(
        DEFAULT_MODEL,
        product_usage=dataclasses.replace(DEFAULT_MODEL.product_usage, weight=1),
        support_experience=dataclasses.replace(DEFAULT_MODEL.support_experience, weight=3),
    )
    result = health_score(
        HealthInputs(
            product_usage=ProductUsageInputs(utilisation_pct=80),  # 100
            support_experience=SupportExperienceInputs(sla_breaches=5),  # 0
        ),
        model,
    )
    assert result.score == 25.0
    assert result.band is Band.RED


def test_total_is_rounded_to_one_decimal():
    result = health_score(HealthInputs(plan_progress=PlanProgressInputs(3, 2)))
    assert result.score == 66.7


def test_band_is_taken_from_the_rounded_total():
    # 69.96 is shown as 70.0, so it must be green, not yellow
    usage = 20 + 0.6 * 69.96
    result = health_score(HealthInputs(product_usage=ProductUsageInputs(utilisation_pct=usage)))
    assert result.score == 70.0
    assert result.band is Band.GREEN


# --------------------------------------------------------------------------------------
# Bands
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, Band.GREEN),
        (70, Band.GREEN),  # exactly 70 is green
        (69.9, Band.YELLOW),
        (40, Band.YELLOW),  # exactly 40 is yellow
        (39.9, Band.RED),
        (0, Band.RED),
        (None, None),
    ],
)
def test_band_boundaries(score, band):
    assert band_for(score) is band
    assert band_for(score, DEFAULT_MODEL) is band


def test_band_cut_offs_are_configurable():
    model = HealthModel(green_at=80, yellow_at=50)
    assert band_for(79.9, model) is Band.YELLOW
    assert band_for(80, model) is Band.GREEN
    assert band_for(49.9, model) is Band.RED
    assert band_for(50, model) is Band.YELLOW


def test_band_is_a_string():
    assert Band.GREEN == "green"
    assert str(Band.RED) == "red"


# --------------------------------------------------------------------------------------
# Invalid models and inputs are refused
# --------------------------------------------------------------------------------------


def _all_weights(weight):
    return {
        component.key: dataclasses.replace(component, weight=weight)
        for component in DEFAULT_MODEL.components
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ProductUsageComponent(weight=-1), "weight must be >= 0"),
        (lambda: ProductUsageComponent(weight=math.nan), "weight must be a finite number"),
        (lambda: ProductUsageComponent(weight=math.inf), "weight must be a finite number"),
        (lambda: ProductUsageComponent(label="  "), "label must be a non-empty string"),
        (lambda: HealthModel(**_all_weights(0)), "at least one component must have a weight"),
        (lambda: HealthModel(green_at=40, yellow_at=40), "yellow_at < green_at"),
        (lambda: HealthModel(green_at=30, yellow_at=60), "yellow_at < green_at"),
        (lambda: HealthModel(green_at=101), "green_at <= 100"),
        (lambda: HealthModel(yellow_at=-1), "0 <= yellow_at"),
        (lambda: ProductUsageComponent(full_at_pct=20, zero_at_pct=80), "zero_at_pct < full"),
        (lambda: ProductUsageComponent(full_at_pct=50, zero_at_pct=50), "zero_at_pct < full"),
        (lambda: ProductUsageComponent(full_at_pct=120), "full_at_pct <= 100"),
        (lambda: SupportExperienceComponent(per_sla_breach=-5), "per_sla_breach must be >= 0"),
        (
            lambda: SupportExperienceComponent(tickets_per_10_seats_allowed=-1),
            "tickets_per_10_seats_allowed must be >= 0",
        ),
        (lambda: EngagementComponent(zero_at_cadences=1), "full_within_cadences < zero_at"),
        (lambda: EngagementComponent(full_within_cadences=-1), "0 <= full_within_cadences"),
        (lambda: HealthModel(product_usage="x"), "product_usage must be a ProductUsageComponent"),
    ],
)
def test_invalid_models_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_model_with_only_some_zero_weights_is_fine():
    weights = _all_weights(0)
    weights["sentiment"] = DEFAULT_MODEL.sentiment
    assert HealthModel(**weights).sentiment.weight == 25


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SentimentInputs(nps=101), "nps must be between -100 and 100"),
        (lambda: SentimentInputs(csat=-0.1), "csat must be between 0 and 100"),
        (lambda: SupportExperienceInputs(sla_breaches=-1), "sla_breaches must be a whole"),
        (lambda: SupportExperienceInputs(urgent_tickets=1.5), "urgent_tickets must be a whole"),
        (lambda: SupportExperienceInputs(tickets_per_10_seats=-1), "must be >= 0"),
        (lambda: ProductUsageInputs(utilisation_pct=-3), "utilisation_pct must be >= 0"),
        (lambda: EngagementInputs(cadence_days=0), "cadence_days must be > 0"),
        (lambda: EngagementInputs(days_since_last_touchpoint=-1), "must be >= 0"),
        (lambda: PlanProgressInputs(2, 3), r"done_on_time \(3\) cannot exceed"),
        (lambda: PlanProgressInputs(None, 1), "done_on_time given without due_milestones"),
        (lambda: SentimentInputs(evidence=["x"]), "evidence must be a tuple of strings"),
    ],
)
def test_invalid_inputs_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# --------------------------------------------------------------------------------------
# explain_change
# --------------------------------------------------------------------------------------

LAST_WEEK = HealthInputs(
    product_usage=ProductUsageInputs(utilisation_pct=80),  # 100 x 30
    support_experience=SupportExperienceInputs(sla_breaches=1),  # 80 x 20
    sentiment=SentimentInputs(csat=70),  # 70 x 25
    engagement=EngagementInputs(days_since_last_touchpoint=5, cadence_days=30),  # 100 x 15
    plan_progress=PlanProgressInputs(due_milestones=4, done_on_time=3),  # 75 x 10
)  # (3000 + 1600 + 1750 + 1500 + 750) / 100 = 86


def test_explain_a_fall_names_the_component_and_its_facts():
    now = dataclasses.replace(
        LAST_WEEK,
        support_experience=SupportExperienceInputs(
            sla_breaches=3, urgent_tickets=1, evidence=("CSAT 2/5 on #1042",)
        ),
    )
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text == (
        "Health fell 86 → 76 since last week: support experience 80 → 30 "
        "(3 SLA breaches, 1 urgent ticket, CSAT 2/5 on #1042)"
    )


def test_explain_a_rise():
    now = dataclasses.replace(LAST_WEEK, sentiment=SentimentInputs(nps=60, csat=100))
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text == "Health rose 86 → 91 since last week: sentiment 70 → 90 (NPS +60, CSAT 100 %)"


def test_explain_held_without_any_move():
    result = health_score(LAST_WEEK)
    assert explain_change(result, result) == "Health held at 86 since last week."


def test_explain_held_with_moves_that_cancel_out():
    now = dataclasses.replace(
        LAST_WEEK,
        support_experience=SupportExperienceInputs(sla_breaches=0),  # 80 -> 100: +400
        engagement=EngagementInputs(days_since_last_touchpoint=42, cadence_days=30),  # -> 80
        product_usage=ProductUsageInputs(utilisation_pct=78),  # 100 -> 96.7
    )  # +20 x 20 - 20 x 15 - 3.33 x 30 = 0: total unchanged at 86; usage's -100 is too
    # small (< half of support's +400) to be named
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text == (
        "Health held at 86 since last week: support experience 80 → 100 "
        "(no SLA breach, urgent ticket or open escalation); "
        "engagement 100 → 80 (last touchpoint 42 days ago, cadence 30 days)"
    )


def test_explain_leaves_out_small_moves_and_orders_by_size():
    now = dataclasses.replace(
        LAST_WEEK,
        product_usage=ProductUsageInputs(utilisation_pct=50),  # 100 -> 50: -1500
        sentiment=SentimentInputs(csat=30),  # 70 -> 30: -1000 (>= half of 1500: named)
        plan_progress=PlanProgressInputs(due_milestones=4, done_on_time=2),  # -250: left out
    )
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text == (
        "Health fell 86 → 58.5 since last week: product usage 100 → 50 "
        "(licence utilisation 50 %); sentiment 70 → 30 (CSAT 30 %)"
    )


def test_explain_ties_follow_the_model_order():
    now = dataclasses.replace(
        LAST_WEEK,
        sentiment=SentimentInputs(csat=30),  # -40 x 25 = -1000
        support_experience=SupportExperienceInputs(sla_breaches=3, open_escalations=1),  # 80 ->
        # 15: -65 x 20 = -1300
        product_usage=ProductUsageInputs(utilisation_pct=60),  # 100 -> 66.67: -1000
    )
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text.startswith("Health fell 86 → 53 since last week: support experience 80 → 15")
    # the two -1000 moves tie: product usage comes first, as in the model
    assert text.index("product usage") < text.index("sentiment")


def test_explain_names_at_most_three_components():
    now = HealthInputs(
        product_usage=ProductUsageInputs(utilisation_pct=20),
        support_experience=SupportExperienceInputs(sla_breaches=5),
        sentiment=SentimentInputs(csat=0),
        engagement=EngagementInputs(days_since_last_touchpoint=90, cadence_days=30),
        plan_progress=PlanProgressInputs(due_milestones=4, done_on_time=0),
    )
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    assert text.startswith("Health fell 86 → 0 since last week: ")
    # moves: usage -30, sentiment -17.5, support -16, engagement -15 (all >= half of 30),
    # plan -7.5; only the three largest are named
    assert text.count("→") == 4  # the total and three components
    assert text.index("product usage") < text.index("sentiment") < text.index("support")
    assert "engagement" not in text
    assert "plan progress" not in text


def test_explain_a_component_losing_its_data():
    now = dataclasses.replace(LAST_WEEK, plan_progress=None)  # plan ended
    text = explain_change(health_score(LAST_WEEK), health_score(now))
    # (3000 + 1600 + 1750 + 1500) / 90 = 87.2
    assert text == (
        "Health rose 86 → 87.2 since last week: plan progress 75 → no data "
        "(3 of 4 due milestones done on time)"
    )


def test_explain_a_component_gaining_data():
    before = dataclasses.replace(LAST_WEEK, plan_progress=None)
    text = explain_change(health_score(before), health_score(LAST_WEEK))
    assert text == (
        "Health fell 87.2 → 86 since last week: plan progress no data → 75 "
        "(3 of 4 due milestones done on time)"
    )


def test_explain_without_data_on_either_side():
    empty = health_score(HealthInputs())
    scored = health_score(LAST_WEEK)
    assert explain_change(empty, empty) == "Health: not enough data, as last week."
    assert explain_change(empty, scored).startswith(
        "Health is 86 (not enough data last week): product usage no data → 100"
    )
    assert explain_change(scored, empty).startswith(
        "Health: not enough data now (was 86 last week): product usage 100 → no data"
    )


def test_explain_with_another_period():
    now = dataclasses.replace(LAST_WEEK, support_experience=SupportExperienceInputs(2))
    text = explain_change(health_score(LAST_WEEK), health_score(now), since="yesterday")
    assert text == (
        "Health fell 86 → 82 since yesterday: support experience 80 → 60 (2 SLA breaches)"
    )


def test_explain_works_on_results_rebuilt_from_snapshots():
    """The account page rebuilds results from stored snapshot rows; the issue's example."""

    def snapshot(total, support_score, support_raw):
        row = ComponentResult(
            key="support_experience",
            label="Support experience",
            raw=support_raw,
            score=support_score,
            weight=20,
            effective_weight=1.0,
            contribution=support_score,
        )
        return HealthResult(score=total, band=band_for(total), components=(row,))

    previous = snapshot(74, 80, SupportExperienceInputs(sla_breaches=1))
    current = snapshot(
        58, 35, SupportExperienceInputs(sla_breaches=3, evidence=("CSAT 2/5 on #1042",))
    )
    assert explain_change(previous, current) == (
        "Health fell 74 → 58 since last week: support experience 80 → 35 "
        "(3 SLA breaches, CSAT 2/5 on #1042)"
    )


def test_explain_is_deterministic():
    now = dataclasses.replace(LAST_WEEK, sentiment=SentimentInputs(csat=30))
    texts = {explain_change(health_score(LAST_WEEK), health_score(now)) for _ in range(5)}
    assert len(texts) == 1


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

counts = st.none() | st.integers(0, 8)
reals = st.floats(0, 10, allow_nan=False)

usage_inputs = st.builds(
    ProductUsageInputs, utilisation_pct=st.none() | st.floats(0, 150, allow_nan=False)
)
support_inputs = st.builds(
    SupportExperienceInputs,
    sla_breaches=counts,
    urgent_tickets=counts,
    tickets_per_10_seats=st.none() | reals,
    open_escalations=counts,
)
sentiment_inputs = st.builds(
    SentimentInputs,
    nps=st.none() | st.floats(-100, 100, allow_nan=False),
    csat=st.none() | st.floats(0, 100, allow_nan=False),
)
engagement_inputs = st.builds(
    EngagementInputs,
    days_since_last_touchpoint=st.none() | st.floats(0, 400, allow_nan=False),
    cadence_days=st.none() | st.floats(1, 120, allow_nan=False),
)


@st.composite
def plan_inputs(draw):
    due = draw(st.none() | st.integers(0, 12))
    done = None if due is None else draw(st.none() | st.integers(0, due))
    return PlanProgressInputs(due_milestones=due, done_on_time=done)


all_inputs = st.builds(
    HealthInputs,
    product_usage=st.none() | usage_inputs,
    support_experience=st.none() | support_inputs,
    sentiment=st.none() | sentiment_inputs,
    engagement=st.none() | engagement_inputs,
    plan_progress=st.none() | plan_inputs(),
)


@st.composite
def models(draw):
    weights = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=5, max_size=5))
    assume(any(weight > 0 for weight in weights))
    yellow = draw(st.floats(0, 99, allow_nan=False))
    green = draw(st.floats(yellow, 100, allow_nan=False).filter(lambda g: g > yellow))
    components = {
        component.key: dataclasses.replace(component, weight=weight)
        for component, weight in zip(DEFAULT_MODEL.components, weights, strict=True)
    }
    return HealthModel(**components, green_at=green, yellow_at=yellow)


@PROPERTY_SETTINGS
@given(inputs=all_inputs, model=st.just(DEFAULT_MODEL) | models())
def test_property_score_in_range_and_band_consistent(inputs, model):
    result = health_score(inputs, model)
    for row in result.components:
        assert row.score is None or 0 <= row.score <= 100
    if result.score is None:
        assert result.band is None
    else:
        assert 0 <= result.score <= 100
        assert result.score == round(result.score, 1)
        assert result.band is band_for(result.score, model)


@PROPERTY_SETTINGS
@given(inputs=all_inputs, model=st.just(DEFAULT_MODEL) | models())
def test_property_renormalised_weights_sum_to_one(inputs, model):
    result = health_score(inputs, model)
    if result.score is None:
        return
    with_data = [row for row in result.components if row.score is not None]
    assert sum(row.effective_weight for row in with_data) == pytest.approx(1.0)
    total_weight = sum(row.weight for row in with_data)
    for row in result.components:
        expected = row.weight / total_weight if row.score is not None else 0.0
        assert row.effective_weight == pytest.approx(expected)
    exact = sum(row.contribution for row in with_data)
    assert result.score == pytest.approx(exact, abs=0.05 + 1e-9)


@PROPERTY_SETTINGS
@given(inputs=all_inputs)
def test_property_adding_a_component_at_the_total_keeps_the_total(inputs):
    inputs = dataclasses.replace(inputs, sentiment=None)
    before = health_score(inputs)
    assume(before.score is not None)
    # sentiment from CSAT alone scores exactly the CSAT value
    after = health_score(dataclasses.replace(inputs, sentiment=SentimentInputs(csat=before.score)))
    assert after.component("sentiment").score == before.score
    assert after.score == pytest.approx(before.score, abs=0.1 + 1e-9)


@PROPERTY_SETTINGS
@given(
    low=st.floats(0, 150, allow_nan=False),
    high=st.floats(0, 150, allow_nan=False),
)
def test_property_usage_never_falls_as_utilisation_rises(low, high):
    low, high = sorted((low, high))
    assert score_product_usage(ProductUsageInputs(low)) <= score_product_usage(
        ProductUsageInputs(high)
    )


@PROPERTY_SETTINGS
@given(inputs=support_inputs, extra=st.integers(1, 5))
def test_property_another_breach_never_helps(inputs, extra):
    assume(inputs.has_data)
    worse = dataclasses.replace(inputs, sla_breaches=(inputs.sla_breaches or 0) + extra)
    assert score_support_experience(worse) <= score_support_experience(inputs)


@PROPERTY_SETTINGS
@given(previous=all_inputs, current=all_inputs)
def test_property_explain_change_is_deterministic_and_well_formed(previous, current):
    before, after = health_score(previous), health_score(current)
    text = explain_change(before, after)
    assert text == explain_change(before, after)
    assert text.startswith("Health")
    if before.score is not None and after.score is not None:
        verb = (
            "rose"
            if after.score > before.score
            else "fell"
            if after.score < before.score
            else "held at"
        )
        assert text.startswith(f"Health {verb} ")
