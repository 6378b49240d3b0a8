from django.urls import path

from .views import knowledge, portal, queue, ticket

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
    # The knowledge base for staff (support/views/knowledge.py; the public side is /help/)
    path("kb/", knowledge.kb_list, name="kb"),
    path("kb/<slug:article_slug>/", knowledge.kb_article, name="kb-article"),
    path("tickets/<int:number>/articles/", knowledge.ticket_articles, name="ticket-articles"),
    path(
        "tickets/<int:number>/articles/search/",
        knowledge.ticket_articles_search,
        name="ticket-articles-search",
    ),
    path(
        "tickets/<int:number>/articles/link/",
        knowledge.ticket_article_link,
        name="ticket-article-link",
    ),
    path(
        "tickets/<int:number>/articles/<int:article_id>/unlink/",
        knowledge.ticket_article_unlink,
        name="ticket-article-unlink",
    ),
    # The customer portal (support/views/portal.py; the channels issue builds it out)
    path("portal/", portal.portal_home, name="portal-home"),
    path("portal/sign-in/", portal.sign_in, name="portal-sign-in"),
    path("portal/sign-in/password/", portal.sign_in_password, name="portal-sign-in-password"),
    path("portal/sign-in/<str:token>/", portal.sign_in_link, name="portal-sign-in-link"),
    path("portal/sign-out/", portal.sign_out, name="portal-sign-out"),
    path("portal/password/", portal.password_set, name="portal-password"),
    path("portal/tickets/new/", portal.portal_ticket_new, name="portal-ticket-new"),
    path("portal/tickets/<int:number>/", portal.portal_ticket_detail, name="portal-ticket"),
    path(
        "portal/tickets/<int:number>/reply/", portal.portal_ticket_reply, name="portal-ticket-reply"
    ),
    path("portal/attachments/<int:pk>/", portal.portal_attachment, name="portal-attachment"),
    path("portal/suggestions/", portal.portal_suggestions, name="portal-suggestions"),
    path(
        "portal/suggestions/<int:article_id>/",
        portal.portal_suggestion_open,
        name="portal-suggestion-open",
    ),
]
