"""Reads of the knowledge base: help-centre pages, search, suggestions, stale articles.

Search is PostgreSQL full-text search on `Article.search_vector` (title at weight A, body at
weight B, GIN-indexed), ranked by `ts_rank_cd`. Snippets come from `ts_headline` with
private-use sentinels around the matches: the text is HTML-escaped first and only then are
the sentinels turned into `<mark>`, so a snippet never carries markup from the article.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import Count, F, FloatField, Func, Prefetch, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User

from ..choices import Status
from ..models import (
    Article,
    ArticleStatus,
    ArticleVisibility,
    Category,
    Section,
    TicketArticleLink,
)
from . import Page, paginate

SEARCH_PAGE_SIZE = 20
# Longer queries are cut here: nobody types more, and it bounds the tsquery's size.
QUERY_MAX_LENGTH = 200
SUGGEST_MAX_WORDS = 8
SUGGEST_MIN_CHARACTERS = 3
# ts_rank_cd weights for D, C, B, A: a title word counts ten times a body word.
RANK_WEIGHTS = [0.05, 0.1, 0.1, 1.0]
# Solved tickets count toward an article's usefulness (closed ones were solved first).
SOLVED_STATUSES = [Status.SOLVED, Status.CLOSED]

_MARK_START = "\ue000"
_MARK_STOP = "\ue001"
_INLINE_TAG = r"</?(a|b|code|del|em|i|s|span|strong|u)(\s[^>]*)?>"
_WORD = re.compile(r"\w+")

PUBLIC_Q = Q(status=ArticleStatus.PUBLISHED, visibility=ArticleVisibility.PUBLIC)
PUBLISHED_Q = Q(status=ArticleStatus.PUBLISHED)


def _visible_q(*, viewer_is_staff: bool) -> Q:
    """Staff see published internal articles too; everyone else only public ones."""
    return PUBLISHED_Q if viewer_is_staff else PUBLIC_Q


def snippet_html(headline: str | None) -> SafeString:
    """A headline made safe: tags stripped and entities decoded by the SQL, escaped here,
    then the match sentinels become <mark>."""
    text = html.escape(html.unescape(headline or ""))
    return mark_safe(  # escaped on the line above
        text.replace(_MARK_START, "<mark>").replace(_MARK_STOP, "</mark>")
    )


def _regexp_replace(expression: Func | F, pattern: str, replacement: str) -> Func:
    return Func(
        expression,
        Value(pattern),
        Value(replacement),
        Value("g"),
        function="regexp_replace",
        output_field=TextField(),
    )


def _plain_body() -> Func:
    """The article's rendered body without tags (what a reader sees, not Markdown syntax):
    inline tags vanish, block tags become spaces."""
    inline_gone = _regexp_replace(F("body_html"), _INLINE_TAG, "")
    return _regexp_replace(inline_gone, r"<[^>]*>", " ")


def _headline(query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        _plain_body(),
        query,
        config=settings.CX_SEARCH_CONFIG,
        start_sel=_MARK_START,
        stop_sel=_MARK_STOP,
        max_words=35,
        min_words=15,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def _rank(query: SearchQuery) -> Cast:
    # As double precision: a real's text form is rounded, and the page cursor must carry
    # the exact value it compares against.
    return Cast(
        SearchRank(F("search_vector"), query, weights=RANK_WEIGHTS, cover_density=True),
        FloatField(),
    )


def _with_snippets(articles: Iterable[Article]) -> list[Article]:
    rows = list(articles)
    for article in rows:
        article.snippet = snippet_html(getattr(article, "headline", ""))
    return rows


def _article_rows() -> QuerySet[Article]:
    return Article.objects.select_related("section__category").defer(
        "body", "body_html", "search_vector"
    )


# --- search -----------------------------------------------------------------------------


def clean_query(query: str | None) -> str:
    """The query trimmed to QUERY_MAX_LENGTH, cut between words."""
    text = " ".join((query or "").split())
    if len(text) > QUERY_MAX_LENGTH:
        text = text[: QUERY_MAX_LENGTH + 1].rsplit(" ", 1)[0][:QUERY_MAX_LENGTH]
    return text


def article_search(
    *, query: str, viewer_is_staff: bool, cursor: str | None = None, size: int = SEARCH_PAGE_SIZE
) -> Page:
    """One page of articles matching `query` (websearch syntax: "quoted phrase", -word, or),
    best first, each with `.snippet`. An empty query matches nothing.

    Raises `support.selectors.BadCursor` for a damaged cursor.
    """
    text = clean_query(query)
    if not text:
        return Page(rows=[], next_cursor=None, sort="rank")
    search_query = SearchQuery(text, search_type="websearch", config=settings.CX_SEARCH_CONFIG)
    candidates = (
        Article.objects.filter(_visible_q(viewer_is_staff=viewer_is_staff))
        .filter(search_vector=search_query)
        .annotate(rank=_rank(search_query))
    )
    rows_from = _article_rows().annotate(rank=_rank(search_query), headline=_headline(search_query))
    page = paginate(
        candidates,
        columns=("rank",),
        descending=True,
        cursor=cursor,
        size=size,
        sort="rank",
        rows_from=rows_from,
    )
    page.rows = _with_snippets(page.rows)
    return page


def _suggest_query(text: str) -> SearchQuery | None:
    """Any of the words typed so far, the last one as a prefix (it may be half-typed)."""
    words = [w for w in _WORD.findall(text.lower()) if "_" not in w][:SUGGEST_MAX_WORDS]
    if not words:
        return None
    terms = [f"'{w}'" for w in words[:-1]] + [f"'{words[-1]}':*"]
    return SearchQuery(" | ".join(terms), search_type="raw", config=settings.CX_SEARCH_CONFIG)


def articles_suggested(*, text: str, limit: int = 5, public_only: bool = True) -> list[Article]:
    """Published articles that may answer `text` (a ticket subject being typed), best first,
    each with `.snippet` (safe HTML) and `section.category` loaded for its URL.

    One query. With `public_only` (the portal, the help centre) internal articles are left out.
    """
    text = clean_query(text)
    if len(text) < SUGGEST_MIN_CHARACTERS or limit < 1:
        return []
    search_query = _suggest_query(text)
    if search_query is None:
        return []
    visible = PUBLIC_Q if public_only else PUBLISHED_Q
    rows = (
        _article_rows()
        .filter(visible, search_vector=search_query)
        .annotate(rank=_rank(search_query), headline=_headline(search_query))
        .order_by("-rank", "-pk")[:limit]
    )
    return _with_snippets(rows)


# --- the help centre --------------------------------------------------------------------


def help_categories() -> list[Category]:
    """Categories that have at least one public article, each with `.article_count`."""
    return list(
        Category.objects.annotate(
            article_count=Count(
                "sections__articles",
                filter=Q(
                    sections__articles__status=ArticleStatus.PUBLISHED,
                    sections__articles__visibility=ArticleVisibility.PUBLIC,
                ),
            )
        )
        .filter(article_count__gt=0)
        .order_by("position", "name")
    )


def help_category(*, slug: str) -> Category | None:
    """The category with its sections and their public articles (prefetched), or None."""
    articles = (
        Article.objects.filter(PUBLIC_Q)
        .only("id", "title", "slug", "section_id", "updated_at")
        .order_by("title")
    )
    sections = Section.objects.prefetch_related(
        Prefetch("articles", queryset=articles, to_attr="public_articles")
    ).order_by("position", "name")
    return (
        Category.objects.prefetch_related(Prefetch("sections", queryset=sections))
        .filter(slug=slug)
        .first()
    )


def help_article(*, slug: str, viewer_is_staff: bool = False) -> Article | None:
    """A visible article by slug with its section, category and visible related articles."""
    visible = _visible_q(viewer_is_staff=viewer_is_staff)
    related = (
        Article.objects.filter(visible)
        .select_related("section__category")
        .only("id", "title", "slug", "section__id", "section__category__slug")
        .order_by("title")
    )
    return (
        Article.objects.filter(visible, slug=slug)
        .select_related("section__category")
        .prefetch_related(Prefetch("related", queryset=related, to_attr="visible_related"))
        .first()
    )


# --- staff ------------------------------------------------------------------------------


def articles_for_staff() -> QuerySet[Article]:
    """Published articles, newest change first, with their usefulness (solved linked tickets)."""
    return (
        _article_rows()
        .select_related("author")
        .filter(PUBLISHED_Q)
        .annotate(usefulness=_usefulness())
        .order_by("-updated_at", "-pk")
    )


def articles_stale(*, owner: User, today: date | None = None) -> QuerySet[Article]:
    """The owner's published articles whose review is due (oldest due first)."""
    today = today or timezone.localdate()
    return (
        _article_rows()
        .filter(PUBLISHED_Q, author=owner, review_due__lt=today)
        .order_by("review_due", "pk")
    )


def _usefulness() -> Count:
    return Count(
        "ticket_links",
        filter=Q(ticket_links__ticket__status__in=SOLVED_STATUSES),
        distinct=True,
    )


def article_usefulness(*, article_ids: Iterable[int]) -> dict[int, int]:
    """Number of solved tickets linked to each article (one query)."""
    ids = list(article_ids)
    counts = dict.fromkeys(ids, 0)
    rows = (
        TicketArticleLink.objects.filter(article_id__in=ids, ticket__status__in=SOLVED_STATUSES)
        .values("article_id")
        .annotate(n=Count("ticket_id", distinct=True))
    )
    for row in rows:
        counts[row["article_id"]] = row["n"]
    return counts


def ticket_article_links(*, ticket_id: int) -> list[TicketArticleLink]:
    """A ticket's linked articles, oldest link first, ready for their URLs."""
    return list(
        TicketArticleLink.objects.filter(ticket_id=ticket_id)
        .select_related("article__section__category", "linked_by")
        .defer("article__body", "article__body_html", "article__search_vector")
        .order_by("created_at", "id")
    )
