"""/api/v1/escalations/: flags by portfolio, filters, and the acknowledge/resolve commands."""

import pytest

from accounts.choices import Role
from accounts.models import ApiScope
from metrics.models import EscalationFlag, EscalationFlagEvent, EscalationRule, FlagState
from tests.api_helpers import error_of
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


FLAGS = "/api/v1/escalations/"
READ = [ApiScope.SUCCESS_READ]
RW = [ApiScope.SUCCESS_READ, ApiScope.SUCCESS_WRITE]


def make_flag(account, code="ticket_spike", direction="support_to_success", **fields):
    rule = EscalationRule.objects.get_or_create(
        code=code, defaults={"name": code, "direction": direction}
    )[0]
    return EscalationFlag.objects.create(
        account=account, rule=rule, direction=direction, owner=account.csm, **fields
    )


@pytest.fixture
def flags(csm, make_user):
    mine = AccountFactory(name="Mine", csm=csm)
    theirs = AccountFactory(name="Theirs", csm=make_user(Role.CSM))
    return {
        "mine": make_flag(mine),
        "mine_risk": make_flag(mine, "at_risk_account", "success_to_support"),
        "theirs": make_flag(theirs),
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_csm_sees_only_their_portfolio(token_client, csm, flags):
    api = token_client(csm, READ)
    assert ids(api.get(FLAGS)) == {flags["mine"].pk, flags["mine_risk"].pk}
    response = api.get(f"{FLAGS}{flags['theirs'].pk}/")
    assert response.status_code == 404
    error_of(response)


def test_manager_sees_every_flag_and_filters(token_client, manager, flags):
    api = token_client(manager, READ)
    assert len(ids(api.get(FLAGS))) == 3
    assert ids(api.get(FLAGS, {"direction": "success_to_support"})) == {flags["mine_risk"].pk}
    assert ids(api.get(FLAGS, {"rule": "ticket_spike", "account": flags["theirs"].account_id}))
    assert ids(api.get(FLAGS, {"opened_since": "2999-01-01T00:00:00Z"})) == set()
    assert api.get(FLAGS, {"state": "nonsense"}).status_code == 400


def test_acknowledge_then_resolve_with_a_note(token_client, csm, flags):
    api = token_client(csm, RW)
    url = f"{FLAGS}{flags['mine'].pk}/"
    response = api.post(f"{url}acknowledge/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "acknowledged"
    assert response.json()["acknowledged_by"] == csm.email
    response = api.post(f"{url}resolve/", {"note": "Called them"}, format="json")
    assert response.status_code == 200, response.content
    flag = EscalationFlag.objects.get(pk=flags["mine"].pk)
    assert flag.state == FlagState.RESOLVED
    assert flag.resolution_note == "Called them"
    assert EscalationFlagEvent.objects.filter(flag=flag).count() == 2
    again = api.post(f"{url}resolve/", {"note": "again"}, format="json")
    assert again.status_code == 409
    error_of(again)


@pytest.mark.parametrize("body", [{}, {"note": "   "}])
def test_resolve_needs_a_note(token_client, csm, flags, body):
    api = token_client(csm, RW)
    response = api.post(f"{FLAGS}{flags['mine'].pk}/resolve/", body, format="json")
    assert response.status_code == 400
    assert "note" in error_of(response)["fields"]
    assert EscalationFlag.objects.get(pk=flags["mine"].pk).state == FlagState.OPEN


def test_commands_on_a_foreign_flag_are_404(token_client, csm, flags):
    api = token_client(csm, RW)
    response = api.post(f"{FLAGS}{flags['theirs'].pk}/resolve/", {"note": "x"}, format="json")
    assert response.status_code == 404
    assert EscalationFlag.objects.get(pk=flags["theirs"].pk).state == FlagState.OPEN


def test_read_scope_cannot_run_commands(token_client, manager, flags):
    api = token_client(manager, READ)
    response = api.post(f"{FLAGS}{flags['mine'].pk}/acknowledge/", {}, format="json")
    assert response.status_code == 403


def test_customer_is_refused(token_client, make_user, flags):
    api = token_client(make_user(Role.CUSTOMER), RW)
    assert api.get(FLAGS).status_code == 403


def test_list_query_count_is_fixed(token_client, manager, flags, django_assert_max_num_queries):
    api = token_client(manager, READ)
    api.get(FLAGS)
    with django_assert_max_num_queries(2):
        assert api.get(FLAGS).status_code == 200
