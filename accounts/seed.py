"""Demo data for the CRM core: teams, staff (one demo login per role), accounts, contacts.

Deterministic for a given seed (and day: dates are relative to today). Accounts and contacts
are written with COPY so that 10,000 accounts take seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from .bulk import copy_rows, reset_sequence
from .choices import LifecycleStage, Role, TeamKind, Tier
from .models import Account, Contact, Team, User

DEMO_PASSWORD = "cx-demo-password"
DEMO_LOGINS = [
    # (email, name, role)
    ("admin@cx.example", "Ada Admin", Role.ADMIN),
    ("manager@cx.example", "Morgan Manager", Role.MANAGER),
    ("agent@cx.example", "Alex Agent", Role.AGENT),
    ("csm@cx.example", "Casey Success", Role.CSM),
]
DEMO_CUSTOMER_EMAIL_LOCAL = "pat.customer"

_PREFIXES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Pied Piper",
    "Aperture",
    "Massive",
    "Blue Sun",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Prestige",
    "Sirius",
    "Virtucon",
    "Zorg",
    "Duff",
    "Krusty",
    "Bluth",
    "Dunder",
    "Sterling",
    "Wernham",
]
_SUFFIXES = [
    "Robotics",
    "Logistics",
    "Health",
    "Foods",
    "Bank",
    "Energy",
    "Media",
    "Labs",
    "Retail",
    "Travel",
    "Insurance",
    "Motors",
    "Software",
    "Pharma",
    "Studios",
]
_SEGMENTS = [
    "Healthcare",
    "Finance",
    "Retail",
    "Manufacturing",
    "Media",
    "Public sector",
    "Education",
    "Technology",
]
_FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Taylor",
    "Riley",
    "Casey",
    "Jamie",
    "Robin",
    "Avery",
    "Quinn",
    "Morgan",
    "Charlie",
    "Dana",
    "Emery",
    "Finley",
    "Harper",
    "Kai",
    "Lee",
    "Noa",
    "Parker",
    "Reese",
    "Sasha",
    "Toni",
    "Yuki",
    "Zoe",
    "Omar",
    "Priya",
    "Wei",
    "Lena",
    "Mateo",
]
_LAST = [
    "Smith",
    "Garcia",
    "Müller",
    "Kim",
    "Nguyen",
    "Okafor",
    "Rossi",
    "Silva",
    "Cohen",
    "Novak",
    "Larsen",
    "Dubois",
    "Tanaka",
    "Patel",
    "Kowalski",
    "O'Brien",
    "Haddad",
    "Jensen",
    "Moreau",
    "Ivanova",
]

_TIER_WEIGHTS = {Tier.ENTERPRISE: 0.1, Tier.GROWTH: 0.3, Tier.STARTER: 0.6}
_TIER_MRR = {Tier.ENTERPRISE: (8000, 60000), Tier.GROWTH: (1500, 8000), Tier.STARTER: (99, 1500)}
_TIER_SEATS = {Tier.ENTERPRISE: (200, 2000), Tier.GROWTH: (40, 200), Tier.STARTER: (3, 40)}
_TIER_CONTACTS = {Tier.ENTERPRISE: (6, 10), Tier.GROWTH: (3, 6), Tier.STARTER: (1, 3)}
_STAGE_WEIGHTS = {
    LifecycleStage.ONBOARDING: 0.12,
    LifecycleStage.ADOPTION: 0.45,
    LifecycleStage.RENEWAL: 0.15,
    LifecycleStage.EXPANSION: 0.18,
    LifecycleStage.CHURNED: 0.10,
}


@dataclass
class SeededAccount:
    """One demo account as the other apps' seeders see it. `story` is the relationship the
    demo data tells, so that every app's rows agree: "healthy" (uses the product, few
    complaints, happy surveys), "at_risk" (usage falling, SLA breaches, low ratings) or
    "churned" (was at risk, then left)."""

    id: int
    tier: str
    stage: str
    story: str = "healthy"
    contact_ids: list[int] = field(default_factory=list)


@dataclass
class CrmWorld:
    """What the other apps' seeders need to know about the CRM data just written."""

    accounts: list[SeededAccount]
    agent_ids: list[int]
    csm_ids: list[int]
    support_team_ids: list[int]
    onboarding_team_id: int
    success_team_id: int


# Share of the accounts that have not churned whose demo story is "at_risk"; accounts up for
# renewal are at risk a little more often, as they are in life.
AT_RISK_SHARE = {LifecycleStage.RENEWAL: 0.3}
AT_RISK_SHARE_OTHERS = 0.18


def _story(rng: random.Random, stage: str) -> str:
    if stage == LifecycleStage.CHURNED:
        return "churned"
    share = AT_RISK_SHARE.get(stage, AT_RISK_SHARE_OTHERS)
    return "at_risk" if rng.random() < share else "healthy"


def _pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _staff(
    rng: random.Random, *, count: int, role: str, domain: str, prefix: str, password: str
) -> list[User]:
    users = []
    for n in range(count):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        users.append(
            User(email=f"{prefix}{n + 1}@{domain}", full_name=name, role=role, password=password)
        )
    return User.objects.bulk_create(users)


def seed_crm(*, accounts: int, seed: int, progress=None) -> CrmWorld:
    """Write teams, staff, `accounts` accounts and their contacts."""
    rng = random.Random(seed)
    story_rng = random.Random(seed * 7_919 + 11)  # its own stream: the other draws stay put
    now = timezone.now()
    today = timezone.localdate()
    password = make_password(DEMO_PASSWORD)

    support_teams = [
        Team.objects.create(name="Tier 1 Support", kind=TeamKind.SUPPORT),
        Team.objects.create(name="Tier 2 Support", kind=TeamKind.SUPPORT),
    ]
    onboarding = Team.objects.create(name="Onboarding", kind=TeamKind.ONBOARDING)
    success = Team.objects.create(name="Customer Success", kind=TeamKind.SUCCESS)

    demo = {}
    for email, name, role in DEMO_LOGINS:
        demo[role] = User.objects.create_user(
            email=email,
            full_name=name,
            role=role,
            password=None,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        demo[role].password = password
        demo[role].save(update_fields=["password"])

    n_agents = max(6, accounts // 200)
    n_csms = max(3, accounts // 200)
    agents = [
        demo[Role.AGENT],
        *_staff(
            rng,
            count=n_agents - 1,
            role=Role.AGENT,
            domain="cx.example",
            prefix="agent",
            password=password,
        ),
    ]
    csms = [
        demo[Role.CSM],
        *_staff(
            rng,
            count=n_csms - 1,
            role=Role.CSM,
            domain="cx.example",
            prefix="csm",
            password=password,
        ),
    ]
    for i, agent in enumerate(agents):
        agent.teams.add(support_teams[0] if i % 4 else support_teams[1])
    for csm in csms:
        csm.teams.add(success)
    demo[Role.MANAGER].teams.add(support_teams[0], success)

    # Accounts (COPY; ids assigned here so contacts can point at them).
    first_id = (Account.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    seeded: list[SeededAccount] = []
    rows = []
    used_names: set[str] = set()
    for n in range(accounts):
        tier = _pick(rng, _TIER_WEIGHTS)
        stage = _pick(rng, _STAGE_WEIGHTS)
        name = f"{rng.choice(_PREFIXES)} {rng.choice(_SUFFIXES)}"
        if name in used_names:
            name = f"{name} {n + 1}"
        used_names.add(name)
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
        created = now - timedelta(days=rng.randint(30, 3 * 365), minutes=rng.randint(0, 1440))
        renewal: date | None = today + timedelta(days=rng.randint(-20, 365))
        if stage == LifecycleStage.RENEWAL:
            renewal = today + timedelta(days=rng.randint(5, 90))
        elif stage == LifecycleStage.CHURNED:
            renewal = None
        low, high = _TIER_MRR[tier]
        mrr = Decimal(0) if stage == LifecycleStage.CHURNED else Decimal(rng.randint(low, high))
        seats = rng.randint(*_TIER_SEATS[tier])
        account_id = first_id + n
        csm = csms[n % len(csms)]
        rows.append(
            (
                account_id,
                name,
                [f"{slug}.example"],
                tier,
                rng.choice(_SEGMENTS),
                stage,
                csm.pk,
                mrr,
                seats,
                renewal,
                created,
                now,
                None,
                "",
                None,
            )
        )
        seeded.append(
            SeededAccount(id=account_id, tier=tier, stage=stage, story=_story(story_rng, stage))
        )
    copy_rows(
        Account._meta.db_table,
        [
            "id",
            "name",
            "domains",
            "tier",
            "segment",
            "lifecycle_stage",
            "csm_id",
            "mrr",
            "seats",
            "renewal_date",
            "created_at",
            "updated_at",
            "health_score",
            "health_band",
            "health_updated_at",
        ],
        rows,
    )
    reset_sequence(Account._meta.db_table)
    if progress:
        progress("accounts", accounts)

    # Contacts.
    contact_rows = []
    contact_id = (Contact.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    for account, row in zip(seeded, rows, strict=True):
        domain = row[2][0]
        taken: set[str] = set()
        for k in range(rng.randint(*_TIER_CONTACTS[account.tier])):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            local = f"{first}.{last}".lower().replace("'", "").replace("ü", "ue")
            if local in taken:
                local = f"{local}{k}"
            taken.add(local)
            contact_rows.append(
                (
                    contact_id,
                    f"{first} {last}",
                    f"{local}@{domain}",
                    account.id,
                    None,
                    "",
                    "",
                    k == 0,
                    row[10] + timedelta(days=k),
                )
            )
            account.contact_ids.append(contact_id)
            contact_id += 1
    copy_rows(
        Contact._meta.db_table,
        [
            "id",
            "name",
            "email",
            "account_id",
            "user_id",
            "title",
            "phone",
            "is_account_admin",
            "created_at",
        ],
        contact_rows,
    )
    reset_sequence(Contact._meta.db_table)
    if progress:
        progress("contacts", len(contact_rows))

    # One portal login: the first contact of the first enterprise account.
    showcase = (
        next((a for a in seeded if a.tier == Tier.ENTERPRISE and a.stage != "churned"), seeded[0])
        if seeded
        else None
    )
    if showcase:
        contact = Contact.objects.get(pk=showcase.contact_ids[0])
        domain = contact.email.split("@", 1)[1]
        contact.email = f"{DEMO_CUSTOMER_EMAIL_LOCAL}@{domain}"
        contact.name = "Pat Customer"
        user = User.objects.create_user(
            email=contact.email, full_name=contact.name, role=Role.CUSTOMER
        )
        user.password = password
        user.save(update_fields=["password"])
        contact.user = user
        contact.save(update_fields=["email", "name", "user"])

    return CrmWorld(
        accounts=seeded,
        agent_ids=[a.pk for a in agents],
        csm_ids=[c.pk for c in csms],
        support_team_ids=[t.pk for t in support_teams],
        onboarding_team_id=onboarding.pk,
        success_team_id=success.pk,
    )


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, email, password) of each demo login that exists."""
    rows = []
    for email, _, role in DEMO_LOGINS:
        if User.objects.filter(email=email).exists():
            rows.append((Role(role).label, email, DEMO_PASSWORD))
    customer = User.objects.filter(
        role=Role.CUSTOMER, email__startswith=DEMO_CUSTOMER_EMAIL_LOCAL + "@"
    ).first()
    if customer:
        rows.append((Role.CUSTOMER.label, customer.email, DEMO_PASSWORD))
    return rows
