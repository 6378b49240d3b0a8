"""Create, list and revoke API tokens from the command line.

manage.py api_token create --user EMAIL --name NAME --scopes accounts:read,tickets:read
manage.py api_token list [--user EMAIL]
manage.py api_token revoke PREFIX
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ApiScope, ApiToken, User
from accounts.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Create (printing the token once), list or revoke API tokens."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token and print it once.")
        create.add_argument("--user", required=True, help="The email of the user it acts as.")
        create.add_argument("--name", required=True, help="What uses it.")
        create.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, from: {', '.join(ApiScope.values)}.",
        )
        create.add_argument(
            "--expires-in-days", type=int, default=None, help="Default: never expires."
        )
        listing = actions.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("--user", help="Only this user's tokens.")
        revoke = actions.add_parser("revoke", help="Revoke a token by its prefix.")
        revoke.add_argument("prefix", help="The 8 characters after cx_ (see `list`).")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _user(self, email: str) -> User:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user has the email {email}.")
        return user

    def _create(self, *, user: str, name: str, scopes: str, expires_in_days, **_) -> None:
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be 1 or more.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        try:
            api_token, secret = api_token_create(
                user=self._user(user), name=name, scopes=wanted, expires_at=expires_at
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(
            f"Created token {api_token.name!r} for {api_token.user.email} "
            f"({', '.join(api_token.scopes)}). It is shown only now:"
        )
        self.stdout.write(secret)

    def _list(self, *, user: str | None = None, **_) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__email", "-created_at")
        if user:
            tokens = tokens.filter(user=self._user(user))
        now = timezone.now()
        for token in tokens:
            state = (
                "revoked"
                if token.revoked_at
                else "expired"
                if not token.is_usable(now)
                else "active"
            )
            last_used = (
                token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
            )
            self.stdout.write(
                f"{token.prefix}  {state:<8} {token.user.email}  {token.name!r}  "
                f"scopes={','.join(token.scopes)}  last_used={last_used}"
            )

    def _revoke(self, *, prefix: str, **_) -> None:
        prefix = prefix.removeprefix("cx_").split("_", 1)[0]
        api_token = ApiToken.objects.filter(prefix=prefix).first()
        if api_token is None:
            raise CommandError(f"No token has the prefix {prefix}.")
        if api_token_revoke(api_token=api_token):
            self.stdout.write(f"Revoked {prefix} ({api_token.name!r}, {api_token.user.email}).")
        else:
            self.stdout.write(f"{prefix} was already revoked.")
