"""Cursor pages, page sizes, `updated_since` and the FilterSets of the accounts lists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Account, Contact
from tests.api_helpers import error_of
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts/"


@pytest.fixture
def api(token_client, csm):
    return token_client(csm, ["accounts:read"])


def names(body) -> list[str]:
    return [row["name"] for row in body["results"]]


def test_list_is_a_cursor_page(api):
    AccountFactory.create_batch(3)

    body = api.get(ACCOUNTS).json()

    assert set(body) == {"results", "next", "previous"}
    assert len(body["results"]) == 3
    assert body["next"] is None
    assert body["previous"] is None


def test_pages_walk_every_row_once(api):
    created = [AccountFactory(name=f"A{n:02}") for n in range(7)]

    seen, url = [], ACCOUNTS + "?page_size=3"
    while url:
        body = api.get(url).json()
        seen += names(body)
        url = body["next"]

    assert seen == [a.name for a in created]


def test_rows_inserted_between_pages_cause_no_skips(api):
    created = [AccountFactory(name=f"B{n:02}") for n in range(6)]
    first = api.get(ACCOUNTS, {"page_size": 3}).json()
    # New rows (and a deletion before the cursor) while the client is between pages.
    AccountFactory.create_batch(2, name="Late")
    Account.objects.filter(pk=created[0].pk).delete()

    second = api.get(first["next"]).json()

    assert names(first) == ["B00", "B01", "B02"]
    assert names(second) == ["B03", "B04", "B05"]
    third = api.get(second["next"]).json()
    assert names(third) == ["Late", "Late"]
    assert third["next"] is None


def test_previous_link_goes_back(api):
    AccountFactory.create_batch(5)
    first = api.get(ACCOUNTS, {"page_size": 2}).json()
    second = api.get(first["next"]).json()

    back = api.get(second["previous"]).json()

    assert names(back) == names(first)


@pytest.mark.parametrize("size", ["0", "101", "-1", "ten", "1.5"])
def test_page_size_outside_1_to_100_is_400(api, size):
    response = api.get(ACCOUNTS, {"page_size": size})

    assert response.status_code == 400
    assert "page_size" in error_of(response)["fields"]


def test_page_size_100_is_allowed(api):
    AccountFactory.create_batch(3)

    assert api.get(ACCOUNTS, {"page_size": 100}).status_code == 200


def test_garbage_cursor_is_400(api):
    response = api.get(ACCOUNTS, {"cursor": "garbage"})

    assert response.status_code == 400
    assert "cursor" in error_of(response)["fields"]


def test_updated_since_returns_rows_changed_at_or_after(api):
    old, recent = AccountFactory(name="Old"), AccountFactory(name="Recent")
    now = timezone.now()
    Account.objects.filter(pk=old.pk).update(updated_at=now - timedelta(days=2))
    Account.objects.filter(pk=recent.pk).update(updated_at=now)

    since = (now - timedelta(days=1)).isoformat()
    assert names(api.get(ACCOUNTS, {"updated_since": since}).json()) == ["Recent"]
    exact = now.isoformat()
    assert names(api.get(ACCOUNTS, {"updated_since": exact}).json()) == ["Recent"]


def test_updated_since_lists_oldest_change_first_across_pages(api):
    """A sync client reads changes in the order they happened; a row changed while it
    pages moves to a later page (sent again, never skipped)."""
    now = timezone.now()
    accounts = [AccountFactory(name=f"C{n}") for n in range(5)]
    for minutes, account in zip((3, 5, 1, 4, 2), accounts, strict=True):
        Account.objects.filter(pk=account.pk).update(updated_at=now - timedelta(minutes=minutes))
    since = (now - timedelta(hours=1)).isoformat()

    first = api.get(ACCOUNTS, {"updated_since": since, "page_size": 2}).json()
    Account.objects.filter(pk=accounts[1].pk).update(updated_at=now)  # C1 changes again
    seen = names(first)
    url = first["next"]
    while url:
        body = api.get(url).json()
        seen += names(body)
        url = body["next"]

    assert names(first) == ["C1", "C3"]
    assert seen == ["C1", "C3", "C0", "C4", "C2", "C1"]


def test_updated_since_on_contacts_follows_their_changes(token_client, csm):
    api = token_client(csm, ["accounts:read", "accounts:write"])
    contact = ContactFactory(name="Changed")
    ContactFactory(name="Untouched")
    Contact.objects.update(updated_at=timezone.now() - timedelta(days=3))
    start = timezone.now()

    api.patch(f"/api/v1/contacts/{contact.pk}/", {"title": "CFO"}, format="json")
    body = api.get("/api/v1/contacts/", {"updated_since": start.isoformat()}).json()

    assert names(body) == ["Changed"]


def test_bad_updated_since_is_400(api):
    response = api.get(ACCOUNTS, {"updated_since": "yesterday"})

    assert response.status_code == 400
    assert "updated_since" in error_of(response)["fields"]


def test_account_filters(api, make_user):
    casey = make_user(Role.CSM, email="casey@cx.test")
    AccountFactory(name="Acme", tier="enterprise", csm=casey, health_band="red", domains=["a.io"])
    AccountFactory(name="Beta", tier="starter", health_band="green", segment="Retail")
    AccountFactory(name="Gamma", tier="growth", health_band="")

    def listed(**params):
        response = api.get(ACCOUNTS, params)
        assert response.status_code == 200, response.json()
        return names(response.json())

    assert listed(tier="enterprise") == ["Acme"]
    assert listed(band=["red", "none"]) == ["Acme", "Gamma"]
    assert listed(csm="CASEY@cx.test") == ["Acme"]
    assert listed(q="amm") == ["Gamma"]
    assert listed(segment="retail") == ["Beta"]
    assert listed(domain="A.IO") == ["Acme"]


def test_unknown_filter_value_is_400(api):
    response = api.get(ACCOUNTS, {"tier": "platinum"})

    assert response.status_code == 400
    assert "tier" in error_of(response)["fields"]


def test_user_filters(token_client, make_user):
    from tests.factories import TeamFactory

    admin = make_user(Role.ADMIN)
    api = token_client(admin, ["admin"])
    team = TeamFactory(name="Tier 1")
    agent = make_user(Role.AGENT, full_name="Agent In Team")
    agent.teams.set([team])
    make_user(Role.CUSTOMER, full_name="A Customer")

    in_team = api.get("/api/v1/users/", {"team": "Tier 1"}).json()
    everyone = api.get("/api/v1/users/").json()

    assert [u["name"] for u in in_team["results"]] == ["Agent In Team"]
    assert "A Customer" not in [u["name"] for u in everyone["results"]]
    assert api.get("/api/v1/users/", {"team": "No such team"}).status_code == 400
