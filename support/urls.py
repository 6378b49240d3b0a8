from django.urls import path

from .views import portal, queue, ticket

app_name = "support"
urlpatterns = [
    # The queue (support/views/queue.py)
    path("tickets/", queue.queue, name="queue"),
    path("tickets/bulk/", queue.bulk_update, name="tickets-bulk"),
    path("tickets/bulk/undo/", queue.bulk_undo, name="tickets-bulk-undo"),
    path("views/", queue.saved_view_create, name="saved-view-create"),
    path("views/<int:pk>/delete/", queue.saved_view_delete, name="saved-view-delete"),
    # One ticket (support/views/ticket.py)
    path("tickets/new/", ticket.ticket_create, name="ticket-create"),
    path("tickets/<int:number>/", ticket.ticket_detail, name="ticket-detail"),
    path("tickets/<int:number>/reply/", ticket.ticket_reply, name="ticket-reply"),
    path("tickets/<int:number>/properties/", ticket.ticket_update, name="ticket-update"),
    path("tickets/<int:number>/claim/", ticket.ticket_claim, name="ticket-claim"),
    path("tickets/<int:number>/merge/", ticket.ticket_merge, name="ticket-merge"),
    path("tickets/<int:number>/presence/", ticket.ticket_presence, name="ticket-presence"),
    path("tickets/<int:number>/macros/<int:macro_id>/", ticket.macro_preview, name="ticket-macro"),
    path("attachments/<int:pk>/", ticket.attachment_download, name="attachment-download"),
    # The customer portal (support/views/portal.py; the channels issue builds it out)
    path("portal/", portal.portal_home, name="portal-home"),
]
