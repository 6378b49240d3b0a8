"""/api/v1/kb/articles/: the knowledge base's articles.

Who may read: everyone signed in (scope `tickets:read`). Customers see published public
articles only; staff see every article (drafts and archived ones too, so that they can edit
them through the API; `status` filters). Who may write: staff (scope `tickets:write`),
through support.services.knowledge (the same rules, Markdown rendering and search indexing
as the admin). `body_html` is the rendered, nh3-sanitised body (read-only).
"""

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from accounts.api.pagination import UpdatedSinceFilterSet
from accounts.api.serializers import AllowedChoiceField, StrictModelSerializer
from accounts.api.viewsets import ApiModelViewSet
from accounts.choices import STAFF_ROLES, Role
from accounts.models import ApiScope
from accounts.permissions import STAFF

from ..models.knowledge import Article, ArticleStatus, ArticleVisibility, Section
from ..selectors.knowledge import PUBLIC_Q
from ..services import knowledge as kb

ALL_ROLES = (*STAFF, Role.CUSTOMER)


class ArticleSerializer(StrictModelSerializer):
    section = serializers.PrimaryKeyRelatedField(
        queryset=Section.objects.select_related("category"),
        help_text="The id of the section (within a category) the article is filed under.",
    )
    category = serializers.SlugRelatedField(
        source="section.category", slug_field="slug", read_only=True
    )
    slug = serializers.SlugField(
        required=False, allow_blank=True, help_text="Empty: made from the title."
    )
    body = serializers.CharField(help_text="Markdown.")
    body_html = serializers.CharField(read_only=True, help_text="The rendered, sanitised body.")
    status = AllowedChoiceField(
        choices=ArticleStatus.choices,
        required=False,
        help_text="New articles are drafts unless `published` is given.",
    )
    visibility = AllowedChoiceField(choices=ArticleVisibility.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )

    class Meta:
        model = Article
        fields = [
            "id",
            "title",
            "slug",
            "body",
            "body_html",
            "status",
            "visibility",
            "section",
            "category",
            "tags",
            "created_at",
            "updated_at",
            "published_at",
        ]
        read_only_fields = ["created_at", "updated_at", "published_at"]


class ArticleFilter(UpdatedSinceFilterSet):
    status = filters.ChoiceFilter(choices=ArticleStatus.choices)
    visibility = filters.ChoiceFilter(choices=ArticleVisibility.choices)
    section = filters.NumberFilter(field_name="section_id")
    category = filters.CharFilter(field_name="section__category__slug")

    class Meta:
        model = Article
        fields = ["status", "visibility", "section", "category", "updated_since"]


@extend_schema_view(
    list=extend_schema(summary="List knowledge-base articles"),
    create=extend_schema(summary="Write an article"),
    retrieve=extend_schema(summary="Get an article"),
    partial_update=extend_schema(summary="Change some of an article's fields"),
    update=extend_schema(summary="Replace an article"),
)
class ArticleViewSet(ApiModelViewSet):
    """Knowledge-base articles (Markdown in `body`, sanitised HTML in `body_html`)."""

    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    read_scope = ApiScope.TICKETS_READ
    write_scope = ApiScope.TICKETS_WRITE
    read_roles = ALL_ROLES
    write_roles = STAFF
    write_role_message = "Only staff may write articles."
    cursor_ordering = ("-updated_at", "-id")

    def get_queryset(self) -> QuerySet[Article]:
        articles = Article.objects.select_related("section__category")
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or user.role not in STAFF_ROLES:
            return articles.filter(PUBLIC_Q)
        return articles

    def _save(self, serializer, article: Article | None) -> None:
        data = dict(serializer.validated_data)
        status = data.pop("status", None)
        if status == ArticleStatus.DRAFT and article is not None and article.status != status:
            raise serializers.ValidationError(
                {"status": ["A published or archived article cannot go back to draft."]}
            )
        if article is not None:  # a partial update keeps what it does not name
            for name in ("section", "title", "body", "slug", "visibility", "tags"):
                data.setdefault(name, getattr(article, name))
        article = kb.article_save(acting_user=self.request.user, article=article, **data)
        if status == ArticleStatus.PUBLISHED and article.status != status:
            article = kb.article_publish(article=article, acting_user=self.request.user)
        elif status == ArticleStatus.ARCHIVED and article.status != status:
            article = kb.article_archive(article=article, acting_user=self.request.user)
        serializer.instance = Article.objects.select_related("section__category").get(pk=article.pk)

    def perform_create(self, serializer) -> None:
        self._save(serializer, None)

    def perform_update(self, serializer) -> None:
        self._save(serializer, serializer.instance)
