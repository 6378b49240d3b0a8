"""/api/v1/kb/articles/: reads by visibility, writes through the knowledge services."""

import pytest

from accounts.choices import Role
from accounts.models import ApiScope
from support.models.knowledge import Article, ArticleStatus, ArticleVisibility
from tests.api_helpers import error_of
from tests.support.knowledge_factories import make_article, make_section

pytestmark = pytest.mark.django_db


ARTICLES = "/api/v1/kb/articles/"
RW = [ApiScope.TICKETS_READ, ApiScope.TICKETS_WRITE]


@pytest.fixture
def articles():
    return {
        "public": make_article("Reset your password"),
        "internal": make_article("Refund playbook", visibility=ArticleVisibility.INTERNAL),
        "draft": make_article("Coming soon", status=ArticleStatus.DRAFT),
    }


def titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["title"] for row in response.json()["results"]}


def test_customer_sees_only_published_public_articles(token_client, make_user, articles):
    api = token_client(make_user(Role.CUSTOMER), [ApiScope.TICKETS_READ])
    assert titles(api.get(ARTICLES)) == {"Reset your password"}
    assert api.get(f"{ARTICLES}{articles['internal'].pk}/").status_code == 404


def test_staff_see_internal_articles_and_drafts(token_client, agent, articles):
    api = token_client(agent, [ApiScope.TICKETS_READ])
    assert titles(api.get(ARTICLES)) == {"Reset your password", "Refund playbook", "Coming soon"}
    assert titles(api.get(ARTICLES, {"status": "published"})) == {
        "Reset your password",
        "Refund playbook",
    }


def test_body_html_is_rendered_and_sanitised(token_client, agent):
    api = token_client(agent, RW)
    section = make_section()
    body = "# Hello\n\n<script>alert(1)</script> **bold**"
    response = api.post(
        ARTICLES, {"title": "Hi", "body": body, "section": section.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert "<script" not in data["body_html"]
    assert "<strong>bold</strong>" in data["body_html"]
    assert data["slug"] == "hi"
    assert data["category"] == section.category.slug


def test_staff_publish_and_edit_an_article(token_client, agent, articles):
    api = token_client(agent, RW)
    url = f"{ARTICLES}{articles['draft'].pk}/"
    response = api.patch(url, {"status": "published", "tags": ["Billing"]}, format="json")
    assert response.status_code == 200, response.content
    article = Article.objects.get(pk=articles["draft"].pk)
    assert article.status == ArticleStatus.PUBLISHED
    assert article.published_at is not None
    assert article.title == "Coming soon"
    assert article.last_reviewer == agent


def test_published_article_cannot_go_back_to_draft(token_client, agent, articles):
    api = token_client(agent, RW)
    response = api.patch(f"{ARTICLES}{articles['public'].pk}/", {"status": "draft"}, format="json")
    assert response.status_code == 400
    assert "status" in error_of(response)["fields"]


def test_service_rules_are_field_errors(token_client, agent):
    api = token_client(agent, RW)
    response = api.post(
        ARTICLES, {"title": "  ", "body": "x", "section": make_section().pk}, format="json"
    )
    assert response.status_code == 400
    assert "title" in error_of(response)["fields"]


def test_customer_and_read_only_token_cannot_write(token_client, make_user, agent):
    section = make_section()
    body = {"title": "T", "body": "B", "section": section.pk}
    customer = token_client(make_user(Role.CUSTOMER), RW)
    assert customer.post(ARTICLES, body, format="json").status_code == 403
    reader = token_client(agent, [ApiScope.TICKETS_READ])
    assert reader.post(ARTICLES, body, format="json").status_code == 403


def test_updated_since_filters_by_change_time(token_client, agent, articles):
    api = token_client(agent, [ApiScope.TICKETS_READ])
    since = articles["draft"].updated_at.isoformat()
    assert "Coming soon" in titles(api.get(ARTICLES, {"updated_since": since}))
    assert titles(api.get(ARTICLES, {"updated_since": "2999-01-01T00:00:00Z"})) == set()


def test_list_query_count_is_fixed(token_client, agent, articles, django_assert_max_num_queries):
    api = token_client(agent, [ApiScope.TICKETS_READ])
    api.get(ARTICLES)
    with django_assert_max_num_queries(2):
        assert api.get(ARTICLES).status_code == 200
