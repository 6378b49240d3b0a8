import zoneinfo
from datetime import tzinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Now
from django.urls import reverse
from django.utils import timezone

from .choices import STAFF_ROLES, HealthBand, LifecycleStage, Role, TeamKind, Tier

# Where each role lands after signing in (URL names; the apps own the views).
ROLE_HOME = {
    Role.AGENT: "support:queue",
    Role.CSM: "success:home",
    Role.MANAGER: "metrics:reports",
    Role.ADMIN: "metrics:reports",
    Role.CUSTOMER: "support:portal-home",
}


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> "User":
        # Sign-in ignores the case of the email address, as mail systems do.
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", Role.ADMIN)
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


def zone_named(name: str | None) -> tzinfo | None:
    """The IANA zone of that name; None (the platform's zone) when empty or unknown."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class Team(models.Model):
    """A group of staff who share work: a support team owns tickets, a success team accounts."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=TeamKind.choices, default=TeamKind.SUPPORT)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who signs in: our staff (admin, manager, agent, CSM) or a customer's contact."""

    # Stored lower-cased; the Lower() constraint below also refuses case variants.
    email = models.EmailField(max_length=254, unique=True)
    full_name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: the platform's.")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the Django admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()

    @property
    def first_name(self) -> str:
        return (self.full_name or self.email).split()[0]

    @property
    def zone(self) -> tzinfo | None:
        """The person's time zone for showing times; None: the platform's."""
        return zone_named(self.time_zone)

    @property
    def is_staff_member(self) -> bool:
        """Our own people (not a customer), whatever their role."""
        return self.role in STAFF_ROLES

    def home_url(self) -> str:
        return reverse(ROLE_HOME[Role(self.role)])


class SupportAttention(models.TextChoices):
    """What success asks support to keep in mind on every ticket of an account."""

    NONE = "", "None"
    AT_RISK = "at_risk", "At-risk account"


class Account(models.Model):
    """A customer organisation: the unit both support and success work for."""

    name = models.CharField(max_length=200)
    domains = ArrayField(
        models.CharField(max_length=253),
        default=list,
        blank=True,
        help_text="Email domains of its people (example.com); new contacts match on these.",
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.STARTER)
    segment = models.CharField(max_length=100, blank=True, help_text="e.g. industry or region")
    lifecycle_stage = models.CharField(
        max_length=20, choices=LifecycleStage.choices, default=LifecycleStage.ONBOARDING
    )
    csm = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="portfolio",
        limit_choices_to={"role": Role.CSM},
        verbose_name="CSM",
    )
    mrr = models.DecimalField(
        "MRR", max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    seats = models.PositiveIntegerField(null=True, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Written by success's health computation; read by everyone.
    health_score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    health_band = models.CharField(max_length=10, choices=HealthBand.choices, blank=True)
    health_updated_at = models.DateTimeField(null=True, blank=True)
    # Written by metrics' escalation flags (an at-risk flag opens or resolves); read by
    # support, which may not read metrics: the ticket banner, the queue marker and filter,
    # and the priority bump of new tickets.
    support_attention = models.CharField(
        max_length=20, choices=SupportAttention.choices, blank=True, default="", db_default=""
    )
    support_attention_note = models.TextField(
        blank=True,
        default="",
        db_default="",
        help_text="Why: the CSM's note, or the rule's reason.",
    )
    support_attention_since = models.DateTimeField(null=True, blank=True)
    # Written by metrics while the onboarding rule holds a flag on the account (so switching
    # the rule off in the admin stops it); support tags and routes the account's new tickets.
    support_onboarding = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(mrr__gte=0), name="account_mrr_not_negative"),
        ]
        indexes = [
            GinIndex(fields=["domains"], name="account_domains_gin"),
            models.Index(fields=["csm", "name"], name="account_csm_name"),
            models.Index(fields=["renewal_date"], name="account_renewal_date"),
            # The queue's "at-risk account" filter: the few accounts support must watch.
            models.Index(
                fields=["support_attention"],
                name="account_support_attention",
                condition=~Q(support_attention=""),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(models.QuerySet["Contact"]):
    def with_email(self, email: str) -> "ContactQuerySet":
        """The contact with this address in any case, found through the case-insensitive
        unique index on LOWER(email). (`email__iexact` compares UPPER(email), which no
        index serves: a scan of every contact, 14 ms at 33,000.)"""
        return self.alias(email_lower=Lower("email")).filter(email_lower=email.strip().lower())


class Contact(models.Model):
    """A person at a customer. May sign in to the portal through `user` (role customer)."""

    objects = ContactQuerySet.as_manager()

    name = models.CharField(max_length=150)
    email = models.EmailField(max_length=254)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    user = models.OneToOneField(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contact",
        limit_choices_to={"role": Role.CUSTOMER},
        verbose_name="portal login",
    )
    title = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    is_account_admin = models.BooleanField(
        default=False, help_text="Sees all of the account's tickets in the portal."
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The API's `updated_since` filter reads it.
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="contact_email_ci_unique"),
        ]
        indexes = [models.Index(fields=["account", "name"], name="contact_account_name")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean(self) -> None:
        super().clean()
        self.email = self.email.strip().lower()

    @property
    def first_name(self) -> str:
        return (self.name or self.email).split()[0]


class Notification(models.Model):
    """Something a staff member should know, shown under the bell in the top bar (and, for
    some kinds, emailed). Apps write them; `read_at` is set when the person opens it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_recent"),
            models.Index(
                fields=["user"], name="notification_user_unread", condition=Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.title}"


class ApiScope(models.TextChoices):
    """What an API token may do; the token's user's role still applies on top."""

    TICKETS_READ = "tickets:read", "Read tickets"
    TICKETS_WRITE = "tickets:write", "Write tickets"
    ACCOUNTS_READ = "accounts:read", "Read accounts and contacts"
    ACCOUNTS_WRITE = "accounts:write", "Write accounts and contacts"
    SUCCESS_READ = "success:read", "Read success data"
    SUCCESS_WRITE = "success:write", "Write success data"
    METRICS_READ = "metrics:read", "Read metrics"
    IMPORT = "import", "Import history"
    WEBHOOKS = "webhooks", "Manage webhooks"
    ADMIN = "admin", "Administer users and settings"


class ApiToken(models.Model):
    """A bearer token for the REST API, acting as its user within its scopes.

    Only `prefix` (shown in lists, used to find the row) and the SHA-256 of the whole token
    are stored; the token itself is shown once, when it is created.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=20, choices=ApiScope.choices), default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="api_token_user_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ApiIdempotencyKey(models.Model):
    """The first response to a POST sent with an `Idempotency-Key` header, replayed to a
    retry with the same key and body for 24 hours. The row is inserted before the request
    runs (the unique constraint is the claim), and `response_status` is empty until it ends.
    """

    owner = models.CharField(max_length=40, help_text="token:<id> or user:<id>")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="api_idempotency_owner_key")
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


# --- webhooks (issue 8) -------------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", "Ticket created"
    TICKET_UPDATED = "ticket.updated", "Ticket updated"
    TICKET_SOLVED = "ticket.solved", "Ticket solved"
    MESSAGE_CREATED = "message.created", "Public message created"
    ESCALATION_RAISED = "escalation.raised", "Escalation raised"
    ESCALATION_RESOLVED = "escalation.resolved", "Escalation resolved"
    HEALTH_BAND_CHANGED = "health.band_changed", "Health band changed"
    SURVEY_RESPONSE = "survey.response", "Survey response"


class WebhookSubscription(models.Model):
    """A URL that receives signed POSTs for some event types. `secret` signs the bodies; it is
    shown once, to the creator. Disabled after 50 failed deliveries in a row."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=30, choices=WebhookEvent.choices))
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [GinIndex(fields=["events"], name="webhook_sub_events")]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (will retry)"
    GAVE_UP = "gave_up", "Gave up"


class WebhookDelivery(models.Model):
    """One event for one subscription, and how its delivery went (the delivery log)."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=30, choices=WebhookEvent.choices)
    payload = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task for the next attempt was put on the queue; the attempt clears it. The
    # retry job skips rows queued less than a lease ago, so overlapping runs queue once.
    queued_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscription", "-created_at"], name="webhook_delivery_sub"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id} ({self.status})"
