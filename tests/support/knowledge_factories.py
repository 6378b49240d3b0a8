"""Builders for knowledge-base tests: articles go through `article_save` so that their
rendered body and search vector are the real ones."""

from __future__ import annotations

import itertools

from support.models import Article, ArticleStatus, ArticleVisibility, Category, Section
from support.services.knowledge import article_publish, article_save

_n = itertools.count(1)


def make_category(name: str = "", **fields) -> Category:
    n = next(_n)
    name = name or f"Category {n}"
    fields.setdefault("slug", f"category-{n}")
    return Category.objects.create(name=name, **fields)


def make_section(category: Category | None = None, name: str = "", **fields) -> Section:
    n = next(_n)
    category = category or make_category()
    return Section.objects.create(
        category=category, name=name or f"Section {n}", slug=f"section-{n}", **fields
    )


def make_article(
    title: str = "",
    body: str = "Some helpful text.",
    *,
    section: Section | None = None,
    status: str = ArticleStatus.PUBLISHED,
    visibility: str = ArticleVisibility.PUBLIC,
    author=None,
    **fields,
) -> Article:
    n = next(_n)
    article = article_save(
        section=section or make_section(),
        title=title or f"Article {n}",
        body=body,
        visibility=visibility,
        acting_user=author,
        **fields,
    )
    if status == ArticleStatus.PUBLISHED:
        article_publish(article=article, acting_user=author)
    elif status == ArticleStatus.ARCHIVED:
        article.status = status
        article.save(update_fields=["status"])
    return article
