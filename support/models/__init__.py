import functools
from datetime import time

from django.conf import settings
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Func, Q, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts.choices import Tier
from accounts.models import Account, Contact, Team

from ..choices import (
    PRIORITY_RANK,
    UNSOLVED,
    Channel,
    EventKind,
    Priority,
    SlaAlertKind,
    SlaMetric,
    Status,
    TicketType,
)

SEARCH_CONFIG = settings.CX_SEARCH_CONFIG
SUBJECT_MAX_LENGTH = 250
EXTERNAL_ID_MAX_LENGTH = 100
UNSOLVED_Q = Q(status__in=[s.value for s in UNSOLVED])
# [sla_warn_at, sla_due_at): while "now" is inside it, a running target is at risk.
SLA_RISK_WINDOW = Func(
    F("sla_warn_at"), F("sla_due_at"), function="tstzrange", output_field=DateTimeRangeField()
)


_URL_PLACEHOLDER = "987654321"


@functools.cache
def _ticket_url_pattern() -> str:
    return reverse("support:ticket-detail", args=[int(_URL_PLACEHOLDER)])


class Ticket(models.Model):
    """A customer's request, worked by an agent until it is solved. The id is its number (#1042).

    `version` grows by one on every change so that an edit based on an older version can be
    refused (optimistic concurrency) instead of silently overwriting someone else's change.
    """

    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH)
    # Foreign keys whose lookups a composite index below already serves have no index of
    # their own (db_index=False): one index less to write on every change.
    requester = models.ForeignKey(
        Contact, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    priority_rank = models.GeneratedField(
        expression=Case(
            *[When(priority=p.value, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
            default=Value(0),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    type = models.CharField(max_length=10, choices=TicketType.choices, default=TicketType.QUESTION)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # Business time of the ticket's SLA calendar (pending time excluded), written by the SLA
    # refresh when the first-response / resolution clock stops; None while it runs, after a
    # reopen, or without an SLA policy target. Feeds the business-hours FRT and resolution
    # time reports (metrics snapshots).
    first_response_business_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolution_business_seconds = models.PositiveIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by_agent = models.BooleanField(
        default=False, help_text="Opened by an agent on the customer's behalf (FRT rule)."
    )
    # Set by the history import only ("" for tickets opened here): the unique index below lets
    # an import refuse a ticket it already brought over (overlapping export files) and lets
    # CSAT answers in the same file name their ticket by it.
    # db_default too: the seed's COPY and other set-based inserts leave the column out.
    external_id = models.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH,
        blank=True,
        default="",
        db_default="",
        help_text="The ticket's id in the system it was imported from.",
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
        db_index=False,
    )
    follow_up_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
        db_index=False,
    )
    # Full-text search: the subject's words (weight A) and every message's words (weight B),
    # kept current by support.search when they change; GIN-indexed. Only the vector is
    # stored here, not the text, so the rows the queue reads stay small.
    search_vector = SearchVectorField(null=True, editable=False)
    # SLA: the applying policy and the due time of each target whose clock is running (None
    # while paused, met or without a target), written by the services from the event log.
    sla_policy = models.ForeignKey(
        "SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
        verbose_name="SLA policy",
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    next_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    # The earliest of the three (the "Breached" view and the badge) and the earliest moment a
    # running target turns "at risk" (the "At risk" view).
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_warn_at = models.DateTimeField(null=True, blank=True)
    # The queue's "due soonest" sort key: tickets without a running target sort last.
    sla_sort_at = models.GeneratedField(
        expression=Coalesce(
            F("sla_due_at"),
            Func(Value(253402214400.0), function="to_timestamp"),  # 9999-12-31 UTC
        ),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(subject=""), name="ticket_subject_not_empty"),
            # A target warns before it is due (the risk window below must be a valid range).
            models.CheckConstraint(
                condition=Q(sla_warn_at__isnull=True)
                | Q(sla_due_at__isnull=True)
                | Q(sla_warn_at__lte=F("sla_due_at")),
                name="ticket_sla_warn_before_due",
            ),
            models.UniqueConstraint(
                fields=["external_id"],
                condition=~Q(external_id=""),
                name="ticket_external_id_unique",
            ),
        ]
        indexes = [
            # Each built-in queue view scans one of these in order: (sort key, id) for keyset.
            models.Index(
                fields=["-updated_at", "-id"], name="ticket_unsolved_updated", condition=UNSOLVED_Q
            ),
            models.Index(
                fields=["assignee", "-updated_at", "-id"],
                name="ticket_unsolved_assignee",
                condition=UNSOLVED_Q,
            ),
            models.Index(
                fields=["team", "-updated_at", "-id"],
                name="ticket_unsolved_team",
                condition=UNSOLVED_Q,
            ),
            models.Index(
                fields=["-updated_at", "-id"],
                name="ticket_unassigned",
                condition=UNSOLVED_Q & Q(assignee__isnull=True),
            ),
            models.Index(
                fields=["-priority_rank", "-updated_at", "-id"],
                name="ticket_unsolved_priority",
                condition=UNSOLVED_Q,
            ),
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_updated"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["-created_at", "-id"], name="ticket_created"),
            models.Index(fields=["account", "status"], name="ticket_account_status"),
            # The account timeline's "opened" and "solved" branches, newest first (keyset).
            models.Index(fields=["account", "-created_at", "-id"], name="ticket_account_created"),
            models.Index(
                fields=["account", "-solved_at", "-id"],
                name="ticket_account_solved",
                condition=Q(solved_at__isnull=False),
            ),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_created"),
            models.Index(
                fields=["solved_at"], name="ticket_solved_at", condition=Q(status="solved")
            ),
            models.Index(fields=["-solved_at"], include=["status"], name="ticket_solved_recent"),
            models.Index(
                fields=["merged_into"],
                name="ticket_merged_into",
                condition=Q(merged_into__isnull=False),
            ),
            models.Index(
                fields=["follow_up_of"],
                name="ticket_follow_up_of",
                condition=Q(follow_up_of__isnull=False),
            ),
            models.Index(
                fields=["sla_sort_at", "id"], name="ticket_unsolved_sla", condition=UNSOLVED_Q
            ),
            # "At risk" is warn <= now < due: a GiST index on that window finds exactly the
            # tickets inside it (a B-tree on sla_warn_at would also walk every breached one).
            GistIndex(
                SLA_RISK_WINDOW,
                name="ticket_unsolved_sla_risk",
                condition=UNSOLVED_Q & Q(sla_warn_at__isnull=False),
            ),
            # Metrics snapshots: first replies of a day, and the backlog at an instant
            # (tickets done at or after it, created before it: the second column is
            # checked in the index, so an instant long ago does not visit every row).
            models.Index(
                fields=["first_response_at"],
                name="ticket_first_response_at",
                condition=Q(first_response_at__isnull=False),
            ),
            models.Index(
                Coalesce("solved_at", "closed_at"),
                F("created_at"),
                name="ticket_done_at",
                condition=Q(status__in=["solved", "closed"]),
            ),
            GinIndex(fields=["tags"], name="ticket_tags_gin"),
            GinIndex(fields=["search_vector"], name="ticket_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def number(self) -> int:
        return self.pk

    def get_absolute_url(self) -> str:
        # Lists show fifty of these per page; one reverse() per process instead of per row.
        return _ticket_url_pattern().replace(_URL_PLACEHOLDER, str(self.pk))

    @property
    def is_unsolved(self) -> bool:
        return self.status in UNSOLVED


class Message(models.Model):
    """One entry in a ticket's thread: a public reply (customer-visible) or an internal note.

    Written by an agent (`author_user`) or by the customer (`author_contact`). `body` is the
    Markdown as typed; `body_html` is its sanitised rendering, made once on write.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ticket_messages",
    )
    author_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="ticket_messages"
    )
    public = models.BooleanField(default=True)
    body = models.TextField()
    body_html = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(author_user__isnull=True) | Q(author_contact__isnull=True),
                name="message_one_author",
            ),
            models.CheckConstraint(
                condition=Q(public=True) | Q(author_contact__isnull=True),
                name="message_customer_is_public",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="message_ticket_created"),
        ]

    def __str__(self) -> str:
        return f"{'Reply' if self.public else 'Note'} on #{self.ticket_id}"

    @property
    def is_from_customer(self) -> bool:
        return self.author_contact_id is not None


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"attachments/{timezone.now():%Y/%m}/{instance.message.ticket_id}/{filename}"


class Attachment(models.Model):
    """A file sent with a message. Always served as a download, never inline."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    size = models.PositiveBigIntegerField(validators=[MinValueValidator(1)])

    def __str__(self) -> str:
        return self.filename


class TicketEvent(models.Model):
    """One change to a ticket: who, what field, from, to, when. Append-only.

    A database trigger (migration 0002) refuses UPDATE, so history cannot be rewritten.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=100, blank=True, help_text="Who acted when not a user: 'customer', a rule."
    )
    field = models.CharField(max_length=50, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="event_ticket_created"),
            models.Index(fields=["created_at"], name="event_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.kind} {self.field}"


class Macro(models.Model):
    """A canned response: a body with placeholders and optional actions, applied in the composer.

    Placeholders: {{ requester.first_name }}, {{ ticket.number }}, {{ agent.first_name }}.
    """

    title = models.CharField(max_length=150, unique=True)
    body = models.TextField(blank=True)
    set_status = models.CharField(max_length=10, choices=Status.choices, blank=True)
    set_priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    add_tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    public = models.BooleanField(default=True, help_text="Inserted as a public reply.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class SavedView(models.Model):
    """An agent's named filter for the queue (the query string of the queue page)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name"),
        ]

    def __str__(self) -> str:
        return self.name


class AgentStatus(models.Model):
    """Whether an agent takes new tickets from automatic assignment, and how many at most."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_status"
    )
    available = models.BooleanField(default=True)
    max_open_tickets = models.PositiveIntegerField(default=25)

    def __str__(self) -> str:
        return f"{self.user} ({'available' if self.available else 'away'})"


class TeamAssignment(models.Model):
    """A team's automatic assignment switch and its round-robin pointer."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="assignment")
    auto_assign = models.BooleanField(default=False)
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"{self.team}: {'round-robin' if self.auto_assign else 'manual'}"


# --- SLAs -------------------------------------------------------------------------------


class BusinessCalendar(models.Model):
    """A business-hours calendar: an IANA time zone, weekly working intervals and holidays.

    SLA policies count their targets in it; the arithmetic is `support.business_hours`.
    """

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin."
    )
    holidays = ArrayField(
        models.DateField(), default=list, blank=True, help_text="Dates on which no time counts."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        try:  # the zone and the holidays; the intervals are checked with their formset/API
            self.to_calendar(intervals=[WorkingInterval(weekday=0, start=time(0), end=time(0))])
        except ValueError as error:
            raise ValidationError({"time_zone": str(error)}) from None

    def to_calendar(self, intervals: "list[WorkingInterval] | None" = None):
        """The pure `business_hours.Calendar` (ValueError if the definition is invalid)."""
        from .. import business_hours

        rows = self.intervals.all() if intervals is None else intervals
        return business_hours.Calendar(
            self.time_zone,
            tuple(business_hours.Interval(i.weekday, i.start, i.end) for i in rows),
            frozenset(self.holidays or ()),
        )


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingInterval(models.Model):
    """One weekly working interval of a calendar, in local time (Mon 09:00-12:00).

    An end at or before the start runs past midnight (Fri 22:00-02:00); 00:00-00:00 is the
    whole day.
    """

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="interval_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class SlaPolicy(models.Model):
    """Which tickets get which targets. The first active policy (by position) whose every
    condition matches applies; an empty condition matches anything."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(unique=True, help_text="Lower is checked first.")
    active = models.BooleanField(default=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Empty: calendar time (24/7).",
    )
    pause_on_hold = models.BooleanField(
        default=True, help_text="On hold pauses next response and resolution (pending always does)."
    )
    warning_margin_percent = models.PositiveSmallIntegerField(
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn when less than this share of a target is left.",
    )
    priorities = ArrayField(
        models.CharField(max_length=10, choices=Priority.choices), default=list, blank=True
    )
    tiers = ArrayField(
        models.CharField(max_length=20, choices=Tier.choices), default=list, blank=True
    )
    types = ArrayField(
        models.CharField(max_length=10, choices=TicketType.choices), default=list, blank=True
    )
    channels = ArrayField(
        models.CharField(max_length=10, choices=Channel.choices), default=list, blank=True
    )
    teams = models.ManyToManyField(Team, blank=True, related_name="sla_policies")

    class Meta:
        ordering = ["position"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(warning_margin_percent__gte=1, warning_margin_percent__lte=99),
                name="sla_policy_margin_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def matches(self, ticket: Ticket, *, tier: str | None, team_ids: set[int]) -> bool:
        """Whether every condition holds for `ticket` (`team_ids`: this policy's teams)."""
        return (
            (not self.priorities or ticket.priority in self.priorities)
            and (not self.tiers or tier in self.tiers)
            and (not self.types or ticket.type in self.types)
            and (not self.channels or ticket.channel in self.channels)
            and (not team_ids or ticket.team_id in team_ids)
        )


MAX_TARGET_MINUTES = 366 * 24 * 60


class SlaTarget(models.Model):
    """A policy's target for one priority and metric: e.g. urgent first response in 60 min."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    metric = models.CharField(max_length=20, choices=SlaMetric.choices)
    minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TARGET_MINUTES)],
        help_text="Business minutes (calendar minutes if 24/7); at most a year.",
    )

    class Meta:
        ordering = ["policy", "priority", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "priority", "metric"], name="sla_target_unique"
            ),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="sla_target_positive"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_priority_display()} {self.get_metric_display().lower()}: {self.minutes} min"
        )


class SlaAlert(models.Model):
    """A moment when one ticket's target turns "at risk" (warning) or is missed (breach).

    Written ahead by the services whenever a ticket's clocks change, pending until the
    minute job records it: the job's conditional update sets `recorded_at` once, so the
    event and the notification happen exactly once even when two jobs run at the same time.
    `due_at` names the target's cycle: a target whose due time moves gets new alerts.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_alerts")
    metric = models.CharField(max_length=20, choices=SlaMetric.choices)
    kind = models.CharField(max_length=10, choices=SlaAlertKind.choices)
    due_at = models.DateTimeField()
    at = models.DateTimeField(help_text="When it fires.")
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric", "kind", "due_at"], name="sla_alert_unique"
            ),
        ]
        indexes = [
            # The minute job's range scan: pending alerts whose moment has come.
            models.Index(
                fields=["at"], name="sla_alert_pending", condition=Q(recorded_at__isnull=True)
            ),
            # Metrics snapshots: the breaches of a day.
            models.Index(fields=["at"], name="sla_alert_breach_at", condition=Q(kind="breach")),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.metric} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


# --- Surveys ----------------------------------------------------------------------------


class CsatResponse(models.Model):
    """A customer's answer to the satisfaction survey sent when one ticket was solved: a CSAT
    rating (1-5), optionally a customer effort score (CES, 1-7) and a comment.

    One per ticket: answering again replaces the rating (METRICS.md: the latest counts).
    `account` is the ticket's account, copied when the answer arrives so that the account's
    ratings are read without a join; it stays put if the ticket later moves.
    """

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="csat_response")
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csat_responses",
        db_index=False,  # served by csat_account_responded below
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csat_responses",
        help_text="Who answered.",
    )
    rating = models.PositiveSmallIntegerField(
        "CSAT rating",
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (very dissatisfied) to 5 (very satisfied).",
    )
    ces = models.PositiveSmallIntegerField(
        "CES",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text="Customer effort: 1 (very hard) to 7 (very easy); empty when not asked.",
    )
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "CSAT response"
        ordering = ["-responded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5),
                name="csat_response_rating_range",
                violation_error_message="A CSAT rating is a whole number from 1 to 5.",
            ),
            models.CheckConstraint(
                condition=Q(ces__isnull=True) | Q(ces__gte=1, ces__lte=7),
                name="csat_response_ces_range",
                violation_error_message="A CES answer is a whole number from 1 to 7.",
            ),
        ]
        indexes = [
            # An account's latest ratings, its 90-day CSAT and its timeline.
            models.Index(fields=["account", "-responded_at"], name="csat_account_responded"),
            # Metrics snapshots: the ratings of a day.
            models.Index(fields=["responded_at"], name="csat_responded"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} rated {self.rating}/5"


from .email import *  # noqa: E402, F403
from .imports import *  # noqa: E402, F403
from .knowledge import *  # noqa: E402, F403
from .portal import *  # noqa: E402, F403
from .surveys import *  # noqa: E402, F403
