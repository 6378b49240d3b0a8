"""The accounts-level resources: /api/v1/accounts/, /contacts/ and /users/."""

from decimal import Decimal

import pytest

from accounts.choices import Role
from accounts.models import Account, Contact, User
from tests.api_helpers import error_of
from tests.factories import AccountFactory, ContactFactory, TeamFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"
CONTACTS = "/api/v1/contacts/"
USERS = "/api/v1/users/"


@pytest.fixture
def api(token_client, csm):
    return token_client(csm, ["accounts:read", "accounts:write"])


# --- accounts ------------------------------------------------------------------------------


def test_account_is_created_through_the_service(api, csm):
    body = {
        "name": " Acme ",
        "domains": ["Acme.test", "acme.test", "@shop.acme.test"],
        "tier": "enterprise",
        "segment": "Retail",
        "lifecycle_stage": "adoption",
        "csm": csm.email.upper(),
        "mrr": "1200.50",
        "seats": 40,
        "renewal_date": "2027-03-31",
    }

    response = api.post(ACCOUNTS, body, format="json")

    assert response.status_code == 201, response.json()
    account = Account.objects.get()
    assert response.json() == {
        "id": account.pk,
        "name": "Acme",
        "domains": ["acme.test", "shop.acme.test"],
        "tier": "enterprise",
        "segment": "Retail",
        "lifecycle_stage": "adoption",
        "csm": csm.email,
        "mrr": "1200.50",
        "seats": 40,
        "renewal_date": "2027-03-31",
        "health_score": None,
        "health_band": "",
        "health_updated_at": None,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    assert account.csm == csm
    assert account.mrr == Decimal("1200.50")


def test_account_shows_its_health(api):
    account = AccountFactory(health_score=Decimal("72.5"), health_band="yellow")

    body = api.get(f"{ACCOUNTS}{account.pk}/").json()

    assert body["health_score"] == "72.5"
    assert body["health_band"] == "yellow"


def test_csm_must_be_a_csm(api, agent):
    response = api.post(ACCOUNTS, {"name": "Acme", "csm": agent.email}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"]["csm"] == [f"No CSM has the email {agent.email}."]


def test_account_update_goes_through_the_service_and_announces_a_tier_change(api, monkeypatch):
    account = AccountFactory(tier="growth")
    announced = []
    monkeypatch.setattr(
        "accounts.services.account_tier_changed_announce",
        lambda *, account_id: announced.append(account_id),
    )

    response = api.patch(f"{ACCOUNTS}{account.pk}/", {"tier": "enterprise"}, format="json")

    assert response.status_code == 200
    assert response.json()["tier"] == "enterprise"
    assert announced == [account.pk]


def test_account_csm_can_be_cleared(api, csm):
    account = AccountFactory(csm=csm)

    response = api.patch(f"{ACCOUNTS}{account.pk}/", {"csm": None}, format="json")

    assert response.status_code == 200
    assert response.json()["csm"] is None


# --- contacts ------------------------------------------------------------------------------


def test_contact_is_matched_to_an_account_by_domain(api):
    account = AccountFactory(domains=["globex.test"])

    response = api.post(CONTACTS, {"name": "Hank", "email": "Hank@Globex.test"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["account"] == account.pk
    assert response.json()["email"] == "hank@globex.test"
    assert response.json()["portal_login"] is False


def test_contact_created_from_a_form_without_a_name_is_named_after_the_email(api):
    # Found by schemathesis: no name, and a form post (is_account_admin defaults to False).
    response = api.post(CONTACTS, {"email": "pat@nowhere.test", "phone": "1"}, format="multipart")

    assert response.status_code == 201, response.json()
    assert response.json()["name"] == "pat"
    assert response.json()["is_account_admin"] is False


def test_contact_with_an_unknown_account_is_400(api):
    response = api.post(
        CONTACTS, {"name": "Hank", "email": "h@x.test", "account": 999999999}, format="json"
    )

    assert response.status_code == 400
    assert "account" in error_of(response)["fields"]


def test_contact_email_change_to_a_taken_address_is_400(api):
    ContactFactory(email="taken@x.test")
    contact = ContactFactory()

    response = api.patch(f"{CONTACTS}{contact.pk}/", {"email": "TAKEN@x.test"}, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"]["email"]
    assert Contact.objects.filter(email="taken@x.test").count() == 1


# --- users (admins only) -------------------------------------------------------------------


@pytest.fixture
def admin_api(token_client, make_user):
    return token_client(make_user(Role.ADMIN), ["admin"])


def test_admin_creates_a_staff_user_with_teams(admin_api):
    TeamFactory(name="Tier 1")

    response = admin_api.post(
        USERS,
        {"email": "New@cx.test", "name": "New Person", "role": "agent", "teams": ["Tier 1"]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    user = User.objects.get(email="new@cx.test")
    assert response.json()["teams"] == ["Tier 1"]
    assert user.role == Role.AGENT
    assert not user.has_usable_password()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "c@cx.test", "name": "C", "role": "customer"}, "role"),
        ({"email": "c@cx.test", "name": "C", "role": "agent", "teams": ["Nope"]}, "teams"),
        ({"email": "not-an-email", "name": "C", "role": "agent"}, "email"),
    ],
)
def test_bad_user_is_refused(admin_api, body, field):
    response = admin_api.post(USERS, body, format="json")

    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_existing_email_is_refused(admin_api, agent):
    response = admin_api.post(
        USERS, {"email": agent.email.upper(), "name": "Dup", "role": "agent"}, format="json"
    )

    assert response.status_code == 400
    assert error_of(response)["fields"]["email"] == ["A user with this email already exists."]


def test_admin_changes_a_role_and_deactivates(admin_api, agent):
    response = admin_api.patch(
        f"{USERS}{agent.pk}/", {"role": "manager", "is_active": False}, format="json"
    )

    assert response.status_code == 200, response.json()
    agent.refresh_from_db()
    assert agent.role == Role.MANAGER
    assert agent.is_active is False


def test_customers_are_not_users_here(admin_api, make_user):
    customer = make_user(Role.CUSTOMER)

    assert admin_api.get(f"{USERS}{customer.pk}/").status_code == 404


# --- query counts --------------------------------------------------------------------------

# Token and user (1), the page (1); nothing per row.
ACCOUNT_LIST_QUERIES = 2
# Token and user (1), the page (1), the teams (1).
USER_LIST_QUERIES = 3


@pytest.mark.parametrize("count", [1, 30])
def test_account_list_query_count_is_fixed(api, csm, django_assert_max_num_queries, count):
    api.get(ACCOUNTS)  # records last use (one write a minute)
    AccountFactory.create_batch(count, csm=csm)

    with django_assert_max_num_queries(ACCOUNT_LIST_QUERIES):
        response = api.get(ACCOUNTS, {"page_size": 100})

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [1, 30])
def test_contact_list_query_count_is_fixed(api, django_assert_max_num_queries, count):
    api.get(CONTACTS)
    ContactFactory.create_batch(count)

    with django_assert_max_num_queries(ACCOUNT_LIST_QUERIES):
        response = api.get(CONTACTS, {"page_size": 100})

    assert len(response.json()["results"]) == count


@pytest.mark.parametrize("count", [1, 30])
def test_user_list_query_count_is_fixed(admin_api, make_user, django_assert_max_num_queries, count):
    admin_api.get(USERS)
    team = TeamFactory()
    for _ in range(count):
        make_user(Role.AGENT).teams.set([team])

    with django_assert_max_num_queries(USER_LIST_QUERIES):
        response = admin_api.get(USERS, {"page_size": 100})

    assert len(response.json()["results"]) == count + 1  # and the admin


def test_session_list_query_count(session_client, csm, django_assert_max_num_queries):
    AccountFactory.create_batch(20)
    client = session_client(csm)

    # Session and user (2), the page (1).
    with django_assert_max_num_queries(3):
        assert client.get(ACCOUNTS).status_code == 200
