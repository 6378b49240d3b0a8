"""The account's support panel (metrics.selectors.account_support_summary,
metrics:account-support), the CsatResponse model's rules, and the demo CSAT seed step."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Role
from accounts.seed import CrmWorld, SeededAccount
from metrics.selectors import OPEN_TICKETS_SHOWN, account_support_summary
from support.choices import Priority, Status
from support.models import CsatResponse
from support.seed import seed_csat
from tests.factories import AccountFactory, ContactFactory, CsatResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db

# Session, user, the account (portfolio), open tickets with their total, latest CSAT
# answers, the 90-day CSAT groups, the notifications bell.
SUPPORT_MAX_QUERIES = 7


def _url(account) -> str:
    return reverse("metrics:account-support", args=[account.pk])


def _ago(**delta) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(**delta)


def _page(client, account, **headers) -> str:
    response = client.get(_url(account), headers=headers)
    assert response.status_code == 200
    return response.content.decode()


# The summary


def test_open_tickets_most_urgent_first_with_the_total():
    account = AccountFactory()
    low = TicketFactory(account=account, priority=Priority.LOW, status=Status.OPEN)
    urgent = TicketFactory(account=account, priority=Priority.URGENT, status=Status.NEW)
    older_high = TicketFactory(
        account=account, priority=Priority.HIGH, status=Status.PENDING, updated_at=_ago(days=2)
    )
    newer_high = TicketFactory(account=account, priority=Priority.HIGH, status=Status.ON_HOLD)
    TicketFactory(account=account, status=Status.SOLVED, solved_at=_ago(hours=1))
    TicketFactory(status=Status.OPEN)  # another account's

    summary = account_support_summary(account=account)

    assert summary.open_tickets == [urgent, newer_high, older_high, low]
    assert summary.open_count == 4
    assert summary.more_open == 0


def test_only_the_first_ten_open_tickets_are_listed_but_all_are_counted():
    account = AccountFactory()
    contact = ContactFactory(account=account)
    TicketFactory.create_batch(OPEN_TICKETS_SHOWN + 3, requester=contact, status=Status.OPEN)

    summary = account_support_summary(account=account)

    assert len(summary.open_tickets) == OPEN_TICKETS_SHOWN
    assert summary.open_count == OPEN_TICKETS_SHOWN + 3
    assert summary.more_open == 3


def test_csat_of_the_last_90_days_and_the_five_latest_answers():
    account = AccountFactory()
    ratings = [(5, 7, 1), (4, None, 2), (3, 4, 3), (1, 1, 4), (5, None, 10), (2, None, 100)]
    answers = [
        CsatResponseFactory(
            ticket=TicketFactory(account=account, status=Status.SOLVED, solved_at=_ago(days=d)),
            rating=rating,
            ces=ces,
            responded_at=_ago(days=d),
        )
        for rating, ces, d in ratings
    ]
    CsatResponseFactory(rating=1)  # another account's

    summary = account_support_summary(account=account)

    assert summary.recent_csat == answers[:5]
    assert summary.csat_responses == 5  # the answer of 100 days ago is out of the window
    assert summary.csat_percent == pytest.approx(60.0)  # 5, 4, 5 of 5, 4, 3, 1, 5
    assert summary.csat_average == pytest.approx(3.6)
    assert summary.ces_average == pytest.approx(4.0)  # 7, 4, 1


def test_no_answers_means_no_numbers():
    summary = account_support_summary(account=AccountFactory())

    assert summary.csat_responses == 0
    assert summary.csat_percent is None
    assert summary.csat_average is None
    assert summary.ces_average is None
    assert summary.open_count == 0


# The panel


def test_panel_links_open_tickets_and_shows_ratings(client_for, csm):
    account = AccountFactory(csm=csm, name="Acme")
    ticket = TicketFactory(account=account, subject="Printer on fire", status=Status.OPEN)
    CsatResponseFactory(
        ticket=TicketFactory(
            account=account, subject="Export slow", status=Status.SOLVED, solved_at=_ago(hours=2)
        ),
        rating=4,
        ces=6,
        comment="Quick <b>help</b>",
    )

    page = _page(client_for(csm), account)

    assert "<title>Support · Acme · CX Platform</title>" in page
    assert f'href="/support/tickets/{ticket.pk}/">#{ticket.pk} Printer on fire</a>' in page
    assert "1 open" in page
    assert 'aria-label="Rated 4 out of 5"' in page
    assert page.count("bi-star-fill") == 4
    assert "effort 6/7" in page
    assert "Quick &lt;b&gt;help&lt;/b&gt;" in page
    assert "100.0%</span> satisfied" in page
    assert "Small sample" in page


def test_panel_says_and_more_with_a_queue_link(client_for, csm):
    account = AccountFactory(csm=csm)
    contact = ContactFactory(account=account)
    TicketFactory.create_batch(OPEN_TICKETS_SHOWN + 2, requester=contact, status=Status.OPEN)

    page = _page(client_for(csm), account)

    assert "and 2 more" in page
    assert f"/support/tickets/?view=open&amp;account={account.pk}" in page


def test_panel_empty_states(client_for, csm):
    page = _page(client_for(csm), AccountFactory(csm=csm))

    assert "No open tickets." in page
    assert "No CSAT answers in the last 90 days." in page
    assert "No survey answers yet." in page


def test_htmx_gets_only_the_panel(client_for, csm):
    account = AccountFactory(csm=csm)

    page = _page(client_for(csm), account, **{"HX-Request": "true"})

    assert page.lstrip().startswith('<section class="card" id="support"')
    assert "<html" not in page


def test_csm_gets_404_for_another_csms_account(client_for, csm, make_user):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(csm).get(_url(account)).status_code == 404


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN, Role.AGENT])
def test_managers_admins_and_agents_see_any_account(client_for, make_user, role):
    account = AccountFactory(csm=make_user(Role.CSM))

    assert client_for(make_user(role)).get(_url(account)).status_code == 200


def test_customers_are_refused(client_for, make_user):
    assert client_for(make_user(Role.CUSTOMER)).get(_url(AccountFactory())).status_code == 403


@pytest.mark.parametrize("size", [1, 20])
@pytest.mark.parametrize("htmx", [False, True])
def test_query_count_is_fixed(client_for, csm, django_assert_max_num_queries, size, htmx):
    account = AccountFactory(csm=csm)
    for _ in range(size):
        contact = ContactFactory(account=account)
        TicketFactory(requester=contact, status=Status.OPEN, assignee=csm)
        CsatResponseFactory(ticket=TicketFactory(requester=contact), rating=3, ces=4)
    client = client_for(csm)
    headers = {"HX-Request": "true"} if htmx else {}

    with django_assert_max_num_queries(SUPPORT_MAX_QUERIES):
        response = client.get(_url(account), headers=headers)

    assert response.status_code == 200


# The model's rules


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"rating": 0}, "csat_response_rating_range"),
        ({"rating": 6}, "csat_response_rating_range"),
        ({"rating": 3, "ces": 0}, "csat_response_ces_range"),
        ({"rating": 3, "ces": 8}, "csat_response_ces_range"),
    ],
)
def test_out_of_scale_answers_are_refused_by_the_database(fields, constraint):
    ticket = TicketFactory()

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        CsatResponse.objects.create(ticket=ticket, account=ticket.account, **fields)


def test_out_of_scale_answers_fail_validation_with_a_message():
    ticket = TicketFactory()
    answer = CsatResponse(ticket=ticket, rating=9, ces=0)

    with pytest.raises(ValidationError) as error:
        answer.full_clean()

    assert error.value.message_dict == {
        "rating": ["Ensure this value is less than or equal to 5."],
        "ces": ["Ensure this value is greater than or equal to 1."],
    }


def test_one_answer_per_ticket():
    answer = CsatResponseFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        CsatResponse.objects.create(ticket=answer.ticket, rating=1)


def test_deleting_the_account_keeps_the_answer():
    answer = CsatResponseFactory()
    answer.ticket.account = None
    answer.ticket.save(update_fields=["account"])

    answer.account.delete()

    answer.refresh_from_db()
    assert answer.account is None


# The demo seed step


def test_seed_gives_a_fifth_of_solved_tickets_a_rating_that_follows_the_story():
    accounts = {story: AccountFactory() for story in ("healthy", "at_risk", "churned")}
    for account in accounts.values():
        contact = ContactFactory(account=account)
        TicketFactory.create_batch(
            150, requester=contact, status=Status.SOLVED, solved_at=_ago(days=3)
        )
        TicketFactory.create_batch(20, requester=contact, status=Status.OPEN)
    world = CrmWorld(
        accounts=[
            SeededAccount(id=a.pk, tier=a.tier, stage="adoption", story=story)
            for story, a in accounts.items()
        ],
        agent_ids=[],
        csm_ids=[],
        support_team_ids=[],
        onboarding_team_id=0,
        success_team_id=0,
    )

    written = seed_csat(world, seed=42)

    answers = CsatResponse.objects.select_related("ticket")
    assert written == answers.count()
    assert 0.1 * 450 < written < 0.3 * 450
    assert all(a.ticket.status == Status.SOLVED for a in answers)
    assert all(a.account_id == a.ticket.account_id for a in answers)
    assert all(a.contact_id == a.ticket.requester_id for a in answers)
    assert all(a.responded_at >= a.ticket.solved_at for a in answers)
    assert 0.25 * written < answers.filter(ces__isnull=False).count() < 0.75 * written

    def mean(story):
        rows = [a.rating for a in answers if a.account_id == accounts[story].pk]
        return sum(rows) / len(rows)

    assert mean("healthy") > 4
    assert mean("at_risk") < 3.2
    assert mean("churned") < 3.2
    assert seed_csat(world, seed=42) == 0  # a second run rates nothing twice
