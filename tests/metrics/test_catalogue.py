import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics import catalogue
from metrics.catalogue import duration_bucket, duration_bucket_bounds, duration_percentile, pool


def test_every_metric_has_a_definition_and_subjects():
    for definition in catalogue.METRICS.values():
        assert definition.definition.endswith(".")
        assert definition.subjects


def test_unknown_metric_is_refused():
    with pytest.raises(catalogue.UnknownMetric):
        pool("bogus", [])


def test_a_period_without_rows_is_no_data():
    assert pool("csat", []).value is None
    assert pool("first_response_time", [{"count": 0, "sum": 0, "hist": {}}]).value is None


def test_csat_pools_the_parts_not_the_daily_values():
    # Day 1: 1 of 1 satisfied (100 %); day 2: 1 of 9 (11 %): pooled 2/10, not the mean 55.6.
    days = [{"numerator": 1, "denominator": 1}, {"numerator": 1, "denominator": 9}]
    pooled = pool("csat", days)
    assert pooled.value == pytest.approx(20.0)
    assert pooled.sample_size == 10
    assert pooled.small_sample


def test_nps_pools_responses_like_the_worked_example():
    days = [
        {"responses": 10, "promoters": 6, "detractors": 1},
        {"responses": 90, "promoters": 27, "detractors": 36},
    ]
    assert pool("nps", days).value == pytest.approx(-4.0)


def test_counts_add_up_and_instants_take_the_last_day():
    assert pool("tickets_created", [{"count": 3}, {"count": 4}]).value == 7
    assert pool("backlog", [{"count": 120}, {"count": 105}]).value == 105


def test_ces_is_the_mean_of_the_period_scores():
    # 7, 6, 5 on day 1 and 4, 2 on day 2 → 4.8, as in METRICS.md.
    assert pool("ces", [{"sum": 18, "count": 3}, {"sum": 6, "count": 2}]).value == 4.8


def test_bucket_edges():
    assert duration_bucket(0) == 0
    assert duration_bucket(59.9) == 0
    assert duration_bucket(60) == 1
    assert duration_bucket(66) == 2
    with pytest.raises(ValueError, match="cannot be"):
        duration_bucket(-1)


@given(st.floats(min_value=0, max_value=400 * 86400, allow_nan=False))
def test_a_duration_falls_inside_its_bucket(seconds):
    low, high = duration_bucket_bounds(duration_bucket(seconds))
    assert low <= seconds * (1 + 1e-9)
    assert seconds <= high * (1 + 1e-9)


@given(st.lists(st.integers(min_value=60, max_value=30 * 86400), min_size=1, max_size=200))
def test_median_from_the_histogram_is_within_ten_percent(durations):
    hist: dict[int, int] = {}
    for seconds in durations:
        hist[duration_bucket(seconds)] = hist.get(duration_bucket(seconds), 0) + 1
    ordered = sorted(durations)
    rank = math.ceil(0.5 * len(ordered)) - 1
    exact = ordered[rank]
    estimate = duration_percentile(hist, 0.5)
    low, high = duration_bucket_bounds(duration_bucket(exact))
    assert low * 0.999 <= estimate <= high * 1.001


def test_resolution_example_median_and_mean():
    hours = [1, 2, 2, 3, 40]
    hist: dict[int, int] = {}
    for h in hours:
        hist[duration_bucket(h * 3600)] = hist.get(duration_bucket(h * 3600), 0) + 1
    pooled = pool(
        "resolution_time", [{"count": 5, "sum": sum(h * 3600 for h in hours), "hist": hist}]
    )
    assert pooled.mean == pytest.approx(9.6 * 3600)
    assert pooled.median == pytest.approx(2 * 3600, rel=0.1)
    assert pooled.sample_size == 5
