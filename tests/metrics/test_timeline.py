"""The account timeline (metrics.selectors.account_timeline, metrics:account-timeline): one
merged list of both teams' events, paged by a keyset cursor that neither skips nor repeats,
health band changes found with lag(), who may see it, and a fixed number of queries."""

import datetime
import decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage, Role
from metrics.selectors import (
    InvalidCursor,
    Kind,
    TimelineCursor,
    account_timeline,
)
from success.choices import MilestoneStatus, RevenueEventKind, TouchpointKind
from success.models import (
    HealthOverride,
    HealthSnapshot,
    LifecycleChange,
    NpsResponse,
    PlanMilestone,
    RevenueEvent,
    SuccessPlan,
    Touchpoint,
)
from support.choices import SlaAlertKind, SlaMetric, Status
from support.models import SlaAlert
from tests.factories import AccountFactory, ContactFactory, CsatResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db

# Session, user, the account (portfolio), the timeline itself, the notifications bell.
TIMELINE_MAX_QUERIES = 5
NOW = timezone.now().replace(microsecond=0)


def _ago(**delta) -> datetime.datetime:
    return NOW - datetime.timedelta(**delta)


def _day(days_ago: int) -> datetime.date:
    return timezone.localdate(NOW) - datetime.timedelta(days=days_ago)


def _url(account, **query) -> str:
    url = reverse("metrics:account-timeline", args=[account.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _one_of_each(account, *, round_=0):
    """One event of every kind, an hour (or a day, for dated ones) apart, newest first.
    Further rounds on the same account take earlier health snapshot days."""
    contact = ContactFactory(account=account, name="Jane Customer")
    touchpoint = Touchpoint.objects.create(
        account=account, kind=TouchpointKind.CALL, happened_at=_ago(hours=1), summary="QBR prep"
    )
    ticket = TicketFactory(
        requester=contact,
        subject="Export broken",
        created_at=_ago(hours=5),
        status=Status.SOLVED,
        solved_at=_ago(hours=3),
    )
    csat = CsatResponseFactory(ticket=ticket, rating=2, ces=3, responded_at=_ago(hours=2))
    breach = SlaAlert.objects.create(
        ticket=ticket,
        metric=SlaMetric.FIRST_RESPONSE,
        kind=SlaAlertKind.BREACH,
        due_at=_ago(hours=4),
        at=_ago(hours=4),
        recorded_at=_ago(hours=4),
    )
    lifecycle = LifecycleChange.objects.create(
        account=account,
        from_stage=LifecycleStage.ONBOARDING,
        to_stage=LifecycleStage.ADOPTION,
        changed_at=_ago(hours=6),
    )
    nps = NpsResponse.objects.create(
        account=account,
        contact=contact,
        score=6,
        reason="Reports are slow",
        responded_at=_ago(hours=6, minutes=30),
    )
    plan = SuccessPlan.objects.create(
        account=account, title="Adoption", start_date=_day(30), created_at=_ago(hours=7)
    )
    # Dated events sit at the start of their day: 2, 3 and 4 days ago.
    milestone = PlanMilestone.objects.create(
        plan=plan,
        title="Admins trained",
        due_date=_day(2),
        status=MilestoneStatus.DONE,
        done_at=_day(2),
    )
    revenue = RevenueEvent.objects.create(
        account=account, kind=RevenueEventKind.EXPANSION, date=_day(3), mrr_delta=500
    )
    HealthSnapshot.objects.create(
        account=account, day=_day(5 + 2 * round_), score=80, band=HealthBand.GREEN
    )
    band = HealthSnapshot.objects.create(
        account=account, day=_day(4 + 2 * round_), score=55, band=HealthBand.YELLOW
    )
    return [
        (Kind.TOUCHPOINT, touchpoint.pk),
        (Kind.CSAT, csat.pk),
        (Kind.TICKET_SOLVED, ticket.pk),
        (Kind.SLA_BREACH, breach.pk),
        (Kind.TICKET_OPENED, ticket.pk),
        (Kind.LIFECYCLE, lifecycle.pk),
        (Kind.NPS, nps.pk),
        (Kind.PLAN_CREATED, plan.pk),
        (Kind.MILESTONE_DONE, milestone.pk),
        (Kind.REVENUE, revenue.pk),
        (Kind.HEALTH_BAND, band.pk),
    ]


# The merge


def test_timeline_merges_every_kind_newest_first():
    account = AccountFactory()
    expected = _one_of_each(account)
    _one_of_each(AccountFactory())  # another account's events stay out

    entries = account_timeline(account=account)

    assert [(e.kind, e.id) for e in entries] == expected


def test_entries_say_what_happened():
    account = AccountFactory()
    _one_of_each(account)

    entries = {e.kind: e for e in account_timeline(account=account)}

    assert entries[Kind.CSAT].title.startswith("Rated 2/5 on #")
    assert entries[Kind.CSAT].detail == "Effort (CES) 3/7"
    assert entries[Kind.CSAT].actor == "from Jane Customer"
    assert entries[Kind.CSAT].tone == "cx-badge-red"
    assert entries[Kind.TICKET_OPENED].url == entries[Kind.TICKET_SOLVED].url
    assert entries[Kind.TICKET_OPENED].url.startswith("/support/tickets/")
    assert entries[Kind.SLA_BREACH].title.startswith("First response target missed on #")
    assert entries[Kind.LIFECYCLE].title == "Stage changed: Onboarding → Adoption"
    assert entries[Kind.REVENUE].title == "Expansion: +500 MRR"
    assert entries[Kind.REVENUE].all_day
    assert entries[Kind.REVENUE].day == _day(3)
    assert entries[Kind.MILESTONE_DONE].detail == "Plan: Adoption"
    assert entries[Kind.HEALTH_BAND].title == "Health: Healthy → At risk"
    assert entries[Kind.HEALTH_BAND].tone == "cx-badge-amber"
    assert entries[Kind.NPS].title == "NPS response: 6/10"
    assert entries[Kind.NPS].detail == "Reports are slow"
    assert entries[Kind.NPS].actor == "from Jane Customer"
    assert entries[Kind.NPS].tone == "cx-badge-red"


def test_pending_sla_alerts_and_warnings_are_not_breaches():
    ticket = TicketFactory()
    for kind, recorded in ((SlaAlertKind.BREACH, None), (SlaAlertKind.WARNING, _ago(hours=1))):
        SlaAlert.objects.create(
            ticket=ticket,
            metric=SlaMetric.RESOLUTION,
            kind=kind,
            due_at=_ago(hours=1),
            at=_ago(hours=1),
            recorded_at=recorded,
        )

    kinds = {e.kind for e in account_timeline(account=ticket.account)}

    assert kinds == {Kind.TICKET_OPENED}


# Health bands


def test_band_changes_are_found_between_successive_scored_snapshots():
    account = AccountFactory()
    bands = ["green", "green", "yellow", "yellow", "red", "", "red", "green"]
    snapshots = [
        HealthSnapshot.objects.create(
            account=account, day=_day(len(bands) - n), band=band, score=None if not band else 50
        )
        for n, band in enumerate(bands)
    ]

    changes = [
        (e.id, e.title) for e in account_timeline(account=account) if e.kind == Kind.HEALTH_BAND
    ]

    # The first band is no change; "" (not enough data) neither counts nor breaks the chain.
    assert changes == [
        (snapshots[7].pk, "Health: Red → Healthy"),
        (snapshots[4].pk, "Health: At risk → Red"),
        (snapshots[2].pk, "Health: Healthy → At risk"),
    ]


# Paging


def _tied_events(account, count=7):
    """Tickets opened and rated at the very same moment: only kind and id tell them apart."""
    moment = _ago(hours=1)
    for _ in range(count):
        ticket = TicketFactory(
            account=account, requester=ContactFactory(account=account), created_at=moment
        )
        CsatResponseFactory(ticket=ticket, responded_at=moment)


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 14, 20])
def test_keyset_pages_never_skip_or_repeat_when_times_tie(limit):
    account = AccountFactory()
    _tied_events(account)
    _one_of_each(account)
    everything = [(e.kind, e.id) for e in account_timeline(account=account, limit=100)]

    seen, cursor = [], None
    while True:
        page = account_timeline(account=account, before=cursor, limit=limit)
        seen += [(e.kind, e.id) for e in page]
        if len(page) < limit:
            break
        cursor = TimelineCursor.parse(page[-1].cursor)

    assert len(everything) == 25
    assert seen == everything


def test_cursor_round_trips_and_refuses_garbage():
    cursor = TimelineCursor(at=_ago(days=400, microseconds=17), kind=Kind.CSAT, id=12)

    assert TimelineCursor.parse(cursor.encode()) == cursor
    for bad in ["", "abc", "1.csat", "1.nope.2", "x.csat.1", "1.csat.0", "9" * 30 + ".csat.1"]:
        with pytest.raises(InvalidCursor):
            TimelineCursor.parse(bad)


# The page


def test_full_page_and_older_link(client_for, csm, settings):
    account = AccountFactory(csm=csm, name="Acme")
    _tied_events(account, count=30)  # 60 events: more than a page

    response = client_for(csm).get(_url(account))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Timeline · Acme · CX Platform</title>" in page
    assert page.count('data-kind="') == 50
    assert "Older events" in page
    assert 'hx-get="/reports/accounts/' in page


def test_htmx_load_returns_the_section_and_older_returns_rows(client_for, csm):
    account = AccountFactory(csm=csm)
    _tied_events(account, count=30)
    client = client_for(csm)

    first = client.get(_url(account), headers={"HX-Request": "true"}).content.decode()
    older = first.split("?before=")[1].split('"')[0]
    second = client.get(_url(account, before=older), headers={"HX-Request": "true"})

    assert first.lstrip().startswith('<section class="card" id="timeline"')
    assert "<html" not in first
    rows = second.content.decode()
    assert second.status_code == 200
    assert rows.lstrip().startswith("<li")
    assert rows.count('data-kind="') == 10
    assert "No older events" in rows
    assert "Older events" not in rows


def test_empty_timeline_says_what_will_appear(client_for, csm):
    page = client_for(csm).get(_url(AccountFactory(csm=csm))).content.decode()

    assert "Nothing has happened with this account yet." in page


def test_user_text_is_escaped(client_for, csm):
    account = AccountFactory(csm=csm)
    Touchpoint.objects.create(
        account=account, kind=TouchpointKind.CALL, happened_at=NOW, summary="<script>x</script>"
    )

    page = client_for(csm).get(_url(account)).content.decode()

    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


@pytest.mark.parametrize("before", ["garbage", "1.nope.2", "99999999999999999999999.csat.1"])
def test_bad_cursor_is_a_400_with_a_message(client_for, csm, before):
    account = AccountFactory(csm=csm)

    response = client_for(csm).get(_url(account, before=before))

    assert response.status_code == 400
    assert "The timeline position in the link is not valid." in response.content.decode()


# Who may see it


def test_csm_gets_404_for_another_csms_account(client_for, csm, make_user):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(csm).get(_url(account)).status_code == 404


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN, Role.AGENT])
def test_managers_admins_and_agents_see_any_account(client_for, make_user, role):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(make_user(role)).get(_url(account)).status_code == 200


def test_customers_are_refused(client_for, make_user):
    account = AccountFactory()

    assert client_for(make_user(Role.CUSTOMER)).get(_url(account)).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(_url(AccountFactory()))

    assert response.status_code == 302
    assert "/login" in response["Location"] or "login" in response["Location"]


def test_unknown_account_is_404(client_for, manager):
    assert client_for(manager).get("/reports/accounts/999999/timeline/").status_code == 404


# Queries


@pytest.mark.parametrize("size", [1, 25])
@pytest.mark.parametrize("htmx", [False, True])
def test_query_count_is_fixed(client_for, csm, django_assert_max_num_queries, size, htmx):
    account = AccountFactory(csm=csm)
    for round_ in range(size):
        _one_of_each(account, round_=round_)
    client = client_for(csm)
    headers = {"HX-Request": "true"} if htmx else {}

    with django_assert_max_num_queries(TIMELINE_MAX_QUERIES):
        response = client.get(_url(account), headers=headers)

    assert response.status_code == 200
    assert response.content.decode().count('data-kind="') == min(size * 11, 50)


def test_revenue_loss_reads_as_a_minus():
    account = AccountFactory()
    RevenueEvent.objects.create(
        account=account,
        kind=RevenueEventKind.CONTRACTION,
        date=_day(1),
        mrr_delta=decimal.Decimal("-1250.00"),
    )

    (entry,) = account_timeline(account=account)

    assert entry.title == "Contraction: -1,250 MRR"


def test_health_overrides_are_logged_when_set_and_when_cleared(make_user):
    account = AccountFactory()
    casey = make_user(Role.CSM, full_name="Casey Success")
    override = HealthOverride.objects.create(
        account=account,
        band=HealthBand.RED,
        reason="Champion left; renewal in doubt",
        expires_on=_day(-30),
        set_by=casey,
        created_at=_ago(hours=5),
        cleared_at=_ago(hours=1),
        cleared_by=casey,
    )

    entries = account_timeline(account=account)

    assert [(e.kind, e.id) for e in entries] == [
        (Kind.OVERRIDE_CLEARED, override.pk),
        (Kind.OVERRIDE_SET, override.pk),
    ]
    cleared, set_ = entries
    assert set_.title == f"Health band overridden to Red until {_day(-30):%-d %b %Y}"
    assert set_.detail == "Reason: Champion left; renewal in doubt"
    assert set_.actor == "by Casey Success"
    assert set_.tone == "cx-badge-red"
    assert cleared.title == "Health override (Red) cleared"
    assert cleared.actor == "by Casey Success"
