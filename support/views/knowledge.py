"""The knowledge base in the browser.

Public help centre (no sign-in, published public articles only; anything else is a 404):
`/help/`, `/help/<category>/`, `/help/<category>/<article>/`, `/help/search/`, and the
"Was this helpful?" vote. Staff: the KB list (search, stale articles of the signed-in owner),
the staff reading page (internal articles too), and the ticket page's article panel (link,
unlink, insert a link into the composer). Articles are written in the Django admin.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import SUPPORT_STAFF, role_required

from ..models import Article, ArticleStatus, ArticleVote, Ticket
from ..selectors import BadCursor, Page
from ..selectors import knowledge as selectors
from ..services import knowledge as services

VISITOR_COOKIE = "cx_visitor"
VISITOR_COOKIE_MAX_AGE = 365 * 24 * 3600
PANEL_RESULTS = 8


# --- public help centre -----------------------------------------------------------------


def _visitor_id(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(VISITOR_COOKIE, "")
    try:
        return uuid.UUID(value).hex
    except ValueError:
        return None


def _voter_key(request: HttpRequest, visitor_id: str | None) -> str | None:
    user_id = request.user.pk if request.user.is_authenticated else None
    if user_id is None and visitor_id is None:
        return None
    return services.voter_key_for(user_id=user_id, visitor_id=visitor_id)


def _remember_visitor(response: HttpResponse, visitor_id: str) -> HttpResponse:
    response.set_cookie(
        VISITOR_COOKIE,
        visitor_id,
        max_age=VISITOR_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG,
    )
    return response


@require_safe
def help_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "support/knowledge/help_home.html",
        {"categories": selectors.help_categories()},
    )


@require_safe
def help_category(request: HttpRequest, category_slug: str) -> HttpResponse:
    category = selectors.help_category(slug=category_slug)
    if category is None:
        raise Http404("No such help category.")
    sections = [s for s in category.sections.all() if s.public_articles]
    return render(
        request,
        "support/knowledge/help_category.html",
        {"category": category, "sections": sections},
    )


def _article_or_404(category_slug: str, article_slug: str) -> Article:
    article = selectors.help_article(slug=article_slug)
    if article is None:
        raise Http404("No such help article.")
    return article


@require_safe
def help_article(request: HttpRequest, category_slug: str, article_slug: str) -> HttpResponse:
    article = _article_or_404(category_slug, article_slug)
    if article.section.category.slug != category_slug:
        # The article moved to another category: its old links keep working.
        return redirect(article.get_absolute_url(), permanent=True)
    visitor_id = _visitor_id(request)
    vote = None
    voter_key = _voter_key(request, visitor_id)
    if voter_key is not None:
        vote = ArticleVote.objects.filter(article=article, voter_key=voter_key).first()
    response = render(
        request,
        "support/knowledge/help_article.html",
        {"article": article, "vote": vote, "comment": vote.comment if vote else ""},
    )
    services.article_view_record(article_id=article.pk)
    if visitor_id is None and not request.user.is_authenticated:
        _remember_visitor(response, uuid.uuid4().hex)
    return response


@require_POST
def help_article_vote(request: HttpRequest, category_slug: str, article_slug: str) -> HttpResponse:
    article = _article_or_404(category_slug, article_slug)
    answer = request.POST.get("helpful", "")
    comment = request.POST.get("comment", "")
    visitor_id = _visitor_id(request)
    new_visitor = visitor_id is None and not request.user.is_authenticated
    if new_visitor:
        visitor_id = uuid.uuid4().hex
    context = {"article": article, "comment": comment, "vote": None, "feedback_error": ""}
    status = 200
    if answer not in ("yes", "no"):
        context["feedback_error"] = "Choose “Yes” or “No”."
        status = 400
    else:
        try:
            context["vote"] = services.article_vote(
                article=article,
                voter_key=_voter_key(request, visitor_id),
                helpful=answer == "yes",
                comment=comment,
            )
            context["voted_now"] = True
        except ValidationError as error:
            context["feedback_error"] = " ".join(error.messages)
            status = 400
        except services.KnowledgeError as error:
            context["feedback_error"] = str(error)
            status = 400
    template = "support/knowledge/help_article.html"
    if request.htmx:
        template += "#feedback"
    response = render(request, template, context, status=status)
    if new_visitor:
        _remember_visitor(response, visitor_id)
    return response


@require_safe
def help_search(request: HttpRequest) -> HttpResponse:
    query = selectors.clean_query(request.GET.get("q"))
    notice = ""
    try:
        page = selectors.article_search(
            query=query, viewer_is_staff=False, cursor=request.GET.get("cursor") or None
        )
    except BadCursor as error:
        page, notice = Page(rows=[], next_cursor=None, sort="rank"), str(error)
    status = 400 if notice else 200
    return render(
        request,
        "support/knowledge/help_search.html",
        {"query": query, "page": page, "notice": notice},
        status=status,
    )


# --- staff ------------------------------------------------------------------------------


@require_safe
@role_required(*SUPPORT_STAFF)
def kb_list(request: HttpRequest) -> HttpResponse:
    query = selectors.clean_query(request.GET.get("q"))
    notice = ""
    page = None
    if query:
        try:
            page = selectors.article_search(
                query=query, viewer_is_staff=True, cursor=request.GET.get("cursor") or None
            )
        except BadCursor as error:
            notice = str(error)
    context = {
        "query": query,
        "page": page,
        "notice": notice,
        "stale": list(selectors.articles_stale(owner=request.user)[:50]),
        "recent": [] if query else list(selectors.articles_for_staff()[:30]),
    }
    return render(request, "support/knowledge/kb_list.html", context, status=400 if notice else 200)


@require_safe
@role_required(*SUPPORT_STAFF)
def kb_article(request: HttpRequest, article_slug: str) -> HttpResponse:
    article = selectors.help_article(slug=article_slug, viewer_is_staff=True)
    if article is None:
        raise Http404("No such published article.")
    usefulness = selectors.article_usefulness(article_ids=[article.pk])[article.pk]
    return render(
        request,
        "support/knowledge/kb_article.html",
        {"article": article, "usefulness": usefulness},
    )


def _with_markdown_links(articles: list[Article]) -> list[Article]:
    """Each public article gets `.markdown_link`, what "Insert link" puts in the composer."""
    base_url = settings.CX_BASE_URL.rstrip("/")
    for article in articles:
        title = article.title.replace("[", r"\[").replace("]", r"\]")
        article.markdown_link = f"[{title}]({base_url}{article.get_absolute_url()})"
    return articles


def _ticket_or_404(number: int) -> Ticket:
    return get_object_or_404(Ticket.objects.only("id", "status"), pk=number)


def _panel(
    request: HttpRequest, ticket: Ticket, *, notice: str = "", status: int = 200
) -> HttpResponse:
    links = selectors.ticket_article_links(ticket_id=ticket.pk)
    _with_markdown_links([link.article for link in links])
    context = {"ticket": ticket, "links": links, "notice": notice}
    return render(request, "support/knowledge/ticket_panel.html#panel", context, status=status)


@require_safe
@role_required(*SUPPORT_STAFF)
def ticket_articles(request: HttpRequest, number: int) -> HttpResponse:
    return _panel(request, _ticket_or_404(number))


@require_safe
@role_required(*SUPPORT_STAFF)
def ticket_articles_search(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _ticket_or_404(number)
    query = selectors.clean_query(request.GET.get("q"))
    results = selectors.articles_suggested(text=query, limit=PANEL_RESULTS, public_only=False)
    return render(
        request,
        "support/knowledge/ticket_panel.html#results",
        {"ticket": ticket, "query": query, "results": _with_markdown_links(results)},
    )


@require_POST
@role_required(*SUPPORT_STAFF)
def ticket_article_link(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _ticket_or_404(number)
    article_id = request.POST.get("article", "")
    article = (
        Article.objects.filter(pk=article_id, status=ArticleStatus.PUBLISHED).first()
        if article_id.isdigit()
        else None
    )
    if article is None:
        return _panel(request, ticket, notice="That article is not published any more.", status=400)
    services.ticket_article_link(ticket=ticket, article=article, acting_user=request.user)
    return _panel(request, ticket)


@require_POST
@role_required(*SUPPORT_STAFF)
def ticket_article_unlink(request: HttpRequest, number: int, article_id: int) -> HttpResponse:
    ticket = _ticket_or_404(number)
    services.ticket_article_unlink(ticket=ticket, article_id=article_id, acting_user=request.user)
    return _panel(request, ticket)
