"""metrics.formulas against every worked example of shared METRICS.md, plus the edge cases the
document implies. No database: these are pure functions."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.formulas import (
    Author,
    CsatRating,
    CustomerActivity,
    CustomerMrr,
    NpsTally,
    RevenueMovements,
    SlaTarget,
    SolvedTicket,
    StatusChange,
    TargetOutcome,
    TicketMessage,
    aged_backlog,
    backlog_flow,
    calendar_time,
    ces,
    ces_percent_easy,
    csat,
    duration_summary,
    expansion_revenue,
    fcr,
    feature_adoption,
    first_response_at,
    first_response_time,
    grr,
    is_first_contact_resolution,
    is_small_sample,
    latest_ratings,
    licence_utilisation,
    logo_churn,
    logo_retention,
    logo_retention_from_counts,
    nps,
    nps_tally,
    nrr,
    percentile,
    pooled_nps,
    reopen_rate,
    resolution_times,
    response_rate,
    round_for_display,
    sla_compliance,
    sla_compliance_of,
    stickiness,
    ticket_sla_compliance,
    tickets_per_10_seats,
)
from support.business_hours import Calendar, Interval, business_time_between

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = timedelta(hours=1)
_ZERO_TD = timedelta(0)
FEW = settings(max_examples=60, deadline=None)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """An instant in March 2025, Berlin time (7 March 2025 is a Friday)."""
    return datetime(2025, month, day, hour, minute, tzinfo=BERLIN)


def shown(value: float | None) -> float | None:
    """How a report displays a percentage (one decimal)."""
    return round_for_display(value)


WEEKDAYS_9_TO_5 = Calendar(
    "Europe/Berlin", tuple(Interval(day, time(9), time(17)) for day in range(5))
)
business_9_to_5 = partial(business_time_between, WEEKDAYS_9_TO_5)


# --------------------------------------------------------------------------- display


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (14.2857, 14.3), (69.158, 69.2), (0.05, 0.1), (-4.0, -4.0), (-0.05, -0.1)],
)
def test_round_for_display_is_one_decimal_half_away_from_zero(value, expected):
    assert round_for_display(value) == expected


# --------------------------------------------------------------------------- NPS


def test_nps_worked_example_is_plus_14_3():
    tally = nps_tally([5, 6, 7, 8, 9, 10, 10])
    assert tally == NpsTally(responses=7, promoters=3, detractors=2)
    assert shown(nps([5, 6, 7, 8, 9, 10, 10])) == 14.3


def test_pooled_nps_pools_responses_instead_of_averaging_groups():
    group_a = NpsTally(responses=10, promoters=6, detractors=1)
    group_b = NpsTally(responses=90, promoters=27, detractors=36)
    assert group_a.score == 50.0
    assert group_b.score == -10.0
    assert pooled_nps([group_a, group_b]) == -4.0  # not the mean, +20


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([10, 9], 100.0),
        ([0, 6], -100.0),
        ([7, 8], 0.0),
        ([None, 10, None, 0], 0.0),  # unscored responses are dropped, not detractors
    ],
)
def test_nps_bands(scores, expected):
    assert nps(scores) == expected


@pytest.mark.parametrize("scores", [[], [None, None]])
def test_nps_without_responses_is_none(scores):
    assert nps(scores) is None
    assert pooled_nps([]) is None


@pytest.mark.parametrize("bad", [11, -1, 7.5, True, "9"])
def test_nps_refuses_a_score_outside_the_scale_naming_it(bad):
    with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
        nps([9, bad])


def test_nps_tally_refuses_more_promoters_and_detractors_than_responses():
    with pytest.raises(ValueError, match="cannot exceed responses"):
        NpsTally(responses=5, promoters=4, detractors=2)


@pytest.mark.parametrize(("n", "small"), [(0, True), (29, True), (30, False), (500, False)])
def test_fewer_than_30_responses_is_a_small_sample(n, small):
    assert is_small_sample(n) is small


@FEW
@given(st.lists(st.one_of(st.none(), st.integers(0, 10))))
def test_nps_is_within_minus_100_and_100(scores):
    value = nps(scores)
    assert value is None or -100 <= value <= 100


@FEW
@given(st.lists(st.lists(st.integers(0, 10), max_size=20), max_size=5))
def test_pooled_nps_equals_nps_of_all_responses(groups):
    pooled = pooled_nps(nps_tally(group) for group in groups)
    everything = nps([score for group in groups for score in group])
    if everything is None:
        assert pooled is None
    else:
        assert pooled == pytest.approx(everything)


# --------------------------------------------------------------------------- CSAT


def test_csat_worked_example_is_69_2():
    ratings = [5] * 42 + [4] * 32 + [3] * 10 + [2] * 9 + [1] * 14
    assert csat(ratings) == pytest.approx(100 * 74 / 107)
    assert shown(csat(ratings)) == 69.2


@pytest.mark.parametrize(
    ("ratings", "expected"), [([5], 100.0), ([4], 100.0), ([3], 0.0), ([3, 4, None], 50.0)]
)
def test_csat_satisfied_means_4_or_5_and_unanswered_is_not_a_response(ratings, expected):
    assert csat(ratings) == expected


@pytest.mark.parametrize("ratings", [[], [None]])
def test_csat_without_responses_is_none(ratings):
    assert csat(ratings) is None


@pytest.mark.parametrize("bad", [0, 6, 4.5])
def test_csat_refuses_a_rating_outside_1_to_5(bad):
    with pytest.raises(ValueError, match=str(bad)):
        csat([5, bad])


def test_csat_counts_only_the_latest_rating_of_each_ticket():
    ratings = [
        CsatRating(ticket_id=1, submitted_at=at(3, 9), rating=1),
        CsatRating(ticket_id=2, submitted_at=at(3, 10), rating=5),
        CsatRating(ticket_id=1, submitted_at=at(4, 9), rating=5),  # supersedes the 1
        CsatRating(ticket_id=2, submitted_at=at(2, 9), rating=2),  # older: ignored
    ]
    assert sorted(latest_ratings(ratings)) == [5, 5]
    assert csat(latest_ratings(ratings)) == 100.0


def test_csat_response_rate_is_separate():
    assert shown(response_rate(107, 300)) == 35.7
    assert response_rate(0, 0) is None
    with pytest.raises(ValueError, match="cannot exceed"):
        response_rate(5, 4)


@FEW
@given(st.lists(st.integers(1, 5)))
def test_csat_is_within_0_and_100(ratings):
    value = csat(ratings)
    assert value is None or 0 <= value <= 100


# --------------------------------------------------------------------------- CES


def test_ces_worked_example_mean_4_8_and_60_percent_easy():
    scores = [7, 6, 5, 4, 2]
    assert ces(scores) == pytest.approx(4.8)
    assert ces_percent_easy(scores) == 60.0


@pytest.mark.parametrize("bad", [0, 8])
def test_ces_refuses_a_score_outside_1_to_7(bad):
    with pytest.raises(ValueError, match=str(bad)):
        ces([bad])
    with pytest.raises(ValueError, match=str(bad)):
        ces_percent_easy([bad])


def test_ces_without_responses_is_none():
    assert ces([]) is None
    assert ces_percent_easy([None]) is None


@FEW
@given(st.lists(st.integers(1, 7), min_size=1))
def test_ces_mean_stays_on_the_scale(scores):
    assert 1 <= ces(scores) <= 7


# --------------------------------------------------------------------------- first response


def test_frt_worked_example_friday_16_to_monday_10():
    created, replied = at(7, 16), at(10, 10)  # Fri 16:00 -> Mon 10:00
    assert first_response_time(created, replied) == 66 * HOURS
    assert first_response_time(created, replied, business_9_to_5) == 2 * HOURS


def test_frt_is_none_until_answered():
    assert first_response_time(at(7, 16), None) is None


def test_frt_in_calendar_time_is_real_time_across_dst():
    # Berlin springs forward on Sunday 30 March 2025: Sat 12:00 -> Sun 12:00 is 23 real hours.
    assert calendar_time(at(29, 12), at(30, 12)) == 23 * HOURS


def test_frt_refuses_naive_datetimes_and_a_reply_before_creation():
    with pytest.raises(ValueError, match="timezone-aware"):
        first_response_time(datetime(2025, 3, 7, 16), at(7, 17))  # noqa: DTZ001
    with pytest.raises(ValueError, match="before creation"):
        first_response_time(at(7, 16), at(7, 15))


def test_first_response_is_the_first_public_agent_message():
    messages = [
        TicketMessage(at(7, 16, 5), Author.SYSTEM, public=True),  # auto-acknowledgement
        TicketMessage(at(7, 16, 10), Author.AGENT, public=False),  # internal note
        TicketMessage(at(7, 16, 20), Author.CUSTOMER, public=True),
        TicketMessage(at(10, 10), Author.AGENT, public=True),
        TicketMessage(at(10, 11), Author.AGENT, public=True),
    ]
    assert first_response_at(messages) == at(10, 10)
    assert first_response_at(messages[:3]) is None


def test_first_response_of_a_ticket_opened_by_an_agent_is_the_second_public_agent_message():
    messages = [
        TicketMessage(at(7, 16), Author.AGENT, public=True),  # opened on the customer's behalf
        TicketMessage(at(7, 16, 30), Author.AGENT, public=False),
        TicketMessage(at(10, 10), Author.AGENT, public=True),
    ]
    assert first_response_at(messages, created_by_agent=True) == at(10, 10)
    assert first_response_at(messages[:2], created_by_agent=True) is None


# --------------------------------------------------------------------------- resolution time


def test_resolution_time_worked_example_median_2h_mean_9_6h():
    summary = duration_summary([h * HOURS for h in (1, 2, 2, 3, 40)])
    assert summary is not None
    assert summary.n == 5
    assert summary.median == 2 * HOURS
    assert summary.mean == timedelta(hours=9.6)
    # p90 by linear interpolation (PostgreSQL percentile_cont): 3 + 0.6 * (40 - 3) = 25.2 h
    assert summary.p90 == timedelta(hours=25.2)


@pytest.mark.parametrize(
    ("hours", "median", "p90"),
    [
        ([5], 5, 5),
        ([1, 3], 2, 2.8),
        ([4, 1, 3, 2], 2.5, 3.7),
        ([h for h in range(1, 11)], 5.5, 9.1),
    ],
)
def test_median_and_p90_interpolate_between_ranks(hours, median, p90):
    durations = [h * HOURS for h in hours]
    assert percentile(durations, 0.5) == timedelta(hours=median)
    assert percentile(durations, 0.9) == timedelta(hours=p90)


def test_duration_summary_of_nothing_is_none():
    assert duration_summary([]) is None
    assert percentile([], 0.9) is None


def test_percentile_refuses_a_fraction_outside_0_to_1():
    with pytest.raises(ValueError, match=r"1\.5"):
        percentile([HOURS], 1.5)


@FEW
@given(st.lists(st.integers(0, 10**6), min_size=1))
def test_median_is_at_most_p90_within_min_and_max(seconds):
    summary = duration_summary(timedelta(seconds=s) for s in seconds)
    assert summary is not None
    assert min(seconds) <= summary.median.total_seconds() <= summary.p90.total_seconds()
    assert summary.p90.total_seconds() <= max(seconds)


def test_first_and_full_resolution_after_a_reopen():
    statuses = [
        StatusChange(at(3, 9), "new"),
        StatusChange(at(3, 10), "solved"),
        StatusChange(at(3, 12), "open"),  # reopened
        StatusChange(at(3, 15), "solved"),
    ]
    times = resolution_times(at(3, 9), statuses)
    assert times.first == 1 * HOURS
    assert times.full == 6 * HOURS


def test_full_resolution_is_none_while_reopened_and_none_at_all_before_a_solve():
    statuses = [StatusChange(at(3, 9), "new"), StatusChange(at(3, 10), "solved")]
    reopened = [*statuses, StatusChange(at(3, 12), "open")]
    assert resolution_times(at(3, 9), reopened).first == HOURS
    assert resolution_times(at(3, 9), reopened).full is None
    assert resolution_times(at(3, 9), statuses[:1]).first is None
    closed = [*statuses, StatusChange(at(7, 10), "closed")]
    assert resolution_times(at(3, 9), closed).full == HOURS


def test_resolution_for_slas_is_business_time_minus_pending():
    statuses = [
        StatusChange(at(7, 10), "open"),  # Fri 10:00
        StatusChange(at(7, 15), "pending"),  # waiting on the customer Fri 15:00 ...
        StatusChange(at(10, 11), "open"),  # ... until Mon 11:00 (2 + 2 business hours)
        StatusChange(at(10, 13), "solved"),
    ]
    calendar = resolution_times(at(7, 10), statuses)
    business = resolution_times(at(7, 10), statuses, business_time=business_9_to_5)
    sla = resolution_times(at(7, 10), statuses, business_time=business_9_to_5, exclude_pending=True)
    assert calendar.first == 75 * HOURS
    assert business.first == 11 * HOURS
    assert sla.first == sla.full == 7 * HOURS


# --------------------------------------------------------------------------- SLA compliance


def test_sla_compliance_worked_example_is_93_9():
    assert shown(sla_compliance(achieved=92, breached=6)) == 93.9


def test_sla_compliance_over_targets_excludes_running_not_due_and_breaches_past_due():
    met = SlaTarget(target=4 * HOURS, elapsed=1 * HOURS, stopped=True)
    missed = SlaTarget(target=4 * HOURS, elapsed=5 * HOURS, stopped=True)
    running_not_due = SlaTarget(target=4 * HOURS, elapsed=3 * HOURS, stopped=False)
    running_past_due = SlaTarget(target=4 * HOURS, elapsed=6 * HOURS, stopped=False)
    assert met.outcome == TargetOutcome.ACHIEVED
    assert missed.outcome == running_past_due.outcome == TargetOutcome.BREACHED
    assert running_not_due.outcome == TargetOutcome.NOT_DUE
    targets = [met] * 92 + [missed] * 4 + [running_past_due] * 2 + [running_not_due] * 2
    assert shown(sla_compliance_of(targets)) == 93.9


def test_a_target_stopped_exactly_at_its_limit_is_breached_as_in_support_sla():
    assert SlaTarget(4 * HOURS, 4 * HOURS, stopped=True).outcome == TargetOutcome.BREACHED


def test_sla_compliance_with_only_targets_not_yet_due_is_none():
    assert sla_compliance(0, 0) is None
    assert sla_compliance_of([SlaTarget(HOURS, _ZERO_TD, stopped=False)]) is None


def test_ticket_complies_only_if_all_its_targets_were_met():
    met = SlaTarget(HOURS, _ZERO_TD, stopped=True)
    breached = SlaTarget(HOURS, 2 * HOURS, stopped=False)
    not_due = SlaTarget(HOURS, _ZERO_TD, stopped=False)
    tickets = [
        [met, met, met],  # complies
        [met, breached],  # breached
        [breached, not_due],  # breached already
        [met, not_due],  # not decided yet: left out
        [],  # no targets: left out
    ]
    assert shown(ticket_sla_compliance(tickets)) == 33.3
    assert ticket_sla_compliance([[met, not_due]]) is None


@FEW
@given(st.lists(st.integers(0, 10)), st.lists(st.integers(0, 10)), st.integers(0, 5))
def test_targets_not_yet_due_never_change_sla_compliance(met, missed, running):
    targets = [SlaTarget(10 * HOURS, h * HOURS, stopped=True) for h in met]
    targets += [SlaTarget(10 * HOURS, (10 + h) * HOURS, stopped=h % 2 == 0) for h in missed]
    not_due = [SlaTarget(10 * HOURS, HOURS, stopped=False)] * running
    value = sla_compliance_of(targets + not_due)
    assert value == sla_compliance_of(targets)
    assert value is None or 0 <= value <= 100


@pytest.mark.parametrize(("achieved", "breached"), [(-1, 0), (0, -2)])
def test_sla_compliance_refuses_negative_counts(achieved, breached):
    with pytest.raises(ValueError, match="-"):
        sla_compliance(achieved, breached)


# --------------------------------------------------------------------------- FCR, reopen, backlog


def test_fcr_worked_example_is_70():
    assert fcr(35, 50) == 70.0


def test_fcr_of_no_solved_tickets_is_none_and_more_resolved_than_solved_is_refused():
    assert fcr(0, 0) is None
    with pytest.raises(ValueError, match="51"):
        fcr(51, 50)


@pytest.mark.parametrize(
    ("replies", "reopened_after", "first_contact"),
    [
        (0, None, True),
        (1, None, True),
        (2, None, False),
        (1, timedelta(days=3), False),
        (1, timedelta(days=7), False),  # within 7 days, inclusive
        (1, timedelta(days=7, seconds=1), True),
    ],
)
def test_first_contact_resolution_needs_at_most_one_reply_and_no_reopen_within_7_days(
    replies, reopened_after, first_contact
):
    solved = at(3, 12)
    reopened = None if reopened_after is None else solved + reopened_after
    ticket = SolvedTicket(solved_at=solved, public_agent_replies=replies, reopened_at=reopened)
    assert is_first_contact_resolution(ticket) is first_contact


def test_reopen_rate_worked_example_is_6_9():
    assert shown(reopen_rate(25, 360)) == 6.9
    assert reopen_rate(0, 0) is None


def test_backlog_flow_worked_example_is_105():
    assert backlog_flow(120, 340, 25, 360, 20) == 105


def test_backlog_flow_refuses_negative_inputs_and_a_negative_result():
    with pytest.raises(ValueError, match="-5"):
        backlog_flow(120, -5, 25, 360, 20)
    with pytest.raises(ValueError, match="negative ending"):
        backlog_flow(0, 1, 0, 2, 0)


def test_aged_backlog_counts_tickets_older_than_30_days():
    now = at(31, 12)
    created = [now - timedelta(days=31), now - timedelta(days=30), now - timedelta(days=2)]
    assert aged_backlog(created, now) == 1


def test_ticket_volume_per_10_seats():
    assert tickets_per_10_seats(12, 40) == 3.0
    assert tickets_per_10_seats(12, None) is None
    assert tickets_per_10_seats(12, 0) is None


# --------------------------------------------------------------------------- logo retention


def cohort(retained: int, churned: int, new_kept: int, new_lost: int) -> list[CustomerActivity]:
    return (
        [CustomerActivity(active_at_start=True, active_at_end=True)] * retained
        + [CustomerActivity(active_at_start=True, active_at_end=False)] * churned
        + [CustomerActivity(active_at_start=False, active_at_end=True)] * new_kept
        + [CustomerActivity(active_at_start=False, active_at_end=False)] * new_lost
    )


def test_logo_retention_worked_example_is_90_not_105():
    assert logo_retention_from_counts(starting=200, ending=210, new=30) == 90.0
    # S=200 of whom 180 stay, 30 new → E=210
    assert logo_retention(cohort(retained=180, churned=20, new_kept=30, new_lost=0)) == 90.0


def test_logo_retention_ignores_a_customer_who_joins_and_churns_inside_the_period():
    customers = cohort(retained=180, churned=20, new_kept=30, new_lost=5)
    # Counting form: E=210, N=35 → 87.5, distorted by the 5 who came and went.
    assert logo_retention_from_counts(starting=200, ending=210, new=35) == 87.5
    assert logo_retention(customers) == 90.0


def test_logo_retention_without_starting_customers_is_none():
    assert logo_retention(cohort(0, 0, 3, 1)) is None
    assert logo_retention_from_counts(0, 3, 3) is None


@FEW
@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_cohort_and_counting_forms_agree_without_join_and_churn(retained, churned, new):
    customers = cohort(retained, churned, new, new_lost=0)
    counted = logo_retention_from_counts(retained + churned, retained + new, new)
    assert logo_retention(customers) == counted
    if retained + churned:
        assert logo_retention(customers) + logo_churn(churned, retained + churned) == (
            pytest.approx(100)
        )


def test_logo_churn_worked_example_is_10():
    assert logo_churn(20, 200) == 10.0
    assert logo_churn(0, 0) is None
    with pytest.raises(ValueError, match="201"):
        logo_churn(201, 200)


# --------------------------------------------------------------------------- GRR, NRR


M = Decimal(1_000_000)


def test_grr_and_nrr_worked_example_85_and_103():
    movements = RevenueMovements(
        starting_mrr=10 * M,
        contraction=Decimal("0.6") * M,
        churned_mrr=Decimal("0.9") * M,
        expansion=Decimal("1.8") * M,
    )
    assert grr(movements) == 85.0
    assert nrr(movements) == 103.0


def test_grr_is_never_above_100_however_large_the_expansion():
    movements = RevenueMovements(starting_mrr=100 * M, expansion=500 * M)
    assert grr(movements) == 100.0
    assert nrr(movements) == 600.0


def test_revenue_movements_from_per_customer_mrr():
    customers = [
        CustomerMrr(start=Decimal(100), end=Decimal(150)),  # expansion 50
        CustomerMrr(start=Decimal(200), end=Decimal(120)),  # contraction 80
        CustomerMrr(start=Decimal(100), end=Decimal(0)),  # churned 100
        CustomerMrr(start=Decimal(600), end=Decimal(600)),
    ]
    movements = RevenueMovements.from_customers(customers)
    assert movements == RevenueMovements(
        starting_mrr=Decimal(1000),
        expansion=Decimal(50),
        contraction=Decimal(80),
        churned_mrr=Decimal(100),
    )
    assert grr(movements) == 82.0
    assert nrr(movements) == 87.0


def test_revenue_retention_without_starting_mrr_is_none():
    assert grr(RevenueMovements(Decimal(0))) is None
    assert nrr(RevenueMovements(Decimal(0))) is None
    assert RevenueMovements.from_customers([]) == RevenueMovements(Decimal(0))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"contraction": Decimal(-5)}, "-5"),
        ({"expansion": Decimal(-1)}, "-1"),
        ({"contraction": Decimal(60), "churned_mrr": Decimal(50)}, "cannot exceed"),
        ({"expansion": 1.5}, r"1\.5"),
    ],
)
def test_revenue_movements_refuse_impossible_amounts(fields, message):
    with pytest.raises(ValueError, match=message):
        RevenueMovements(starting_mrr=Decimal(100), **fields)


@pytest.mark.parametrize(("start", "end"), [(Decimal(-1), Decimal(10)), (Decimal(10), -3)])
def test_customer_mrr_refuses_negative_mrr(start, end):
    with pytest.raises(ValueError, match=f"{start if start < 0 else end}"):
        CustomerMrr(start=start, end=end)


money = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)


@FEW
@given(st.lists(st.tuples(money.filter(lambda d: d > 0), money), min_size=1, max_size=20))
def test_grr_is_at_most_100_and_at_most_nrr(pairs):
    movements = RevenueMovements.from_customers(CustomerMrr(s, e) for s, e in pairs)
    assert 0 <= grr(movements) <= 100
    assert grr(movements) <= nrr(movements)
    total_start = sum(s for s, _ in pairs)
    total_end = sum(e for _, e in pairs)
    assert nrr(movements) == pytest.approx(float(100 * total_end / total_start))


def test_expansion_revenue_sums_only_the_increases():
    changes = [Decimal(50), Decimal(-80), Decimal(0), Decimal("12.50")]
    assert expansion_revenue(changes) == Decimal("62.50")
    assert expansion_revenue([]) == 0


# --------------------------------------------------------------------------- adoption


def test_licence_utilisation_worked_example_is_75():
    assert licence_utilisation(45, 60) == 75.0
    assert licence_utilisation(45, None) is None
    assert licence_utilisation(0, 0) is None


def test_stickiness_worked_example_is_25_from_the_average_daily_users():
    daily = [4_000, 6_000] * 15  # averages 5,000 over a 30-day month
    assert stickiness(daily, 20_000) == 25.0
    assert stickiness([], 20_000) is None
    assert stickiness([0, 0], 0) is None


def test_stickiness_refuses_a_day_with_more_users_than_the_month():
    with pytest.raises(ValueError, match="21000"):
        stickiness([21_000], 20_000)


def test_feature_adoption_is_users_of_the_feature_over_those_who_could():
    assert feature_adoption(12, 48) == 25.0
    assert feature_adoption(0, 0) is None
    with pytest.raises(ValueError, match="49"):
        feature_adoption(49, 48)
