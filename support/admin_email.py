"""Admin for the email channel: every inbound message, and the quarantine to re-run."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import InboundEmail
from .services.email import inbound_email_reprocess


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    """Read-only: mail arrives through the channel. Quarantined mail (filter by status) is
    inspected here and re-run once the cause is fixed."""

    list_display = ["received_at", "status", "from_address", "subject", "ticket", "attempts"]
    list_filter = ["status", "source", "received_at"]
    search_fields = ["=message_id", "from_address", "subject", "=ticket__id"]
    list_select_related = ["ticket"]
    show_full_result_count = False
    date_hierarchy = "received_at"
    actions = ["rerun"]
    readonly_fields = [
        "message_id",
        "source",
        "size",
        "from_address",
        "subject",
        "received_at",
        "processed_at",
        "status",
        "reason",
        "attempts",
        "ticket",
        "ticket_message",
        "original",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundEmail]:
        # The list never needs the raw bytes (up to 25 MB each).
        queryset = super().get_queryset(request)
        match = request.resolver_match
        listing = match is not None and (match.url_name or "").endswith("changelist")
        return queryset.defer("raw") if listing else queryset

    @admin.display(description="Original message (first 20 000 characters)")
    def original(self, obj: InboundEmail) -> str:
        return bytes(obj.raw[:20_000]).decode("utf-8", errors="replace")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Re-run the selected messages (quarantined or ignored)")
    def rerun(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        outcomes: dict[str, int] = {}
        for pk in queryset.exclude(status=InboundEmail.Status.PROCESSED).values_list(
            "pk", flat=True
        ):
            row = inbound_email_reprocess(inbound_email_id=pk, acting_user=request.user)
            outcomes[row.status] = outcomes.get(row.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items()))
        self.message_user(request, f"Re-run: {summary or 'nothing to re-run'}.", messages.SUCCESS)
