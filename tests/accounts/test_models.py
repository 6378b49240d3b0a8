from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.choices import Role
from accounts.models import Account, Contact, User
from accounts.services import account_create, contact_get_or_create, staff_user_create
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_contact_email_is_unique_ignoring_case():
    ContactFactory(email="jane.doe@acme.test")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(name="Jane again", email="Jane.Doe@ACME.test")


def test_user_email_is_unique_ignoring_case():
    User.objects.create_user(email="ALEX@cx.test", full_name="Alex")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="Alex@Cx.Test", full_name="Alex two")


def test_user_signs_in_with_any_case_of_their_email(client):
    User.objects.create_user(email="Alex@cx.test", full_name="Alex", password="s3cret-pass!")
    assert client.login(username="ALEX@CX.TEST", password="s3cret-pass!")


def test_account_mrr_cannot_be_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountFactory(mrr=Decimal("-1"))


def test_account_create_normalises_domains():
    account = account_create(name="  Acme ", domains=["Acme.TEST", "acme.test", " "])
    assert account.name == "Acme"
    assert account.domains == ["acme.test"]


def test_new_contact_is_matched_to_account_by_email_domain():
    acme = AccountFactory(domains=["acme.test"])
    contact = contact_get_or_create(email="New.Person@ACME.test", name="New Person")
    assert contact.account == acme
    assert contact.email == "new.person@acme.test"


def test_contact_get_or_create_returns_existing_contact_whatever_the_case():
    existing = ContactFactory(email="jo@acme.test")
    assert contact_get_or_create(email="JO@acme.test") == existing
    assert Contact.objects.count() == 1


def test_unknown_domain_gives_contact_without_account():
    contact = contact_get_or_create(email="someone@nowhere.test")
    assert contact.account is None
    assert contact.name == "someone"


def test_staff_user_create_refuses_customer_role():
    with pytest.raises(ValueError, match="Customers sign in"):
        staff_user_create(email="c@x.test", full_name="C", role=Role.CUSTOMER)


def test_only_admins_get_the_django_admin_site():
    admin = staff_user_create(email="a@cx.test", full_name="A", role=Role.ADMIN)
    agent = staff_user_create(email="b@cx.test", full_name="B", role=Role.AGENT)
    assert admin.is_staff
    assert admin.is_superuser
    assert not agent.is_staff


def test_account_str_and_first_name_helpers():
    account = Account(name="Acme")
    assert str(account) == "Acme"
    assert User(full_name="Alex Agent").first_name == "Alex"


def test_contact_with_email_ignores_case_and_spaces():
    contact = ContactFactory(email="dana@acme.example")
    ContactFactory(email="other@acme.example")

    assert list(Contact.objects.with_email("  Dana@ACME.example ")) == [contact]
    # Through the case-insensitive unique index, not a scan comparing UPPER() of every row.
    assert "lower" in str(Contact.objects.with_email("x@y.example").query).lower()
