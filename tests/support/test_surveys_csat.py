"""CSAT surveys: the email when a ticket is solved, the signed survey link (valid, expired,
tampered, re-rated, bound to one ticket), bad input, the agent's panel and the portal prompt."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from support import services
from support.choices import Status
from support.models import CsatRequest, CsatResponse
from support.selectors import surveys as survey_selectors
from support.services import surveys as survey_services
from tests.factories import ContactFactory, CsatResponseFactory, TicketFactory

pytestmark = pytest.mark.django_db

PAGE_MAX_QUERIES = 4  # session-less visitor: the ticket (+ its rating), the upsert's 2-3


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process when `.delay()` is called (after commit)."""
    from cxplatform.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def solved_ticket(**fields):
    fields.setdefault("status", Status.SOLVED)
    fields.setdefault("solved_at", timezone.now())
    return TicketFactory(**fields)


def token_for(ticket, contact=None) -> str:
    contact_id = (contact or ticket.requester).pk
    return survey_selectors.csat_token_make(ticket_id=ticket.pk, contact_id=contact_id)


def survey_url(token: str) -> str:
    return reverse("csat-survey", args=[token])


def checked(page: str, name: str) -> list[str]:
    """The values of the checked radio buttons called `name`."""
    inputs = re.findall(rf'<input type="radio" name="{name}" value="(\w+)"[^>]*>', page)
    tags = re.findall(rf'<input type="radio" name="{name}"[^>]*>', page)
    return [value for value, tag in zip(inputs, tags, strict=True) if " checked" in tag]


def old_token(ticket, *, days: int) -> str:
    """A token signed `days` ago (TimestampSigner reads time.time())."""
    past = timezone.now().timestamp() - days * 86400
    with mock.patch("django.core.signing.time.time", return_value=past):
        return token_for(ticket)


# --- the email --------------------------------------------------------------------------


def solve(ticket, agent):
    return services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.SOLVED
    )


def test_solving_a_ticket_emails_the_requester_once(
    agent, eager_tasks, django_capture_on_commit_callbacks
):
    # The solved notification is the CSAT email: one mail for one solve.
    ticket = TicketFactory(status=Status.OPEN, subject="Printer on fire")
    with django_capture_on_commit_callbacks(execute=True):
        solve(ticket, agent)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [f"{ticket.requester.name} <{ticket.requester.email}>"]
    assert f"[#{ticket.pk}]" in sent.subject
    assert "is solved" in sent.body
    assert "How would you rate the support you received?" in sent.body
    assert "/surveys/csat/" in sent.body
    assert "?rating=5" in sent.body
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert CsatRequest.objects.filter(ticket=ticket).count() == 1

    # A re-run of the old CSAT task sends nothing; a reopen-and-solve says "solved" again
    # but does not ask the CSAT question a second time.
    assert survey_services.csat_request_send(ticket_id=ticket.pk) is False
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, status=Status.OPEN
        )
        solve(ticket, agent)
    assert len(mail.outbox) == 2
    assert "is solved" in mail.outbox[1].body
    assert "How would you rate" not in mail.outbox[1].body
    assert CsatRequest.objects.filter(ticket=ticket).count() == 1


def test_the_email_is_queued_only_after_commit(agent, django_capture_on_commit_callbacks):
    ticket = TicketFactory(status=Status.OPEN)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        solve(ticket, agent)
    assert any(getattr(c, "__name__", "") == "<lambda>" for c in callbacks)
    assert mail.outbox == []  # nothing sent inside the transaction


def test_a_ticket_reopened_before_the_task_runs_gets_no_email():
    ticket = TicketFactory(status=Status.OPEN)
    assert survey_services.csat_request_send(ticket_id=ticket.pk) is False
    assert mail.outbox == []
    assert not CsatRequest.objects.exists()


def test_the_emailed_link_opens_the_survey(client):
    ticket = solved_ticket()
    assert survey_services.csat_request_send(ticket_id=ticket.pk) is True
    link = next(line for line in mail.outbox[0].body.split() if "/surveys/csat/" in line)
    path = link.split("127.0.0.1:8000", 1)[-1]
    response = client.get(path)
    assert response.status_code == 200
    assert checked(response.content.decode(), "rating") == ["5"]


# --- the survey page --------------------------------------------------------------------


def test_a_valid_link_shows_the_question_without_login(
    client, settings, django_assert_max_num_queries
):
    settings.CX_SURVEY_CES = True
    ticket = solved_ticket(subject="Cannot export")
    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = client.get(survey_url(token_for(ticket)))
    body = response.content.decode()
    assert response.status_code == 200
    assert "How would you rate the support you received?" in body
    assert "The company made it easy to handle my issue." in body
    assert "Cannot export" in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_the_email_rating_is_preselected(client):
    ticket = solved_ticket()
    response = client.get(survey_url(token_for(ticket)) + "?rating=4")
    page = response.content.decode()
    assert checked(page, "rating") == ["4"]
    assert CsatResponse.objects.count() == 0  # a GET never records


def test_posting_records_the_rating(client, settings, django_assert_max_num_queries):
    settings.CX_SURVEY_CES = True
    ticket = solved_ticket()
    with django_assert_max_num_queries(PAGE_MAX_QUERIES + 3):
        response = client.post(
            survey_url(token_for(ticket)), {"rating": "4", "ces": "6", "comment": " Quick! "}
        )
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    row = CsatResponse.objects.get()
    assert (row.ticket_id, row.contact_id, row.account_id) == (
        ticket.pk,
        ticket.requester_id,
        ticket.account_id,
    )
    assert (row.rating, row.ces, row.comment) == (4, 6, "Quick!")


def test_ces_is_not_asked_when_switched_off(client, settings):
    settings.CX_SURVEY_CES = False
    ticket = solved_ticket()
    url = survey_url(token_for(ticket))
    assert "made it easy" not in client.get(url).content.decode()
    client.post(url, {"rating": "5", "ces": "7"})
    assert CsatResponse.objects.get().ces is None


def test_re_rating_replaces_the_earlier_answer(client):
    ticket = solved_ticket()
    url = survey_url(token_for(ticket))
    client.post(url, {"rating": "2", "comment": "Slow"})
    page = client.get(url).content.decode()
    assert "You already rated this request 2 out of 5" in page
    response = client.post(url, {"rating": "5", "comment": "Sorted in the end"})
    assert "replaces your earlier answer" in response.content.decode()
    row = CsatResponse.objects.get()  # still one row
    assert (row.rating, row.comment) == (5, "Sorted in the end")


def test_an_expired_link_answers_410(client, settings):
    settings.CX_SURVEY_LINK_MAX_AGE_DAYS = 14
    ticket = solved_ticket()
    for method in (client.get, client.post):
        response = method(survey_url(old_token(ticket, days=15)), {"rating": "5"})
        assert response.status_code == 410
        assert "This survey link has expired" in response.content.decode()
    assert not CsatResponse.objects.exists()
    # Within the window it still works.
    assert client.get(survey_url(old_token(ticket, days=13))).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature changed
        lambda t: "x" + t,  # payload changed
        lambda t: "not-a-token",
        lambda t: t.split(":")[0],  # signature cut off
    ],
)
def test_a_tampered_link_answers_400(client, mangle):
    ticket = solved_ticket()
    response = client.post(survey_url(mangle(token_for(ticket))), {"rating": "5"})
    assert response.status_code == 400
    assert "This survey link is not valid" in response.content.decode()
    assert not CsatResponse.objects.exists()


def test_a_link_cannot_rate_another_ticket(client):
    ours, theirs = solved_ticket(), solved_ticket()
    url = survey_url(token_for(ours))
    client.post(url, {"rating": "1", "ticket": str(theirs.pk), "ticket_id": str(theirs.pk)})
    assert list(CsatResponse.objects.values_list("ticket_id", flat=True)) == [ours.pk]

    # Swapping the ticket id inside a token breaks its signature.
    payload = signing.TimestampSigner(salt="csat").unsign_object(token_for(ours))
    assert payload == {"t": ours.pk, "c": ours.requester_id}
    forged = signing.TimestampSigner(salt="wrong").sign_object({"t": theirs.pk, "c": 1})
    assert client.post(survey_url(forged), {"rating": "1"}).status_code == 400
    # ... and an NPS link is no CSAT link (another salt).
    nps_like = signing.TimestampSigner(salt="nps").sign_object({"t": theirs.pk, "c": 1})
    assert client.get(survey_url(nps_like)).status_code == 400
    assert not CsatResponse.objects.filter(ticket=theirs).exists()


def test_a_link_to_a_deleted_ticket_answers_404(client):
    ticket = solved_ticket()
    token = token_for(ticket)
    ticket.delete()
    response = client.get(survey_url(token))
    assert response.status_code == 404
    assert "no longer available" in response.content.decode()


@pytest.mark.parametrize("rating", ["0", "6", "five", "", "4.5"])
def test_bad_input_is_refused_and_the_comment_kept(client, rating):
    ticket = solved_ticket()
    response = client.post(
        survey_url(token_for(ticket)), {"rating": rating, "comment": "My typed <b>text</b>"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose a rating from 1 (very dissatisfied) to 5 (very satisfied)." in page
    assert "My typed &lt;b&gt;text&lt;/b&gt;" in page
    assert not CsatResponse.objects.exists()


def test_a_bad_ces_answer_is_refused(client, settings):
    settings.CX_SURVEY_CES = True
    ticket = solved_ticket()
    response = client.post(survey_url(token_for(ticket)), {"rating": "4", "ces": "8"})
    assert response.status_code == 400
    assert "Choose an answer from 1 (strongly disagree) to 7 (strongly agree)." in (
        response.content.decode()
    )


def test_a_too_long_comment_is_refused_not_500(client):
    ticket = solved_ticket()
    response = client.post(survey_url(token_for(ticket)), {"rating": "4", "comment": "x" * 6000})
    assert response.status_code == 400


def test_a_signed_in_person_sees_the_survey_in_the_app_shell(client_for, agent):
    ticket = solved_ticket()
    response = client_for(agent).get(survey_url(token_for(ticket)))
    assert response.status_code == 200
    assert "How would you rate the support you received?" in response.content.decode()


# --- what agents see --------------------------------------------------------------------


def test_agents_see_the_rating_on_the_ticket(client_for, agent, django_assert_max_num_queries):
    csat = CsatResponseFactory(rating=4, ces=6, comment="Friendly and fast")
    client = client_for(agent)
    url = reverse("support:ticket-detail", args=[csat.ticket_id])
    with django_assert_max_num_queries(13):  # tests/support/test_views_ticket.py's budget
        response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Customer satisfaction" in page
    assert "<strong>4/5</strong>" in page
    assert "Satisfied" in page
    assert "6/7" in page
    assert "Friendly and fast" in page


def test_agents_see_that_the_survey_was_sent(client_for, agent):
    ticket = solved_ticket()
    survey_services.csat_request_send(ticket_id=ticket.pk)
    page = client_for(agent).get(reverse("support:ticket-detail", args=[ticket.pk])).content
    assert b"no rating yet" in page


# --- the portal prompt ------------------------------------------------------------------


def test_the_portal_prompt_lists_recent_unrated_solved_tickets(django_assert_num_queries):
    contact = ContactFactory()
    now = timezone.now()
    recent = solved_ticket(requester=contact, solved_at=now - timedelta(days=2))
    closed = solved_ticket(
        requester=contact, status=Status.CLOSED, solved_at=now - timedelta(days=6)
    )
    solved_ticket(requester=contact, solved_at=now - timedelta(days=20))  # too old
    TicketFactory(requester=contact, status=Status.OPEN)  # not solved
    rated = solved_ticket(requester=contact, solved_at=now - timedelta(days=1))
    CsatResponseFactory(ticket=rated)
    solved_ticket()  # someone else's

    with django_assert_num_queries(1):
        prompts = survey_selectors.csat_pending_for_contact(contact=contact)
    assert [p.ticket.pk for p in prompts] == [recent.pk, closed.pk]
    link = survey_selectors.csat_link_read(prompts[0].url.rsplit("/", 2)[-2])
    assert (link.ticket_id, link.contact_id) == (recent.pk, contact.pk)
