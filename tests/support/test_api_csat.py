"""/api/v1/surveys/csat/: staff list CSAT answers and record those of other survey tools."""

import pytest

from accounts.choices import Role
from accounts.models import ApiScope
from support.models import CsatResponse
from tests.api_helpers import error_of
from tests.factories import CsatResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db


CSAT = "/api/v1/surveys/csat/"
RW = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE]


@pytest.fixture
def ticket():
    return TicketFactory(status="solved")


def test_recording_an_answer_goes_through_the_service(token_client, manager, ticket):
    api = token_client(manager, RW)
    response = api.post(CSAT, {"ticket": ticket.pk, "score": 2, "comment": " slow "}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["ticket"] == ticket.pk
    assert data["score"] == 2
    assert data["comment"] == "slow"
    answer = CsatResponse.objects.get(ticket=ticket)
    assert answer.account_id == ticket.account_id
    assert answer.contact_id == ticket.requester_id


def test_rating_again_replaces_the_answer(token_client, manager, ticket):
    api = token_client(manager, RW)
    api.post(CSAT, {"ticket": ticket.pk, "score": 2}, format="json")
    response = api.post(CSAT, {"ticket": ticket.pk, "score": 5}, format="json")
    assert response.status_code == 201, response.content
    answer = CsatResponse.objects.filter(ticket=ticket).get()
    assert answer.rating == 5
    assert response.json()["id"] == answer.pk  # the row replaced, not a new one


@pytest.mark.parametrize("score", [0, 6, "five", None])
def test_score_outside_one_to_five_is_a_field_error(token_client, manager, ticket, score):
    api = token_client(manager, RW)
    response = api.post(CSAT, {"ticket": ticket.pk, "score": score}, format="json")
    assert response.status_code == 400
    assert "score" in error_of(response)["fields"]


def test_unknown_ticket_is_a_field_error(token_client, manager):
    api = token_client(manager, RW)
    response = api.post(CSAT, {"ticket": 999999999, "score": 3}, format="json")
    assert response.status_code == 400
    assert "ticket" in error_of(response)["fields"]


def test_past_submitted_at_needs_the_import_scope(token_client, manager, ticket):
    body = {"ticket": ticket.pk, "score": 4, "submitted_at": "2025-03-01T10:00:00Z"}
    response = token_client(manager, RW).post(CSAT, body, format="json")
    assert response.status_code == 403
    assert "import" in error_of(response)["message"]
    assert not CsatResponse.objects.exists()
    importer = token_client(manager, [*RW, ApiScope.IMPORT])
    response = importer.post(CSAT, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["submitted_at"].startswith("2025-03-01T")
    assert CsatResponse.objects.get().responded_at.year == 2025


def test_future_submitted_at_is_refused(token_client, manager, ticket):
    api = token_client(manager, [*RW, ApiScope.IMPORT])
    body = {"ticket": ticket.pk, "score": 4, "submitted_at": "2999-01-01T00:00:00Z"}
    response = api.post(CSAT, body, format="json")
    assert response.status_code == 400
    assert "submitted_at" in error_of(response)["fields"]


def test_list_newest_first_with_filters(token_client, agent, django_assert_max_num_queries):
    older = CsatResponseFactory(rating=1)
    newer = CsatResponseFactory(rating=5)
    api = token_client(agent, [ApiScope.TICKETS_READ])
    api.get(CSAT)
    with django_assert_max_num_queries(2):
        response = api.get(CSAT)
    assert [row["ticket"] for row in response.json()["results"]] == [
        newer.ticket_id,
        older.ticket_id,
    ]
    filtered = api.get(CSAT, {"score": 1}).json()["results"]
    assert [row["ticket"] for row in filtered] == [older.ticket_id]


def test_customers_may_not_use_it(token_client, make_user, ticket):
    api = token_client(make_user(Role.CUSTOMER), RW)
    assert api.get(CSAT).status_code == 403
    assert api.post(CSAT, {"ticket": ticket.pk, "score": 5}, format="json").status_code == 403


def test_agents_may_not_record_answers(token_client, agent, ticket):
    """An agent could otherwise rate the tickets their own CSAT is computed from."""
    response = token_client(agent, RW).post(CSAT, {"ticket": ticket.pk, "score": 5}, format="json")
    assert response.status_code == 403
    assert "admins and managers" in response.json()["error"]["message"]
    assert not CsatResponse.objects.exists()
