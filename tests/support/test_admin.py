import pytest

from accounts.choices import Role
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/support/ticket/",
    "/admin/support/macro/",
    "/admin/support/teamassignment/",
    "/admin/support/agentstatus/",
    "/admin/support/savedview/",
    "/admin/support/attachment/",
    "/admin/accounts/account/",
    "/admin/accounts/contact/",
    "/admin/accounts/user/",
    "/admin/accounts/team/",
]


@pytest.mark.parametrize("url", PAGES)
def test_admin_lists_open_for_admins(client_for, make_user, url):
    TicketFactory()
    assert client_for(make_user(Role.ADMIN)).get(url).status_code == 200


def test_admin_ticket_page_and_search_work(client_for, make_user):
    ticket = TicketFactory(subject="Printer on fire")
    client = client_for(make_user(Role.ADMIN))
    assert client.get(f"/admin/support/ticket/{ticket.pk}/change/").status_code == 200
    assert "Printer on fire" in client.get("/admin/support/ticket/?q=printer").content.decode()


def test_agents_cannot_use_the_admin(client_for, agent):
    assert client_for(agent).get("/admin/support/ticket/").status_code == 302
