"""factory_boy factories for every model the tests build."""

import factory
from django.utils import timezone

from accounts.choices import Role, Tier
from accounts.models import Account, Contact, Team, User
from support.models import Message, Ticket


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@cx.test")
    full_name = factory.Faker("name")
    role = Role.AGENT
    password = factory.django.Password("pw-for-tests-123")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n}")
    domains = factory.Sequence(lambda n: [f"customer{n}.test"])
    tier = Tier.GROWTH
    mrr = 1000


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@customer.test")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    subject = factory.Sequence(lambda n: f"Problem number {n}")
    requester = factory.SubFactory(ContactFactory)
    account = factory.SelfAttribute("requester.account")
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.SelfAttribute("created_at")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    author_contact = factory.SelfAttribute("ticket.requester")
    public = True
    body = "Hello, something is broken."
    body_html = "<p>Hello, something is broken.</p>"


class MacroFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "support.Macro"

    title = factory.Sequence(lambda n: f"Macro {n}")
    body = "Hi {{ requester.first_name }}, about #{{ ticket.number }}. {{ agent.first_name }}"


class AgentStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "support.AgentStatus"
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    available = True
    max_open_tickets = 10


class TeamAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "support.TeamAssignment"
        django_get_or_create = ["team"]

    team = factory.SubFactory(TeamFactory)
    auto_assign = True


class CsatResponseFactory(factory.django.DjangoModelFactory):
    """A CSAT answer to a solved ticket; account and contact follow the ticket."""

    class Meta:
        model = "support.CsatResponse"

    ticket = factory.SubFactory(
        TicketFactory, status="solved", solved_at=factory.LazyFunction(timezone.now)
    )
    account = factory.SelfAttribute("ticket.account")
    contact = factory.SelfAttribute("ticket.requester")
    rating = 5
    responded_at = factory.LazyFunction(timezone.now)


class NpsResponseFactory(factory.django.DjangoModelFactory):
    """An NPS answer from a contact at the account."""

    class Meta:
        model = "success.NpsResponse"

    account = factory.SubFactory(AccountFactory)
    contact = factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account"))
    score = 9
    reason = ""
    responded_at = factory.LazyFunction(timezone.now)


class PlanTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "success.PlanTemplate"

    name = factory.Sequence(lambda n: f"Template {n}")
    lifecycle_stage = "onboarding"


class PlanTemplateMilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "success.PlanTemplateMilestone"

    template = factory.SubFactory(PlanTemplateFactory)
    title = factory.Sequence(lambda n: f"Step {n}")
    day_offset = 7
    position = factory.Sequence(lambda n: n)


class SuccessPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "success.SuccessPlan"

    account = factory.SubFactory(AccountFactory)
    title = factory.Sequence(lambda n: f"Plan {n}")
    status = "active"
    start_date = factory.LazyFunction(timezone.localdate)


class PlanMilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "success.PlanMilestone"

    plan = factory.SubFactory(SuccessPlanFactory)
    title = factory.Sequence(lambda n: f"Milestone {n}")
    due_date = factory.LazyFunction(timezone.localdate)
    status = "todo"
    done_at = factory.LazyAttribute(lambda m: timezone.localdate() if m.status == "done" else None)
