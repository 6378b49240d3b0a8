import pytest
from django.urls import reverse

from accounts.choices import Role
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

LANDING = {
    Role.AGENT: "/support/tickets/",
    Role.CSM: "/success/",
    Role.MANAGER: "/reports/",
    Role.ADMIN: "/reports/",
    Role.CUSTOMER: "/support/portal/",
}


@pytest.mark.parametrize("role", list(LANDING))
def test_each_role_lands_on_its_home_after_signing_in(client, make_user, role):
    user = make_user(role, email=f"{role}@cx.test")
    if role == Role.CUSTOMER:
        ContactFactory(user=user, email=user.email)
    response = client.post(
        reverse("login"), {"username": user.email, "password": "pw-for-tests-123"}, follow=True
    )
    assert response.redirect_chain[-1][0] == LANDING[role]
    assert response.status_code == 200
    assert user.full_name in response.content.decode()


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/support/tickets/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.AGENT, "/reports/"),
        (Role.AGENT, "/success/"),
        (Role.CUSTOMER, "/support/tickets/"),
        (Role.CUSTOMER, "/reports/"),
        (Role.CSM, "/reports/"),
        (Role.AGENT, "/support/portal/"),
    ],
)
def test_roles_cannot_open_other_roles_pages(client_for, make_user, role, url):
    assert client_for(make_user(role)).get(url).status_code == 403


def test_wrong_password_keeps_the_typed_email_and_says_why(client, agent):
    response = client.post(reverse("login"), {"username": agent.email, "password": "nope"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please enter a correct email and password" in page
    assert f'value="{agent.email}"' in page


def test_login_page_has_csrf_token_and_no_inline_script(client):
    page = client.get(reverse("login")).content.decode()
    assert "csrfmiddlewaretoken" in page
    assert "<script>" not in page


def test_sign_out_is_a_post(client_for, agent):
    client = client_for(agent)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/support/tickets/").status_code == 302


def test_password_reset_sends_a_link_by_email(client, agent, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": agent.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/password-reset/" in mailoutbox[0].body


def test_navigation_depends_on_role(client_for, make_user):
    agent_page = client_for(make_user(Role.AGENT)).get("/support/tickets/").content.decode()
    manager_page = client_for(make_user(Role.MANAGER)).get("/reports/").content.decode()
    assert 'href="/reports/"' not in agent_page
    assert 'href="/reports/"' in manager_page
    assert 'href="/support/tickets/"' in manager_page


def test_csm_home_lists_only_their_accounts(client_for, make_user):
    from tests.factories import AccountFactory

    csm = make_user(Role.CSM)
    AccountFactory(name="Mine Inc", csm=csm)
    AccountFactory(name="Someone Else Ltd")
    page = client_for(csm).get("/success/").content.decode()
    assert "Mine Inc" in page
    assert "Someone Else Ltd" not in page


def test_empty_portfolio_says_what_to_do(client_for, make_user):
    page = client_for(make_user(Role.CSM)).get("/success/").content.decode()
    assert "No accounts in your portfolio yet" in page


def test_pages_send_a_strict_content_security_policy(client_for, agent):
    response = client_for(agent).get("/support/tickets/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
