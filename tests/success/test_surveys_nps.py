"""NPS campaigns: who is invited (audience, the 90-day rule, sending twice), the invite
emails, and the signed survey page (valid, expired, tampered, re-answered, bad input)."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.choices import LifecycleStage, Role, Tier
from success import selectors, services
from success.choices import NpsAudience
from success.models import NpsCampaign, NpsResponse, NpsSurveyInvite
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

PAGE_MAX_QUERIES = 3  # the invite with campaign and contact, the earlier answer, (+ upsert)


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process when `.delay()` is called (after commit)."""
    from cxplatform.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def campaign(**fields) -> NpsCampaign:
    fields.setdefault("name", "Q3 relationship survey")
    return NpsCampaign.objects.create(**fields)


def send(c: NpsCampaign, **kwargs) -> int:
    return services.nps_campaign_send(campaign=c, acting_user=None, **kwargs)


def invited(c: NpsCampaign) -> set[int]:
    return set(NpsSurveyInvite.objects.filter(campaign=c).values_list("contact_id", flat=True))


def invite_for(**campaign_fields) -> NpsSurveyInvite:
    contact = ContactFactory()
    c = campaign(**campaign_fields)
    return NpsSurveyInvite.objects.create(campaign=c, contact=contact, account=contact.account)


def survey_url(invite: NpsSurveyInvite) -> str:
    return reverse("nps-survey", args=[selectors.nps_token_make(invite_id=invite.pk)])


def checked(page: str, name: str) -> list[str]:
    tags = re.findall(rf'<input type="radio" name="{name}" value="\w+"[^>]*>', page)
    return [re.search(r'value="(\w+)"', t).group(1) for t in tags if " checked" in t]


# --- who is invited ---------------------------------------------------------------------


def test_sending_invites_every_contact_and_emails_each_once(
    eager_tasks, django_capture_on_commit_callbacks
):
    contacts = [ContactFactory() for _ in range(3)]
    ContactFactory(account=None)  # no account: not a customer to survey
    c = campaign(audience=NpsAudience.ALL)
    with django_capture_on_commit_callbacks(execute=True):
        assert send(c) == 3

    assert invited(c) == {x.pk for x in contacts}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(x.email for x in contacts)
    body = mail.outbox[0].body
    assert "How likely are you to recommend us to a friend or colleague?" in body
    assert "/surveys/nps/" in body
    assert "?score=10" in body
    assert not NpsSurveyInvite.objects.filter(sent_at__isnull=True).exists()
    c.refresh_from_db()
    assert c.sent_at is not None

    # Sending again (or a duplicate task) invites and emails nobody twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert send(c) == 0
    invite = NpsSurveyInvite.objects.first()
    assert services.nps_invite_email_send(invite_id=invite.pk) is False
    assert NpsSurveyInvite.objects.count() == 3
    assert len(mail.outbox) == 3


def test_invites_are_emailed_only_after_commit(django_capture_on_commit_callbacks):
    ContactFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send(campaign())
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_a_contact_asked_in_the_last_90_days_is_skipped():
    now = timezone.now()
    asked_30_days_ago, asked_100_days_ago, never_asked = (ContactFactory() for _ in range(3))
    earlier = campaign(name="Earlier")
    for contact, days in ((asked_30_days_ago, 30), (asked_100_days_ago, 100)):
        NpsSurveyInvite.objects.create(
            campaign=earlier, contact=contact, created_at=now - timedelta(days=days)
        )
    c = campaign()
    assert send(c, now=now) == 2
    assert invited(c) == {asked_100_days_ago.pk, never_asked.pk}


def test_two_campaigns_do_not_both_invite_a_contact():
    contact = ContactFactory()
    first, second = campaign(name="First"), campaign(name="Second")
    assert send(first) == 1
    assert send(second) == 0
    assert invited(second) == set()
    assert NpsSurveyInvite.objects.filter(contact=contact).count() == 1


def test_the_audience_by_tier():
    enterprise = ContactFactory(account=AccountFactory(tier=Tier.ENTERPRISE))
    growth = ContactFactory(account=AccountFactory(tier=Tier.GROWTH))
    ContactFactory(account=AccountFactory(tier=Tier.STARTER))
    c = campaign(audience=NpsAudience.TIERS, tiers=[Tier.ENTERPRISE, Tier.GROWTH])
    assert send(c) == 2
    assert invited(c) == {enterprise.pk, growth.pk}


def test_the_audience_by_stage():
    renewal = ContactFactory(account=AccountFactory(lifecycle_stage=LifecycleStage.RENEWAL))
    ContactFactory(account=AccountFactory(lifecycle_stage=LifecycleStage.ONBOARDING))
    c = campaign(audience=NpsAudience.STAGES, stages=[LifecycleStage.RENEWAL])
    assert send(c) == 1
    assert invited(c) == {renewal.pk}


def test_an_audience_by_tier_needs_a_tier():
    ContactFactory()
    with pytest.raises(ValidationError, match="Choose at least one tier"):
        send(campaign(audience=NpsAudience.TIERS, tiers=[]))
    assert not NpsSurveyInvite.objects.exists()


def test_admins_send_a_campaign_from_the_admin(client_for, make_user):
    ContactFactory(account=AccountFactory(tier=Tier.ENTERPRISE))
    c = campaign(audience=NpsAudience.TIERS, tiers=[Tier.ENTERPRISE])
    client = client_for(make_user(Role.ADMIN))
    response = client.post(
        reverse("admin:success_npscampaign_changelist"),
        {"action": "send_now", "_selected_action": [c.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 contact invited" in response.content.decode()
    assert len(invited(c)) == 1


def test_admins_create_a_campaign_with_tier_checkboxes(client_for, make_user):
    admin_user = make_user(Role.ADMIN)
    client = client_for(admin_user)
    response = client.post(
        reverse("admin:success_npscampaign_add"),
        {
            "name": "Enterprise pulse",
            "question": "How likely are you to recommend us to a friend or colleague?",
            "audience": "tiers",
            "tiers": ["enterprise"],
        },
    )
    assert response.status_code == 302
    c = NpsCampaign.objects.get()
    assert (c.tiers, c.created_by) == (["enterprise"], admin_user)


# --- the survey page --------------------------------------------------------------------


def test_a_valid_link_shows_the_survey_without_login(client, django_assert_max_num_queries):
    invite = invite_for(question="Would you recommend Acme?")
    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = client.get(survey_url(invite))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Would you recommend Acme?" in page
    assert "What is the main reason for your score?" in page
    assert len(re.findall(r'name="score"', page)) == 11


def test_the_email_score_is_preselected(client):
    invite = invite_for()
    response = client.get(survey_url(invite) + "?score=9")
    assert checked(response.content.decode(), "score") == ["9"]
    assert not NpsResponse.objects.exists()


def test_answering_records_the_response(client, django_assert_max_num_queries):
    invite = invite_for()
    with django_assert_max_num_queries(PAGE_MAX_QUERIES + 2):
        response = client.post(survey_url(invite), {"score": "0", "reason": " Too pricey "})
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    row = NpsResponse.objects.get()
    assert (row.campaign_id, row.contact_id, row.account_id) == (
        invite.campaign_id,
        invite.contact_id,
        invite.account_id,
    )
    assert (row.score, row.reason) == (0, "Too pricey")


def test_answering_again_replaces_the_answer(client):
    invite = invite_for()
    url = survey_url(invite)
    client.post(url, {"score": "6", "reason": "Meh"})
    assert "You already answered 6 out of 10" in client.get(url).content.decode()
    response = client.post(url, {"score": "10", "reason": "Support fixed it"})
    assert "replaces your earlier answer" in response.content.decode()
    row = NpsResponse.objects.get()
    assert (row.score, row.reason) == (10, "Support fixed it")


def test_an_expired_link_answers_410(client, settings):
    settings.CX_SURVEY_LINK_MAX_AGE_DAYS = 14
    invite = invite_for()
    past = timezone.now().timestamp() - 15 * 86400
    with mock.patch("django.core.signing.time.time", return_value=past):
        url = survey_url(invite)
    response = client.post(url, {"score": "9"})
    assert response.status_code == 410
    assert "This survey link has expired" in response.content.decode()
    assert not NpsResponse.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t,
        lambda t: "garbage",
    ],
)
def test_a_tampered_link_answers_400(client, mangle):
    invite = invite_for()
    token = selectors.nps_token_make(invite_id=invite.pk)
    response = client.post(reverse("nps-survey", args=[mangle(token)]), {"score": "9"})
    assert response.status_code == 400
    assert "This survey link is not valid" in response.content.decode()
    assert not NpsResponse.objects.exists()


def test_a_link_to_a_deleted_invite_answers_404(client):
    invite = invite_for()
    url = survey_url(invite)
    invite.delete()
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("score", ["11", "-1", "ten", "", "9.5"])
def test_bad_input_is_refused_and_the_reason_kept(client, score):
    invite = invite_for()
    response = client.post(survey_url(invite), {"score": score, "reason": "Typed <i>this</i>"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose a score from 0 (not at all likely) to 10 (extremely likely)." in page
    assert "Typed &lt;i&gt;this&lt;/i&gt;" in page
    assert not NpsResponse.objects.exists()


# --- demo data --------------------------------------------------------------------------


def test_demo_campaigns_link_the_seeded_answers():
    from success.seed_surveys import seed_nps_campaigns
    from tests.factories import NpsResponseFactory

    now = timezone.now()
    contact = ContactFactory()
    older = NpsResponseFactory(
        account=contact.account, contact=contact, responded_at=now - timedelta(days=20)
    )
    newer = NpsResponseFactory(
        account=contact.account, contact=contact, responded_at=now - timedelta(days=10)
    )
    early = NpsResponseFactory(responded_at=now - timedelta(days=300))

    assert seed_nps_campaigns(now=now) == {"nps_campaigns": 4, "nps_linked": 2}
    latest = NpsCampaign.objects.order_by("-sent_at").first()
    for row in (older, newer, early):
        row.refresh_from_db()
    assert newer.campaign == latest
    assert older.campaign is None  # one linked answer per contact and campaign
    assert early.campaign is not None
    assert early.campaign != latest
    assert NpsSurveyInvite.objects.filter(campaign=latest, contact=contact).exists()
    assert seed_nps_campaigns(now=now) == {"nps_campaigns": 0, "nps_linked": 0}
