"""Admin for the knowledge base: where staff write, publish and review articles.

Saving goes through `article_save` (render, sanitise, index); a status change through
`article_publish` / `article_archive`.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Article, ArticleStatus, ArticleVote, Category, Section
from .services import knowledge as services


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Section)
class SectionAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "slug", "position"]
    list_filter = ["category"]
    list_select_related = ["category"]
    search_fields = ["name", "category__name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "section",
        "status",
        "visibility",
        "author",
        "review_due",
        "views",
        "updated_at",
    ]
    list_filter = ["status", "visibility", "section__category", "review_due"]
    list_select_related = ["section__category", "author"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["section", "related", "author"]
    readonly_fields = ["views", "published_at", "last_reviewer", "created_at", "updated_at"]
    fields = [
        "section",
        "title",
        "slug",
        "body",
        "status",
        "visibility",
        "tags",
        "author",
        "review_due",
        "related",
        *readonly_fields,
    ]
    actions = ["publish", "archive"]

    def save_model(self, request: HttpRequest, obj: Article, form, change: bool) -> None:
        data = form.cleaned_data
        status = data["status"]
        # The status changes through the services below (publishing sets its date).
        obj.status = (
            form.initial.get("status", ArticleStatus.DRAFT) if change else ArticleStatus.DRAFT
        )
        services.article_save(
            article=obj,
            section=data["section"],
            title=data["title"],
            body=data["body"],
            slug=data["slug"],
            visibility=data["visibility"],
            tags=data["tags"] or [],
            review_due=data["review_due"],
            acting_user=request.user,
        )
        self._set_status(obj, status, request)

    @staticmethod
    def _set_status(article: Article, status: str, request: HttpRequest) -> None:
        if status == ArticleStatus.PUBLISHED:
            services.article_publish(article=article, acting_user=request.user)
        elif status == ArticleStatus.ARCHIVED:
            services.article_archive(article=article, acting_user=request.user)
        elif article.status != status:
            Article.objects.filter(pk=article.pk).update(status=status)

    @admin.action(description="Publish the selected articles")
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            services.article_publish(article=article, acting_user=request.user)
        messages.success(request, f"{len(queryset)} article(s) published.")

    @admin.action(description="Archive the selected articles")
    def archive(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            services.article_archive(article=article, acting_user=request.user)
        messages.success(request, f"{len(queryset)} article(s) archived.")


@admin.register(ArticleVote)
class ArticleVoteAdmin(admin.ModelAdmin):
    list_display = ["article", "helpful", "comment", "updated_at"]
    list_filter = ["helpful"]
    list_select_related = ["article"]
    search_fields = ["article__title", "comment"]
    readonly_fields = ["article", "voter_key", "helpful", "comment", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
