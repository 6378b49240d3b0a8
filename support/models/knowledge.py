"""The knowledge base: categories hold sections, sections hold articles.

Published public articles make the help centre at /help/; internal ones are for staff only.
An article's slug is unique across the whole help centre, so `/help/<category>/<article>/`
names exactly one article whatever section it moves to.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

__all__ = [
    "Article",
    "ArticleStatus",
    "ArticleVisibility",
    "ArticleVote",
    "Category",
    "Section",
    "TicketArticleLink",
]

TITLE_MAX_LENGTH = 200


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class ArticleVisibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal (staff only)"


class Category(models.Model):
    """A top-level area of the help centre ("Account & billing"), shown on /help/."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    description = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("help:category", args=[self.slug])


class Section(models.Model):
    """A group of articles inside a category ("Invoices"), listed on the category page."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "slug"], name="kb_section_slug_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category} / {self.name}"


class Article(models.Model):
    """One help article: Markdown written by staff, shown as sanitised HTML.

    `body_html` and `search_vector` are derived from the text by `article_save` (never typed);
    `views` is moved here in batches from Redis by `article_views_flush`.
    """

    section = models.ForeignKey(Section, on_delete=models.PROTECT, related_name="articles")
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    slug = models.SlugField(max_length=TITLE_MAX_LENGTH, unique=True)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    visibility = models.CharField(
        max_length=10, choices=ArticleVisibility.choices, default=ArticleVisibility.PUBLIC
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_articles",
        help_text="The owner: stale articles are listed for them.",
    )
    last_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_articles",
        db_index=False,
    )
    review_due = models.DateField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    related = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="related_from"
    )
    views = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Title at weight A, body at weight B, in settings.CX_SEARCH_CONFIG; set by the service.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["section", "title"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="kb_article_title_not_empty"),
            models.CheckConstraint(
                condition=Q(published_at__isnull=False) | ~Q(status=ArticleStatus.PUBLISHED),
                name="kb_article_published_has_date",
            ),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="kb_article_search"),
            # A section page lists its live articles by title.
            models.Index(
                fields=["section", "title"],
                name="kb_article_section_live",
                condition=Q(status=ArticleStatus.PUBLISHED),
            ),
            # "Stale: review due" for an owner.
            models.Index(
                fields=["author", "review_due"],
                name="kb_article_review_due",
                condition=Q(status=ArticleStatus.PUBLISHED, review_due__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_public(self) -> bool:
        return (
            self.status == ArticleStatus.PUBLISHED and self.visibility == ArticleVisibility.PUBLIC
        )

    @property
    def is_stale(self) -> bool:
        return (
            self.status == ArticleStatus.PUBLISHED
            and self.review_due is not None
            and self.review_due < timezone.localdate()
        )

    def get_absolute_url(self) -> str:
        """The public URL (needs `section__category` loaded)."""
        return reverse("help:article", args=[self.section.category.slug, self.slug])


class ArticleVote(models.Model):
    """One visitor's "Was this helpful?" answer; voting again replaces it.

    `voter_key` is `user:<id>` for signed-in people, else `visitor:<cookie id>`.
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    voter_key = models.CharField(max_length=64)
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "voter_key"], name="kb_vote_one_per_voter"),
        ]

    def __str__(self) -> str:
        return f"{self.voter_key} on {self.article_id}: {'yes' if self.helpful else 'no'}"


class TicketArticleLink(models.Model):
    """An agent's note that an article answers a ticket (solved ones count as usefulness)."""

    ticket = models.ForeignKey(
        "support.Ticket", on_delete=models.CASCADE, related_name="article_links", db_index=False
    )
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="ticket_links")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Also the index for "a ticket's links" (leading column).
            models.UniqueConstraint(fields=["ticket", "article"], name="kb_link_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} → {self.article_id}"
