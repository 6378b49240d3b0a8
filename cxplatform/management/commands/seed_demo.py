"""Load deterministic demo data: the CRM core, then each app's data on top of it."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from accounts.models import Account
from accounts.seed import demo_logins, seed_crm
from success.seed import seed_plan_templates, seed_success, seed_success_history
from success.seed_surveys import seed_nps_campaigns
from support.models import UNSOLVED_Q, Ticket
from support.seed import seed_sla_clocks, seed_sla_policies, seed_support
from support.seed_knowledge import seed_knowledge

# Tables emptied by --reset, children first (TRUNCATE ... CASCADE covers the rest).
_RESET_TABLES = [
    "support_ticket",
    "support_macro",
    "support_savedview",
    "support_agentstatus",
    "support_teamassignment",
    "accounts_contact",
    "accounts_account",
    "accounts_user_teams",
    "accounts_team",
    "accounts_user",
    "django_session",
]


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Load demo data once (deterministic for a seed). Scale with --accounts/--tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=_positive, default=40)
        parser.add_argument("--tickets", type=_positive, default=3000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--reset", action="store_true", help="Delete all CRM and support data first, then load."
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Load only into an empty database (the default behaviour).",
        )
        parser.add_argument(
            "--print-logins", action="store_true", help="Only print the demo logins."
        )

    def handle(
        self,
        *args,
        accounts: int,
        tickets: int,
        seed: int,
        reset: bool,
        print_logins: bool,
        **options,
    ) -> None:
        if print_logins:
            self._print_logins()
            return
        if tickets and not accounts:
            raise CommandError("--tickets needs at least one account (--accounts 1 or more).")
        if Account.objects.exists() and not reset:
            self.stdout.write(
                f"Demo data already present ({Account.objects.count():,} accounts, "
                f"{Ticket.objects.count():,} tickets): nothing to do. "
                "Use --reset to replace it."
            )
            self._print_logins()
            return

        started = time.monotonic()
        show = self.stdout.isatty() or options.get("verbosity", 1) > 1
        with transaction.atomic():
            if reset:
                with connection.cursor() as cursor:
                    # Deferred foreign-key checks still queued in this transaction would
                    # block TRUNCATE; run them now.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("TRUNCATE " + ", ".join(_RESET_TABLES) + " CASCADE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            self.stdout.write(
                f"Seeding {accounts:,} accounts and {tickets:,} tickets (seed {seed})…"
            )
            bar = tqdm(total=accounts, desc="accounts", unit=" rows", disable=not show)
            world = seed_crm(
                accounts=accounts, seed=seed, progress=lambda _label, _n: bar.update(0)
            )
            bar.update(accounts)
            bar.close()
            bar = tqdm(
                total=tickets, desc="tickets", unit=" tickets", disable=not show, smoothing=0.1
            )

            def rebuilt(position: int, total: int, name: str) -> None:
                if position == 1:
                    bar.close()
                self.stdout.write(f"  rebuilding index {position}/{total}: {name}")

            counts = seed_support(
                world,
                tickets=tickets,
                seed=seed,
                progress=lambda _label, n: bar.update(n),
                on_rebuild=rebuilt,
            )
            bar.close()
            seed_sla_policies()
            seed_plan_templates()
            seed_success(world, seed=seed)
            bar = tqdm(
                total=2 * len(world.accounts),
                desc="success history",
                unit=" accounts",
                disable=not show,
            )
            history_started = time.monotonic()
            counts |= seed_success_history(
                world, seed=seed, progress=lambda _label, n: bar.update(n)
            )
            bar.close()
            history_seconds = time.monotonic() - history_started
            counts |= seed_nps_campaigns()  # links the NPS answers seeded above
            open_tickets = Ticket.objects.filter(UNSOLVED_Q).count()
            bar = tqdm(total=open_tickets, desc="SLA clocks", unit=" tickets", disable=not show)
            counts |= seed_sla_clocks(progress=lambda _label, n: bar.update(n))
            bar.close()
            counts |= seed_knowledge(world, seed=seed)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {len(world.accounts):,} accounts, {counts['tickets']:,} tickets, "
                f"{counts['messages']:,} messages, {counts['events']:,} events, "
                f"{counts['clocks']:,} SLA clocks, "
                f"{counts['revenue_events']:,} revenue events, {counts['usage']:,} usage rows, "
                f"{counts['health']:,} health snapshots ({history_seconds:.1f}s) "
                f"in {elapsed:.1f}s."
            )
        )
        self._print_logins()

    def _print_logins(self) -> None:
        rows = demo_logins()
        if not rows:
            return
        self.stdout.write("\nDemo logins:")
        width = max(len(email) for _, email, _ in rows)
        for role, email, password in rows:
            self.stdout.write(f"  {role:<26} {email:<{width}}  {password}")
