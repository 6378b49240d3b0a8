"""Every write to the knowledge base: articles, votes, ticket links and view counts.

`article_save` is the one place an article's derived columns are made: `body_html` (Markdown
rendered and sanitised by support.rendering) and `search_vector` (title at weight A, body at
weight B, in settings.CX_SEARCH_CONFIG).

Page views are not written per view: each view is a HINCRBY on a Redis hash, and
`article_views_flush` (Celery beat) moves the counts to the table in one statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

import redis
from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User

from ..choices import EventKind
from ..models import (
    Article,
    ArticleStatus,
    ArticleVisibility,
    ArticleVote,
    Section,
    Ticket,
    TicketArticleLink,
    TicketEvent,
)
from ..models.knowledge import TITLE_MAX_LENGTH
from ..rendering import render_markdown
from . import clean_tags

BODY_MAX_LENGTH = 200_000
COMMENT_MAX_LENGTH = 2000
VOTER_KEY_MAX_LENGTH = 64
# The selectors mark search matches with these; they have no business in an article.
_SENTINELS = re.compile("[\ue000\ue001]")
_SLUG = re.compile(r"^[-a-z0-9]+$")

VIEWS_KEY = "cx:kb:views"
VIEWS_FLUSHING_KEY = "cx:kb:views:flushing"
VIEWS_LOCK_KEY = "cx:kb:views:flush-lock"
VIEWS_LOCK_SECONDS = 60


class KnowledgeError(Exception):
    """A change the rules refuse; `str()` is the message to show the person."""


# --- articles ---------------------------------------------------------------------------


def _unique_slug(base: str, *, exclude_pk: int | None) -> str:
    base = base[: TITLE_MAX_LENGTH - 4].strip("-") or "article"
    taken = set(
        Article.objects.filter(slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _clean_slug(slug: str, *, title: str, exclude_pk: int | None) -> str:
    slug = slug.strip().lower()
    if not slug:
        return _unique_slug(slugify(title), exclude_pk=exclude_pk)
    if len(slug) > TITLE_MAX_LENGTH or not _SLUG.match(slug):
        raise ValidationError(
            {"slug": "Use lower-case letters, digits and hyphens only (it becomes the URL)."}
        )
    if Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        raise ValidationError({"slug": f"Another article already uses the address “{slug}”."})
    return slug


def _index(article_ids: Iterable[int]) -> None:
    """Rewrite the search vector of these articles from their stored title and body."""
    config = settings.CX_SEARCH_CONFIG
    Article.objects.filter(pk__in=list(article_ids)).update(
        search_vector=SearchVector("title", weight="A", config=config)
        + SearchVector("body", weight="B", config=config)
    )


@transaction.atomic
def article_save(
    *,
    section: Section,
    title: str,
    body: str,
    acting_user: User | None,
    article: Article | None = None,
    slug: str = "",
    visibility: str = ArticleVisibility.PUBLIC,
    tags: Iterable[str] = (),
    review_due: date | None = None,
    related: Iterable[Article] | None = None,
) -> Article:
    """Create an article (a draft) or update `article`: validate, render, index.

    `article` may be an unsaved instance (the admin's). An empty `slug` is made from the
    title (kept unique with -2, -3…). The acting user becomes the author of a new article
    that has none, and the last reviewer of an edited one.
    """
    title = " ".join(title.split())
    body = _SENTINELS.sub("", body.strip())
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give the article a title."
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = f"Titles are limited to {TITLE_MAX_LENGTH} characters."
    if not body:
        errors["body"] = "Write the article's text."
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = f"Articles are limited to {BODY_MAX_LENGTH:,} characters."
    if visibility not in ArticleVisibility.values:
        errors["visibility"] = "Choose public or internal."
    if errors:
        raise ValidationError(errors)
    pk = article.pk if article is not None else None
    slug = _clean_slug(slug, title=title, exclude_pk=pk)
    now = timezone.now()
    if article is None:
        article = Article()
    if article.pk is None:
        article.author = article.author or acting_user
        article.created_at = now
    elif acting_user is not None:
        article.last_reviewer = acting_user
    article.section = section
    article.title = title
    article.slug = slug
    article.body = body
    article.body_html = render_markdown(body)
    article.visibility = visibility
    article.tags = clean_tags(tags)
    article.review_due = review_due
    article.updated_at = now
    article.save()
    if related is not None:
        article.related.set([a for a in related if a.pk != article.pk])
    _index([article.pk])
    return article


@transaction.atomic
def article_publish(*, article: Article, acting_user: User | None) -> Article:
    """Make the article live (its first publication date is kept on re-publishing)."""
    now = timezone.now()
    article.status = ArticleStatus.PUBLISHED
    article.published_at = article.published_at or now
    article.updated_at = now
    article.save(update_fields=["status", "published_at", "updated_at"])
    return article


@transaction.atomic
def article_archive(*, article: Article, acting_user: User | None) -> Article:
    """Take the article off the help centre and out of search; links to it stay."""
    article.status = ArticleStatus.ARCHIVED
    article.updated_at = timezone.now()
    article.save(update_fields=["status", "updated_at"])
    return article


def articles_reindex() -> int:
    """Rebuild every article's search vector (after changing CX_SEARCH_CONFIG)."""
    ids = list(Article.objects.values_list("pk", flat=True))
    _index(ids)
    return len(ids)


# --- feedback ---------------------------------------------------------------------------


def voter_key_for(*, user_id: int | None, visitor_id: str | None) -> str:
    """`user:<id>` for a signed-in person, else `visitor:<cookie id>`."""
    if user_id is not None:
        return f"user:{user_id}"
    if not visitor_id:
        raise KnowledgeError("We could not tell who is voting; allow cookies and try again.")
    return f"visitor:{visitor_id}"[:VOTER_KEY_MAX_LENGTH]


@transaction.atomic
def article_vote(
    *, article: Article, voter_key: str, helpful: bool, comment: str = ""
) -> ArticleVote:
    """Record a "Was this helpful?" answer; the same voter voting again replaces it.

    One INSERT ... ON CONFLICT DO UPDATE, so two quick clicks cannot make two votes.
    """
    if article.status != ArticleStatus.PUBLISHED:
        raise KnowledgeError("This article is not published any more.")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            {"comment": f"Comments are limited to {COMMENT_MAX_LENGTH:,} characters."}
        )
    if not voter_key or len(voter_key) > VOTER_KEY_MAX_LENGTH:
        raise KnowledgeError("We could not tell who is voting; allow cookies and try again.")
    now = timezone.now()
    ArticleVote.objects.bulk_create(
        [
            ArticleVote(
                article=article,
                voter_key=voter_key,
                helpful=helpful,
                comment=comment,
                created_at=now,
                updated_at=now,
            )
        ],
        update_conflicts=True,
        unique_fields=["article", "voter_key"],
        update_fields=["helpful", "comment", "updated_at"],
    )
    return ArticleVote.objects.get(article=article, voter_key=voter_key)


# --- tickets ----------------------------------------------------------------------------


# Linking and unlinking show in the ticket's history as a change of its "article" field:
# linked, new_value is the article's id; unlinked, old_value is. The ticket's version is
# not bumped: a link changes no property an agent edits, so it never makes a reply stale.


def _article_event(ticket: Ticket, acting_user: User | None, *, old: str, new: str) -> None:
    TicketEvent.objects.create(
        ticket=ticket,
        kind=EventKind.CHANGED,
        actor=acting_user,
        field="article",
        old_value=old,
        new_value=new,
    )


@transaction.atomic
def ticket_article_link(
    *, ticket: Ticket, article: Article, acting_user: User | None
) -> TicketArticleLink:
    """Link an article to a ticket (linking twice keeps the first link, and its one event)."""
    if article.status != ArticleStatus.PUBLISHED:
        raise KnowledgeError("Only published articles can be linked to a ticket.")
    # get_or_create retries the read after losing a race on the unique (ticket, article).
    link, created = TicketArticleLink.objects.get_or_create(
        ticket=ticket, article=article, defaults={"linked_by": acting_user}
    )
    if created:
        _article_event(ticket, acting_user, old="", new=str(article.pk))
    return link


@transaction.atomic
def ticket_article_unlink(*, ticket: Ticket, article_id: int, acting_user: User | None) -> bool:
    """Remove the link; False when there was none (already removed: no event)."""
    deleted, _ = TicketArticleLink.objects.filter(ticket=ticket, article_id=article_id).delete()
    if deleted:
        _article_event(ticket, acting_user, old=str(article_id), new="")
    return bool(deleted)


# --- view counts ------------------------------------------------------------------------

_client: redis.Redis | None = None
_client_url: str | None = None


def _redis() -> redis.Redis:
    global _client, _client_url
    if _client is None or _client_url != settings.REDIS_URL:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        _client_url = settings.REDIS_URL
    return _client


def article_view_record(*, article_id: int) -> None:
    """Count one page view in Redis (no database write). A Redis outage loses the count,
    never the page."""
    try:
        _redis().hincrby(VIEWS_KEY, str(article_id), 1)
    except redis.RedisError:
        pass


def article_views_flush() -> int:
    """Move the counted views from Redis to `Article.views`; the number of articles updated.

    Safe to run twice, also at once: a Redis lock admits one run; the run renames the
    counting hash away (new views start a fresh one), adds its counts in one
    UPDATE ... FROM (VALUES ...) and deletes the renamed hash after the commit. A batch left
    behind by a crashed run is flushed first by the next run.
    """
    client = _redis()
    if not client.set(VIEWS_LOCK_KEY, "1", nx=True, ex=VIEWS_LOCK_SECONDS):
        return 0
    try:
        if not client.exists(VIEWS_FLUSHING_KEY):
            try:
                client.rename(VIEWS_KEY, VIEWS_FLUSHING_KEY)
            except redis.ResponseError:  # no views counted since the last flush
                return 0
        counts = [
            (int(key), int(value))
            for key, value in client.hgetall(VIEWS_FLUSHING_KEY).items()
            if key.isdigit() and int(value) > 0
        ]
        updated = 0
        if counts:
            values = ", ".join(["(%s, %s)"] * len(counts))
            params = [n for pair in counts for n in pair]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    UPDATE support_article AS a SET views = a.views + v.n
                    FROM (VALUES {values}) AS v(id, n)
                    WHERE a.id = v.id
                    """,
                    params,
                )
                updated = cursor.rowcount
        client.delete(VIEWS_FLUSHING_KEY)
        return updated
    finally:
        client.delete(VIEWS_LOCK_KEY)
